// How long to wait before listing the pool again. Pure: the caller hands in randomness.

export interface RelistPolicy {
  /** mean interval while the pool is exhausted */
  intervalMs: number;
  /** ceiling when EC2 throttles or fails */
  maxMs: number;
}

/**
 * Jittered ±20% around the interval so a fleet of waiting nodes does not list in step;
 * each consecutive throttled or failed listing doubles it (up to maxMs), because a whole
 * fleet shares one account's Describe bucket (100, refilled 20/s).
 */
export function relistDelay(policy: RelistPolicy, troubles: number, random: () => number): number {
  const base = Math.min(policy.maxMs, policy.intervalMs * 2 ** Math.min(troubles, 10));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** Full jitter below a cap that doubles per attempt: for short waits such as read-after-write. */
export function jitteredBackoff(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

/**
 * Exponential backoff with a random factor of 1–2, as the retry wrapper (p-retry) waits:
 * one policy for every EC2 retry, so that no path of the claim retries sooner than another.
 */
export function retryDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  return Math.round(Math.min(maxMs, minMs * 2 ** attempt) * (1 + random()));
}
