// How each fact a lifecycle function reports changes what the agent shows (one writer).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyFact, initialState, readiness, type AgentState, type Fact, type Status } from '../../agent/core/status.js';
import { PHASES, type Phase } from '../../agent/core/phase.js';

const pool = { tagKey: 'color', tagValue: 'orange' };
const at = (phase: Phase, patch: Partial<Status> = {}): AgentState => {
  const s = initialState(pool, '1.0.0');
  return { ...s, status: { ...s.status, phase, ...patch } };
};
const claimed = { allocationId: 'eipalloc-1', publicIp: '198.51.100.1', associationId: 'eipassoc-1', resumed: false };
const NOW = Date.UTC(2026, 0, 1, 12, 30);

const moving: Record<string, Fact> = {
  claiming: { type: 'claiming', reason: 'r-claiming' },
  verifying: { type: 'verifying', reason: 'r-verifying' },
  ready: { type: 'ready' },
  lost: { type: 'lost', reason: 'r-lost' },
  back: { type: 'back', associationId: 'eipassoc-2' }, // the address came back under a new association
  draining: { type: 'draining', reason: 'r-draining' },
  releasing: { type: 'releasing', reason: 'r-releasing' },
  released: { type: 'released', reason: 'r-released' },
  failed: { type: 'failed', reason: 'r-failed' },
};

// Rows: the fact; columns: the phase it arrives in (PHASES order); cells: the phase after
// it, or `=` for late news (nothing changes, the same object comes back). The moves come
// from phase.ts; `verifying` is news only while claiming, `lost` only while ready.
const FACTS = `
          starting  claiming  verifying  ready      draining  releasing  released  failed
claiming  claiming  claiming  claiming   =          =         =          =         =
verifying =         verifying verifying  =          =         =          =         =
ready     =         =         ready      =          =         =          =         =
lost      =         =         =          verifying  =         =          =         =
back      =         =         ready      =          =         =          =         =
draining  draining  draining  draining   draining   draining  =          =         =
releasing =         releasing releasing  releasing  releasing =          =         =
released  released  released  released  released   released  released   =         =
failed    failed    failed    failed     failed     failed    failed     =         =
`;

test('phase moves: every phase-moving fact in every phase', () => {
  const [header, ...rows] = FACTS.trim().split('\n').map((line) => line.trim().split(/\s+/));
  assert.deepEqual(header, PHASES);
  assert.deepEqual(rows.map((r) => r[0]), Object.keys(moving));
  for (const [name, ...cells] of rows) {
    const fact = moving[name!]!;
    PHASES.forEach((from, i) => {
      const before = at(from, { associationId: 'eipassoc-1' });
      const after = applyFact(before, fact, NOW);
      const label = `${from} + ${name}`;
      if (cells[i] === '=') return assert.equal(after, before, `${label}: late news, nothing changes`);
      const to = cells[i] as Phase;
      const expected: Status = {
        ...before.status,
        phase: to,
        reason: 'reason' in fact ? fact.reason : null,
        // Ready (by `ready` or `back`) stamps the time and opens kubelet's gate.
        ...(to === 'ready' ? { readySince: '2026-01-01T12:30:00.000Z', gate: { policy: 'strict', open: true } } : {}),
        ...(name === 'failed' ? { lastError: 'r-failed' } : {}),
        ...(name === 'released' ? { associationId: null } : {}),
        ...(name === 'back' ? { associationId: 'eipassoc-2' } : {}),
      };
      assert.deepEqual(after, { ...before, status: expected }, label);
    });
  }
});

test('ready again after a loss: readySince is the time it came back', () => {
  let s = at('ready', { readySince: '2026-01-01T00:00:00.000Z', gate: { policy: 'strict', open: true } });
  s = applyFact(s, { type: 'lost', reason: 'gone' }, NOW);
  assert.deepEqual([s.status.phase, s.status.reason, s.status.gate.open], ['verifying', 'gone', true], 'the gate stays open: kubelet runs');
  s = applyFact(s, { type: 'back', associationId: 'eipassoc-1' }, NOW + 1000);
  assert.deepEqual([s.status.phase, s.status.reason, s.status.readySince], ['ready', null, '2026-01-01T12:30:01.000Z']);
});

