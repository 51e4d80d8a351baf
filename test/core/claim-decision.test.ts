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
  // 200 peers may list with it: a throttled listing's retries spread over 200 / 20 per s.
  assert.deepEqual(decide(memory, s, () => 1), { do: 'list', crowdMs: 10_000 }, 'a long spread leaves the listing stale');
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
  // A throttled listing showing a handful free: the account's other callers, not a crowd
  // that will follow into the mutating bucket: attempt at once.
  const small = [listed([address(1), address(2)], 1), looked()].reduce((m, o) => observe(m, o, s), initialMemory());
  assert.equal(decide(small, s, () => 0.5).do, 'attempt');
  // The same after the pool was seen dry (nodes wait that the free count does not bound):
  // the floor, so that a lone throttle costs a quarter second on average.
  const dried = [listed([]), looked(), { of: 'waited', why: 'exhausted', ms: 5000 } as const, listed([address(1), address(2)], 1), looked()].reduce((m, o) => observe(m, o, s), initialMemory());
  assert.equal((decide(dried, s, () => 0.5) as Extract<ClaimStep, { do: 'wait' }>).ms, 250);
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
  assert.deepEqual(decide(memory, s, () => 0.5), { do: 'list', crowdMs: 100 });
});

test('a dry pool: the wait stretches while listings need retries, and resets after a clean one', () => {
  const s = settings();
  const dry = (throttled: number) => [listed([elsewhere(1)], throttled), looked()];
  const waitAfter = (observations: ClaimObservation[]) => (decide(observations.reduce((m, o) => observe(m, o, s), initialMemory()), s, () => 0.5) as { ms: number }).ms;
  assert.equal(waitAfter(dry(0)), 5000);
  assert.equal(waitAfter([...dry(1), { of: 'waited', why: 'exhausted', ms: 1 }, ...dry(1)]), 20_000);
  assert.equal(waitAfter([...dry(1), { of: 'waited', why: 'exhausted', ms: 1 }, ...dry(0)]), 5000);
});

// Multi-step sequences: what the claim's memory carries from one step to the next.
const run = (observations: ClaimObservation[], base = initialMemory(), liveCheckProves = true) =>
  observations.reduce((m, o) => observe(m, o, settings(liveCheckProves)), base);
const next = (memory: ClaimMemory, random = 0.5, liveCheckProves = true) => decide(memory, settings(liveCheckProves), () => random);
const firstChoice = (addresses: AddressView[]) => (next(run([listed(addresses), looked()])) as Extract<ClaimStep, { do: 'attempt' }>).address;

test('G2a: a foreign Elastic IP the listing wrongly returns is still identified, never taken for a pool one', () => {
  // The listing's tag filter is trusted but checked: a foreign address in it, sitting on our target.
  const foreign: AddressView = { allocationId: 'eipalloc-f', publicIp: '203.0.113.7', tags: { team: 'x' }, associationId: 'eipassoc-f', networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp, instanceId: target.instanceId };
  const memory = run([listed([address(1), foreign]), looked([foreign.publicIp])]);
  assert.deepEqual([...memory.pooledIps], ['198.51.100.1']);
  assert.deepEqual(next(memory), { do: 'identify', publicIp: '203.0.113.7' });
  const identified = run([{ of: 'identified', publicIp: foreign.publicIp, address: foreign }], memory);
  assert.deepEqual(next(identified), {
    do: 'wait',
    ms: 5000,
    why: 'foreign-eip',
    reason: 'Elastic IP 203.0.113.7 (eipalloc-f) outside pool color=orange sits on 10.0.0.5; refusing to replace it',
  });
  // The wait looks at the world again: list, look, and the identification is remembered.
  const after = run([{ of: 'waited', why: 'foreign-eip', ms: 5000 }], identified);
  assert.deepEqual(next(after), { do: 'list', crowdMs: 50 });
  assert.deepEqual(next(run([listed([address(1)]), looked([foreign.publicIp])], after)).do, 'wait');
});

