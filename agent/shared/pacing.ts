// How long the agent waits, as arithmetic: every delay of the agent comes from here, and
// BENCHMARKS.md ("Pacing, designed") derives each constant from EC2's published buckets
// and from what a node can see. Pure: randomness is handed in.

/** EC2's token buckets for one account and region (AWS-NOTES, "Throttling"). */
export const EC2_BUCKETS = {
  /** Describe* and other non-mutating actions */
  describe: { size: 100, refillPerS: 20 },
  /** AssociateAddress, DisassociateAddress and every other mutating action */
  mutating: { size: 50, refillPerS: 5 },
} as const;

export interface RetryPolicy {
  /** ceiling of the first wait after a transient fault or a malformed answer */
  baseMs: number;
  /** ceiling of the first wait after a throttled answer */
  throttledBaseMs: number;
  /**
   * After a second throttled answer in a row, the wait is spread over at least this long:
   * the bucket stayed empty through its refill, so a crowd is asking; the whole bucket's
   * refill time serves the crowd it holds. 0: plain doubling.
   */
  throttledSpreadMs: number;
  /** no single wait is longer */
  capMs: number;
  /**
   * After this many throttled answers in a row, the cap rises to crowdCapMs: random
   * throttling (30 % of calls) gives seven in a row once in 4 500 listings, a crowd larger
   * than the bucket serves within the cap gives it every time (BENCHMARKS.md).
   */
  crowd?: { after: number; capMs: number };
  /** give up once this much time has passed (Infinity: only the caller's signal stops it) */
  budgetMs: number;
  /** give up after this many attempts, the first included (Infinity: no limit) */
  attempts: number;
  /**
   * Refused answers (auth, rejected: errors.ts `refused`) are asked again after
   * refusedDelay with these bounds; undefined: they end the call at once (the caller reports).
   */
  refused?: { baseMs: number; capMs: number };
}

/**
 * "Full jitter" (AWS Architecture Blog, Exponential Backoff and Jitter): uniform in
 * [0, min(cap, base × 2^(retry−1))]. A lone fault costs base/2 on average; a crowd
 * retrying together spreads out, doubling its spread each round.
 */
export function fullJitter(retry: number, baseMs: number, capMs: number, random: () => number): number {
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** Math.max(0, retry - 1)));
}

/**
 * "Equal jitter": uniform in [w/2, w] with w = min(cap, base × 2^(n−1)). For answers that
 * say "not now" rather than "too many of you" (a refusal, an interface EC2 does not know
 * yet): a crowd is not the cause, so the wait never comes close to zero.
 */
export function equalJitter(n: number, baseMs: number, capMs: number, random: () => number): number {
  const w = Math.min(capMs, baseMs * 2 ** Math.max(0, n - 1));
  return Math.round(w / 2 + random() * (w / 2));
}

// IAM changes propagate within seconds (a policy attached while the node boots), and an
// answer the agent does not know may pass: 1–2 s, doubling to 30–60 s, so a node refused
// for good asks about once a minute (BENCHMARKS.md, "Pacing, designed").
export const REFUSED_PACING = { baseMs: 2000, capMs: 60_000 } as const;

export function refusedDelay(n: number, random: () => number, bounds: { baseMs: number; capMs: number } = REFUSED_PACING): number {
  return equalJitter(n, bounds.baseMs, bounds.capMs, random);
}

// Our own interface or instance unknown to EC2 at boot is eventual consistency: visible
// within seconds. Retried 250–500 ms, doubling to 2–4 s, so that the node is ready within
// seconds once EC2 knows it; unknown for 30 s, it is rarer lag and the cap rises to 8–16 s;
// after two minutes it is not lag (a wrong region, an interface gone): one clear error.
export const UNKNOWN_TARGET_PACING = { baseMs: 500, capMs: 4000, lateAfterMs: 30_000, lateCapMs: 16_000 } as const;
export const UNKNOWN_TARGET_BUDGET_MS = 120_000;

/**
 * The floor of every wait before the next AssociateAddress after `stalls` attempts in a row
 * that won nothing (throttled, lost, vanished, faulted): none for the first seven — a
 * storm's spread decides those, and the faulty trio (a third of attempts throttled or
 * faulted, listings 500 ms stale) meets long runs of them: a floor from the third stall
 * doubled its p95 in the model, from the fifth still cost 2.7 s of it — then 1 s doubling
 * to 30 s. A node that keeps getting the same answer slows to two calls every ~15 s,
 * whatever the answer.
 */
