// Counters and gauges for /metrics, rendered in the Prometheus text format.
import { PHASES, type Phase } from '../core/phase.js';
import type { Ec2CallRecord } from '../shared/ports.js';

type Labels = Record<string, string>;

const key = (labels: Labels) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`)
    .join(',');

export class Metrics {
  readonly ec2Calls = new Map<string, number>();
  claimAttempts = 0;
  conflicts = 0;
  throttled = 0;
  secondsToReady: number | undefined;
  drainSeconds: number | undefined;
  phase: Phase = 'starting';
  /** the pool as last listed */
  poolSize: number | undefined;
  poolFree: number | undefined;

  constructor(
    readonly version: string,
    /** the pool's name as /status shows it, e.g. color=orange */
    readonly pool: string,
  ) {}

  countEc2(record: Ec2CallRecord): void {
    const k = key({ action: record.action, outcome: record.outcome });
    this.ec2Calls.set(k, (this.ec2Calls.get(k) ?? 0) + 1);
    // By the adapter's typing, not by a list of codes of our own.
    if (record.kind === 'throttled') this.throttled += 1;
  }

  ec2CallTotal(): number {
    let total = 0;
    for (const n of this.ec2Calls.values()) total += n;
    return total;
  }

  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels ? `{${labels}}` : ''} ${value}`);
    };
    const pool = key({ pool: this.pool });
    metric('eip_agent_info', 'gauge', 'The running eip-agent (always 1), by version.', [[key({ version: this.version }), 1]]);
    metric('eip_agent_ec2_calls_total', 'counter', 'EC2 HTTP requests by action and outcome.', [...this.ec2Calls]);
    metric('eip_agent_claim_attempts_total', 'counter', 'AssociateAddress attempts.', [['', this.claimAttempts]]);
    metric('eip_agent_claim_conflicts_total', 'counter', 'Claims lost to another association.', [['', this.conflicts]]);
    metric('eip_agent_throttled_total', 'counter', 'EC2 requests answered with throttling.', [['', this.throttled]]);
    if (this.poolSize !== undefined && this.poolFree !== undefined) {
      metric('eip_agent_pool_size', 'gauge', 'Addresses in the pool, as last listed.', [[pool, this.poolSize]]);
      metric('eip_agent_pool_free', 'gauge', 'Free addresses in the pool, as last listed.', [[pool, this.poolFree]]);
    }
    if (this.secondsToReady !== undefined) {
      metric('eip_agent_seconds_to_ready', 'gauge', 'Seconds from start to ready.', [['', this.secondsToReady]]);
    }
    if (this.drainSeconds !== undefined) {
      metric('eip_agent_drain_seconds', 'gauge', 'Seconds spent waiting for workload pods to leave.', [['', this.drainSeconds]]);
    }
    metric('eip_agent_phase', 'gauge', 'Current phase (1 for the current one).', PHASES.map((p) => [key({ phase: p }), p === this.phase ? 1 : 0]));
    return `${lines.join('\n')}\n`;
  }
}
