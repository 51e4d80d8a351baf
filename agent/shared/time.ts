// Time and chance, injected: production hands in the system clock, real timers and
// Math.random; tests hand in a fake clock whose sleeps advance it, and a seeded random.

export interface Clock {
  /** wall-clock milliseconds */
  now(): number;
}

/** Resolves after `ms`, or rejects with the signal's reason (always an Error) as soon as it aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** What every wait of the agent is made of: one clock, one sleep, one source of chance. */
export interface Timing {
  clock: Clock;
  sleep: Sleep;
  /** uniform in [0, 1) */
  random: () => number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const sleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export const systemTiming: Timing = { clock: systemClock, sleep, random: Math.random };
