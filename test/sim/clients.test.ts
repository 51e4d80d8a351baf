// The simulator driven by the clients operators use, as conformance tests: the AWS CLI,
// curl and kubectl against `Sim`. CI installs all three (.ci/run); on a developer's machine
// a missing one skips its test with the command that installs it. KUBECTL / AWS_CLI may
// name another binary to try (e.g. Debian's kubectl 1.20 unpacked somewhere).
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { enforcePolicy } from './iam.js';
import { Sim } from './sim.js';

const AWS = process.env['AWS_CLI'] || 'aws';
const KUBECTL = process.env['KUBECTL'] || 'kubectl';
const installed = (command: string) => spawnSync('sh', ['-c', `command -v "$0"`, command]).status === 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('real clients against the simulator', () => {
  let sim: Sim;
  let home: string;
  const POOL = { color: 'orange' };

  before(async () => {
    sim = await Sim.start({ pool: 3, tags: POOL, instances: 2, registerNodes: true });
    home = mkdtempSync(join(tmpdir(), 'eip-clients-'));
  });
  after(async () => {
    await sim.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('the AWS CLI: describe with filters, associate, --no-allow-reassociation, --dry-run, disassociate twice', async (t) => {
    if (!installed(AWS)) return t.skip('aws CLI not installed: apt-get install awscli');
    const keys = sim.ec2.addStaticCredentials('operator');
    const empty = join(home, 'empty');
    writeFileSync(empty, '');
    const env = {
      HOME: home,
      AWS_ACCESS_KEY_ID: keys.accessKeyId,
      AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
      AWS_CONFIG_FILE: empty,
      AWS_SHARED_CREDENTIALS_FILE: empty,
      AWS_PAGER: '',
    };
    const aws = (...args: string[]) => run(AWS, ['--region', sim.world.region, '--endpoint-url', sim.ec2.url, '--output', 'json', 'ec2', ...args], env);
    const ok = async (...args: string[]) => {
      const result = await aws(...args);
      assert.equal(result.code, 0, `aws ${args.join(' ')}: ${result.stderr}`);
      return result.stdout ? JSON.parse(result.stdout) : undefined;
    };
    const refused = async (code: string, ...args: string[]) => {
      const result = await aws(...args);
      assert.notEqual(result.code, 0, `aws ${args.join(' ')} succeeded`);
      assert.match(result.stderr, new RegExp(`\\(${code.replaceAll('.', '\\.')}\\)`), result.stderr);
    };

    const untagged = sim.world.addAddress({});
    const pool = (await ok('describe-addresses', '--filters', 'Name=tag:color,Values=orange')).Addresses;
    assert.equal(pool.length, 3);
    assert.ok(pool.every((a: any) => a.Tags.some((tag: any) => tag.Key === 'color' && tag.Value === 'orange')));
    const first = pool[0].AllocationId;
    const byIp = await ok('describe-addresses', '--filters', `Name=public-ip,Values=${pool[0].PublicIp}`, `Name=allocation-id,Values=${first}`);
    assert.deepEqual(byIp.Addresses.map((a: any) => a.AllocationId), [first]);

    const [a, b] = sim.nodes.map((n) => n.instance.instanceId) as [string, string];
    const { AssociationId } = await ok('associate-address', '--allocation-id', first, '--instance-id', a, '--no-allow-reassociation');
    await refused('Resource.AlreadyAssociated', 'associate-address', '--allocation-id', first, '--instance-id', b, '--no-allow-reassociation');
    assert.equal(sim.world.addresses.get(first)?.association?.associationId, AssociationId);
    // Left out, the flag defaults to reassociation, as in EC2: the address moves.
    const moved = await ok('associate-address', '--allocation-id', first, '--instance-id', b);
    assert.equal(sim.world.addresses.get(first)?.association?.instanceId, b);

    // The shipped IAM policy, asked through --dry-run with node a's role credentials: a pool
    // address onto its own instance yes; an address outside the pool, or static keys, no.
    const iam = enforcePolicy(sim.ec2, sim.world, JSON.parse(readFileSync('scripts/iam-policy.json', 'utf8')));
    const role = sim.nodes[0]!.instance.credentials;
    const asNode = { ...env, AWS_ACCESS_KEY_ID: role.accessKeyId, AWS_SECRET_ACCESS_KEY: role.secretAccessKey, AWS_SESSION_TOKEN: role.sessionToken };
    const awsAsNode = (...args: string[]) => run(AWS, ['--region', sim.world.region, '--endpoint-url', sim.ec2.url, '--output', 'json', 'ec2', ...args], asNode);
    const refusedAsNode = async (code: string, ...args: string[]) => {
      const result = await awsAsNode(...args);
      assert.notEqual(result.code, 0, `aws ${args.join(' ')} succeeded`);
      assert.match(result.stderr, new RegExp(`\\(${code}\\)`), result.stderr);
    };
    try {
      await refusedAsNode('DryRunOperation', 'associate-address', '--allocation-id', pool[1].AllocationId, '--instance-id', a, '--no-allow-reassociation', '--dry-run');
      await refusedAsNode('UnauthorizedOperation', 'associate-address', '--allocation-id', untagged.allocationId, '--instance-id', a, '--no-allow-reassociation', '--dry-run');
      await refused('UnauthorizedOperation', 'associate-address', '--allocation-id', pool[1].AllocationId, '--instance-id', a, '--no-allow-reassociation', '--dry-run');
    } finally {
      iam.off();
    }
    assert.equal(sim.world.addresses.get(pool[1].AllocationId)?.association, undefined);
    assert.equal(untagged.association, undefined);

    await ok('disassociate-address', '--association-id', moved.AssociationId);
    await ok('disassociate-address', '--association-id', moved.AssociationId); // idempotent, as documented
    assert.equal(sim.world.addresses.get(first)?.association, undefined);
  });

  test('the AWS CLI on an instance: credentials from IMDS through the printed endpoint', async (t) => {
    if (!installed(AWS)) return t.skip('aws CLI not installed: apt-get install awscli');
    const node = sim.nodes[0]!;
    // The environment `npm run sim` prints (it leaves out the blank ones: an empty
    // AWS_PROFILE names a profile to the AWS CLI).
    const env = Object.fromEntries(Object.entries(sim.env(node)).filter(([, value]) => value !== ''));
    const out = await run(AWS, ['--region', sim.world.region, '--endpoint-url', sim.ec2.url, '--output', 'json', 'ec2', 'describe-addresses'], { ...env, HOME: home, AWS_PAGER: '' });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(JSON.parse(out.stdout).Addresses.length, 4);
    assert.ok(sim.ec2.calls.some((c) => c.caller === node.instance.instanceId), 'signed with the instance role');
  });

  test('curl: IMDSv2 token, a GET with it, 401 without', async (t) => {
    if (!installed('curl')) return t.skip('curl not installed: apt-get install curl');
    const base = sim.env(sim.nodes[0]!)['AWS_EC2_METADATA_SERVICE_ENDPOINT']!;
    const token = await run('curl', ['-sS', '-X', 'PUT', '-H', 'X-aws-ec2-metadata-token-ttl-seconds: 60', `${base}latest/api/token`], {});
    assert.equal(token.code, 0, token.stderr);
    const id = await run('curl', ['-sS', '-H', `X-aws-ec2-metadata-token: ${token.stdout}`, `${base}latest/meta-data/instance-id`], {});
    assert.equal(id.stdout, sim.nodes[0]!.instance.instanceId);
    const without = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `${base}latest/meta-data/instance-id`], {});
    assert.equal(without.stdout, '401');
  });

  test('kubectl over TLS: get pods by node, get and describe nodes, events, label', async (t) => {
    if (!installed(KUBECTL)) return t.skip('kubectl not installed: apt-get install kubernetes-client');
    const [node, second] = sim.nodes as [(typeof sim.nodes)[0], (typeof sim.nodes)[0]];
    sim.world.addPod({ nodeName: node.nodeName, name: 'web-1', ownerKind: 'ReplicaSet' });
    sim.world.addPod({ nodeName: second.nodeName, name: 'web-2', ownerKind: 'ReplicaSet' });
    sim.world.kube.create('events', `default/${node.nodeName}.claimed`, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${node.nodeName}.claimed`, namespace: 'default' },
      involvedObject: { kind: 'Node', name: node.nodeName, uid: node.nodeName },
      reason: 'AddressClaimed',
      message: 'claimed 198.51.100.1',
      type: 'Normal',
      source: { component: 'eip-agent', host: node.nodeName },
      firstTimestamp: new Date().toISOString(),
      lastTimestamp: new Date().toISOString(),
      count: 1,
    });
    const kubectl = async (kubeconfig: string, ...args: string[]) => {
      const result = await run(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', join(home, 'kube-cache'), ...args], { HOME: home });
      return result;
    };
    const admin = (...args: string[]) => kubectl(sim.adminKubeconfig, ...args);
    const ok = (result: Run) => {
      assert.equal(result.code, 0, result.stderr);
      return result.stdout;
    };

    // As the node, through its exec credential plugin: only its own pods, and only so asked.
    const own = ok(await kubectl(node.kubeconfig, 'get', 'pods', '--field-selector', `spec.nodeName=${node.nodeName}`));
    assert.match(own, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/m);
    assert.match(own, /^web-1\s+1\/1\s+Running\s+0\s+/m);
    assert.doesNotMatch(own, /web-2/);
    const all = await kubectl(node.kubeconfig, 'get', 'pods');
    assert.notEqual(all.code, 0);
    assert.match(all.stderr, /Forbidden.*can only list\/watch pods with spec\.nodeName field selector/);

    const nodes = ok(await admin('get', 'nodes'));
    assert.match(nodes, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/m);
    for (const n of sim.nodes) assert.match(nodes, new RegExp(`^${n.nodeName.replaceAll('.', '\\.')}\\s+Ready\\s+<none>\\s+\\S+\\s+v1\\.`, 'm'));
    const zones = ok(await admin('get', 'nodes', '-L', 'topology.kubernetes.io/zone'));
    assert.match(zones, /\sZONE$/m);
    assert.match(zones, new RegExp(`${sim.world.region}a$`, 'm'));

    const described = ok(await admin('describe', 'node', node.nodeName));
    assert.match(described, new RegExp(`^ProviderID:\\s+aws:///${sim.world.region}a/${node.instance.instanceId}$`, 'm'));
    assert.match(described, /^Events:\s*$/m);
    assert.match(described, /Normal\s+AddressClaimed\s+\S+\s+eip-agent\s+claimed 198\.51\.100\.1/);
    assert.match(described, /default\s+web-1\s/, 'the node\'s pods');

    const events = ok(await admin('get', 'events'));
    assert.match(events, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m);
    assert.match(events, new RegExp(`Normal\\s+AddressClaimed\\s+node/${node.nodeName.replaceAll('.', '\\.')}\\s+claimed 198\\.51\\.100\\.1`));

    ok(await admin('label', 'node', node.nodeName, 'eip.example.com/public-ip=198.51.100.1'));
    assert.equal(sim.world.node(node.nodeName)!.metadata.labels['eip.example.com/public-ip'], '198.51.100.1');
    const labelled = ok(await admin('get', 'nodes', '-L', 'eip.example.com/public-ip'));
    assert.match(labelled, new RegExp(`^${node.nodeName.replaceAll('.', '\\.')}\\s.*198\\.51\\.100\\.1$`, 'm'));
    // The node itself may not touch a restricted label (NodeRestriction).
    const restricted = await kubectl(node.kubeconfig, 'label', 'node', node.nodeName, 'node-restriction.kubernetes.io/eip=yes');
    assert.notEqual(restricted.code, 0);
    assert.match(restricted.stderr, /is not allowed to modify labels: node-restriction\.kubernetes\.io\/eip/);
  });
});
