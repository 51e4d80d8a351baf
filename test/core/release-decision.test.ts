// The release's decisions as tables: give back only our own association (G2), and make sure it is gone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialRelease, nextReleaseStep, observeRelease, standing, type ReleaseObservation, type ReleaseStep } from '../../agent/core/release-decision.js';
import type { AddressView } from '../../agent/shared/ports.js';

const target = { instanceId: 'i-0aaa', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5', mac: '0a:00:00:00:00:01' };
const held = { allocationId: 'eipalloc-1', associationId: 'eipassoc-ours', publicIp: '198.51.100.1' };
const base: AddressView = { allocationId: 'eipalloc-1', publicIp: '198.51.100.1', tags: { color: 'orange' } };
const ours: AddressView = { ...base, associationId: 'eipassoc-ours', networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp };
const theirs: AddressView = { ...base, associationId: 'eipassoc-theirs', networkInterfaceId: 'eni-0other', privateIp: '10.0.9.9' };

/** The steps taken for a sequence of what reads and disassociations answer. */
function run(answers: ReleaseObservation[]): ReleaseStep[] {
  let memory = initialRelease();
  const steps: ReleaseStep[] = [];
  for (;;) {
    const step = nextReleaseStep(memory);
    steps.push(step);
    if (step.do === 'done') return steps;
    const next: ReleaseObservation | undefined = step.do === 'wait' ? { of: 'waited' } : answers.shift();
    if (!next) throw new Error(`no answer left for ${step.do}`);
    memory = observeRelease(memory, next, held, target);
  }
}
const read = (seen: AddressView | undefined): ReleaseObservation => ({ of: 'read', seen });
const asked = (gone = false): ReleaseObservation => ({ of: 'disassociated', gone });
const shape = (steps: ReleaseStep[]) => steps.map((s) => (s.do === 'done' ? `done:${s.outcome}` : s.do)).join(' ');

test('standing: ours only with our association id on our interface (G2)', () => {
  assert.equal(standing(ours, held, target), 'ours');
  assert.equal(standing(theirs, held, target), 'elsewhere');
  assert.equal(standing({ ...ours, privateIp: '10.0.0.6' }, held, target), 'elsewhere');
  assert.equal(standing(base, held, target), 'free');
  assert.equal(standing(undefined, held, target), 'free');
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
    ['a repeat answered NotFound after a first that did apply', [read(ours), asked(), read(ours), asked(true)], 'read disassociate read wait disassociate done:released'],
  ];
  for (const [name, answers, expected] of cases) assert.equal(shape(run([...answers])), expected, name);
});