test('identification: a pool address the listing missed is no obstacle; an unknown IP is asked about once', () => {
  const base = run([listed([address(1)]), looked(['198.51.100.9', '203.0.113.7'])]);
  assert.deepEqual(next(base), { do: 'identify', publicIp: '198.51.100.9' });
  const one = run([{ of: 'identified', publicIp: '198.51.100.9', address: address(9) }], base);
  assert.deepEqual(next(one), { do: 'identify', publicIp: '203.0.113.7' });
  const both = run([{ of: 'identified', publicIp: '203.0.113.7', address: undefined }], one);
  assert.deepEqual(next(both), { do: 'attempt', address: address(1) });
  assert.deepEqual([...both.known.entries()], [['198.51.100.9', address(9)], ['203.0.113.7', null]]);
});

test('a won association is never reported as resumed; a read proves the id EC2 holds', () => {
  const a = firstChoice([address(1), address(2)]);
  const won = run([listed([address(1), address(2)]), looked(), { of: 'attempted', address: a, result: { associationId: 'eipassoc-new' } }]);
  assert.deepEqual(next(won), { do: 'done', claimed: { allocationId: a.allocationId, publicIp: a.publicIp, associationId: 'eipassoc-new', resumed: false } });
  assert.equal(won.pending, undefined);
  // Without a proving live check: read it back, with the association id we were given.
  const verify = run([listed([address(1), address(2)]), looked(), { of: 'attempted', address: a, result: { associationId: 'eipassoc-new' } }], initialMemory(), false);
  assert.deepEqual(next(verify, 0.5, false), { do: 'read', address: { ...a, associationId: 'eipassoc-new' }, why: 'verify' });
  const confirmed = run([{ of: 'read', address: { ...a, associationId: 'eipassoc-new' }, seen: { ...a, associationId: 'eipassoc-new', networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp } }], verify, false);
  assert.deepEqual(next(confirmed, 0.5, false), { do: 'done', claimed: { allocationId: a.allocationId, publicIp: a.publicIp, associationId: 'eipassoc-new', resumed: false } });
});

test('verify-lag: 200 ms doubling to 2 s, each ±50 %', () => {
  const a = firstChoice([address(1), address(2)]);
  const mine = { ...a, associationId: 'eipassoc-w' };
  let memory = run([listed([address(1), address(2)]), looked(), { of: 'attempted', address: a, result: { associationId: 'eipassoc-w' } }], initialMemory(), false);
  const expected = [200, 400, 800, 1600, 2000, 2000, 2000];
  for (const [i, ms] of expected.entries()) {
    memory = run([{ of: 'read', address: mine, seen: a }], memory, false);
    for (const [random, factor] of [[0, 0.5], [0.5, 1], [1, 1.5]] as const) {
      const step = next(memory, random, false);
      assert.deepEqual(step, { do: 'wait', ms: ms * factor, why: 'verify-lag', reason: `waiting for DescribeAddresses to show ${a.publicIp} on eni-0aaa` }, `read ${i + 1}, random ${random}`);
    }
    assert.equal(memory.pending?.reads, i + 1);
    memory = run([{ of: 'waited', why: 'verify-lag', ms }], memory, false);
    assert.deepEqual(next(memory, 0.5, false), { do: 'read', address: mine, why: 'verify' });
  }
});

test('verification never confirmed: the allocation counts as lost, and the listing decides', () => {
  const [one, two] = [address(1), address(2)];
  const a = firstChoice([one, two]);
  const mine = { ...a, associationId: 'eipassoc-w' };
  let memory = run([listed([one, two]), looked(), { of: 'attempted', address: a, result: { associationId: 'eipassoc-w' } }], initialMemory(), false);
  for (let i = 1; i < 12; i++) memory = run([{ of: 'read', address: mine, seen: undefined }, { of: 'waited', why: 'verify-lag', ms: 1 }], memory, false);
  assert.equal(memory.pending?.reads, 11);
  memory = run([{ of: 'read', address: mine, seen: a }], memory, false);
  assert.equal(memory.pending, undefined);
  assert.deepEqual([...memory.lost], [a.allocationId]);
  assert.deepEqual(next(memory, 0.5, false), { do: 'list', crowdMs: 100 });
  // On a fresh listing that still shows it free, the other address is tried.
  memory = run([listed([one, two]), looked()], memory, false);
  assert.deepEqual(next(memory, 0.5, false), { do: 'attempt', address: a === one ? two : one });
});

