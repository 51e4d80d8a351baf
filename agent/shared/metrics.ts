// Counters and gauges for /metrics, rendered in the Prometheus text format.
import { PHASES, type Phase } from '../core/phase.js';

type Labels = Record<string, string>;

const key = (labels: Labels) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
    .join(',');

export class Metrics {
  readonly ec2Calls = new Map<string, number>();
  claimAttempts = 0;
  conflicts = 0;
  throttled = 0;
  secondsToReady: number | undefined;
  drainSeconds: number | undefined;
  phase: Phase = 'starting';

  countEc2(action: string, outcome: string): void {
    const k = key({ action, outcome });
    this.ec2Calls.set(k, (this.ec2Calls.get(k) ?? 0) + 1);
    if (outcome === 'RequestLimitExceeded' || outcome === 'Throttling') this.throttled += 1;
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
    metric('eip_agent_ec2_calls_total', 'counter', 'EC2 HTTP requests by action and outcome.', [...this.ec2Calls]);
    metric('eip_agent_claim_attempts_total', 'counter', 'AssociateAddress attempts.', [['', this.claimAttempts]]);
    metric('eip_agent_claim_conflicts_total', 'counter', 'Claims lost to another association.', [['', this.conflicts]]);
    metric('eip_agent_throttled_total', 'counter', 'EC2 requests answered with throttling.', [['', this.throttled]]);
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
