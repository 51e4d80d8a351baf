// The arithmetic of every wait (shared/pacing.ts), as tables; BENCHMARKS.md derives the
// constants and the bench measures what they do to a fleet.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EC2_BUCKETS, EC2_READ_RETRY, FIRST_MIN_PER_S, IMDS_RETRY, MIN_FALL, MIN_SERVED_PER_S, contentionSpreadMs, crowdSpreadMs, firstServedRate, fullJitter, learnServedRate, offPathReadWindowMs, relistDelay, retryDelay, stallFloorMs } from '../../agent/shared/pacing.js';

test('fullJitter: uniform below a ceiling that doubles per retry, up to the cap', () => {
  const cases: [number, number, number, number, number][] = [
    // retry, base, cap, random, expected
    [1, 500, 20_000, 1, 500],
    [1, 500, 20_000, 0, 0],
    [2, 500, 20_000, 1, 1000],
    [4, 500, 20_000, 0.5, 2000],
    [10, 500, 20_000, 1, 20_000],
    [0, 200, 5000, 1, 200],
  ];
  for (const [retry, base, cap, random, expected] of cases) {
    assert.equal(fullJitter(retry, base, cap, () => random), expected, JSON.stringify({ retry, base, cap, random }));
  }
});

test('retryDelay on EC2 reads: a lone fault is short; a second throttle spreads over half the Describe refill', () => {
  const cases: [number, boolean, number, number][] = [
    // retry, throttled, random, expected
    [1, false, 1, 200], // a 5xx blip: up to 200 ms
    [1, true, 1, 500], // a lone throttle: up to 500 ms (250 ms on average)
    [1, true, 0.5, 250],
    [2, true, 1, 2500], // a second throttle in a row: the 2.5 s the Describe bucket needs to refill half
    [3, true, 1, 2500],
    [4, true, 1, 4000], // doubling again once past it
    [6, true, 1, 10_000], // never above the cap, for six throttles in a row
    [7, true, 1, 30_000], // seven in a row is a crowd, not bad luck: the crowd's cap
    [2, false, 1, 400], // faults that are not throttles keep doubling from 200 ms
  ];
  for (const [retry, throttled, random, expected] of cases) {
    assert.equal(retryDelay(EC2_READ_RETRY, retry, throttled, () => random), expected, JSON.stringify({ retry, throttled, random }));
  }
});

test('contentionSpreadMs: free addresses over the mutating refill, the burst counted once, never under the floor', () => {
  const cases: [number, boolean, number][] = [
    // free, burst spent, expected
    [200, true, 30_000], // (200 − 50) / 5 per s
    [200, false, 40_000], // the bucket is known to be empty: 200 / 5 per s
    [40, true, 500], // the burst covers them all: the floor
    [10, false, 2000],
    [1, false, 500],
    [0, false, 500],
  ];
  for (const [free, burst, expected] of cases) assert.equal(contentionSpreadMs(free, burst), expected, JSON.stringify({ free, burst }));
});

test('offPathReadWindowMs: a fleet the size of the pool at half the Describe refill, capped', () => {
  const cases: [number, number][] = [
    // pool size, window
    [200, 20_000], // 200 / 10 per s
    [3, 300],
    [0, 0],
    [5000, 120_000], // the cap
  ];
  for (const [pool, expected] of cases) assert.equal(offPathReadWindowMs(pool), expected, `pool ${pool}`);
});

test('relistDelay: ±20 % around the interval, doubling with troubles up to the cap', () => {
  const policy = { intervalMs: 5000, maxMs: 30_000 };
  const cases: [number, number, number][] = [
    // troubles, random, expected
    [0, 0, 4000],
    [0, 0.5, 5000],
    [0, 1, 6000],
    [1, 0.5, 10_000],
    [2, 0.5, 20_000],
    [3, 0.5, 30_000],
    [50, 1, 36_000],
  ];
  for (const [troubles, random, expected] of cases) {
    assert.equal(relistDelay(policy, troubles, () => random), expected, `troubles=${troubles} random=${random}`);
  }
});

test('the published buckets and the policies built on them', () => {
  assert.deepEqual(EC2_BUCKETS, { describe: { size: 100, refillPerS: 20 }, mutating: { size: 50, refillPerS: 5 } });
  assert.deepEqual(EC2_READ_RETRY, { baseMs: 200, throttledBaseMs: 500, throttledSpreadMs: 2500, capMs: 10_000, budgetMs: Infinity, attempts: Infinity, crowd: { after: 6, capMs: 30_000 }, refused: { baseMs: 2000, capMs: 60_000 } });
  assert.deepEqual(IMDS_RETRY, { baseMs: 100, throttledBaseMs: 200, throttledSpreadMs: 0, capMs: 400, budgetMs: Infinity, attempts: 4 });
});