test('a lost race: the memory keeps the lost address through the spread and the next listing', () => {
  const [one, two, three] = [address(1), address(2), address(3)];
  const a = firstChoice([one, two, three]);
  let memory = run([listed([one, two, three]), looked(), { of: 'attempted', address: a, result: 'conflict' }]);
  assert.equal(memory.stale, true);
  assert.equal(memory.contention, 'race');
  assert.ok(memory.listing, 'the listing stays: its free count sizes the spread');
  assert.deepEqual(next(memory, 1), { do: 'wait', ms: 1000, why: 'contention', reason: "spreading the next attempt over the account's mutating bucket (3 free)" });
  // A short spread still re-lists: the listing is known to lag.
  memory = run([{ of: 'waited', why: 'contention', ms: 10 }], memory);
  assert.deepEqual([memory.listing, memory.stale, memory.contention, memory.spreads], [undefined, false, undefined, 1]);
  assert.deepEqual(next(memory), { do: 'list', crowdMs: 150 });
  memory = run([listed([one, two, three]), looked()], memory);
  const b = (next(memory) as Extract<ClaimStep, { do: 'attempt' }>).address;
  assert.notEqual(b.allocationId, a.allocationId);
  assert.deepEqual([...memory.lost], [a.allocationId]);
});

test('contention from a throttle: a short spread attempts on the same listing, a long one lists again', () => {
  const addresses = [address(1), address(2)];
  const a = firstChoice(addresses);
  const throttled = run([listed(addresses), looked(), { of: 'attempted', address: a, result: 'throttled' }]);
  assert.deepEqual(next(throttled, 0.5), { do: 'wait', ms: 250, why: 'contention', reason: "spreading the next attempt over the account's mutating bucket (2 free)" });
  const short = run([{ of: 'waited', why: 'contention', ms: 999 }], throttled);
  assert.deepEqual(next(short), { do: 'attempt', address: a });
  const long = run([{ of: 'waited', why: 'contention', ms: 1000 }], throttled);
  assert.deepEqual(next(long), { do: 'list', crowdMs: 100 });
  // A throttle seen after a throttled listing keeps the listing's word for the contention.
  const both = run([listed(addresses, 1), looked(), { of: 'attempted', address: a, result: 'throttled' }]);
  assert.equal(both.contention, 'throttled');
  const twenty = Array.from({ length: 20 }, (_, i) => address(i + 1));
  const listing = run([listed(twenty, 1), looked()]);
  assert.equal(listing.contention, 'listing', '20 free: more than a handful');
  assert.equal(run([listed(twenty, 0)], listing).contention, 'listing', 'a later clean listing does not clear it: only the spread does');
  assert.equal(run([listed(addresses, 1), looked()]).contention, undefined, '2 free: a handful, the throttle was someone else');
  assert.equal(run([listed([], 1), looked()]).contention, 'listing', 'none free: the waiting crowd is no handful, and will rush what frees up');
});

test('the second spread counts on no burst: the bucket is known empty', () => {
  const many = Array.from({ length: 100 }, (_, i) => address(i + 1));
  const a = firstChoice(many);
  let memory = run([listed(many), looked(), { of: 'attempted', address: a, result: 'throttled' }]);
  assert.equal((next(memory, 1) as { ms: number }).ms, 10_000, '(100 − 50) / 5 per s');
  memory = run([{ of: 'waited', why: 'contention', ms: 5 }, { of: 'attempted', address: a, result: 'throttled' }], memory);
  assert.equal((next(memory, 1) as { ms: number }).ms, 20_000, '100 / 5 per s');
  // A race after spreads is still one peer: a short breath.
  memory = run([{ of: 'waited', why: 'contention', ms: 5 }, { of: 'attempted', address: a, result: 'conflict' }], memory);
  assert.equal((next(memory, 1) as { ms: number }).ms, 1000);
});