test('every fact that fills in the status, and the trail a release cut short reads', () => {
  const base = at('claiming');
  const cases: [string, Fact, (s: AgentState) => AgentState][] = [
    [
      'identified',
      { type: 'identified', instanceId: 'i-1', region: 'eu-west-1', nodeName: 'n', networkInterfaceId: 'eni-1', privateIp: '10.0.0.1' },
      (s) => ({ ...s, status: { ...s.status, instanceId: 'i-1', region: 'eu-west-1', nodeName: 'n', networkInterfaceId: 'eni-1', privateIp: '10.0.0.1' } }),
    ],
    ['pool', { type: 'pool', size: 4, free: 1 }, (s) => ({ ...s, status: { ...s.status, pool: { tagKey: 'color', tagValue: 'orange', size: 4, free: 1 } } })],
    ['attempt', { type: 'attempt' }, (s) => ({ ...s, status: { ...s.status, attempts: 1 } })],
    ['conflict', { type: 'conflict' }, (s) => ({ ...s, status: { ...s.status, conflicts: 1 } })],
    ['claimed', { type: 'claimed', claimed }, (s) => ({ ...s, status: { ...s.status, allocationId: 'eipalloc-1', publicIp: '198.51.100.1', associationId: 'eipassoc-1' } })],
    ['error', { type: 'error', message: 'EC2 throttled' }, (s) => ({ ...s, status: { ...s.status, lastError: 'EC2 throttled' } })],
    ['termination', { type: 'termination', detail: 'SIGTERM' }, (s) => ({ ...s, status: { ...s.status, termination: 'SIGTERM' } })],
    ['rebalance', { type: 'rebalance', notice: '2026-11-23T12:00:00Z' }, (s) => ({ ...s, status: { ...s.status, rebalanceNotice: '2026-11-23T12:00:00Z' } })],
    ['gate-open', { type: 'gate-open' }, (s) => ({ ...s, status: { ...s.status, gate: { policy: 'strict', open: true } } })],
    ['landed', { type: 'landed', claimed }, (s) => ({ ...s, trail: { uncertain: [], landed: claimed } })],
    ['uncertain', { type: 'uncertain', allocationId: 'eipalloc-9' }, (s) => ({ ...s, trail: { uncertain: ['eipalloc-9'] } })],
    // For the cluster's events and the claim's reason only: the status is unchanged.
    ['exhausted', { type: 'exhausted', size: 3 }, (s) => s],
    ['foreign', { type: 'foreign', reason: 'x' }, (s) => s],
  ];
  for (const [name, fact, expected] of cases) assert.deepEqual(applyFact(base, fact, NOW), expected(base), name);
  // A claim takes one of the free addresses the listing counted; a resumed one was never free.
  const free = (before: number | null, resumed: boolean) => applyFact(at('claiming', { pool: { tagKey: 'color', tagValue: 'orange', size: 4, free: before } }), { type: 'claimed', claimed: { ...claimed, resumed } }, NOW).status.pool;
  const counts: [number | null, boolean, number | null][] = [
    [3, false, 2],
    [3, true, 3],
    [0, false, 0], // a listing behind the claim: never below zero
    [null, false, null], // not listed yet
  ];
  for (const [before, resumed, after] of counts) assert.deepEqual(free(before, resumed), { tagKey: 'color', tagValue: 'orange', size: 4, free: after }, `${before} free, resumed ${resumed}`);
  assert.equal(applyFact(base, { type: 'exhausted', size: 3 }, NOW), base, 'the same object: nothing to publish');
  // Counters count; the trail keeps each uncertain allocation once; unlanded drops only landed.
  let s = base;
  for (const fact of [{ type: 'attempt' }, { type: 'attempt' }, { type: 'conflict' }, { type: 'conflict' }] as Fact[]) s = applyFact(s, fact, NOW);
  assert.deepEqual([s.status.attempts, s.status.conflicts], [2, 2]);
  for (const id of ['eipalloc-9', 'eipalloc-8', 'eipalloc-9']) s = applyFact(s, { type: 'uncertain', allocationId: id }, NOW);
  const before = s;
  assert.equal(applyFact(before, { type: 'uncertain', allocationId: 'eipalloc-8' }, NOW), before, 'known already: the same object');
  s = applyFact(applyFact(s, { type: 'landed', claimed }, NOW), { type: 'unlanded' }, NOW);
  assert.deepEqual(s.trail, { uncertain: ['eipalloc-9', 'eipalloc-8'] });
});

test('initialState and readiness: what /status and /readyz say before and after ready', () => {
  const s = initialState({ tagKey: 'color' }, '2.0.0', 'label');
  assert.deepEqual(s, {
    status: {
      phase: 'starting',
      reason: 'reading identity from IMDS',
      version: '2.0.0',
      instanceId: null,
      region: null,
      nodeName: null,
      networkInterfaceId: null,
      privateIp: null,
      publicIp: null,
      allocationId: null,
      associationId: null,
      pool: { tagKey: 'color', tagValue: null, size: null, free: null },
      readySince: null,
      attempts: 0,
      conflicts: 0,
      lastError: null,
      termination: null,
      rebalanceNotice: null,
      gate: { policy: 'label', open: false },
      warnings: [],
    },
    trail: { uncertain: [] },
  });
  assert.equal(initialState(pool, '1').status.gate.policy, 'strict', 'the default gate');
  assert.deepEqual(readiness(s.status), { ready: false, phase: 'starting', reason: 'reading identity from IMDS', gateOpen: false });
  // --gate label: kubelet may start before the address is live.
  assert.deepEqual(readiness(applyFact(s, { type: 'gate-open' }, NOW).status), { ready: false, phase: 'starting', reason: 'reading identity from IMDS', gateOpen: true });
  assert.deepEqual(readiness(at('ready', { reason: null, gate: { policy: 'strict', open: true } }).status), { ready: true, phase: 'ready', reason: null, gateOpen: true });
  assert.equal(readiness(at('verifying').status).ready, false);
});
