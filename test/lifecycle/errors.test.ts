// The error matrix (RELIABILITY.md): every error code the agent's EC2 and IMDS calls can meet,
// served to one node on every call of its action, on a fake clock. For each: the node's
// calls per minute stay under a bound (no answer escapes the pacing), the outcome is the one
// its meaning says (errors.ts Meaning: it waits with /status naming the code, or exits with
// one clear line), and nothing is associated where it should not be.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runDaemon } from '../../agent/lifecycle/daemon.js';
import { rng } from '../fuzz/random.js';
import { FakeTime } from '../helpers/fake-time.js';
import { testConfig, worldDeps, type Built } from '../helpers/deps.js';
import { InProcessEc2, inProcessImds, type ImdsFault } from '../sim/world-ports.js';
import { World, type Instance } from '../sim/world.js';

const POOL = { color: 'orange' };

// EC2's common client and server errors (API reference, "Error codes"), and each action's own.
const COMMON = [
  'AuthFailure',
  'UnauthorizedOperation',
  'InvalidClientTokenId',
  'RequestExpired',
  'OptInRequired',
  'Blocked',
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'MissingParameter',
  'UnknownParameter',
  'UnsupportedOperation',
  'RequestLimitExceeded',
  'InternalError',
  'Unavailable',
  'ServiceUnavailable',
  'network',
  'malformed',
];
const OWN: Record<string, string[]> = {
  DescribeAddresses: ['InvalidAllocationID.NotFound', 'InvalidAddress.NotFound', 'InvalidAllocationID.Malformed'],
  AssociateAddress: [
    'Resource.AlreadyAssociated',
    'InvalidAllocationID.NotFound',
    'InvalidAddress.NotFound',
    'InvalidNetworkInterfaceID.NotFound',
    'InvalidInstanceID.NotFound',
    'InvalidInstanceID',
    'Gateway.NotAttached',
    'IncorrectInstanceState',
    'InvalidNetworkInterfaceID.Malformed',
    'InvalidAllocationID.Malformed',
  ],
  DisassociateAddress: ['InvalidAssociationID.NotFound', 'InvalidAddress.NotFound', 'AuthFailure'],
  DescribeInstances: ['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed'],
};

/** A listing's answers that say nothing about the world: the claim cannot use them and ends. */
const READ_ENDS = new Set(['InvalidAllocationID.NotFound', 'InvalidAddress.NotFound']);
/** Our own interface or instance unknown: paced for two minutes, then one clear error. */
const TARGET_UNKNOWN = new Set(['InvalidNetworkInterfaceID.NotFound', 'InvalidInstanceID.NotFound']);

// Bounds on one node's EC2 calls in a minute: the first minute holds the quick first retries;
// after it, every repeated answer has slowed to its long wait (BENCHMARKS.md, "Pacing, designed").
const FIRST_MINUTE = 40;
const LATER_MINUTE = 20;
const MINUTES = 10;

interface Run {
  time: FakeTime;
  world: World;
  ec2: InProcessEc2;
  instance: Instance;
  built: Built;
  done: Promise<number>;
  exit: { code?: number; error?: Error } | undefined;
  imdsCalls: number;
}

function start(seed: number, options: { imds?: ImdsFault; flags?: Record<string, unknown> } = {}): Run {
  const time = new FakeTime(seed);
  const ids = rng(seed ^ 0x5eed);
  const world = new World({ now: time.clock.now, imdsLagMs: 300, random: () => ids.next() });
  world.addPool(3, POOL);
  const ec2 = new InProcessEc2(world, time, { latencyMs: [40, 120] });
  const instance = world.addInstance();
  const run = { time, world, ec2, instance, exit: undefined, imdsCalls: 0 } as unknown as Run;
  const imds = inProcessImds(world, instance.instanceId, time, () => {
    run.imdsCalls += 1;
    return options.imds;
  });
  run.built = worldDeps(ec2, instance.instanceId, time, testConfig(options.flags ?? {}), { imds });
  run.done = runDaemon(run.built.deps);
  run.done.then(
    (code) => (run.exit = { code }),
    (error: unknown) => (run.exit = { error: error as Error }),
  );
  return run;
}

/** Runs the fake clock for `ms`, or until the daemon exits. */
async function runFor(run: Run, ms: number): Promise<void> {
  const until = run.time.clock.now() + ms;
  await run.time.run(
    (async () => {
      while (!run.exit && run.time.clock.now() < until) await run.time.sleep(250);
    })(),
    ms + 60_000,
  );
}

/** The node's EC2 calls in each minute since `from`. */
function perMinute(run: Run, from: number, minutes: number): number[] {
  const counts = Array.from({ length: minutes }, () => 0);
  for (const c of run.ec2.calls) {
    const minute = Math.floor((c.at - from) / 60_000);
    if (minute >= 0 && minute < minutes) counts[minute]! += 1;
  }
  return counts;
}

function assertPaced(run: Run, from: number, name: string): void {
  const counts = perMinute(run, from, MINUTES);
  assert.ok(counts[0]! <= FIRST_MINUTE, `${name}: ${counts[0]} EC2 calls in the first minute (bound ${FIRST_MINUTE}): ${counts.join(',')}`);
  for (const [i, n] of counts.entries()) {
    if (i > 0) assert.ok(n <= LATER_MINUTE, `${name}: ${n} EC2 calls in minute ${i + 1} (bound ${LATER_MINUTE}): ${counts.join(',')}`);
  }
}

const eni = (run: Run) => run.instance.enis[0]!;
const held = (run: Run) => run.world.addressOn(eni(run).networkInterfaceId, eni(run).privateIps[0]!);
const associated = (run: Run) => [...run.world.addresses.values()].filter((a) => a.association);

