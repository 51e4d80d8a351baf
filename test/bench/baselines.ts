// BASELINES, not the agent: two naive claim loops for comparison with the agent's ordering.
// They use the same Ec2Port adapter (same SDK client settings), the same retry layer and
// policy for every call, a read-after-write check and the same IMDS live check as the
// agent; what differs is the choice of address and that they never pace under contention:
//   first-free — every node takes the first free address of the listing (EC2's order);
//   random     — every node takes one free address at random.
// On a lost race (Resource.AlreadyAssociated) both list the pool again after a short breath,
// as the agent does.
import { inPool, isFree, isOn } from '../../agent/core/pool.js';
import { isAgentError } from '../../agent/shared/errors.js';
import { EC2_READ_RETRY, IMDS_RETRY } from '../../agent/shared/pacing.js';
import { retrying } from '../../agent/shared/retry.js';
import { sleep, systemTiming } from '../../agent/shared/time.js';
import { nodeEc2Port, nodeImdsPort } from '../helpers/deps.js';
import type { Sim, SimNode } from '../sim/sim.js';
import type { SeenAssociation } from './checks.js';
import { IMDS_TIMEOUT_MS, POOL, observed } from './fleet.js';

export type Baseline = 'first-free' | 'random';

export interface BaselineRun {
  node: SimNode;
  startedAt: number;
  readyAt: number | undefined;
  conflicts: number;
}

const EXHAUSTED_RELIST_MS = 5_000;
const LIVE_POLL_MS = 500;
const VERIFY_READS = 12;

export async function runBaselineNode(sim: Sim, node: SimNode, strategy: Baseline, seen: SeenAssociation[], signal: AbortSignal): Promise<BaselineRun> {
  const run: BaselineRun = { node, startedAt: Date.now(), readyAt: undefined, conflicts: 0 };
  // The agent's IMDS client and pool (test/helpers/deps.ts), so that neither side is favoured.
  const imds = nodeImdsPort(node, IMDS_TIMEOUT_MS);
  const call = <T>(fn: () => Promise<T>) => retrying(fn, { policy: EC2_READ_RETRY, timing: systemTiming, signal });
  try {
    const identity = await retrying(() => imds.identity(signal), { policy: { ...IMDS_RETRY, attempts: Infinity, budgetMs: 10_000 }, timing: systemTiming, signal });
    const eni = identity.interfaces.find((i) => i.deviceIndex === 0)!;
    const target = { instanceId: identity.instanceId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0]!, mac: eni.mac };
    const ec2 = observed(nodeEc2Port(sim, node, identity.region), seen);
    let publicIp: string | undefined;
    while (publicIp === undefined) {
      const listing = await call(() => ec2.listPool(POOL));
      const held = listing.find((a) => isOn(a, target));
      if (held) {
        publicIp = held.publicIp;
        break;
      }
      const free = listing.filter((a) => inPool(a, POOL) && isFree(a));
      if (free.length === 0) {
        await sleep(EXHAUSTED_RELIST_MS, signal);
        continue;
      }
      const pick = strategy === 'first-free' ? free[0]! : free[Math.floor(Math.random() * free.length)]!;
      try {
        await call(() => ec2.associate({ allocationId: pick.allocationId, networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp }));
      } catch (error) {
        if (!isAgentError(error, 'conflict', 'not-found')) throw error;
        run.conflicts += 1;
        await sleep(Math.round(250 * Math.random()), signal);
        continue;
      }
      for (let read = 0; read < VERIFY_READS && publicIp === undefined; read++) {
        const now = await call(() => ec2.describeAllocation(pick.allocationId));
        if (now && isOn(now, target)) publicIp = now.publicIp;
        else await sleep(200 * (read + 1), signal);
      }
    }
    while (!(await imds.publicIpsOn(target, signal)).includes(publicIp)) await sleep(LIVE_POLL_MS, signal);
    run.readyAt = Date.now();
  } catch (error) {
    if (!signal.aborted) throw error;
  }
  return run;
}
