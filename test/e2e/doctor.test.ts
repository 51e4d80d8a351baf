// `eip-agent doctor` and `eip-agent pool`, the built bundle against the simulator: the
// doctor proves IAM by DryRun and changes nothing, names what is wrong and what to do, and
// exits 0/1 as SPEC §3 says; `pool` shows exactly the pool with its holders.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { runBundle, runToEnd } from '../helpers/agent.js';
import { startAgent } from '../helpers/fleet.js';
import { enforcePolicy, type Enforcement } from '../sim/iam.js';
import { Sim, type SimNode } from '../sim/sim.js';

const POLICY = JSON.parse(readFileSync('scripts/iam-policy.json', 'utf8')) as unknown;
const POOL_FLAGS = ['--tag-key', 'color', '--tag-value', 'orange'];

interface Checked {
  name: string;
  ok: boolean;
  level: string;
  detail: string;
  fix?: string;
}

async function doctor(sim: Sim, node: SimNode, args: string[] = [], env: Record<string, string> = {}, pool = POOL_FLAGS) {
  const run = await runToEnd(['doctor', ...pool, '--format', 'json', ...args], { ...sim.env(node), ...env });
  let parsed: { ok: boolean; checks: Checked[] };
  try {
    parsed = JSON.parse(run.stdout) as typeof parsed;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  const check = (name: string): Checked => {
    const found = parsed.checks.find((c) => c.name === name);
    assert.ok(found, `a ${name} check in ${JSON.stringify(parsed.checks.map((c) => c.name))}`);
    return found;
  };
  return { ...run, report: parsed, check };
}

/** Every EC2 call of `caller` was a Describe* or a DryRun, and none changed the world. */
function readOnly(sim: Sim, caller: string): void {
  const calls = sim.ec2.calls.filter((c) => c.caller === caller);
  assert.ok(calls.length > 0, 'the doctor called EC2');
  for (const call of calls) {
    assert.ok(call.action.startsWith('Describe') || call.params['DryRun'] === 'true', `${call.action} is a Describe or a DryRun`);
    // `applied` is true for a read too: a DryRun must never reach the world.
    if (!call.action.startsWith('Describe')) assert.equal(call.applied, false, `${call.action} changed nothing`);
  }
}

describe('eip-agent doctor', () => {
  let sim: Sim;
  let iam: Enforcement;
  before(async () => {
    sim = await Sim.start({ pool: 3, tags: { color: 'orange' } });
    sim.world.addAddress({ color: 'blue' });
    iam = enforcePolicy(sim.ec2, sim.world, POLICY);
  });
  after(async () => {
    iam.off();
    await sim.close();
  });

  test('a healthy node: exit 0, AssociateAddress proven by DryRun, no association made, Kubernetes asked and never written', async () => {
    // As the README advises: IMDSv2 only, one hop (AL2023 launches with 2).
    const node = await sim.addNode({ register: true, metadataOptions: { httpPutResponseHopLimit: 1 } });
    const labelsBefore = JSON.stringify(sim.world.node(node.nodeName)?.metadata?.labels);
    const kubeBefore = sim.kube.requests.length;
    const { code, report, check, stderr } = await doctor(sim, node);
    assert.equal(code, 0, `exit 0; ${stderr}\n${JSON.stringify(report, null, 2)}`);
    assert.equal(report.ok, true);
    for (const name of ['imds', 'imds-settings', 'credentials', 'region', 'pool', 'iam-associate', 'clock', 'kubeconfig', 'kube-api', 'kube-node-read', 'kube-node-label', 'kube-pods-list', 'kube-events']) {
      assert.equal(check(name).level, 'pass', `${name}: ${check(name).detail}`);
    }
    assert.match(check('pool').detail, /pool color=orange: 3 addresses, 3 free/);
    assert.equal(check('systemd').level, 'skip', 'not under systemd here');

    const dryRuns = sim.ec2.calls.filter((c) => c.caller === node.instance.instanceId && c.action === 'AssociateAddress');
    assert.equal(dryRuns.length, 1);
    assert.equal(dryRuns[0]!.params['DryRun'], 'true');
    assert.equal(dryRuns[0]!.params['AllowReassociation'], 'false');
    assert.equal(dryRuns[0]!.params['NetworkInterfaceId'], node.instance.enis[0]!.networkInterfaceId);
    assert.equal(dryRuns[0]!.outcome, 'DryRunOperation');
    assert.ok(iam.decisions.some((d) => d.caller === node.instance.instanceId && d.action === 'ec2:AssociateAddress' && d.allowed), 'the policy judged the DryRun');
    readOnly(sim, node.instance.instanceId);
    assert.equal([...sim.world.addresses.values()].filter((a) => a.association).length, 0, 'no address associated');

    const asked = sim.kube.requests.slice(kubeBefore);
    assert.ok(asked.some((r) => r.path.startsWith('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')), 'access reviews');
    assert.ok(asked.some((r) => r.method === 'PATCH' && r.path.includes('dryRun=All') && r.status === 200), 'the label tried with dryRun=All');
    for (const r of asked) assert.ok(r.method !== 'PATCH' || r.path.includes('dryRun=All'), `${r.method} ${r.path} writes nothing`);
    assert.equal(JSON.stringify(sim.world.node(node.nodeName)?.metadata?.labels), labelsBefore, 'the Node is unchanged');
  });

  test('the text form: one line per check, then the verdict', async () => {
    const node = await sim.addNode({ register: true });
    const { code, stdout } = await runToEnd(['doctor', ...POOL_FLAGS], sim.env(node));
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^ok {3}iam-associate +AssociateAddress \S+ \(eipalloc-\w+\) → eni-\w+ [\d.]+, AllowReassociation=false: DryRun says it would succeed/m);
    assert.match(stdout, /^skip systemd /m);
    assert.match(stdout, /^nothing failed/m);
  });

  test('the node holding an address: DisassociateAddress is proven by DryRun too', async () => {
    const node = await sim.addNode({ register: true });
    const { agent } = await startAgent(sim, node);
    try {
      const ready = await agent.waitFor('ready');
      const { code, check } = await doctor(sim, node);
      assert.equal(code, 0);
      assert.match(check('pool').detail, new RegExp(`this node holds ${String(ready['publicIp']).replaceAll('.', '\\.')}`));
      assert.equal(check('iam-disassociate').level, 'pass', check('iam-disassociate').detail);
      const held = sim.world.addressOn(node.instance.enis[0]!.networkInterfaceId, node.instance.enis[0]!.privateIps[0]!);
      assert.equal(held?.publicIp, ready['publicIp'], 'still held: the DryRun released nothing');
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  test('the role denied AssociateAddress: exit 1, the failure and the command that decodes it', async () => {
    const node = await sim.addNode({ register: true });
    const previous = sim.ec2.faults.deny;
    sim.ec2.faults.deny = (action, params, caller) => (caller === node.instance.instanceId && action === 'AssociateAddress') || (previous?.(action, params, caller) ?? false);
    try {
      const { code, check, report } = await doctor(sim, node);
      assert.equal(code, 1);
      assert.equal(report.ok, false);
      const iamCheck = check('iam-associate');
      assert.equal(iamCheck.level, 'fail');
      assert.equal(iamCheck.ok, false);
      assert.match(iamCheck.detail, /UnauthorizedOperation/);
      const encoded = /--encoded-message '([A-Za-z0-9_-]+)'/.exec(iamCheck.fix ?? '')?.[1];
      assert.ok(encoded, `the decode command in ${iamCheck.fix}`);
      assert.match(iamCheck.fix!, /aws sts decode-authorization-message --encoded-message/);
      // The very message EC2 gave: the simulator's is readable JSON.
      assert.equal(JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')).context.action, 'ec2:AssociateAddress');
      assert.equal(check('pool').level, 'pass', 'the rest still checked');
      const text = await runToEnd(['doctor', ...POOL_FLAGS], sim.env(node));
      assert.equal(text.code, 1);
      assert.match(text.stdout, /^FAIL iam-associate/m);
      assert.match(text.stdout, /→ .*aws sts decode-authorization-message --encoded-message '[A-Za-z0-9_-]+'/);
    } finally {
      sim.ec2.faults.deny = previous;
    }
  });

  test('an empty pool: exit 1, naming the pool and the values its key has', async () => {
    const node = await sim.addNode({ register: true });
    const wrongValue = await doctor(sim, node, [], {}, ['--tag-key', 'color', '--tag-value', 'purple']);
    assert.equal(wrongValue.code, 1);
    const pool = wrongValue.check('pool');
    assert.equal(pool.level, 'fail');
    assert.match(pool.detail, /pool color=purple is empty/);
    assert.match(pool.detail, /"blue" \(1\), "orange" \(3\)/);
    assert.equal(wrongValue.check('iam-associate').level, 'skip');

    const wrongKey = await doctor(sim, node, [], {}, ['--tag-key', 'colour', '--tag-value', 'orange']);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.check('pool').detail, /no Elastic IP in this region carries the tag key "colour"/);
  });

  test('credentials from the environment: a warning that says why the policy denies them', async () => {
    const node = await sim.addNode({ register: true });
    const keys = sim.ec2.addStaticCredentials('laptop');
    const env = { AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey };
    // Under the shipped policy, the static keys are refused: the warning foretold it.
    const enforced = await doctor(sim, node, [], env);
    assert.equal(enforced.check('credentials').level, 'warn');
    assert.match(enforced.check('credentials').detail, /environment.*not the instance role.*ec2:SourceInstanceARN.*aws:Ec2InstanceSourceVpc/);
    assert.equal(enforced.check('iam-associate').level, 'fail');
    assert.equal(enforced.code, 1);
    // A policy that allows them: warnings alone exit 0.
    iam.off();
    try {
      const open = await doctor(sim, node, [], env);
      assert.equal(open.check('credentials').level, 'warn');
      assert.equal(open.check('iam-associate').level, 'pass');
      assert.equal(open.code, 0);
    } finally {
      iam = enforcePolicy(sim.ec2, sim.world, POLICY);
    }
  });

  test("a clock 10 minutes behind EC2's: the clock check fails", async () => {
    const node = await sim.addNode({ register: true });
    sim.ec2.faults.clockOffsetMs = 10 * 60_000;
    try {
      const { code, check } = await doctor(sim, node);
      assert.equal(code, 1);
      assert.equal(check('clock').level, 'fail');
      assert.match(check('clock').detail, /this host's clock is (59\d|60\d)\.\d s behind EC2's/);
    } finally {
      sim.ec2.faults.clockOffsetMs = 0;
    }
  });

  test('no kubeconfig yet, not under systemd: warnings and skips, never failures', async () => {
    const node = await sim.addNode();
    const { code, check } = await doctor(sim, node, ['--kubeconfig', '/nonexistent/kubeconfig']);
    assert.equal(code, 0);
    assert.equal(check('kubeconfig').level, 'warn');
    assert.equal(check('systemd').level, 'skip');
  });

  test('under systemd (a root with /run/systemd/system): the unit and the gate written by install', async () => {
    const node = await sim.addNode({ register: true });
    const root = mkdtempSync(join(tmpdir(), 'eip-doctor-root-'));
    try {
      mkdirSync(join(root, 'run/systemd/system'), { recursive: true });
      const missing = await doctor(sim, node, ['--root', root]);
      assert.equal(missing.check('systemd-unit').level, 'warn');
      const installed = await runToEnd(['install', '--root', root, ...POOL_FLAGS], sim.env(node));
      assert.equal(installed.code, 0, installed.stderr);
      // No pool flags: the settings install wrote (ROOT/etc/eip-agent/env) are the agent's.
      const { code, check } = await doctor(sim, node, ['--root', root], {}, []);
      assert.equal(code, 0);
      assert.match(check('pool').detail, /pool color=orange/);
      assert.equal(check('systemd-unit').level, 'pass');
      assert.equal(check('kubelet-gate').level, 'pass');
      assert.equal(check('daemon').level, 'warn', 'no daemon answers');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('bad usage: exit 2', async () => {
    const node = await sim.addNode();
    const { code, stderr } = await runToEnd(['doctor', '--format', 'yaml'], sim.env(node));
    assert.equal(code, 2);
    assert.match(stderr, /--tag-key: required/);
    assert.match(stderr, /--format: expected one of json, text/);
  });
});

describe('eip-agent pool', () => {
  test('exactly the pool, with its holders and the counts, in text and JSON', async () => {
    const sim = await Sim.start({ pool: 3, tags: { color: 'orange' } });
    try {
      sim.world.addAddress({ color: 'blue' });
      sim.world.addAddress({});
      const node = await sim.addNode({ register: true });
      const { agent } = await startAgent(sim, node);
      let held: string;
      try {
        held = String((await agent.waitFor('ready'))['publicIp']);
      } finally {
        await agent.stop('SIGKILL'); // killed: the address stays held
      }
      // An address held by something that is not an instance (a NAT gateway's interface).
      const orange = [...sim.world.addresses.values()].filter((a) => a.tags['color'] === 'orange');
      const foreign = orange.find((a) => !a.association)!;
      sim.world.associateForeign(foreign.allocationId);

      const json = await runToEnd(['pool', '--tag-key', 'color', '--tag-value', 'orange', '--format', 'json'], sim.env(node));
      assert.equal(json.code, 0, json.stderr);
      const report = JSON.parse(json.stdout) as { pool: string; size: number; free: number; addresses: Record<string, string>[] };
      assert.equal(report.pool, 'color=orange');
      assert.equal(report.size, 3);
      assert.equal(report.free, 1);
      assert.deepEqual(report.addresses.map((a) => a['allocationId']).sort(), orange.map((a) => a.allocationId).sort(), 'exactly the pool');
      const mine = report.addresses.find((a) => a['publicIp'] === held)!;
      const eni = node.instance.enis[0]!;
      assert.deepEqual(
        { instanceId: mine['instanceId'], networkInterfaceId: mine['networkInterfaceId'], privateIp: mine['privateIp'], nodeName: mine['nodeName'] },
        { instanceId: node.instance.instanceId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0], nodeName: node.nodeName },
      );
      assert.match(mine['associationId']!, /^eipassoc-/);
      const free = report.addresses.filter((a) => a['associationId'] === undefined);
      assert.equal(free.length, 1);
      assert.deepEqual(Object.keys(free[0]!).sort(), ['allocationId', 'publicIp'], 'holder fields absent when free');

      const text = await runToEnd(['pool', '--tag-key', 'color', '--tag-value', 'orange'], sim.env(node));
      assert.equal(text.code, 0);
      const lines = text.stdout.split('\n');
      assert.equal(lines.filter((l) => /^\d+\.\d+\.\d+\.\d+ /.test(l)).length, 3, text.stdout);
      assert.ok(lines.some((l) => l.startsWith(held) && l.includes(`${node.instance.instanceId} ${eni.networkInterfaceId} ${eni.privateIps[0]} (${node.nodeName})`)), text.stdout);
      assert.ok(lines.some((l) => l.startsWith(foreign.publicIp) && l.includes('not an agent')), text.stdout);
      assert.ok(lines.includes('pool color=orange: 3 addresses, 1 free, 2 held'), text.stdout);

      // Any value: every address carrying the key.
      const any = JSON.parse((await runToEnd(['pool', '--tag-key', 'color', '--format', 'json'], sim.env(node))).stdout) as { size: number };
      assert.equal(any.size, 4);
      // Empty: the values that exist.
      const empty = await runToEnd(['pool', '--tag-key', 'color', '--tag-value', 'purple'], sim.env(node));
      assert.equal(empty.code, 0);
      assert.match(empty.stdout, /pool color=purple: 0 addresses, 0 free, 0 held\nempty: .*"blue" \(1\), "orange" \(3\)/);
      const bad = await runToEnd(['pool'], sim.env(node));
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--tag-key: required/);
    } finally {
      await sim.close();
    }
  });
});

describe('the daemon on an empty pool', () => {
  test('pool.exhausted and /status name the values the tag key has', async () => {
    const sim = await Sim.start({ pool: 2, tags: { color: 'orange' } });
    try {
      const node = await sim.addNode();
      const agent = runBundle(['run', '--tag-key', 'color', '--tag-value', 'purple', '--health-listen', '127.0.0.1:0', '--relist-interval', '0.2'], sim.env(node));
      const get = async (path: string) => {
        const res = await request(`http://${String((await agent.waitFor('health.listening'))['listen'])}${path}`);
        return { json: async () => (await res.body.json()) as unknown };
      };
      try {
        const exhausted = await agent.waitFor('pool.exhausted');
        assert.match(String(exhausted['reason']), /pool color=purple: 0 of 0 free: no Elastic IP has color="purple"; the key "color" exists with the value "orange" \(2\)/);
        const status = (await (await get('/status')).json()) as { reason: string };
        assert.match(status.reason, /the key "color" exists with the value "orange" \(2\)/);
      } finally {
        await agent.stop('SIGKILL');
      }
    } finally {
      await sim.close();
    }
  });
});
