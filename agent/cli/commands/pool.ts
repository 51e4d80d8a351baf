// `eip-agent pool`: the pool as an operator sees it — each address with its holder, then the
// counts — from DescribeAddresses (and DescribeInstances for the holders' node names). Works
// on a node (region from IMDS) or a laptop (--region). Read-only.
import { createEc2Client } from '../../adapters/ec2.js';
import { createEc2Probe } from '../../adapters/ec2-probe.js';
import { createImdsClient } from '../../adapters/imds-client.js';
import { createImdsPort } from '../../adapters/imds.js';
import { emptyPoolHint, poolReport, poolTable } from '../../core/pool-report.js';
import type { Ec2Probe } from '../../shared/doctor-ports.js';
import { InputError, errorMessage, isAgentError } from '../../shared/errors.js';
import { EC2_READ_RETRY, IMDS_RETRY } from '../../shared/pacing.js';
import { retrying } from '../../shared/retry.js';
import { systemTiming, type Timing } from '../../shared/time.js';
import type { PoolConfig } from '../config.js';
import type { Out } from './client.js';

export interface PoolDeps extends Out {
  ec2For(region: string): Ec2Probe;
  /** the region IMDS reports; throws when IMDS does not answer */
  imdsRegion(): Promise<string>;
  timing: Timing;
}

const READS = { ...EC2_READ_RETRY, attempts: 3, budgetMs: 10_000 };
const IMDS_REGION_RETRY = { ...IMDS_RETRY, budgetMs: 5_000 };

export async function poolCommand(config: PoolConfig, format: 'json' | 'text', deps: PoolDeps): Promise<number> {
  let region = config.region?.region;
  if (region === undefined) {
    try {
      region = await deps.imdsRegion();
    } catch (error) {
      if (!isAgentError(error)) throw error;
      throw new InputError('--region', `required off EC2 (or AWS_REGION): IMDS at ${config.imdsEndpoint} did not say (${errorMessage(error)})`);
    }
  }
  const ec2 = deps.ec2For(region);
  const read = <T>(fn: () => Promise<T>) => retrying(fn, { policy: READS, timing: deps.timing });
  const { addresses } = await read(() => ec2.listCarrying(config.pool.tagKey));
  const holders = [...new Set(addresses.flatMap((a) => (a.instanceId ? [a.instanceId] : [])))];
  // Node names are a courtesy: credentials without DescribeInstances still see the pool.
  const names = await read(() => ec2.instanceNames(holders)).catch((error: unknown) => {
    if (!isAgentError(error)) throw error;
    deps.stderr(`eip-agent pool: no node names (${errorMessage(error)})\n`);
    return new Map<string, string>();
  });
  const report = poolReport(config.pool, addresses, names);
  if (format === 'json') {
    deps.stdout(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const hint = emptyPoolHint(config.pool, addresses);
    deps.stdout(poolTable(report, hint && `empty: ${hint}`));
  }
  return 0;
}

/** Production: the SDK's EC2 client (default credential chain), IMDS for the region. */
export function productionPoolDeps(config: PoolConfig, out: Out): PoolDeps {
  return {
    ...out,
    timing: systemTiming,
    ec2For: (region) => createEc2Probe(createEc2Client({ region })),
    imdsRegion: async () => {
      const imds = createImdsPort(createImdsClient({ endpoint: config.imdsEndpoint }));
      // A busy host may miss one IMDS answer; off EC2 the budget is the wait before "--region".
      return (await retrying(() => imds.identity(), { policy: IMDS_REGION_RETRY, timing: systemTiming })).region;
    },
  };
}
