// The release's decisions as tables: give back only our own association (G2), and make sure it is gone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RELEASE_READS, RELEASE_READ_GAP_MS, initialRelease, nextReleaseStep, observeRelease, standing, type ReleaseObservation, type ReleaseStep } from '../../agent/core/release-decision.js';
import { describeWhere } from '../../agent/core/ours.js';
import type { AddressView } from '../../agent/shared/ports.js';

const target = { instanceId: 'i-0aaa', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5', mac: '0a:00:00:00:00:01' };
const held = { allocationId: 'eipalloc-1', associationId: 'eipassoc-ours', publicIp: '198.51.100.1' };
const base: AddressView = { allocationId: 'eipalloc-1', publicIp: '198.51.100.1', tags: { color: 'orange' } };
const ours: AddressView = { ...base, associationId: 'eipassoc-ours', networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp };
const theirs: AddressView = { ...base, associationId: 'eipassoc-theirs', networkInterfaceId: 'eni-0other', privateIp: '10.0.9.9' };
/** moved away and put back on our interface and private IP by hand: a new association id */
const putBack: AddressView = { ...ours, associationId: 'eipassoc-back' };
/** put back on another private IP of our interface */
const otherIp: AddressView = { ...ours, associationId: 'eipassoc-other-ip', privateIp: '10.0.0.6' };

/** The steps taken for a sequence of what reads and disassociations answer. */
function run(answers: ReleaseObservation[]): ReleaseStep[] {
  let memory = initialRelease(held);
  const steps: ReleaseStep[] = [];
  for (;;) {
    const step = nextReleaseStep(memory);
    steps.push(step);
    if (step.do === 'done') return steps;
    const next: ReleaseObservation | undefined = step.do === 'wait' ? { of: 'waited' } : answers.shift();
    if (!next) throw new Error(`no answer left for ${step.do}`);
    memory = observeRelease(memory, next, target);
  }
}
const read = (seen: AddressView | undefined): ReleaseObservation => ({ of: 'read', seen });
const asked = (gone = false): ReleaseObservation => ({ of: 'disassociated', gone });
const shape = (steps: ReleaseStep[]) => steps.map((s) => (s.do === 'done' ? `done:${s.outcome}` : s.do)).join(' ');

test('standing: ours on our interface and private IP, under any association id (G2, G3)', () => {
  const cases: [string, AddressView | undefined, string][] = [
    ['the association the node made', ours, 'ours'],
    ['put back by hand under a new association id', putBack, 'ours'],
    ['another instance', theirs, 'elsewhere'],
    ['another private IP of our interface', otherIp, 'elsewhere'],
    ['another interface of our instance', { ...ours, networkInterfaceId: 'eni-0second', instanceId: target.instanceId }, 'elsewhere'],
    ['not associated', base, 'free'],
    ['the allocation is gone', undefined, 'free'],
  ];
  for (const [name, seen, expected] of cases) assert.equal(standing(seen, target), expected, name);
});

test('what is disassociated: the association last seen on our target, else the one the node holds', () => {
  const ids = (answers: ReleaseObservation[]) => run(answers).flatMap((s) => (s.do === 'disassociate' ? [s.associationId] : []));
  const cases: [string, ReleaseObservation[], string[]][] = [
    ['ours', [read(ours), asked(), read(base)], ['eipassoc-ours']],
    ['put back under a new id: adopted (G3), never the stale id', [read(putBack), asked(), read(base)], ['eipassoc-back']],
    ['a lagging read shows ours, then the new id', [read(theirs), read(putBack), asked(), read(base)], ['eipassoc-back']],
    ['reads keep showing it free: ours by the id the node holds', [read(base), read(base), read(base), read(base), asked(true)], ['eipassoc-ours']],
    ['put back again after our disassociation: its new id, asked again', [read(ours), asked(), read(putBack), asked(), read(base)], ['eipassoc-ours', 'eipassoc-back']],
  ];
  for (const [name, answers, expected] of cases) assert.deepEqual(ids([...answers]), expected, name);
});

test('release sequences', () => {
  const cases: [string, ReleaseObservation[], string][] = [
    ['ours: disassociate, read back, gone', [read(ours), asked(), read(base)], 'read disassociate read done:released'],
    ['EC2 says the association is gone', [read(ours), asked(true)], 'read disassociate done:already-gone'],
    ['someone else holds it after every read: not ours (G2), never disassociated', [read(theirs), read(theirs), read(theirs), read(theirs)], 'read wait read wait read wait read done:not-ours'],
    ['a read lagging a previous holder, then ours', [read(theirs), read(ours), asked(), read(base)], 'read wait read disassociate read done:released'],
    ['reads keep showing it free: ask by our association id (a compare-and-swap)', [read(base), read(base), read(base), read(base), asked(true)], 'read wait read wait read wait read disassociate done:already-gone'],
    ['an empty 200 that did nothing: ask again while it stands', [read(ours), asked(), read(ours), asked(), read(base)], 'read disassociate read wait disassociate read done:released'],
    ['never goes: reported', [read(ours), asked(), read(ours), asked(), read(ours), asked(), read(ours), asked(), read(ours)], 'read disassociate read wait disassociate read wait disassociate read wait disassociate read done:still-associated'],
    ['put back by hand under a new association id: released like any other (G3)', [read(putBack), asked(), read(base)], 'read disassociate read done:released'],
    ['put back on another private IP of ours: not ours (G3), never disassociated', [read(otherIp), read(otherIp), read(otherIp), read(otherIp)], 'read wait read wait read wait read done:not-ours'],
    ['a repeat answered NotFound after a first that did apply', [read(ours), asked(), read(ours), asked(true)], 'read disassociate read wait disassociate done:released'],
  ];
  for (const [name, answers, expected] of cases) assert.equal(shape(run([...answers])), expected, name);
});

test('the reads a release makes: four, a second apart, and the whole memory at each step', () => {
  assert.deepEqual([RELEASE_READS, RELEASE_READ_GAP_MS], [4, 1000]);
  assert.deepEqual(initialRelease(held), { stage: 'check', reads: 0, asks: 0, waitFirst: false, associationId: 'eipassoc-ours' });
  const steps = run([read(theirs), read(ours), asked(), read(ours), asked(), read(base)]);
  assert.deepEqual(steps, [
    { do: 'read' },
    { do: 'wait', ms: 1000 },
    { do: 'read' },
    { do: 'disassociate', associationId: 'eipassoc-ours' },
    { do: 'read' },
    { do: 'wait', ms: 1000 },
    { do: 'disassociate', associationId: 'eipassoc-ours' },
    { do: 'read' },
    { do: 'done', outcome: 'released' },
  ]);
  // Memory, step by step: what each observation leaves (`where` in words: describeWhere).
  const id = 'eipassoc-ours';
  const whereTheirs = describeWhere(theirs, target);
  const whereOurs = describeWhere(ours, target);
  let m = initialRelease(held);
  m = observeRelease(m, read(theirs), target);
  assert.deepEqual(m, { stage: 'check', reads: 1, asks: 0, waitFirst: true, seen: 'elsewhere', associationId: id, where: whereTheirs });
  m = observeRelease(m, { of: 'waited' }, target);
  assert.deepEqual(m, { stage: 'check', reads: 1, asks: 0, waitFirst: false, seen: 'elsewhere', associationId: id, where: whereTheirs });
  m = observeRelease(m, read(ours), target);
  assert.deepEqual(m, { stage: 'check', reads: 2, asks: 0, waitFirst: false, seen: 'ours', associationId: id, where: whereOurs });
  m = observeRelease(m, asked(), target);
  assert.deepEqual(m, { stage: 'asked', reads: 0, asks: 1, waitFirst: false, seen: undefined, associationId: id, where: whereOurs });
  m = observeRelease(m, read(ours), target);
  assert.deepEqual(m, { stage: 'asked', reads: 1, asks: 1, waitFirst: true, seen: 'ours', associationId: id, where: whereOurs });
  m = observeRelease(observeRelease(m, { of: 'waited' }, target), asked(true), target);
  assert.deepEqual(m, { stage: 'asked', reads: 1, asks: 2, waitFirst: false, seen: 'ours', outcome: 'released', associationId: id, where: whereOurs });
  // The fourth read that still shows it elsewhere decides at once, without a wait first.
  let e = initialRelease(held);
  for (let i = 0; i < 4; i++) e = observeRelease({ ...e, waitFirst: false }, read(theirs), target);
  assert.deepEqual(e, { stage: 'check', reads: 4, asks: 0, waitFirst: false, seen: 'elsewhere', associationId: id, where: whereTheirs });
  assert.deepEqual(nextReleaseStep(e), { do: 'done', outcome: 'not-ours' });
});

test('standing: each part of ours — the association id, the interface, the private IP', () => {
  const cases: [string, AddressView | undefined, 'ours' | 'elsewhere' | 'free'][] = [
    ['ours', ours, 'ours'],
    ['our id on another interface (a read lagging a move)', { ...ours, networkInterfaceId: 'eni-0other' }, 'elsewhere'],
    ['another id on our interface and IP (put back by hand: G3)', { ...ours, associationId: 'eipassoc-new' }, 'ours'],
    ['our id on another private IP of our interface', { ...ours, privateIp: '10.0.0.6' }, 'elsewhere'],
    ['free', base, 'free'],
    ['gone', undefined, 'free'],
  ];
  for (const [name, seen, expected] of cases) assert.equal(standing(seen, target), expected, name);
});
