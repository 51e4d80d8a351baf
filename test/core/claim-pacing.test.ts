// The claim's pacing of answers that are neither a win nor plain contention (issue 19), and
// the mutating rate it learns, as tables: no outcome is ever tried again at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_SERVED_PER_S } from '../../agent/shared/pacing.js';
import { decide, initialMemory, observe, type ClaimMemory, type ClaimObservation, type ClaimSettings, type ClaimStep } from '../../agent/core/claim-decision.js';
import type { AddressView } from '../../agent/shared/ports.js';

const target = { instanceId: 'i-0aaa', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5', mac: '0a:00:00:00:00:01' };
const settings: ClaimSettings = { pool: { tagKey: 'color', tagValue: 'orange' }, target, relist: { intervalMs: 5000, maxMs: 30_000 }, liveCheckProves: true, region: 'eu-west-1' };
const address = (n: number): AddressView => ({ allocationId: `eipalloc-${n}`, publicIp: `198.51.100.${n}`, tags: { color: 'orange' } });
const pool = (free: number) => Array.from({ length: free }, (_, i) => address(i + 1));
const listed = (free: number, at?: number, throttled = 0, askedAt?: number): ClaimObservation => ({ of: 'listed', addresses: pool(free), throttled, ...(at === undefined ? {} : { at }), ...(askedAt === undefined ? {} : { askedAt }) });
const looked: ClaimObservation = { of: 'looked', publicIps: [] };

const feed = (memory: ClaimMemory, ...seen: ClaimObservation[]) => seen.reduce((m, o) => observe(m, o, settings), memory);
const step = (memory: ClaimMemory, random = 1) => decide(memory, settings, () => random);
const attempted = (memory: ClaimMemory, result: Extract<ClaimObservation, { of: 'attempted' }>['result'], code?: string): ClaimMemory => {
  const s = step(memory, 0.5) as Extract<ClaimStep, { do: 'attempt' }>;
  assert.equal(s.do, 'attempt');
  return feed(memory, { of: 'attempted', address: s.address, result, ...(code ? { code } : {}) });
};

test('the same answer again and again: each wait before the next attempt is longer (never at once)', () => {
  // name, result, code, the wait's why, its ceilings (random = 1) for the 1st..6th time in a row
  const cases: [string, Extract<ClaimObservation, { of: 'attempted' }>['result'], string, string, number[]][] = [
    ['IAM refused: 2 s doubling to a minute', 'refused', 'UnauthorizedOperation', 'refused', [2000, 4000, 8000, 16_000, 32_000, 60_000]],
    ['an answer the agent does not know: the same', 'refused', 'Gateway.NotAttached', 'refused', [2000, 4000, 8000, 16_000, 32_000, 60_000]],
    ['our interface unknown to EC2: 0.5 s doubling to 4 s', 'target-unknown', 'InvalidNetworkInterfaceID.NotFound', 'target-unknown', [500, 1000, 2000, 4000, 4000, 4000]],
    ['the address vanished: 250 ms, doubling', 'not-found', 'InvalidAllocationID.NotFound', 'vanished', [250, 500, 1000, 2000, 4000, 8000]],
  ];
  for (const [name, result, code, why, ceilings] of cases) {
    let memory = feed(initialMemory(), listed(3), looked);
    const waits: number[] = [];
    for (let i = 0; i < ceilings.length; i++) {
      memory = attempted(memory, result, code);
      const wait = step(memory) as Extract<ClaimStep, { do: 'wait' }>;
      assert.equal(wait.why, why, `${name} #${i + 1}`);
      assert.ok((step(memory, 0) as { ms: number }).ms >= wait.ms / 2, `${name}: equal jitter, never near zero`);
      waits.push(wait.ms);
      memory = feed(memory, { of: 'waited', why: wait.why, ms: wait.ms });
      if (memory.listing === undefined) memory = feed(memory, listed(3), looked);
    }
    assert.deepEqual(waits, ceilings, name);
  }
});

test('the reasons name the code, and a refusal names what it does next', () => {
  let memory = attempted(feed(initialMemory(), listed(3), looked), 'refused', 'UnauthorizedOperation');
  assert.match((step(memory) as { reason: string }).reason, /^AssociateAddress refused \(UnauthorizedOperation\): asking again in 2 s$/);
  memory = attempted(feed(initialMemory(), listed(3), looked), 'target-unknown', 'InvalidInstanceID.NotFound');
  assert.equal((step(memory) as { reason: string }).reason, 'EC2 does not know interface eni-0aaa of instance i-0aaa in eu-west-1 yet (InvalidInstanceID.NotFound): waiting for it');
});

test('a target unknown for two minutes: one clear error naming interface, instance and region', () => {
  let memory = feed(initialMemory(), listed(3), looked);
  let waited = 0;
  for (;;) {
    const next = step(memory);
    if (next.do === 'fail') {
      assert.equal(next.code, 'claim.target-unknown');
      assert.match(next.reason, /^EC2 does not know interface eni-0aaa of instance i-0aaa in eu-west-1 \(InvalidNetworkInterfaceID\.NotFound for 12\d s\): expected the instance's own interface in the instance's own region$/);
      break;
    }
    if (next.do === 'attempt') {
      memory = feed(memory, { of: 'attempted', address: next.address, result: 'target-unknown', code: 'InvalidNetworkInterfaceID.NotFound' });
      continue;
    }
    assert.equal(next.do, 'wait');
    if (next.do !== 'wait') return;
    assert.ok(next.ms <= 16_000, 'from 30 s on, 8–16 s');
    waited += next.ms;
    memory = feed(memory, { of: 'waited', why: next.why, ms: next.ms });
  }
  assert.ok(waited >= 120_000 && waited < 140_000, `${waited}`);
  // Known in time: a win clears the count.
  const known = attempted(feed(attempted(feed(initialMemory(), listed(3), looked), 'target-unknown', 'InvalidInstanceID.NotFound'), { of: 'waited', why: 'target-unknown', ms: 400 }), { associationId: 'eipassoc-1' });
  assert.equal(step(known).do, 'done');
  assert.equal(known.unknownMs, 0);
});

test('a stall floor under every contention wait once seven attempts in a row won nothing', () => {
  // A lost race alone spreads 1 s; from the eighth stall the floor is 1 s doubling to 30 s.
  let memory = feed(initialMemory(), listed(3), looked);
  const windows: number[] = [];
  for (let i = 0; i < 13; i++) {
    memory = attempted(memory, 'conflict');
    const wait = step(memory) as Extract<ClaimStep, { do: 'wait' }>;
    assert.equal(wait.why, 'contention');
    windows.push(wait.ms);
    memory = feed(memory, { of: 'waited', why: 'contention', ms: wait.ms }, { of: 'forgot' }, listed(3), looked);
  }
  assert.deepEqual(windows, [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 2000, 4000, 8000, 16_000, 30_000]);
});

test('the rate EC2 serves: learned from the free count once the bucket was seen empty; the published refill is the ceiling', () => {
  const spread = (memory: ClaimMemory) => (step(memory) as Extract<ClaimStep, { do: 'wait' }>).ms;
  const throttled = (memory: ClaimMemory) => attempted(memory, 'throttled');
  // First listing at 0 s (200 free), throttled, spread, listing at 20 s: 160 free.
  const first = feed(initialMemory(), listed(200, 0), looked);
  const cases: [string, number, number][] = [
    // name, free at 20 s, the next window after another throttle (random = 1)
    ['EC2 served 2 a second: 2 × 1.25 = 2.5 a second → 160 / 2.5', 160, 64_000],
    ['EC2 served 5 a second: 6.25, capped at the published 5 → 100 / 5', 100, 20_000],
    ['EC2 served 7.5 a second: never above the published 5 → 50 / 5', 50, 10_000],
    ['EC2 served nothing: never below 0.5 a second → 200 / 0.5', 200, 400_000],
  ];
  for (const [name, free, expected] of cases) {
    let memory = throttled(first);
    assert.equal(spread(memory), 30_000, 'the first window: (200 − 50) / 5');
    memory = feed(memory, { of: 'waited', why: 'contention', ms: 20_000 }, listed(free, 20_000), looked);
    memory = throttled(memory);
    assert.equal(spread(memory), expected, name);
  }
  // Without an empty bucket seen, a slowly falling free count (a crowd spreading) teaches nothing.
  const calm = feed(initialMemory(), listed(200, 0), looked, { of: 'attempted', address: address(1), result: 'conflict' }, { of: 'waited', why: 'contention', ms: 500 }, listed(199, 20_000), looked);
  assert.equal(calm.rate, 5);
  // A handful free (the faulty trio, its throttles injected): the free count cannot fall far
  // enough to say a rate, so the window stays free / 5.
  let few = throttled(feed(initialMemory(), listed(3, 0), looked));
  few = throttled(feed(few, { of: 'waited', why: 'contention', ms: 600 }, listed(3, 20_000), looked));
  assert.equal(few.rate, 5);
  assert.equal(spread(few), 600, '3 / 5 a second, not 3 / 0.5');
});

test('a target unknown: the budget ends at exactly two minutes, the late cap starts at exactly 30 s, and each kind of pause counts its own run', () => {
  const unknown = (memory: ClaimMemory) => attempted(memory, 'target-unknown', 'InvalidNetworkInterfaceID.NotFound');
  const waited = (memory: ClaimMemory, ms: number) => feed(memory, { of: 'waited', why: 'target-unknown', ms });
  const wait = (memory: ClaimMemory) => step(memory) as Extract<ClaimStep, { do: 'wait' | 'fail' }>;
  // Two minutes waited to the millisecond, and unknown again: the clear error, not another wait.
  const spent = unknown(waited(unknown(feed(initialMemory(), listed(3), looked)), 120_000));
  assert.deepEqual(wait(spent), {
    do: 'fail',
    code: 'claim.target-unknown',
    reason: "EC2 does not know interface eni-0aaa of instance i-0aaa in eu-west-1 (InvalidNetworkInterfaceID.NotFound for 120 s): expected the instance's own interface in the instance's own region",
  });
  // The fifth time in a row (0.5 s doubling: 8 s) after exactly 30 s: the late cap (16 s), not 4 s.
  let memory = feed(initialMemory(), listed(3), looked);
  for (const ms of [1000, 1000, 1000, 27_000]) memory = waited(unknown(memory), ms);
  assert.equal((wait(unknown(memory)) as { ms: number }).ms, 8000);
  // Without a region the message names none.
  const { region: _, ...noRegion } = settings;
  const first = unknown(feed(initialMemory(), listed(3), looked));
  assert.equal((decide(first, noRegion, () => 1) as { reason: string }).reason, 'EC2 does not know interface eni-0aaa of instance i-0aaa yet (InvalidNetworkInterfaceID.NotFound): waiting for it');
  // A refusal, then an unknown target: the first of its kind (0.5 s), not the second (1 s).
  let mixed = attempted(feed(initialMemory(), listed(3), looked), 'refused', 'UnauthorizedOperation');
  mixed = feed(mixed, { of: 'waited', why: 'refused', ms: 2000 }, listed(3), looked);
  assert.deepEqual(wait(unknown(mixed)), { do: 'wait', ms: 500, why: 'target-unknown', reason: 'EC2 does not know interface eni-0aaa of instance i-0aaa in eu-west-1 yet (InvalidNetworkInterfaceID.NotFound): waiting for it' });
});

test('the served rate is averaged since the first timed listing, not since the last one', () => {
  const spread = (memory: ClaimMemory) => (step(memory) as Extract<ClaimStep, { do: 'wait' }>).ms;
  const throttled = (memory: ClaimMemory) => attempted(memory, 'throttled');
  let memory = throttled(feed(initialMemory(), listed(200, 0), looked));
  memory = throttled(feed(memory, { of: 'waited', why: 'contention', ms: 20_000 }, listed(160, 20_000), looked));
  assert.equal(spread(memory), 64_000, '40 served in 20 s: 2 × 1.25 = 2.5 a second');
  memory = throttled(feed(memory, { of: 'waited', why: 'contention', ms: 20_000 }, listed(150, 40_000), looked));
  // 50 served in 40 s: 1.25 × 1.25 = 1.5625 a second → 150 / 1.5625 (from the last listing: 0.625 → 240 s)
  assert.equal(spread(memory), 96_000);
});

test('a first listing held up by a crowd: its free count against the pool says the rate, and sizes the first window', () => {
  // 200 addresses; 40 were taken while this node's listing was throttled for 20 s.
  const taken = (n: number): ClaimObservation => ({ of: 'listed', addresses: pool(200).map((a, i) => (i < n ? { ...a, associationId: `eipassoc-${i}`, networkInterfaceId: `eni-${i}`, privateIp: '10.0.1.1' } : a)), throttled: 6, at: 20_000, askedAt: 0 });
  const memory = feed(initialMemory(), taken(40), looked);
  assert.equal(memory.rate, 2.5, '40 in 20 s: 2 a second, probed at 2.5');
  const wait = step(memory) as Extract<ClaimStep, { do: 'wait' }>;
  assert.equal(wait.why, 'contention', 'the listing met a crowd');
  assert.equal(wait.ms, 64_000, '160 free / 2.5 a second');
  // Listed at once (under 2 s), or without knowing when it was asked: the published rate.
  assert.equal(feed(initialMemory(), { of: 'listed', addresses: pool(160), throttled: 1, at: 1000, askedAt: 0 }, looked).rate, 5);
  assert.equal(feed(initialMemory(), listed(160, 20_000, 6), looked).rate, 5);
  const { askedAt: _, ...unasked } = taken(40) as Extract<ClaimObservation, { of: 'listed' }>;
  assert.equal(feed(initialMemory(), unasked, looked).rate, 5, 'a crowd-shaped listing, but when it was asked is not known');
  // Only the first listing: a later one learns only once the bucket was seen empty.
  const later = feed(initialMemory(), listed(200, 0), looked, { of: 'waited', why: 'exhausted', ms: 5000 }, taken(40), looked);
  assert.equal(later.rate, 5);
});

test('a listing after the node has listed: its retries spread over the crowd its last free count shows', () => {
  const relisting = (free: number, rate?: number) => {
    let memory = feed(initialMemory(), listed(free, 0), looked);
    if (rate !== undefined) memory = { ...memory, rate };
    return step(feed(memory, { of: 'waited', why: 'exhausted', ms: 5000 }));
  };
  assert.deepEqual(step(initialMemory()), { do: 'list' }, 'the first listing knows no crowd');
  assert.deepEqual(relisting(150), { do: 'list', crowdMs: 7500 }, '150 peers at 20 a second');
  assert.deepEqual(relisting(150, 2.5), { do: 'list', crowdMs: 15_000 }, 'EC2 serves half: the Describe refill counted at half');
  assert.deepEqual(relisting(50), { do: 'list' }, 'a crowd the read policy\'s 2.5 s serves: no hint');
  assert.deepEqual(relisting(51), { do: 'list', crowdMs: 2550 });
  assert.deepEqual(relisting(11), { do: 'list' }, 'more than the first retry\'s window serves: the policy\'s spread');
  assert.deepEqual(relisting(10), { do: 'list', crowdMs: 500 }, 'a handful of peers: plain doubling');
  assert.deepEqual(relisting(3), { do: 'list', crowdMs: 150 }, 'the faulty trio');
  assert.deepEqual(relisting(3, 0.5), { do: 'list' }, 'EC2 serves a tenth: three peers need 1.5 s, the policy\'s spread');
  // A pool seen dry has a waiting crowd that the free count does not bound.
  const dried = feed(initialMemory(), listed(0, 0), looked, { of: 'waited', why: 'exhausted', ms: 5000 }, listed(3, 5000), looked);
  assert.deepEqual(step(feed(dried, { of: 'waited', why: 'exhausted', ms: 5000 })), { do: 'list' }, 'seen dry, then 3 free: the policy\'s spread');
});

test('our interface unknown to EC2: what the rate learned while nobody could claim is forgotten, and the next listing starts it again', () => {
  const spread = (memory: ClaimMemory) => (step(memory) as Extract<ClaimStep, { do: 'wait' }>).ms;
  // Twenty booting together, every interface unknown: the free count stands still at 20.
  let memory = attempted(feed(initialMemory(), listed(20, 0, 0, 0), looked), 'throttled');
  memory = feed(memory, { of: 'waited', why: 'contention', ms: 3000 }, listed(20, 5000, 0, 5000), looked);
  assert.equal(memory.rate, MIN_SERVED_PER_S, 'nothing fell in 5 s: read as EC2 serving nothing');
  memory = attempted(memory, 'target-unknown', 'InvalidNetworkInterfaceID.NotFound');
  assert.deepEqual([memory.rate, memory.sample, memory.saturated], [5, undefined, false]);
  memory = feed(memory, { of: 'waited', why: 'target-unknown', ms: 500 });
  // Known now; the same listing serves the next attempt, which meets an empty bucket.
  assert.equal(spread(attempted(memory, 'throttled')), 4000, '20 free / the published 5, not / 0.5');
  // The next listing is the new first sample. Held up 20 s, it shows 160 of 200 free: for
  // a node's very first listing that says 2.5 a second, but addresses may have been taken
  // before this one was asked, so it sets no rate.
  const held = Array.from({ length: 40 }, (_, i) => ({ ...address(200 + i), associationId: `eipassoc-${i}`, networkInterfaceId: `eni-${i}`, privateIp: '10.0.1.1' }));
  memory = feed(attempted(memory, 'conflict'), { of: 'waited', why: 'contention', ms: 1000 }, { of: 'listed', addresses: [...pool(160), ...held], throttled: 6, at: 30_000, askedAt: 10_000 }, looked);
  assert.deepEqual([memory.rate, memory.sample], [5, { at: 30_000, free: 160 }]);
  assert.equal(feed(initialMemory(), { of: 'listed', addresses: [...pool(160), ...held], throttled: 6, at: 30_000, askedAt: 10_000 }).rate, 2.5, 'the same as a first listing');
});
