// The end of the node's life comes from several sources; each is a small monitor that
// reports one Termination into a latch. The daemon acts on the first: releasing once is
// then automatic.
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { ImdsPort } from '../shared/ports.js';
import type { AgentState } from './state.js';
import type { Sleep } from '../shared/time.js';

export interface Termination {
  source: 'signal' | 'spot' | 'asg' | 'request';
  detail: string;
  /** false: the process ends but the node does not (G5a); keep the address */
  release: boolean;
  /** skip the drain wait */
  force: boolean;
}

/** Resolves with the first termination reported; later ones may only escalate to force. */
export class TerminationLatch {
  private resolveFirst!: (t: Termination) => void;
  readonly first: Promise<Termination> = new Promise((resolve) => (this.resolveFirst = resolve));
  private seen: Termination | undefined;
  private readonly forceController = new AbortController();

  /** aborted when a later report asks to skip the drain wait */
  get forced(): AbortSignal {
    return this.forceController.signal;
  }

  get reported(): Termination | undefined {
    return this.seen;
  }

  report(termination: Termination): void {
    if (!this.seen) {
      this.seen = termination;
      this.resolveFirst(termination);
      if (termination.force) this.forceController.abort();
    } else if (termination.force && this.seen.release) {
      this.forceController.abort();
    }
  }
}

export interface SignalPolicy {
  underSystemd: boolean;
  /** `systemctl is-system-running` answers `stopping` */
  isSystemStopping: () => Promise<boolean>;
}

/** G5a: what a SIGTERM/SIGINT means. */
export async function signalTermination(signal: string, policy: SignalPolicy, repeat: boolean): Promise<Termination> {
  if (!policy.underSystemd) {
    return { source: 'signal', detail: signal, release: true, force: repeat };
  }
  const stopping = await policy.isSystemStopping().catch(() => false);
  // Unknown is treated as "not stopping": keeping the address is safe (the next start resumes
  // it, and EC2 frees it if the instance terminates); dropping it on an upgrade is not.
  return { source: 'signal', detail: `${signal}${stopping ? ' (system stopping)' : ''}`, release: stopping, force: repeat && stopping };
}

/** Pure: what the IMDS event paths say. */
export function imdsTermination(spotAction: string | undefined, lifecycleState: string | undefined): Termination | undefined {
  if (spotAction !== undefined) {
    let action = 'unknown';
    try {
      const parsed = JSON.parse(spotAction) as { action?: unknown; time?: unknown };
      action = `${String(parsed.action)} at ${String(parsed.time)}`;
    } catch {
      // A notice we cannot read is still a notice: the instance is being interrupted.
    }
    return { source: 'spot', detail: `spot interruption: ${action}`, release: true, force: false };
  }
  // Warm pools use `Warmed:Terminated`; both end the instance.
  if (lifecycleState !== undefined && /(^|:)Terminated$/.test(lifecycleState.trim())) {
    return { source: 'asg', detail: `auto scaling target lifecycle state ${lifecycleState.trim()}`, release: true, force: false };
  }
  return undefined;
}

export interface ImdsMonitorDeps {
  imds: ImdsPort;
  latch: TerminationLatch;
  state: AgentState;
  log: Logger;
  sleep: Sleep;
  intervalMs?: number;
}

/** Polls the spot notice, the ASG lifecycle target and the rebalance recommendation. */
export async function watchImds(deps: ImdsMonitorDeps, signal: AbortSignal): Promise<void> {
  const { imds, latch, state, log } = deps;
  let rebalanceSeen = false;
  let failures = 0;
  while (!signal.aborted && !latch.reported) {
    try {
      const [spot, lifecycle, rebalance] = await Promise.all([
        imds.get('meta-data/spot/instance-action'),
        imds.get('meta-data/autoscaling/target-lifecycle-state'),
        rebalanceSeen ? Promise.resolve(undefined) : imds.get('meta-data/events/recommendations/rebalance'),
      ]);
      failures = 0;
      if (rebalance !== undefined && !rebalanceSeen) {
        // A recommendation, not a notice: shown and logged, but no reason to let go.
        rebalanceSeen = true;
        state.set({ rebalanceNotice: rebalance.trim() });
        log.warn('rebalance', { notice: rebalance.trim() });
      }
      const termination = imdsTermination(spot, lifecycle);
      if (termination) {
        latch.report(termination);
        return;
      }
    } catch (error) {
      failures += 1;
      // IMDS hiccups are normal under load; say so once in a while, keep polling.
      if (failures === 1 || failures % 30 === 0) log.warn('monitor.error', { monitor: 'imds', failures, error: errorMessage(error) });
    }
    await deps.sleep(deps.intervalMs ?? 2000, signal).catch(() => {});
  }
}