/** One clear line: the code (or what stands for it) named, no newline, no stack. */
function assertOneLine(error: Error | undefined, pattern: RegExp, name: string): void {
  assert.ok(error, `${name}: exited with an error`);
  assert.match(error.message, pattern, name);
  assert.doesNotMatch(error.message, /\n/, `${name}: one line`);
}

function status(run: Run) {
  return run.built.health()!.status();
}

describe('the error matrix: every answer served persistently to one node', () => {
  for (const action of ['DescribeAddresses', 'AssociateAddress'] as const) {
    for (const code of [...COMMON, ...OWN[action]!]) {
      test(`${action} answers ${code} every time`, async () => {
        const run = start(7);
        run.ec2.serve(action, code);
        const from = run.time.clock.now();
        await runFor(run, MINUTES * 60_000);
        const name = `${action}/${code}`;
        assertPaced(run, from, name);
        assert.deepEqual(associated(run), [], `${name}: nothing associated`);
        const shown = code === 'network' ? 'no answer (ECONNRESET)' : code === 'malformed' ? 'malformed' : code;
        if (action === 'DescribeAddresses' && READ_ENDS.has(code)) {
          // Not an answer a listing can give: the claim ends at once with one line naming it.
          assertOneLine(run.exit?.error, new RegExp(`DescribeAddresses: ${shown.replaceAll('.', '\\.')}`), name);
          return;
        }
        if (action === 'AssociateAddress' && TARGET_UNKNOWN.has(code)) {
          // Eventual consistency for two minutes, then one line naming interface, instance and region.
          assertOneLine(run.exit?.error, new RegExp(`EC2 does not know interface ${eni(run).networkInterfaceId} of instance ${run.instance.instanceId} in eu-west-1 \\(${code.replaceAll('.', '\\.')} for 12\\d s\\)`), name);
          return;
        }
        assert.equal(run.exit, undefined, `${name}: still waiting after ${MINUTES} min, not exited (${run.exit?.error?.message})`);
        const s = status(run);
        assert.equal(s.phase, 'claiming', name);
        const said = `${s.reason} | ${s.lastError}`;
        assert.ok(said.includes(shown), `${name}: /status names ${shown}: ${said}`);
        if (code === 'UnauthorizedOperation' && action === 'AssociateAddress') {
          assert.match(s.reason ?? '', /decode it with: aws sts decode-authorization-message --encoded-message '[A-Za-z0-9_-]+' --query DecodedMessage --output text$/, name);
          assert.ok(run.built.events('claim.refused').some((e) => String(e.fields['decode']).startsWith('aws sts decode-authorization-message --encoded-message ')), `${name}: logged with the decode command`);
        }
        run.built.signal('SIGTERM');
        await runFor(run, 60_000);
      });
    }
  }

  for (const code of [...COMMON, ...OWN['DisassociateAddress']!]) {
    test(`DisassociateAddress answers ${code} every time`, async () => {
      const run = start(11);
      await runFor(run, 30_000);
      assert.ok(run.built.events('ready').length === 1, 'ready first');
      const mine = held(run)!;
      run.ec2.serve('DisassociateAddress', code);
      const from = run.time.clock.now();
      run.built.signal('SIGTERM');
      await runFor(run, MINUTES * 60_000);
      const name = `DisassociateAddress/${code}`;
      assertPaced(run, from, name);
      // The release has its own budget: it ends, one way or another, well within the window.
      assert.ok(run.exit, `${name}: the release ended`);
      if (run.exit.error) assert.doesNotMatch(run.exit.error.message, /\n/, `${name}: one line`);
      // Nothing moved: the address is still this node's (the answer applied nothing), on no other interface.
      assert.deepEqual(associated(run).map((a) => a.allocationId), [mine.allocationId], name);
      assert.equal(held(run)?.allocationId, mine.allocationId, name);
    });
  }

  for (const code of [...COMMON, ...OWN['DescribeInstances']!]) {
    test(`DescribeInstances (the hop-limit read) answers ${code} every time`, async () => {
      const run = start(13);
      run.ec2.serve('DescribeInstances', code);
      await runFor(run, MINUTES * 60_000);
      const name = `DescribeInstances/${code}`;
      assert.equal(run.built.events('ready').length, 1, `${name}: ready all the same`);
      assert.equal(run.exit, undefined, name);
      assert.ok(run.ec2.count({ action: 'DescribeInstances' }) <= 3, `${name}: at most three tries, then a note`);
      assert.ok(run.built.events('imds.hop-limit').some((e) => String(e.fields['note']).includes('cannot read the IMDS hop limit')), name);
      run.built.signal('SIGTERM');
      await runFor(run, 60_000);
    });
  }

  const IMDS: [string, ImdsFault][] = [
    ['401', { status: 401 }],
    ['403', { status: 403 }],
    ['404', { status: 404 }],
    ['429', { status: 429 }],
    ['500', { status: 500 }],
    ['503', { status: 503 }],
    ['no answer', 'network'],
  ];
  for (const [name, fault] of IMDS) {
    test(`IMDS answers ${name} to every request at start`, async () => {
      const run = start(17, { imds: fault });
      await runFor(run, MINUTES * 60_000);
      assertOneLine(run.exit?.error, /^IMDS at http:\/\/169\.254\.169\.254: IMDS: .*expected the instance metadata service/, `IMDS ${name}`);
      assert.equal(run.ec2.calls.length, 0, 'no EC2 call without an identity');
      // Paced within the identity's 20 s budget: never a hot loop on a local service.
      assert.ok(run.imdsCalls <= 40, `IMDS ${name}: ${run.imdsCalls} requests`);
      assert.deepEqual(associated(run), []);
    });
  }
});