test('retryDelay on IMDS: no spread (throttledSpreadMs 0), plain doubling to the cap', () => {
  const cases: [number, boolean, number, number][] = [
    // retry, throttled, random, expected
    [1, false, 1, 100],
    [1, true, 1, 200],
    [2, true, 1, 400],
    [2, true, 0.5, 200],
    [3, true, 1, 400],
    [2, false, 1, 200],
    [3, false, 0.25, 100],
  ];
  for (const [retry, throttled, random, expected] of cases) {
    assert.equal(retryDelay(IMDS_RETRY, retry, throttled, () => random), expected, JSON.stringify({ retry, throttled, random }));
  }
  // A spread policy whose doubling is still below the spread at the second throttle.
  const spread = { ...EC2_READ_RETRY, throttledSpreadMs: 1000, throttledBaseMs: 100 };
  assert.equal(retryDelay(spread, 2, true, () => 0.5), 500, 'U(0, max(spread, doubling)) at the second throttle');
  assert.equal(retryDelay(spread, 1, true, () => 1), 100, 'a first throttle never spreads');
});

test('relistDelay: the doubling stops at 2^10 even when nothing caps it', () => {
  const policy = { intervalMs: 1000, maxMs: Infinity };
  assert.equal(relistDelay(policy, 10, () => 0.5), 1_024_000);
  assert.equal(relistDelay(policy, 11, () => 0.5), 1_024_000);
  assert.equal(relistDelay(policy, 2000, () => 0.5), 1_024_000);
});

test('contentionSpreadMs and offPathReadWindowMs: other floors and caps as given', () => {
  assert.equal(contentionSpreadMs(1, false, 0), 200);
  assert.equal(contentionSpreadMs(0, true, 0), 0);
  assert.equal(contentionSpreadMs(60, true, 0), 2000, '(60 − 50) / 5 per s');
  assert.equal(offPathReadWindowMs(200, 5000), 5000);
  assert.equal(offPathReadWindowMs(30, 5000), 3000);
});

test('crowdSpreadMs: the free count last listed over the Describe refill, slower in a busy account, capped', () => {
  const cases: [string, number, number, number | undefined, number][] = [
    // name, free, served per s, cap, expected
    ['200 peers at the published 20 a second', 200, 5, undefined, 10_000],
    ['150 peers', 150, 5, undefined, 7500],
    ['a small pool: far under the read policy\'s own 2.5 s', 4, 5, undefined, 200],
    ['EC2 serves half the published rate: the Describe refill counted at half too', 160, 2.5, undefined, 16_000],
    ['a learned rate above the published one never shortens it', 200, 10, undefined, 10_000],
    ['a rate under 0.5 a second counts as 0.5 (one tenth): 40 / 2 per s', 40, 0.2, undefined, 20_000],
    ['nothing served: still 0.5 a second, and the cap holds', 200, 0, undefined, 30_000],
    ['a cap given', 100, 0.5, 10_000, 10_000],
    ['no free address: no crowd', 0, 5, undefined, 0],
    ['a negative count is no crowd', -5, 5, undefined, 0],
  ];
  for (const [name, free, served, cap, expected] of cases) assert.equal(cap === undefined ? crowdSpreadMs(free, served) : crowdSpreadMs(free, served, cap), expected, name);
  assert.equal(crowdSpreadMs(200), 10_000, 'the published refill by default');
});

test('retryDelay with a crowd spread: it replaces the policy\'s spread from a second throttle in a row on, never touching a fault or a first throttle', () => {
  const cases: [number, boolean, number, number | undefined, number][] = [
    // retry, throttled, random, crowd ms, expected
    [2, true, 1, 7500, 7500], // a crowd of 150 peers: 7.5 s instead of 2.5 s
    [2, true, 0.5, 7500, 3750],
    [2, true, 1, undefined, 2500], // no crowd known: the policy's spread
    [2, true, 1, 150, 1000], // a handful of peers: plain doubling, 500 ms × 2
    [3, true, 1, 150, 2000],
    [4, true, 1, 3000, 4000], // the doubling is longer still: the doubling
    [1, true, 1, 7500, 500], // a first throttle never spreads
    [2, false, 1, 7500, 400], // a fault is no crowd
  ];
  for (const [retry, throttled, random, crowd, expected] of cases) {
    assert.equal(retryDelay(EC2_READ_RETRY, retry, throttled, () => random, crowd), expected, JSON.stringify({ retry, throttled, random, crowd }));
  }
});