test('the allocation vanished: list again, keeping what was learnt', () => {
  const [one, two] = [address(1), address(2)];
  const a = firstChoice([one, two]);
  const b = a === one ? two : one;
  let memory = run([listed([one, two]), looked(), { of: 'attempted', address: a, result: 'conflict' }, { of: 'waited', why: 'contention', ms: 1 }, listed([one, two]), looked()]);
  assert.deepEqual(next(memory), { do: 'attempt', address: b });
  memory = run([{ of: 'attempted', address: b, result: 'not-found' }], memory);
  // A pause first (no answer is asked again at once, G7), then a fresh listing.
  assert.deepEqual(next(memory, 0.5), { do: 'wait', ms: 375, why: 'vanished', reason: 'an address vanished (not-found): listing the pool again' });
  memory = run([{ of: 'waited', why: 'vanished', ms: 375 }], memory);
  assert.deepEqual([memory.listing, [...memory.lost], memory.spreads], [undefined, [a.allocationId], 1]);
  assert.deepEqual(next(memory), { do: 'list', crowdMs: 100 });
  memory = run([listed([one, address(3)]), looked()], memory);
  assert.deepEqual(next(memory), { do: 'attempt', address: address(3) });
});

test('faults: a backoff per fault, once; a clean read-back resets the count only when it proves a win', () => {
  const [one, two] = [address(1), address(2)];
  const a = firstChoice([one, two]);
  const uncertain: ClaimObservation = { of: 'attempted', address: a, result: 'uncertain' };
  const free: ClaimObservation = { of: 'read', address: a, seen: a };
  let memory = run([listed([one, two]), looked(), uncertain]);
  assert.deepEqual(next(memory), { do: 'read', address: a, why: 'uncertain' });
  memory = run([free], memory);
  assert.deepEqual(next(memory, 1), { do: 'wait', ms: 200, why: 'retry', reason: `AssociateAddress met a fault; trying ${a.publicIp} again` });
  memory = run([{ of: 'waited', why: 'retry', ms: 200 }], memory);
  assert.deepEqual(next(memory, 1), { do: 'attempt', address: a });
  // A second fault in a row: the ceiling doubles; after the wait, the attempt.
  memory = run([uncertain, free], memory);
  assert.equal(memory.faults, 2);
  assert.deepEqual(next(memory, 1), { do: 'wait', ms: 400, why: 'retry', reason: `AssociateAddress met a fault; trying ${a.publicIp} again` });
  // It landed after all: won, faults forgotten.
  memory = run([{ of: 'waited', why: 'retry', ms: 400 }, uncertain, { of: 'read', address: a, seen: { ...a, associationId: 'eipassoc-l', networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp } }], memory);
  assert.equal(memory.faults, 0);
  assert.deepEqual(next(memory), { do: 'done', claimed: { allocationId: a.allocationId, publicIp: a.publicIp, associationId: 'eipassoc-l', resumed: false } });
});

test('an uncertain answer read back as gone or taken', () => {
  const [one, two] = [address(1), address(2)];
  const a = firstChoice([one, two]);
  const base = run([listed([one, two]), looked(), { of: 'attempted', address: a, result: 'uncertain' }]);
  const gone = run([{ of: 'read', address: a, seen: undefined }], base);
  assert.deepEqual([gone.pending, gone.listing, gone.faults, [...gone.lost]], [undefined, undefined, 1, []]);
  const taken = run([{ of: 'read', address: a, seen: { ...a, associationId: 'eipassoc-x', networkInterfaceId: 'eni-0other', privateIp: '10.0.9.9' } }], base);
  assert.deepEqual([taken.pending, taken.stale, taken.contention, [...taken.lost]], [undefined, true, 'race', [a.allocationId]]);
  // On our interface but another private IP is not ours: taken.
  const beside = run([{ of: 'read', address: a, seen: { ...a, associationId: 'eipassoc-x', networkInterfaceId: target.networkInterfaceId, privateIp: '10.0.0.6' } }], base);
  assert.equal(beside.won, undefined);
  assert.deepEqual([...beside.lost], [a.allocationId]);
});

