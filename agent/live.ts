// G4: the address counts only once it is seen live on this node.
import { errorMessage } from './errors.js';
import type { Logger } from './log.js';
import type { AgentState } from './state.js';
import type { Sleep } from './time.js';

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