test('firstServedRate: a first listing held up by a crowd shows what EC2 served since the node first asked', () => {
  const cases: [string, number, number, number, number, number, number][] = [
    // name, rate, pool size, asked at, listed at, free, expected
    ['200 → 160 free in 20 s: 2 a second, probed 25 % above', 5, 200, 0, 20_000, 160, 2.5],
    ['200 → 100 in 4 s (held before, or a fast crowd): 25 a second, capped at the published 5', 5, 200, 0, 4000, 100, 5],
    ['only 50 free: the published burst serves them, the rate stays', 5, 70, 0, 20_000, 50, 5],
    ['51 free: a crowd the burst cannot serve (30 in 20 s → 1.875)', 5, 81, 0, 20_000, 51, 1.875],
    [`a fall of ${MIN_FALL}: counted (0.5 a second → 0.625), but a first listing alone never says less than 1 a second`, 5, 110, 0, 20_000, 100, 1],
    ['20 in 10 s: 2.5 a second', 5, 120, 0, 10_000, 100, 2.5],
    [`a fall of ${MIN_FALL - 1}: too few to say a rate`, 5, 109, 0, 20_000, 100, 5],
    ['under 2 s since asked: too short to say a rate', 3, 200, 0, 1999, 100, 3],
    ['the fall is counted from when the node first asked', 5, 200, 10_000, 30_000, 160, 2.5],
  ];
  for (const [name, rate, size, askedAt, at, free, expected] of cases) assert.equal(firstServedRate(rate, size, askedAt, { at, free }), expected, name);
  assert.equal(EC2_BUCKETS.mutating.size, 50, 'the burst the threshold names');
  assert.equal(FIRST_MIN_PER_S, 1);
});

test('stallFloorMs: none for the first seven stalls in a row, then 1 s doubling to 30 s', () => {
  const rows: [number, number][] = [
    [0, 0], [1, 0], [6, 0], [7, 0],
    [8, 1000], [9, 2000], [12, 16_000], [13, 30_000], [40, 30_000],
  ];
  for (const [stalls, ms] of rows) assert.equal(stallFloorMs(stalls), ms, `${stalls} stalls`);
});

test('learnServedRate: the fall of the free count between two listings 2 s or more apart, probed 25 % high, within its bounds, from a listing with MIN_FALL free or more', () => {
  const rows: [string, number, { at: number; free: number } | undefined, { at: number; free: number }, number][] = [
    // what, rate before, previous sample, this sample, rate after
    ['no earlier listing: unchanged', 5, undefined, { at: 10_000, free: 100 }, 5],
    ['1 s apart: too close to say, unchanged', 3, { at: 10_000, free: 100 }, { at: 11_000, free: 90 }, 3],
    ['exactly 2 s apart: 4 served a second → 5 (the published refill caps it)', 3, { at: 10_000, free: 100 }, { at: 12_000, free: 92 }, 5],
    ['exactly 2 s apart: 2 a second → 2.5', 5, { at: 10_000, free: 100 }, { at: 12_000, free: 96 }, 2.5],
    ['10 s apart: 1 a second → 1.25', 5, { at: 0, free: 100 }, { at: 10_000, free: 90 }, 1.25],
    ['nothing served: the floor', 5, { at: 0, free: 100 }, { at: 10_000, free: 100 }, MIN_SERVED_PER_S],
    ['more free than before (released): the floor, not below', 5, { at: 0, free: 90 }, { at: 10_000, free: 100 }, MIN_SERVED_PER_S],
    ['fewer than MIN_FALL free at first: a fall that small is the crowd\'s size, not EC2\'s rate, unchanged', 5, { at: 0, free: MIN_FALL - 1 }, { at: 10_000, free: MIN_FALL - 1 }, 5],
    ['… and a learned rate stays too', 2, { at: 0, free: 3 }, { at: 10_000, free: 0 }, 2],
    ['MIN_FALL free at first: learned', 5, { at: 0, free: MIN_FALL }, { at: 10_000, free: MIN_FALL }, MIN_SERVED_PER_S],
  ];
  for (const [what, rate, previous, now, expected] of rows) assert.equal(learnServedRate(rate, previous, now), expected, what);
});