test('verifying a win: a lagging read shows our own association id, or none; another id is a lost race', () => {
  const a = firstChoice([address(1), address(2)]);
  const mine = { ...a, associationId: 'eipassoc-w' };
  const base = run([listed([address(1), address(2)]), looked(), { of: 'attempted', address: a, result: { associationId: 'eipassoc-w' } }], initialMemory(), false);
  // Our id, on another interface (a read lagging a move is not ours to confirm): keep reading.
  const lagging = run([{ of: 'read', address: mine, seen: { ...a, associationId: 'eipassoc-w', networkInterfaceId: 'eni-0lag', privateIp: '10.0.0.5' } }], base, false);
  assert.deepEqual([lagging.pending?.lagging, lagging.pending?.reads, [...lagging.lost]], [true, 1, []]);
  const other = run([{ of: 'read', address: mine, seen: { ...a, associationId: 'eipassoc-z' } }], base, false);
  assert.deepEqual([other.pending, [...other.lost], other.contention], [undefined, [a.allocationId], 'race']);
});

test('a dry pool, a second address and a clean listing reset the troubles', () => {
  const dry = run([listed([elsewhere(1)], 2), looked()]);
  assert.equal(dry.troubles, 1);
  assert.deepEqual(next(dry, 0), { do: 'wait', ms: 8000, why: 'exhausted', reason: 'pool color=orange: 0 of 1 free' });
  const tagOnly = { ...settings(), pool: { tagKey: 'color' } };
  assert.match((decide(run([listed([elsewhere(1)]), looked()]), tagOnly, () => 0.5) as { reason: string }).reason, /^pool color=\*: 0 of 1 free$/);
  const second = run([listed([address(2, { associationId: 'eipassoc-9', networkInterfaceId: 'eni-0bbb', privateIp: '10.0.1.1', instanceId: target.instanceId })])]);
  assert.deepEqual(next(second), {
    do: 'wait',
    ms: 5000,
    why: 'held-elsewhere',
    reason: 'this instance already holds pool address 198.51.100.2 (eipalloc-2) on eni-0bbb 10.0.1.1; not claiming a second',
  });
  assert.deepEqual(next(run([{ of: 'waited', why: 'held-elsewhere', ms: 5000 }], second)), { do: 'list' });
});

test('after forgetting the lost addresses, the next listing tries them again', () => {
  const [one, two] = [address(1), address(2)];
  const a = firstChoice([one, two]);
  const b = a === one ? two : one;
  const race = (x: AddressView): ClaimObservation[] => [{ of: 'attempted', address: x, result: 'conflict' }, { of: 'waited', why: 'contention', ms: 1 }, listed([one, two]), looked()];
  let memory = run([listed([one, two]), looked(), ...race(a), ...race(b)]);
  assert.deepEqual(next(memory), { do: 'forget' });
  memory = run([{ of: 'forgot' }], memory);
  assert.deepEqual([memory.listing, [...memory.lost], memory.spreads, memory.onTarget], [undefined, [], 2, []]);
  memory = run([listed([one, two]), looked()], memory);
  assert.deepEqual(next(memory), { do: 'attempt', address: a });
});

test('a re-list wait of any length (dry pool, foreign or second address) looks again and is no spread', () => {
  for (const why of ['exhausted', 'foreign-eip', 'held-elsewhere'] as const) {
    const dry = run([listed([elsewhere(1)]), looked(), { of: 'waited', why, ms: 1 }]);
    assert.deepEqual([dry.listing, dry.spreads], [undefined, 0], why);
    assert.deepEqual(next(dry), { do: 'list' }, why);
  }
});
