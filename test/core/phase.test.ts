import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PHASES, canMove } from '../../agent/core/phase.js';

test('phases: the life of a node, in order, and nothing after released or failed', () => {
  const life = ['starting', 'claiming', 'verifying', 'ready', 'draining', 'releasing', 'released'] as const;
  for (let i = 0; i + 1 < life.length; i++) assert.ok(canMove(life[i]!, life[i + 1]!), `${life[i]} → ${life[i + 1]}`);
  for (const to of PHASES) {
    assert.equal(canMove('released', to), false);
    assert.equal(canMove('failed', to), false);
  }
  const forbidden: [(typeof PHASES)[number], (typeof PHASES)[number]][] = [
    ['ready', 'claiming'],
    ['draining', 'ready'],
    ['releasing', 'draining'],
    ['starting', 'ready'],
  ];
  for (const [from, to] of forbidden) assert.equal(canMove(from, to), false, `${from} → ${to}`);
  // The end may come at any time before ready, too.
  for (const from of ['starting', 'claiming', 'verifying'] as const) assert.ok(canMove(from, 'draining'));
});
