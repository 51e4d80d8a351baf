// The daemon's end of life and its failures, in process on a fake clock: the release that
// finds the address moved, a lost answer to DisassociateAddress, an end before any claim,
// the claim timeout, and a programming error that must fail loudly instead of polling.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { claimOnce, runDaemon } from '../../agent/lifecycle/daemon.js';
import { AgentError } from '../../agent/shared/errors.js';
import type { ImdsPort } from '../../agent/shared/ports.js';
import { rng } from '../fuzz/random.js';
import { FakeTime } from '../helpers/fake-time.js';
import { testConfig, worldDeps, type Built } from '../helpers/deps.js';
import { InProcessEc2 } from '../sim/world-ports.js';
import { World } from '../sim/world.js';

function world(seed: number, pool = 2) {
  const time = new FakeTime(seed);
  const ids = rng(seed);
  const w = new World({ now: time.clock.now, random: () => ids.next() });
  w.addPool(pool, { color: 'orange' });
  const ec2 = new InProcessEc2(w, time, { latencyMs: [40, 120] });
  const instance = w.addInstance();
  return { time, world: w, ec2, instance };
}

const ready = (built: Built) => built.events('ready').length > 0;

/** An IMDS that never tells the identity (an hour, then an error): the daemon waits on it. */
const silentImds = (time: FakeTime): ImdsPort => ({
  identity: (signal) => time.sleep(3_600_000, signal).then(() => Promise.reject(new Error('unreachable'))),
  publicIpsOn: async () => [],
  isLiveOn: async () => false,
  notices: async () => ({}),
});

async function until(time: FakeTime, condition: () => boolean, limitMs = 60_000): Promise<void> {
  await time.run(
    (async () => {
      while (!condition()) await time.sleep(50);
    })(),
    limitMs,
  );
}

