// The in-process tier: the shipped daemon over the simulated World's ports on a fake clock.
// Atomic EC2 actions, stale reads, throttling and lost answers as on the wire, but each
// test runs in milliseconds and the same way for the same seed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runDaemon } from '../../agent/lifecycle/daemon.js';
import { AgentError } from '../../agent/shared/errors.js';
import { rng } from '../fuzz/random.js';
import { FakeTime } from '../helpers/fake-time.js';
import { testConfig, worldDeps, type Built } from '../helpers/deps.js';
import { InProcessEc2, type InProcessFaults } from '../sim/world-ports.js';
import { World, type Instance } from '../sim/world.js';

const POOL = { color: 'orange' };

interface Setup {
  time: FakeTime;
  world: World;
  ec2: InProcessEc2;
}

function setup(seed: number, faults: Partial<InProcessFaults> = {}, pool = 3, imdsLagMs = 300): Setup {
  const time = new FakeTime(seed);
  const ids = rng(seed ^ 0x5eed);
  const world = new World({ now: time.clock.now, imdsLagMs, random: () => ids.next() });
  world.addPool(pool, POOL);
  return { time, world, ec2: new InProcessEc2(world, time, { latencyMs: [40, 120], ...faults }) };
}

interface Node {
  instance: Instance;
  built: Built;
  done: Promise<number>;
}

function boot(s: Setup, flags: Record<string, unknown> = {}, instance = s.world.addInstance()): Node {
  const built = worldDeps(s.ec2, instance.instanceId, s.time, testConfig(flags));
  const done = runDaemon(built.deps);
  done.catch(() => {}); // observed by the test
  return { instance, built, done };
}

const readyOf = (node: Node) => node.built.events('ready')[0];
const heldBy = (s: Setup, node: Node) => s.world.addressOn(node.instance.enis[0]!.networkInterfaceId, node.instance.enis[0]!.privateIps[0]!);
/** The node's EC2 calls up to its ready (the hop-limit read comes after). */
const callsOf = (s: Setup, node: Node) =>
  s.ec2.calls.filter((c) => c.caller === node.instance.instanceId && c.at <= (readyOf(node)?.at ?? Infinity)).map((c) => `${c.action}:${c.outcome}`);

/** Runs the fake clock until every node is ready (or `limitMs` of fake time). */
async function untilReady(s: Setup, nodes: Node[], limitMs = 120_000): Promise<void> {
  await s.time.run(
    (async () => {
      while (nodes.some((n) => !readyOf(n))) await s.time.sleep(50);
    })(),
    limitMs,
  );
}

async function end(s: Setup, nodes: Node[]): Promise<number[]> {
  for (const n of nodes) n.built.signal('SIGTERM');
  return s.time.run(Promise.all(nodes.map((n) => n.done)));
}

