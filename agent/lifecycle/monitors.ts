// The end of the node's life comes from several sources; each is a small monitor that
// reports one Termination into a latch. The daemon acts on the first: releasing once is
// then automatic.
import { noticeTermination, signalTermination, type Termination } from '../core/termination.js';
import { errorMessage, isAgentError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { ImdsPort } from '../shared/ports.js';
import type { Timing } from '../shared/time.js';
import type { Report } from './state.js';

export type { Termination } from '../core/termination.js';

/** The reason every wait is cut short with when the node's life ends: always an Error. */
export class Ending extends Error {
  override readonly name = 'Ending';
  constructor(readonly termination: Termination) {
    super(`the node's life ends: ${termination.detail}`);
  }
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
      if (termination.force) this.forceController.abort(new Ending(termination));
    } else if (termination.force && this.seen.release) {
      this.forceController.abort(new Ending(termination));
    }
  }
}

export type SignalSource = (handler: (signal: string) => void) => () => void;

export interface SignalDeps {
  underSystemd: boolean;
  /** `systemctl is-system-running` answers `stopping` */
  isSystemStopping: () => Promise<boolean>;
}

/** G5a: SIGTERM/SIGINT into the latch; a second one asks to skip the drain wait. */
export function watchSignals(source: SignalSource, deps: SignalDeps, latch: TerminationLatch): () => void {
  let count = 0;
  return source((signal) => {
    count += 1;
    const repeat = count > 1;
    const ask = deps.underSystemd ? deps.isSystemStopping().then((s) => s, () => undefined) : Promise.resolve(undefined);
    void ask.then((stopping) => latch.report(signalTermination(signal, deps.underSystemd, stopping, repeat)));
  });
}

export interface NoticeDeps {
  imds: ImdsPort;
  latch: TerminationLatch;
  report: Report;
  log: Logger;
  timing: Timing;
  intervalMs?: number;
}

// The EC2 User Guide recommends checking for a spot interruption notice every 5 seconds; the
// notice comes two minutes ahead, and an ASG lifecycle hook holds the instance longer. A
// rebalance recommendation is only shown: every 6th look (30 s) is soon enough.
const NOTICE_POLL_MS = 5000;
const REBALANCE_EVERY = 6;

/** Polls IMDS for a spot notice, an ASG lifecycle move and a rebalance recommendation. */
export async function watchNotices(deps: NoticeDeps, signal: AbortSignal): Promise<void> {
  const { imds, latch, report, log, timing } = deps;
  let rebalanceSeen = false;
  let failures = 0;
  for (let look = 0; !signal.aborted && !latch.reported; look++) {
    try {
      const notices = await imds.notices(signal, { rebalance: !rebalanceSeen && look % REBALANCE_EVERY === 0 });
      failures = 0;
      if (notices.rebalance !== undefined && !rebalanceSeen) {
        // A recommendation, not a notice: shown and logged, but no reason to let go.
        rebalanceSeen = true;
        report({ type: 'rebalance', notice: notices.rebalance });
        log.warn('rebalance', { notice: notices.rebalance });
      }
      const termination = noticeTermination(notices);
      if (termination) {
        latch.report(termination);
        return;
      }
    } catch (error) {
      if (signal.aborted) return;
      if (!isAgentError(error)) throw error;
      failures += 1;
      // IMDS hiccups are normal under load; say so once in a while, keep polling.
      if (failures === 1 || failures % 30 === 0) log.warn('monitor.error', { monitor: 'imds', failures, error: errorMessage(error) });
    }
    try {
      await timing.sleep(deps.intervalMs ?? NOTICE_POLL_MS, signal);
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
  }
}
