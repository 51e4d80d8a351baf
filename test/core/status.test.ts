// How each fact a lifecycle function reports changes what the agent shows (one writer).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyFact, initialState, type AgentState, type Fact } from '../../agent/core/status.js';
import type { Phase } from '../../agent/core/phase.js';

const pool = { tagKey: 'color', tagValue: 'orange' };
const at = (phase: Phase): AgentState => {
  const s = initialState(pool, '1.0.0');
  return { ...s, status: { ...s.status, phase } };
};
const claimed = { allocationId: 'eipalloc-1', publicIp: '198.51.100.1', associationId: 'eipassoc-1', resumed: false };

test('phase moves: each fact applies in its phases, and is late news elsewhere', () => {
  const cases: [Phase, Fact, Phase][] = [
    ['starting', { type: 'claiming', reason: 'x' }, 'claiming'],
    ['claiming', { type: 'verifying', reason: 'x' }, 'verifying'],
    ['verifying', { type: 'ready' }, 'ready'],
    ['ready', { type: 'lost', reason: 'gone' }, 'verifying'],
    ['verifying', { type: 'back', associationId: 'eipassoc-1' }, 'ready'],
    ['verifying', { type: 'claiming', reason: 'claim again' }, 'claiming'],
    ['ready', { type: 'draining', reason: 'x' }, 'draining'],
    ['draining', { type: 'releasing', reason: 'x' }, 'releasing'],
    ['releasing', { type: 'released', reason: 'released' }, 'released'],
    ['starting', { type: 'released', reason: 'nothing to release' }, 'released'],
    ['claiming', { type: 'failed', reason: 'boom' }, 'failed'],
    // Late news: a live watch that finishes its look after the end began changes nothing.
    ['draining', { type: 'lost', reason: 'x' }, 'draining'],
    ['draining', { type: 'back', associationId: 'eipassoc-2' }, 'draining'],
    ['releasing', { type: 'ready' }, 'releasing'],
    ['ready', { type: 'verifying', reason: 'x' }, 'ready'],
    ['released', { type: 'failed', reason: 'x' }, 'released'],
    ['failed', { type: 'released', reason: 'x' }, 'failed'],
    ['starting', { type: 'ready' }, 'starting'],
  ];
  for (const [from, fact, to] of cases) {
    const before = at(from);
    const after = applyFact(before, fact, 0);
    assert.equal(after.status.phase, to, `${from} + ${fact.type}`);
    if (from === to && fact.type !== 'draining' && fact.type !== 'claiming') assert.equal(after, before, `${from} + ${fact.type}: nothing changes`);
  }
});

test('facts that fill in the status, and the trail a release cut short reads', () => {
  let s = initialState(pool, '1.0.0');
  const apply = (fact: Fact) => (s = applyFact(s, fact, Date.UTC(2026, 0, 1)));
  apply({ type: 'identified', instanceId: 'i-1', region: 'eu-west-1', nodeName: 'n', networkInterfaceId: 'eni-1', privateIp: '10.0.0.1' });
  apply({ type: 'claiming', reason: 'listing' });
  apply({ type: 'pool', size: 4, free: 1 });
  apply({ type: 'attempt' });
  apply({ type: 'conflict' });
  apply({ type: 'uncertain', allocationId: 'eipalloc-9' });
  apply({ type: 'uncertain', allocationId: 'eipalloc-9' });
  apply({ type: 'landed', claimed });
  apply({ type: 'claimed', claimed });
  apply({ type: 'verifying', reason: 'live?' });
  apply({ type: 'ready' });
  assert.equal(s.status.instanceId, 'i-1');
  assert.deepEqual(s.status.pool, { tagKey: 'color', tagValue: 'orange', size: 4, free: 0 }, 'the claim took the one free address');
  assert.deepEqual([s.status.attempts, s.status.conflicts], [1, 1]);
  assert.equal(s.status.publicIp, '198.51.100.1');
  assert.equal(s.status.readySince, '2026-01-01T00:00:00.000Z');
  assert.equal(s.status.version, '1.0.0');
  assert.deepEqual(s.trail, { uncertain: ['eipalloc-9'], landed: claimed });
  apply({ type: 'unlanded' });
  assert.deepEqual(s.trail, { uncertain: ['eipalloc-9'] });
  apply({ type: 'draining', reason: 'pods' });
  apply({ type: 'releasing', reason: 'x' });
  apply({ type: 'released', reason: 'released' });
  assert.equal(s.status.associationId, null, 'released: no association any more');
  assert.equal(applyFact(s, { type: 'failed', reason: 'late' }, 0).status.lastError, null);
});

test('the pool as the claim leaves it: a new association takes one free address, a resumed one none', () => {
  const cases: [string, number | null, boolean, number | null][] = [
    ['claimed from a listing with 3 free', 3, false, 2],
    ['resumed: the listing showed it held already', 3, true, 3],
    ['claimed a last address', 1, false, 0],
    ['never below zero (a listing that lagged)', 0, false, 0],
    ['no listing yet (the trail of a cut-short claim)', null, false, null],
  ];
  for (const [name, free, resumed, expected] of cases) {
    let s = initialState(pool, '1.0.0');
    if (free !== null) s = applyFact(s, { type: 'pool', size: 3, free }, 0);
    s = applyFact(s, { type: 'claimed', claimed: { ...claimed, resumed } }, 0);
    assert.equal(s.status.pool.free, expected, name);
    assert.equal(s.status.pool.size, free === null ? null : 3, name);
  }
});

test('one rule for ours while running: lost, then back under a new association id, is adopted (G3)', () => {
  let s = at('verifying');
  const apply = (fact: Fact) => (s = applyFact(s, fact, 0));
  apply({ type: 'claimed', claimed });
  apply({ type: 'ready' });
  apply({ type: 'lost', reason: 'EC2 shows it on i-2 eni-2 10.0.0.9' });
  assert.deepEqual([s.status.phase, s.status.reason, s.status.associationId], ['verifying', 'EC2 shows it on i-2 eni-2 10.0.0.9', 'eipassoc-1']);
  // While lost, a look at EC2 updates where it is (put back on another private IP of ours: still not ready).
  apply({ type: 'verifying', reason: 'EC2 shows it on another private IP of this interface (10.0.0.6)' });
  assert.deepEqual([s.status.phase, s.status.reason], ['verifying', 'EC2 shows it on another private IP of this interface (10.0.0.6)']);
  apply({ type: 'back', associationId: 'eipassoc-back' });
  assert.deepEqual([s.status.phase, s.status.associationId, s.status.allocationId, s.status.publicIp], ['ready', 'eipassoc-back', 'eipalloc-1', '198.51.100.1']);
  // The end takes it from here: late news of a back does not change what is released.
  apply({ type: 'draining', reason: 'pods' });
  apply({ type: 'back', associationId: 'eipassoc-late' });
  assert.equal(s.status.associationId, 'eipassoc-back');
});