describe('claim, in process', () => {
  test('uncontended: list and associate; IMDS proves it; the gate opens once IMDS shows it', async () => {
    const s = setup(1);
    const node = boot(s);
    await untilReady(s, [node]);
    assert.deepEqual(callsOf(s, node), ['DescribeAddresses:ok', 'AssociateAddress:ok']);
    assert.equal(readyOf(node)!.fields['publicIp'], heldBy(s, node)!.publicIp);
    // G4: ready only once IMDS shows the address, 300 ms after EC2 applied it.
    const applied = s.ec2.calls.find((c) => c.action === 'AssociateAddress')!.at;
    assert.ok(readyOf(node)!.at >= applied + 300, 'not before IMDS shows it');
    assert.ok(s.ec2.calls.every((c) => c.action !== 'AssociateAddress' || c.allowReassociation === false), 'G1');
    assert.deepEqual(await end(s, [node]), [0]);
    assert.equal(heldBy(s, node), undefined, 'released');
  });

  test('lost races: each one lists again, and no address is tried twice', async () => {
    const s = setup(2, { raceNext: 2 }, 4);
    const node = boot(s);
    await untilReady(s, [node]);
    const tried = s.ec2.calls.filter((c) => c.action === 'AssociateAddress');
    assert.deepEqual(tried.map((c) => c.outcome), ['Resource.AlreadyAssociated', 'Resource.AlreadyAssociated', 'ok']);
    assert.equal(s.ec2.count({ action: 'DescribeAddresses', caller: node.instance.instanceId }), 3);
    const status = node.built.health()!.status();
    assert.deepEqual([status.attempts, status.conflicts], [3, 2]);
    await end(s, [node]);
  });

  test('an AssociateAddress applied but its answer lost: read back, ours, no second association', async () => {
    const s = setup(3);
    s.ec2.script('AssociateAddress', { after: 'transient' });
    const node = boot(s);
    await untilReady(s, [node]);
    assert.deepEqual(callsOf(s, node), ['DescribeAddresses:ok', 'AssociateAddress:lost-answer', 'DescribeAddresses:ok']);
    assert.ok(node.built.events('claim.uncertain').length === 1);
    await end(s, [node]);
  });

  test('a lost answer while reads lag: the same address is asked for again, never a second one (G3)', async () => {
    const s = setup(14);
    await s.time.advance(60_000); // the pool was made long before
    s.ec2.faults.staleReadMs = 3000;
    s.ec2.script('AssociateAddress', { after: 'transient' });
    const node = boot(s);
    await untilReady(s, [node]);
    const asked = s.ec2.calls.filter((c) => c.action === 'AssociateAddress');
    assert.ok(asked.length >= 2, 'the read-back lags, so it asks again');
    const allocations = new Set(s.ec2.calls.filter((c) => c.action === 'AssociateAddress').map((c) => c.allocationId));
    assert.equal(allocations.size, 1, `only ever the one address: ${[...allocations].join(', ')}`);
    assert.equal([...s.world.holdings(POOL).values()].flat().length, 1);
    await end(s, [node]);
  });

  test('a 5xx before it applied: read back, free, a short backoff, the same address again', async () => {
    const s = setup(4);
    s.ec2.script('AssociateAddress', { before: 'transient' });
    const node = boot(s);
    await untilReady(s, [node]);
    assert.deepEqual(callsOf(s, node), ['DescribeAddresses:ok', 'AssociateAddress:InternalError', 'DescribeAddresses:ok', 'AssociateAddress:ok']);
    const [first, second] = s.ec2.calls.filter((c) => c.action === 'AssociateAddress');
    assert.ok(second!.at - first!.at < 1000, `the retry came within a second (${second!.at - first!.at} ms)`);
    await end(s, [node]);
  });

  test('a throttling spell at boot: every call throttled half the time, still ready within seconds', async () => {
    for (const seed of [5, 6, 7, 8]) {
      const s = setup(seed, { errorRate: { RequestLimitExceeded: 0.5 } });
      const node = boot(s);
      await untilReady(s, [node]);
      const took = readyOf(node)!.at - node.built.log.events[0]!.at;
      assert.ok(took < 10_000, `seed ${seed}: ready after ${took} ms`);
      await end(s, [node]);
    }
  });

  test('--live-check none: the win is verified by reads, which lag it by 2 s', async () => {
    const s = setup(9, { staleReadMs: 2000 });
    await s.time.advance(60_000); // the pool was made long before
    const node = boot(s, { liveCheck: 'none' });
    await untilReady(s, [node]);
    const calls = callsOf(s, node);
    assert.deepEqual(calls.slice(0, 2), ['DescribeAddresses:ok', 'AssociateAddress:ok']);
    assert.ok(calls.length > 3, `several verification reads while they lag: ${calls.join(', ')}`);
    const associated = s.ec2.calls.find((c) => c.action === 'AssociateAddress')!.at;
    assert.ok(readyOf(node)!.at >= associated + 2000, 'ready only once a read shows it');
    await end(s, [node]);
  });

  test('IMDS never shows the address: the agent reads the allocation and says what each shows', async () => {
    const s = setup(10, {}, 2, 10 * 60_000);
    const node = boot(s);
    await s.time.run(s.time.sleep(15_000));
    const status = node.built.health()!.status();
    assert.equal(status.phase, 'verifying');
    assert.match(status.reason ?? '', /^EC2 shows 198\.51\.100\.\d+ on eni-\S+ 10\.\S+; IMDS shows no public IPv4 there: waiting for it to catch up$/);
    assert.ok(s.ec2.count({ caller: node.instance.instanceId, action: 'DescribeAddresses' }) >= 2);
    await end(s, [node]);
  });

  test('the address moved away before IMDS showed it: the claim starts again', async () => {
    const s = setup(11, {}, 2, 10 * 60_000);
    const node = boot(s);
    await s.time.run(s.time.sleep(2000));
    const first = heldBy(s, node)!;
    // Someone reassociates it elsewhere (an operator with AllowReassociation=true).
    s.world.associateForeign(first.allocationId);
    s.world.imdsLagMs = 0;
    await untilReady(s, [node]);
    assert.notEqual(readyOf(node)!.fields['allocationId'], first.allocationId);
    assert.equal(node.built.events('address.lost').length, 1);
    await end(s, [node]);
  });

  test('a dry pool waits, shows why, and takes the address freed by another node', async () => {
    const s = setup(12, {}, 1);
    const holder = boot(s);
    await untilReady(s, [holder]);
    const waiter = boot(s, { relistInterval: 1 });
    await s.time.run(s.time.sleep(3000));
    assert.match(waiter.built.health()!.status().reason ?? '', /pool color=orange: 0 of 1 free/);
    assert.deepEqual(await end(s, [holder]), [0]);
    await untilReady(s, [waiter]);
    assert.equal(readyOf(waiter)!.fields['publicIp'], readyOf(holder)!.fields['publicIp']);
    await end(s, [waiter]);
  });

  test('the same seed gives the same calls', async () => {
    const run = async () => {
      const s = setup(13, { errorRate: { RequestLimitExceeded: 0.3, InternalError: 0.05 }, raceNext: 1 }, 4);
      const nodes = [boot(s), boot(s), boot(s)];
      await untilReady(s, nodes);
      await end(s, nodes);
      return s.ec2.calls.map((c) => `${c.at - s.ec2.calls[0]!.at} ${c.action} ${c.outcome}`).join('\n');
    };
    const a = await run();
    const b = await run();
    assert.equal(a.split('\n').length > 6, true);
    assert.equal(a, b);
  });
});

describe('the in-process ports', () => {
  test('type EC2 codes as the EC2 adapter does over HTTP (a missing interface is not-found, not rejected)', async () => {
    const s = setup(1);
    const port = s.ec2.portFor('i-test');
    const allocationId = [...s.world.addresses.keys()][0]!;
    const error = await s.time.run(port.associate({ allocationId, networkInterfaceId: 'eni-0000000000000000', privateIp: '10.0.0.9' }).catch((e: unknown) => e));
    assert.ok(error instanceof AgentError);
    assert.deepEqual([error.kind, error.code], ['not-found', 'InvalidNetworkInterfaceID.NotFound']);
  });
});