export function stallFloorMs(stalls: number): number {
  return stalls <= 7 ? 0 : Math.min(30_000, 1000 * 2 ** (stalls - 8));
}

/**
 * `crowdMs`: the spread the caller knows its crowd needs (crowdSpreadMs), in place of the
 * policy's throttledSpreadMs from the second throttled answer in a row; the doubling stays.
 */
export function retryDelay(policy: RetryPolicy, retry: number, throttled: boolean, random: () => number, crowdMs?: number): number {
  if (throttled && retry >= 2 && policy.throttledSpreadMs > 0) {
    const cap = policy.crowd && retry > policy.crowd.after ? Math.max(policy.capMs, policy.crowd.capMs) : policy.capMs;
    const doubling = Math.min(cap, policy.throttledBaseMs * 2 ** (retry - 1));
    return Math.round(random() * Math.max(crowdMs ?? policy.throttledSpreadMs, doubling));
  }
  return fullJitter(retry, throttled ? policy.throttledBaseMs : policy.baseMs, policy.capMs, random);
}

// EC2 reads (DescribeAddresses): a 5xx blip costs 100 ms on average. A throttled answer
// means the account's Describe bucket is empty: a lone one (another tool's spike) costs
// 250 ms on average; a second in a row makes a crowd likely, and the wait spreads over the
// 2.5 s the bucket needs to refill half (50 / 20 per s), which serves a crowd of 50 in one
// round, then doubles; no wait is longer than 10 s until the seventh in a row, which is a
// crowd rather than bad luck: then 30 s (BENCHMARKS.md, "Pacing, designed").
export const EC2_READ_RETRY: RetryPolicy = {
  baseMs: 200,
  throttledBaseMs: 500,
  throttledSpreadMs: (EC2_BUCKETS.describe.size / 2 / EC2_BUCKETS.describe.refillPerS) * 1000,
  capMs: 10_000,
  crowd: { after: 6, capMs: 30_000 },
  budgetMs: Infinity,
  attempts: Infinity,
  refused: REFUSED_PACING,
};

/**
 * The spread a throttled listing of a node that has listed before needs: its last listing
 * showed `free` addresses, so up to that many peers are claiming, and each lists before it
 * attempts. At the Describe refill scaled by how busy the account was seen to be
 * (`servedPerS` of the published mutating refill), they are served in free / (20 × busy) s.
 * Never over `capMs`. Where the first retry's own window already serves the crowd (a
 * handful free: SMALL_CROWD_MS), the caller drops the policy's spread for plain doubling;
 * between the two, the policy's own spread (2.5 s) stays.
 */
export function crowdSpreadMs(free: number, servedPerS: number = EC2_BUCKETS.mutating.refillPerS, capMs = 30_000): number {
  const busy = Math.min(1, Math.max(MIN_SERVED_PER_S, servedPerS) / EC2_BUCKETS.mutating.refillPerS);
  return Math.min(capMs, (Math.max(0, free) / (EC2_BUCKETS.describe.refillPerS * busy)) * 1000);
}

// A crowd the first throttled retry's window (U(0, 500 ms)) serves at the Describe refill:
// at most 10 peers at the published 20 a second.
export const SMALL_CROWD_MS = EC2_READ_RETRY.throttledBaseMs;

// IMDS is a link-local service of the host that answers in milliseconds: four quick tries
// within a second, then the caller decides (identity has its own budget; polls poll again).
export const IMDS_RETRY: RetryPolicy = { baseMs: 100, throttledBaseMs: 200, throttledSpreadMs: 0, capMs: 400, budgetMs: Infinity, attempts: 4 };

/**
 * The window a node spreads its next AssociateAddress over once it has seen contention (a
 * throttled answer or a lost race). It cannot see its peers, but its last listing shows
 * `free` addresses, and at most that many nodes compete for them; the account's mutating
 * bucket refills at 5 a second. Spread over free / 5 s, the crowd arrives at about the
 * refill rate: few are throttled again, and since each attempt follows a fresh listing,
 * few lose a race.
 *
 * `burstSpent`: the contention came from an attempt right after a listing, so the listing
 * predates the burst (50) that the fastest peers just spent on addresses it still shows
 * free; those are taken, and the window is (free − 50) / 5 s. Later windows count on no
 * burst: the bucket is known to be empty. Never under `floorMs`, so that a small pool is
 * not retried in lockstep; a lone throttle in a small pool costs floorMs / 2 on average.
 * `ratePerS`: the rate the node learned EC2 serves (learnServedRate), in place of the refill.
 */
