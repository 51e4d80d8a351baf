// The one table of phase moves: every move, allowed or refused, written out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PHASES, canMove, type Phase } from '../../agent/core/phase.js';

// Rows: from; columns: to, in PHASES order. x: allowed; .: refused.
const MOVES = `
            starting claiming verifying ready draining releasing released failed
starting       .        x        .        .      x        .         x       x
claiming       .        x        x        .      x        x         x       x
verifying      .        x        x        x      x        x         x       x
ready          .        .        x        .      x        x         x       x
draining       .        .        .        .      x        x         x       x
releasing      .        .        .        .      .        .         x       x
released       .        .        .        .      .        .         .       .
failed         .        .        .        .      .        .         .       .
`;

test('phases: /status shows these names, in the order of a life', () => {
  assert.deepEqual(PHASES, ['starting', 'claiming', 'verifying', 'ready', 'draining', 'releasing', 'released', 'failed']);
});

test('phase moves: every move of the table, allowed and refused', () => {
  const [header, ...rows] = MOVES.trim().split('\n').map((line) => line.trim().split(/\s+/));
  assert.deepEqual(header, PHASES, 'the table names every phase, in order');
  assert.deepEqual(rows.map((r) => r[0]), PHASES);
  for (const [from, ...cells] of rows) {
    PHASES.forEach((to, i) => assert.equal(canMove(from as Phase, to), cells[i] === 'x', `${from} → ${to}`));
  }
});
