import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EVENT_LIMITS, mayRecord, type Sent } from '../../agent/core/event-limit.js';

// Real clock values: epoch ms, as the cluster loop passes them.
const T = Date.UTC(2026, 10, 27, 12, 0, 0);

test('mayRecord: one event a reason a minute, 30 in ten minutes in all', () => {
  assert.deepEqual(EVENT_LIMITS, { perReasonMs: 60_000, windowMs: 600_000, perWindow: 30 });
  const once: Sent[] = [{ reason: 'PoolExhausted', at: T }];
  const thirty = (start: number): Sent[] => Array.from({ length: 30 }, (_, i) => ({ reason: `R${i}`, at: start + i * 1000 }));
  const cases: [string, readonly Sent[], string, number, boolean][] = [
    ['nothing sent yet', [], 'PoolExhausted', T, true],
    ['the same reason within the minute', once, 'PoolExhausted', T + 59_999, false],
    ['the same reason at once', once, 'PoolExhausted', T, false],
    ['the same reason a minute later', once, 'PoolExhausted', T + 60_000, true],
    ['another reason at once', once, 'AddressClaimed', T + 1, true],
    ['30 in the window', thirty(T), 'Other', T + 40_000, false],
    ['29 in the window', thirty(T).slice(1), 'Other', T + 40_000, true],
    ['the first of 30 left the window', thirty(T), 'Other', T + EVENT_LIMITS.windowMs, true],
    ['the first of 30 one ms before leaving', thirty(T), 'Other', T + EVENT_LIMITS.windowMs - 1, false],
    ['30 long ago', thirty(T - 3_600_000), 'R0', T, true],
  ];
  for (const [name, history, reason, now, expected] of cases) assert.equal(mayRecord(history, reason, now), expected, name);
});