export function contentionSpreadMs(free: number, burstSpent: boolean, floorMs = 500, ratePerS: number = EC2_BUCKETS.mutating.refillPerS): number {
  const { size, refillPerS } = EC2_BUCKETS.mutating;
  // The published refill is the ceiling: a learned rate only ever lengthens the window.
  const rate = Math.min(refillPerS, ratePerS);
  return Math.max(floorMs, (Math.max(0, free - (burstSpent ? size : 0)) / rate) * 1000);
}

/** A listing as the rate estimate needs it: when, and how many were free. */
export interface FreeSample {
  at: number;
  free: number;
}

// The rate estimate never drops below this: a node that saw nothing served (a neighbour
// took it all for a while) still tries within free / 0.5 s.
export const MIN_SERVED_PER_S = 0.5;
// Two listings closer than this say too little about a rate of a few a second.
const MIN_SAMPLE_MS = 2000;
// Fewer addresses taken than this say too little about a rate of a few a second.
export const MIN_FALL = 10;
// The estimate runs this far above what was seen, so that the crowd probes for more: a rate
// it underestimates is otherwise self-fulfilling (the crowd arrives at the rate it assumed,
// and is served at that rate).
const PROBE = 1.25;

/**
 * The mutating rate EC2 is serving the crowd, learned from what a node sees (BENCHMARKS.md,
 * "Pacing, designed"): the free count falls by one for every association EC2 served to
 * anyone, so two listings `MIN_SAMPLE_MS` or more apart measure it — where the earlier one
 * showed MIN_FALL or more free: below that the fall is bounded by how few were left, and a
 * handful of peers done claiming (the faulty trio) would read as EC2 serving nothing and
 * stretch every window to free / 0.5 s. Starts at the published refill, never above it,
 * never below MIN_SERVED_PER_S.
 */
export function learnServedRate(rate: number, previous: FreeSample | undefined, now: FreeSample): number {
  if (!previous || now.at - previous.at < MIN_SAMPLE_MS || previous.free < MIN_FALL) return rate;
  const served = Math.max(0, previous.free - now.free) / ((now.at - previous.at) / 1000);
  return Math.min(EC2_BUCKETS.mutating.refillPerS, Math.max(MIN_SERVED_PER_S, served * PROBE));
}

// What a first listing alone can teach stops here: it cannot tell addresses taken while it
// waited from addresses held before the node booted (a lone node in an old pool whose
// listing a Describe crowd held up), so its window is at most 5× the published one.
export const FIRST_MIN_PER_S = 1;

/**
 * The served rate a node's first listing already shows when a crowd held it up for seconds
 * (BENCHMARKS.md, "What EC2 actually serves"): at most every pool address was free when the
 * node first asked, so at least `size − free` associations were served since — more where
 * addresses were held before the node booted, which only keeps the rate higher. Only for a
 * free count larger than the published mutating burst (a crowd the burst cannot serve) and
 * a fall of MIN_FALL or more; otherwise `rate` stays. Never under FIRST_MIN_PER_S.
 */
export function firstServedRate(rate: number, size: number, askedAt: number, listed: FreeSample): number {
  if (listed.free <= EC2_BUCKETS.mutating.size || size - listed.free < MIN_FALL) return rate;
  return Math.max(FIRST_MIN_PER_S, learnServedRate(rate, { at: askedAt, free: size }, listed));
}

export interface RelistPolicy {
  /** mean interval between listings while the pool is exhausted */
  intervalMs: number;
  /** ceiling when listings keep needing retries */
  maxMs: number;
}

/**
 * While the pool is dry: ±20 % around the interval, so that waiting nodes do not list in
 * step; doubled for each consecutive listing that needed retries (up to maxMs), because
 * the fleet shares one Describe bucket.
 */
export function relistDelay(policy: RelistPolicy, troubles: number, random: () => number): number {
  const base = Math.min(policy.maxMs, policy.intervalMs * 2 ** Math.min(troubles, 10));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * A read off the claim's path (the hop-limit check after ready) waits U(0, window) first.
 * Its peers may still be claiming, and they list through the same Describe bucket: the
 * first fifty winners of a storm are ready within seconds, and reading at once would empty
 * it under them. A fleet at most the size of the pool, at half the Describe refill (10 a
 * second), leaves the other half to the listings: 200 nodes spread over 20 s. At most
 * `capMs`: the warning is worth having within minutes.
 */
export function offPathReadWindowMs(poolSize: number, capMs = 120_000): number {
  return Math.min(capMs, (poolSize / (EC2_BUCKETS.describe.refillPerS / 2)) * 1000);
}
