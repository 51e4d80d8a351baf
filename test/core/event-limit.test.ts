import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EVENT_LIMITS, mayRecord, type Sent } from '../../agent/core/event-limit.js';

test('mayRecord: one event a reason a minute, 30 in ten minutes in all', () => {
  const history: Sent[] = [{ reason: 'PoolExhausted', at: 0 }];
  const cases: [readonly Sent[], string, number, boolean][] = [
    [history, 'PoolExhausted', 59_999, false],
    [history, 'PoolExhausted', 60_000, true],
    [history, 'AddressClaimed', 1, true],
    [[], 'PoolExhausted', 0, true],
    [Array.from({ length: 30 }, (_, i) => ({ reason: `R${i}`, at: i * 1000 })), 'Other', 40_000, false],
    [Array.from({ length: 30 }, (_, i) => ({ reason: `R${i}`, at: i * 1000 })), 'Other', EVENT_LIMITS.windowMs + 1000, true],
  ];
  for (const [h, reason, now, expected] of cases) assert.equal(mayRecord(h, reason, now), expected, `${reason} at ${now} after ${h.length}`);
});
