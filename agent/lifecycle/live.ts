// G4: the address counts only once it is seen live on this node.
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { AgentState } from './state.js';
import type { Sleep } from '../shared/time.js';

/** Answers whether `publicIp` is live now; may throw on a passing fault. */
export type LiveProbe = (publicIp: string, signal: AbortSignal) => Promise<boolean>;

export interface LiveDeps {
  probe: LiveProbe;
  state: AgentState;
  log: Logger;
  sleep: Sleep;
  /** what the probe looks at, for the reason shown in /readyz */
  describe: string;
  intervalMs?: number;
}

export async function waitLive(deps: LiveDeps, publicIp: string, signal: AbortSignal): Promise<void> {
  const interval = deps.intervalMs ?? 500;
  for (let polls = 0; ; polls++) {
    let live = false;
    try {
      live = await deps.probe(publicIp, signal);
    } catch (error) {
      signal.throwIfAborted();
      deps.state.set({ lastError: errorMessage(error) });
    }
    if (live) return;
    const reason = `waiting for ${deps.describe} to show ${publicIp}`;
    deps.state.move('verifying', reason);
    if (polls % 20 === 0) deps.log.info('live.waiting', { publicIp, check: deps.describe, polls });
    await deps.sleep(interval, signal);
  }
}

// After ready, IMDS is asked every few seconds (it is local and cheap) so that /readyz stays
// truthful if the address is taken away behind the agent's back; two misses in a row, so
// that an IMDS hiccup is not taken for a loss.
const WATCH_MS = 2000;
const LOST_AFTER = 2;

/** Keeps /readyz truthful once ready: `verifying` while the address is not live, `ready` when back. */
export async function watchLive(deps: LiveDeps, publicIp: string, signal: AbortSignal): Promise<void> {
  const { state, log } = deps;
  let misses = 0;
  while (!signal.aborted) {
    try {
      await deps.sleep(deps.intervalMs ?? WATCH_MS, signal);
    } catch {
      return;
    }
    let live: boolean;
    try {
      live = await deps.probe(publicIp, signal);
    } catch {
      continue; // no verdict from a failed look
    }
    // Read after the await: the end of the node may have begun meanwhile.
    const phase = state.phase;
    if (phase !== 'ready' && phase !== 'verifying') return;
    if (live) {
      misses = 0;
      if (phase === 'verifying') {
        state.move('ready', null);
        log.info('address.back', { publicIp });
      }
    } else if (++misses === LOST_AFTER && phase === 'ready') {
      const reason = `${publicIp} is no longer live on this interface (${deps.describe}); was it disassociated by hand?`;
      state.move('verifying', reason);
      log.warn('address.lost', { publicIp, check: deps.describe });
    }
  }
}