describe('the daemon, in process', () => {
  test('release: the address moved to someone else meanwhile: not ours, no DisassociateAddress (G2)', async () => {
    const s = world(1);
    const built = worldDeps(s.ec2, s.instance.instanceId, s.time, testConfig({}));
    const done = runDaemon(built.deps);
    await until(s.time, () => ready(built));
    const held = s.world.addressOn(s.instance.enis[0]!.networkInterfaceId, s.instance.enis[0]!.privateIps[0]!)!;
    s.world.associateForeign(held.allocationId); // reassociated by someone with AllowReassociation=true
    built.signal('SIGTERM');
    assert.equal(await s.time.run(done), 0);
    assert.equal(s.ec2.count({ action: 'DisassociateAddress' }), 0);
    assert.equal(built.events('release.skipped')[0]?.fields['outcome'], 'not-ours');
    assert.ok(s.world.addresses.get(held.allocationId)!.association, 'the new holder keeps it');
  });

  test('release: the answer to DisassociateAddress lost after it applied: read back, released', async () => {
    const s = world(2);
    const built = worldDeps(s.ec2, s.instance.instanceId, s.time, testConfig({}));
    const done = runDaemon(built.deps);
    await until(s.time, () => ready(built));
    s.ec2.script('DisassociateAddress', { after: 'transient' });
    built.signal('SIGTERM');
    assert.equal(await s.time.run(done), 0);
    assert.equal(built.health()!.status().phase, 'released');
    assert.equal(s.world.addressOn(s.instance.enis[0]!.networkInterfaceId, s.instance.enis[0]!.privateIps[0]!), undefined);
  });

  test('a health endpoint that cannot listen ends the daemon with its error, even while IMDS is slow, and nothing is claimed', async () => {
    const s = world(3);
    const built = worldDeps(s.ec2, s.instance.instanceId, s.time, testConfig({}), { imds: silentImds(s.time) });
    built.deps.serveHealth = async () => {
      throw new AgentError('bad-input', 'health.listen', '--health-listen 127.0.0.1:8099: address in use (EADDRINUSE)');
    };
    const started = s.time.elapsed;
    await assert.rejects(s.time.run(runDaemon(built.deps)), /address in use/);
    assert.ok(s.time.elapsed - started < 1000, 'at once, not after the identity');
    assert.equal(s.ec2.calls.length, 0);
  });

  test('the identity is read while the endpoint starts listening; the claim waits for it', async () => {
    const s = world(3);
    const built = worldDeps(s.ec2, s.instance.instanceId, s.time, testConfig({}));
    const serve = built.deps.serveHealth;
    let listen!: () => void;
    built.deps.serveHealth = (view) => new Promise((resolve) => (listen = () => resolve(serve(view))));
    const done = runDaemon(built.deps);
    await s.time.advance(5000);
    assert.equal(built.events('identity').length, 1, 'identity read before the endpoint listens');
    assert.equal(s.ec2.calls.length, 0, 'no EC2 call until it listens');
    listen();
    await until(s.time, () => ready(built));
    built.signal('SIGTERM');
    assert.equal(await s.time.run(done), 0);
  });

  test('the end before any claim (SIGTERM while the identity is read): exit 0, one line, nothing to release', async () => {
    const s = world(3);
    const built = worldDeps(s.ec2, s.instance.instanceId, s.time, testConfig({}), { imds: silentImds(s.time) });
    const done = runDaemon(built.deps);
    await s.time.advance(2000);
    built.signal('SIGTERM');
    assert.equal(await s.time.run(done), 0);
    assert.deepEqual(built.events('release.skipped').map((e) => e.fields['reason']), ['no pool address held']);
    assert.equal(built.health()!.status().phase, 'released');
    assert.equal(s.ec2.calls.length, 0);
  });

  test('--claim-timeout on a dry pool: a typed error naming the flag and the reason', async () => {
    const s = world(4, 0);
    const built = worldDeps(s.ec2, s.instance.instanceId, s.time, testConfig({ claimTimeout: 30 }));
    const done = runDaemon(built.deps);
    const error = await s.time.run(done.then(() => assert.fail('expected a claim timeout'), (e: unknown) => e));
    assert.ok(error instanceof AgentError);
    assert.equal(error.code, 'claim.timeout');
    // An empty pool names its cause: here no address carries the key at all.
    assert.match(error.message, /^--claim-timeout 30s expired: pool color=orange: 0 of 0 free: no Elastic IP in this region carries the tag key "color" \(check --tag-key, its case, and --region\)$/);
    assert.equal(built.health()!.status().phase, 'failed');
  });

  test('a programming error in a background loop fails the daemon loudly (not silent polling)', async () => {
    const s = world(5);
    const base = worldDeps(s.ec2, s.instance.instanceId, s.time, testConfig({})).deps.imds;
    const broken: ImdsPort = { ...base, notices: async () => ({ spot: (undefined as unknown as { action: string }).action }) as never };
    const built = worldDeps(s.ec2, s.instance.instanceId, s.time, testConfig({}), { imds: broken });
    const error = await s.time.run(runDaemon(built.deps).then(() => assert.fail('expected the bug to surface'), (e: unknown) => e));
    assert.ok(error instanceof TypeError, `a TypeError, as thrown: ${String(error)}`);
  });

  test('settles (the optimising compilers off, in production) once, when the identity is read, before any EC2 call', async () => {
    const s = world(4);
    const built = worldDeps(s.ec2, s.instance.instanceId, s.time, testConfig({}));
    const settled: string[] = [];
    built.deps.settle = () => settled.push(`identity ${built.events('identity').length}, EC2 calls ${s.ec2.calls.length}`);
    const done = runDaemon(built.deps);
    await until(s.time, () => ready(built));
    await s.time.advance(60_000);
    assert.deepEqual(settled, ['identity 1, EC2 calls 0']);
    built.signal('SIGTERM');
    assert.equal(await s.time.run(done), 0);
  });

  test('the IMDS hop limit: read once, spread after ready; a warning above 1 (pods could borrow the node role), none at 1', async () => {
    for (const [hopLimit, warned] of [[2, true], [1, false]] as const) {
      // A pool of 200: the read spreads over 20 s, off the Describe bucket of peers still claiming.
      const s = world(7 + hopLimit, 200);
      const instance = s.world.addInstance({ metadataOptions: { httpPutResponseHopLimit: hopLimit } });
      const built = worldDeps(s.ec2, instance.instanceId, s.time, testConfig({}));
      const done = runDaemon(built.deps);
      await until(s.time, () => ready(built));
      await s.time.advance(1000);
      assert.equal(s.ec2.count({ action: 'DescribeInstances' }), 0, 'not right after ready');
      await s.time.advance(20_000);
      assert.equal(s.ec2.count({ action: 'DescribeInstances' }), 1, 'once within the window');
      const warnings = built.events('imds.hop-limit').filter((e) => e.level === 'warn');
      assert.equal(warnings.length, warned ? 1 : 0, `hop limit ${hopLimit}`);
      if (warned) assert.equal(warnings[0]!.fields['hopLimit'], 2);
      built.signal('SIGTERM');
      await s.time.run(done);
    }
  });

  test('`claim`: claims, waits until live, exits 0; the daemon after it resumes with no AssociateAddress (G3)', async () => {
    const s = world(6);
    const first = worldDeps(s.ec2, s.instance.instanceId, s.time, testConfig({}));
    assert.equal(await s.time.run(claimOnce(first.deps)), 0);
    assert.equal(s.ec2.count({ action: 'AssociateAddress' }), 1);
    const daemon = worldDeps(s.ec2, s.instance.instanceId, s.time, testConfig({}));
    const done = runDaemon(daemon.deps);
    await until(s.time, () => ready(daemon));
    assert.equal(s.ec2.count({ action: 'AssociateAddress' }), 1);
    assert.equal(daemon.events('claim.resumed').length, 1);
    daemon.signal('SIGTERM');
    await s.time.run(done);
  });
});
