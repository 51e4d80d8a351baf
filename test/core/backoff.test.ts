import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jitteredBackoff, relistDelay, retryDelay } from '../../agent/core/backoff.js';

test('relistDelay: ±20% around the interval, doubling with troubles up to the cap', () => {
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

test('jitteredBackoff: full jitter below a doubling cap', () => {
  assert.equal(jitteredBackoff(0, 200, 2000, () => 1), 200);
  assert.equal(jitteredBackoff(3, 200, 2000, () => 1), 1600);
  assert.equal(jitteredBackoff(10, 200, 2000, () => 1), 2000);
  assert.equal(jitteredBackoff(10, 200, 2000, () => 0), 0);
});

test('retryDelay: doubling from the minimum, times 1–2, capped before the factor', () => {
  assert.equal(retryDelay(0, 1000, 20_000, () => 0), 1000);
  assert.equal(retryDelay(0, 1000, 20_000, () => 1), 2000);
  assert.equal(retryDelay(3, 1000, 20_000, () => 0.5), 12_000);
  assert.equal(retryDelay(10, 1000, 20_000, () => 0), 20_000);
});
