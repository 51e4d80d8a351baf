// Which region the claim goes to (identify.ts regionRule): the instance's own, from IMDS. An
// Elastic IP can be associated only in its own region, so a claim sent elsewhere cannot win.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDaemon } from '../../agent/lifecycle/daemon.js';
import { regionRule } from '../../agent/lifecycle/identify.js';
import { InputError } from '../../agent/shared/errors.js';
import { rng } from '../fuzz/random.js';
import { FakeTime } from '../helpers/fake-time.js';
import { testConfig, worldDeps } from '../helpers/deps.js';
import { InProcessEc2 } from '../sim/world-ports.js';
import { World } from '../sim/world.js';

test('regionRule: the instance region wins; AWS_REGION elsewhere is ignored with a warning; --region elsewhere is bad input', () => {
  const cases: [string, string | undefined, string | undefined, string | RegExp, RegExp?][] = [
    // name, asked, its input, the region used (or the error), the warning
    ['nothing asked', undefined, undefined, 'eu-west-1'],
    ['the same region, from anywhere', 'eu-west-1', '--region', 'eu-west-1'],
    ['AWS_REGION elsewhere', 'us-east-1', 'AWS_REGION', 'eu-west-1', /^AWS_REGION=us-east-1 ignored: this instance runs in eu-west-1 \(IMDS\)/],
    ['AWS_DEFAULT_REGION elsewhere', 'us-east-1', 'AWS_DEFAULT_REGION', 'eu-west-1', /^AWS_DEFAULT_REGION=us-east-1 ignored/],
    ['--region elsewhere', 'us-east-1', '--region', /^--region: expected this instance's region eu-west-1 \(IMDS placement\/region\): an Elastic IP can be associated only in its own region, got us-east-1$/],
    ['EIP_AGENT_REGION elsewhere', 'us-east-1', 'EIP_AGENT_REGION', /^EIP_AGENT_REGION: expected this instance's region eu-west-1/],
  ];
  for (const [name, region, regionInput, expected, warning] of cases) {
    if (expected instanceof RegExp) {
      assert.throws(() => regionRule('eu-west-1', { region, regionInput }), (error: unknown) => error instanceof InputError && expected.test(error.message), name);
      continue;
    }
    const chosen = regionRule('eu-west-1', { region, regionInput });
    assert.equal(chosen.region, expected, name);
    if (warning) assert.match(chosen.mismatch ?? '', warning, name);
    else assert.equal(chosen.mismatch, undefined, name);
  }
});

function node(seed: number, flags: Record<string, unknown>, env: Record<string, string>) {
  const time = new FakeTime(seed);
  const ids = rng(seed);
  const world = new World({ now: time.clock.now, random: () => ids.next() });
  world.addPool(2, { color: 'orange' });
  const ec2 = new InProcessEc2(world, time);
  const instance = world.addInstance();
  const regions: string[] = [];
  const built = worldDeps(ec2, instance.instanceId, time, testConfig(flags, env));
  const ec2For = built.deps.ec2For;
  built.deps.ec2For = (region, onCall) => {
    regions.push(region);
    return ec2For(region, onCall);
  };
  return { time, world, ec2, built, regions };
}

test('AWS_REGION naming another region: the claim goes to the instance region, with region.mismatch in the log and /status', async () => {
  const n = node(3, {}, { AWS_REGION: 'us-east-1' });
  const done = runDaemon(n.built.deps);
  await n.time.run(
    (async () => {
      while (n.built.events('ready').length === 0) await n.time.sleep(50);
    })(),
    60_000,
  );
  assert.deepEqual(n.regions, ['eu-west-1']);
  assert.equal(n.built.events('region.mismatch').length, 1);
  assert.equal(n.built.events('region.mismatch')[0]!.level, 'warn');
  assert.deepEqual(n.built.health()!.status().warnings, ['region.mismatch: AWS_REGION=us-east-1 ignored: this instance runs in eu-west-1 (IMDS), and an Elastic IP can be associated only in its own region']);
  n.built.signal('SIGTERM');
  assert.equal(await n.time.run(done), 0);
});

test('--region naming another region: one line naming the flag (exit 2, bad input), no EC2 call, nothing associated', async () => {
  const n = node(4, { region: 'us-east-1' }, {});
  await assert.rejects(n.time.run(runDaemon(n.built.deps)), (error: unknown) => error instanceof InputError && /^--region: expected this instance's region eu-west-1/.test(error.message));
  assert.equal(n.ec2.calls.length, 0);
  assert.deepEqual([...n.world.addresses.values()].filter((a) => a.association), []);
});
