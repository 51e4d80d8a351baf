// The claim's decisions as tables: from what a node has seen, the next step.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, initialMemory, observe, type ClaimMemory, type ClaimObservation, type ClaimSettings, type ClaimStep } from '../../agent/core/claim-decision.js';
import type { AddressView } from '../../agent/shared/ports.js';

const target = { instanceId: 'i-0aaa', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5', mac: '0a:00:00:00:00:01' };
const settings = (liveCheckProves = true): ClaimSettings => ({
  pool: { tagKey: 'color', tagValue: 'orange' },
  target,
  relist: { intervalMs: 5000, maxMs: 30_000 },
  liveCheckProves,
});

function address(n: number, extra: Partial<AddressView> = {}): AddressView {
  return { allocationId: `eipalloc-${n}`, publicIp: `198.51.100.${n}`, tags: { color: 'orange' }, ...extra };
}
const ours = (n: number, associationId = `eipassoc-${n}`) => address(n, { associationId, networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp, instanceId: target.instanceId });
const elsewhere = (n: number) => address(n, { associationId: `eipassoc-x${n}`, networkInterfaceId: 'eni-0other', privateIp: '10.0.9.9' });

/** Feeds observations in order; returns the memory and the next step (random fixed at 0.5). */
function after(observations: ClaimObservation[], liveCheckProves = true): { memory: ClaimMemory; step: ClaimStep } {
  const s = settings(liveCheckProves);
  const memory = observations.reduce((m, o) => observe(m, o, s), initialMemory());
  return { memory, step: decide(memory, s, () => 0.5) };
}

const listed = (addresses: AddressView[], throttled = 0): ClaimObservation => ({ of: 'listed', addresses, throttled });
const looked = (publicIps: string[] = []): ClaimObservation => ({ of: 'looked', publicIps });

test('the first steps: list, look at the target (G2a), attempt the first free address in rendezvous order', () => {
  assert.deepEqual(after([]).step, { do: 'list' });
  assert.deepEqual(after([listed([address(1), address(2)])]).step, { do: 'look' });
  const step = after([listed([address(1), address(2)]), looked()]).step;
  assert.equal(step.do, 'attempt');
});

test('what a listing decides before any attempt', () => {
  const cases: [string, ClaimObservation[], Partial<ClaimStep> & { do: ClaimStep['do'] }, RegExp?][] = [
    ['resume what the target holds (G3)', [listed([address(1), ours(2)])], { do: 'done' }],
    ['a second pool address on this instance is refused (G3)', [listed([address(1), address(2, { associationId: 'eipassoc-9', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.6' })])], { do: 'wait' }, /already holds pool address/],
    ['a dry pool waits a re-list interval', [listed([elsewhere(1)]), looked()], { do: 'wait' }, /0 of 1 free/],
    ['an unknown public IP on the target is identified first', [listed([address(1)]), looked(['203.0.113.7'])], { do: 'identify' }],
    ['an auto-assigned public IP is no obstacle', [listed([address(1)]), looked(['203.0.113.7']), { of: 'identified', publicIp: '203.0.113.7', address: undefined }], { do: 'attempt' }],
    ['a foreign Elastic IP on the target is never replaced (G2a)', [listed([address(1)]), looked(['203.0.113.7']), { of: 'identified', publicIp: '203.0.113.7', address: { allocationId: 'eipalloc-f', publicIp: '203.0.113.7', tags: { team: 'x' } } }], { do: 'wait' }, /outside pool color=orange/],
    ['a pool address on the target (listed) needs no identification', [listed([address(1), ours(2)]), looked(['198.51.100.2'])], { do: 'done' }],
  ];
  for (const [name, observations, expected, reason] of cases) {
    const { step } = after(observations);
    assert.equal(step.do, expected.do, name);
    if (reason) assert.match((step as { reason: string }).reason, reason, name);
  }
  const resumed = after([listed([address(1), ours(2)])]).step;
  assert.deepEqual(resumed, { do: 'done', claimed: { allocationId: 'eipalloc-2', publicIp: '198.51.100.2', associationId: 'eipassoc-2', resumed: true } });
});

test('what each outcome of an attempt leads to', () => {
  const base = [listed([address(1), address(2), address(3)]), looked()];
  const first = after(base).step as Extract<ClaimStep, { do: 'attempt' }>;
  const a = first.address;
  const attempted = (result: Extract<ClaimObservation, { of: 'attempted' }>['result']): ClaimObservation => ({ of: 'attempted', address: a, result });
  const cases: [string, ClaimObservation[], boolean, ClaimStep['do'], string?][] = [
    // name, observations after the base, live check proves, next step, why (for waits)
    ['won, IMDS proves it: done without a read', [attempted({ associationId: 'eipassoc-new' })], true, 'done'],
    ['won, no proving live check: verify by reading', [attempted({ associationId: 'eipassoc-new' })], false, 'read'],
    ['lost race: spread, then list again', [attempted('conflict')], true, 'wait', 'contention'],
    ['throttled: spread', [attempted('throttled')], true, 'wait', 'contention'],
    ['uncertain (5xx, timeout): read the allocation first', [attempted('uncertain')], true, 'read'],
    ['released meanwhile: a short pause, then list again', [attempted('not-found')], true, 'wait', 'vanished'],
    ['… and the listing after it', [attempted('not-found'), { of: 'waited', why: 'vanished', ms: 200 }], true, 'list'],
    ['our interface unknown to EC2: a paced wait for it', [attempted('target-unknown')], true, 'wait', 'target-unknown'],
    ['IAM refused, or an answer we do not know: a long wait, never at once', [attempted('refused')], true, 'wait', 'refused'],
  ];
  for (const [name, observations, proves, next, why] of cases) {
    const { step } = after([...base, ...observations], proves);
    assert.equal(step.do, next, name);
    if (why) assert.equal((step as { why: string }).why, why, name);
  }
});

test('reading back an uncertain association', () => {
  const base = [listed([address(1), address(2)]), looked()];
  const a = (after(base).step as Extract<ClaimStep, { do: 'attempt' }>).address;
  const uncertain: ClaimObservation = { of: 'attempted', address: a, result: 'uncertain' };
  const read = (seen: AddressView | undefined): ClaimObservation => ({ of: 'read', address: a, seen });
  // It landed: ours, with the id EC2 holds, and no second AssociateAddress.
  const landed = after([...base, uncertain, read({ ...a, associationId: 'eipassoc-l', networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp })]);
  assert.deepEqual(landed.step, { do: 'done', claimed: { allocationId: a.allocationId, publicIp: a.publicIp, associationId: 'eipassoc-l', resumed: false } });
  // Not applied: a short backoff, then the same address again.
  const free = after([...base, uncertain, read(a)]);
  assert.equal(free.step.do, 'wait');
  assert.equal((free.step as { why: string }).why, 'retry');
  const again = after([...base, uncertain, read(a), { of: 'waited', why: 'retry', ms: 100 }]).step;
  assert.deepEqual(again, { do: 'attempt', address: a });
  // Someone else has it: lost, spread, list again.
  const taken = after([...base, uncertain, read({ ...a, associationId: 'eipassoc-other', networkInterfaceId: 'eni-0other', privateIp: '10.0.9.9' })]);
  assert.equal((taken.step as { why: string }).why, 'contention');
  assert.ok(taken.memory.lost.has(a.allocationId));
  // Gone: list again.
  assert.equal(after([...base, uncertain, read(undefined)]).step.do, 'list');
});

test('verifying a win by reading (live check none/egress): lag, then confirmed, or lost', () => {
  const base = [listed([address(1), address(2)]), looked()];
  const a = (after(base, false).step as Extract<ClaimStep, { do: 'attempt' }>).address;
  const won: ClaimObservation = { of: 'attempted', address: a, result: { associationId: 'eipassoc-w' } };
  const read = (seen: AddressView | undefined): ClaimObservation => ({ of: 'read', address: a, seen });
  const lagging = after([...base, won, read(a)], false);
  assert.equal(lagging.step.do, 'wait');
  assert.equal((lagging.step as { why: string }).why, 'verify-lag');
  const confirmed = after([...base, won, read(a), { of: 'waited', why: 'verify-lag', ms: 200 }, read({ ...a, associationId: 'eipassoc-w', networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp })], false);
  assert.equal(confirmed.step.do, 'done');
  const moved = after([...base, won, read({ ...a, associationId: 'eipassoc-z', networkInterfaceId: 'eni-0other', privateIp: '10.0.9.9' })], false);
  assert.equal((moved.step as { why: string }).why, 'contention');
  // Never confirmed within the verification reads: it may stand, so the listing decides.
  const reads: ClaimObservation[] = [];
  for (let i = 0; i < 12; i++) reads.push(read(a), { of: 'waited', why: 'verify-lag', ms: 200 });
  assert.equal(after([...base, won, ...reads], false).step.do, 'list');
});

test('contention: the spread comes from the listing, the burst counted only once, and a long wait re-lists', () => {
  const many = Array.from({ length: 200 }, (_, i) => address(i + 1));
  const s = settings();
  let memory = [listed(many), looked()].reduce((m, o) => observe(m, o, s), initialMemory());
  const a = (decide(memory, s, () => 0.5) as Extract<ClaimStep, { do: 'attempt' }>).address;
  memory = observe(memory, { of: 'attempted', address: a, result: 'throttled' }, s);
  const first = decide(memory, s, () => 1) as Extract<ClaimStep, { do: 'wait' }>;
  assert.equal(first.ms, 30_000, '(200 − 50) / 5 per s: the burst went to the peers that saw this listing');
  memory = observe(memory, { of: 'waited', why: 'contention', ms: first.ms }, s);
  assert.deepEqual(decide(memory, s, () => 1), { do: 'list' }, 'a long spread leaves the listing stale');
  memory = [listed(many), looked()].reduce((m, o) => observe(m, o, s), memory);
  assert.equal(decide(memory, s, () => 1).do, 'attempt', 'after the spread, attempt on the fresh listing at once');
  memory = observe(memory, { of: 'attempted', address: a, result: 'throttled' }, s);
  const second = decide(memory, s, () => 1) as Extract<ClaimStep, { do: 'wait' }>;
  assert.equal(second.ms, 40_000, 'the bucket is known empty now: 200 / 5 per s');
  // A throttled listing is contention too; its listing is fresh, so no burst is subtracted.
  const fresh = [listed(many, 2), looked()].reduce((m, o) => observe(m, o, s), initialMemory());
  assert.equal((decide(fresh, s, () => 1) as Extract<ClaimStep, { do: 'wait' }>).ms, 40_000);
  // A lost race alone says one peer, not a crowd: a short breath however big the pool.
  let raced = [listed(many), looked()].reduce((m, o) => observe(m, o, s), initialMemory());
  raced = observe(raced, { of: 'attempted', address: a, result: 'conflict' }, s);
  assert.equal((decide(raced, s, () => 1) as Extract<ClaimStep, { do: 'wait' }>).ms, 1000);
  // A small pool: the floor, so that a lone throttle costs a quarter second on average.
  const small = [listed([address(1), address(2)], 1), looked()].reduce((m, o) => observe(m, o, s), initialMemory());
  assert.equal((decide(small, s, () => 0.5) as Extract<ClaimStep, { do: 'wait' }>).ms, 250);
});

test('lost addresses are not tried again on a lagging listing; all lost: forget and list again', () => {
  const s = settings();
  const [one, two] = [address(1), address(2)];
  let memory = [listed([one, two]), looked()].reduce((m, o) => observe(m, o, s), initialMemory());
  const a = (decide(memory, s, () => 0.5) as Extract<ClaimStep, { do: 'attempt' }>).address;
  const b = a === one ? two : one;
  memory = observe(memory, { of: 'attempted', address: a, result: 'conflict' }, s);
  memory = observe(memory, { of: 'waited', why: 'contention', ms: 10 }, s);
  // The listing is dropped after a lost race; a lagging one still shows `a` free.
  memory = [listed([one, two]), looked()].reduce((m, o) => observe(m, o, s), memory);
  assert.deepEqual(decide(memory, s, () => 0.5), { do: 'attempt', address: b });
  memory = observe(memory, { of: 'attempted', address: b, result: 'conflict' }, s);
  memory = observe(memory, { of: 'waited', why: 'contention', ms: 10 }, s);
  memory = [listed([one, two]), looked()].reduce((m, o) => observe(m, o, s), memory);
  assert.deepEqual(decide(memory, s, () => 0.5), { do: 'forget' });
  memory = observe(memory, { of: 'forgot' }, s);
  assert.deepEqual(decide(memory, s, () => 0.5), { do: 'list' });
});

test('a dry pool: the wait stretches while listings need retries, and resets after a clean one', () => {
  const s = settings();
  const dry = (throttled: number) => [listed([elsewhere(1)], throttled), looked()];
  const waitAfter = (observations: ClaimObservation[]) => (decide(observations.reduce((m, o) => observe(m, o, s), initialMemory()), s, () => 0.5) as { ms: number }).ms;
  assert.equal(waitAfter(dry(0)), 5000);
  assert.equal(waitAfter([...dry(1), { of: 'waited', why: 'exhausted', ms: 1 }, ...dry(1)]), 20_000);
  assert.equal(waitAfter([...dry(1), { of: 'waited', why: 'exhausted', ms: 1 }, ...dry(0)]), 5000);
});
