// The shipped IAM policy (scripts/iam-policy.json), enforced by the simulator: the agent's
// whole life needs nothing more, and a node's credentials cannot move an address outside
// the pool (SPEC §6, G2).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DisassociateAddressCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { startAgent } from '../helpers/fleet.js';
import { authorize, enforcePolicy, parsePolicy, type Enforcement, type PolicyDocument, type Statement } from '../sim/iam.js';
import { Sim, type SimNode } from '../sim/sim.js';
import type { Address } from '../sim/world.js';

const POLICY = JSON.parse(readFileSync('scripts/iam-policy.json', 'utf8')) as PolicyDocument;
const README = readFileSync('README.md', 'utf8');
const POOL = { color: 'orange' };

/** The README's advice for a pool open on the value: Null instead of StringEquals. */
function nullVariant(policy: PolicyDocument): PolicyDocument {
  const copy = structuredClone(policy);
  for (const s of copy.Statement as Statement[]) {
    if (s.Condition?.['StringEquals']) s.Condition = { Null: { 'aws:ResourceTag/color': 'false' } };
  }
  return copy;
}

async function rejection(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  const error = (await promise.then(
    () => assert.fail('expected the call to be refused'),
    (e: unknown) => e,
  )) as { name: string; $metadata?: { httpStatusCode?: number } };
  return { name: error.name, status: error.$metadata?.httpStatusCode };
}

describe('the shipped IAM policy, enforced', () => {
  let sim: Sim;
  let iam: Enforcement;
  let client: EC2Client;
  let untagged: Address;
  let blue: Address;
  before(async () => {
    sim = await Sim.start({ pool: 3, tags: POOL });
    untagged = sim.world.addAddress({});
    blue = sim.world.addAddress({ color: 'blue' });
    iam = enforcePolicy(sim.ec2, sim.world, POLICY);
    // As if the node role's policy were attached to a user: the operator's CLI keys.
    client = new EC2Client({ region: sim.world.region, endpoint: sim.ec2.url, credentials: sim.ec2.addStaticCredentials('operator'), maxAttempts: 1 });
  });
  after(async () => {
    client.destroy();
    await sim.close();
  });

  const eniOf = (node: SimNode) => node.instance.enis[0]!;
  const associate = (address: Address, node: SimNode) =>
    client.send(new AssociateAddressCommand({ AllocationId: address.allocationId, NetworkInterfaceId: eniOf(node).networkInterfaceId, AllowReassociation: false }));

  test("the agent's whole life (claim, ready, SIGTERM, released) needs nothing the policy does not grant", async () => {
    const node = await sim.addNode();
    const start = iam.decisions.length;
    const { agent } = await startAgent(sim, node);
    try {
      const ready = await agent.waitFor('ready');
      agent.proc.kill('SIGTERM');
      await agent.waitFor('released');
      assert.equal((await agent.exited).code, 0);
      const mine = sim.ec2.calls.filter((c) => c.caller === node.instance.instanceId);
      assert.deepEqual(mine.filter((c) => c.outcome === 'UnauthorizedOperation'), [], 'no call refused');
      const judged = iam.decisions.slice(start).filter((d) => d.caller === node.instance.instanceId);
      for (const action of ['ec2:DescribeAddresses', 'ec2:AssociateAddress', 'ec2:DisassociateAddress']) {
        assert.ok(judged.some((d) => d.action === action && d.allowed), `${action} was judged by the policy and allowed`);
      }
      assert.equal(sim.world.addressOn(eniOf(node).networkInterfaceId, eniOf(node).privateIps[0]!), undefined, 'released');
      assert.ok([...sim.world.addresses.values()].some((a) => a.publicIp === ready['publicIp'] && a.tags['color'] === 'orange'));
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  test('associating an address without the pool tag is refused: 403 UnauthorizedOperation, nothing changes', async () => {
    const node = await sim.addNode();
    for (const address of [untagged, blue]) {
      assert.deepEqual(await rejection(associate(address, node)), { name: 'UnauthorizedOperation', status: 403 });
      assert.equal(sim.world.addresses.get(address.allocationId)!.association, undefined);
    }
    const denied = iam.denied().at(-1)!;
    assert.equal(denied.deniedBy?.arn, `arn:aws:ec2:${sim.world.region}:123456789012:elastic-ip/${blue.allocationId}`);
    // The same keys may move a pool address: the refusal is the tag's doing.
    const pool = [...sim.world.addresses.values()].find((a) => a.tags['color'] === 'orange' && !a.association)!;
    const { AssociationId } = await associate(pool, node);
    assert.ok(AssociationId);
    await client.send(new DisassociateAddressCommand({ AssociationId }));
    assert.equal(sim.world.addresses.get(pool.allocationId)!.association, undefined);
  });

  test('disassociating an address without the pool tag is refused, even from its own node', async () => {
    const node = await sim.addNode();
    // Put there by someone else (IAM does not apply inside the world).
    const held = sim.world.associate({ allocationId: untagged.allocationId, networkInterfaceId: eniOf(node).networkInterfaceId });
    try {
      const refused = await rejection(client.send(new DisassociateAddressCommand({ AssociationId: held.associationId })));
      assert.deepEqual(refused, { name: 'UnauthorizedOperation', status: 403 });
      assert.equal(sim.world.addresses.get(untagged.allocationId)!.association?.associationId, held.associationId, 'still associated');
    } finally {
      sim.world.disassociate(held.associationId);
    }
  });

  test('anything the policy does not name is denied; DescribeAddresses is not', async () => {
    const { Addresses } = await client.send(new DescribeAddressesCommand({}));
    assert.ok((Addresses ?? []).length >= 5);
    assert.deepEqual(await rejection(client.send(new DescribeInstancesCommand({}))), { name: 'UnauthorizedOperation', status: 403 });
  });

  test("the README's variant for a pool open on the value (Null) allows any value of the key, and no address without it", async () => {
    iam.off();
    const open = enforcePolicy(sim.ec2, sim.world, nullVariant(POLICY));
    const node = await sim.addNode();
    try {
      assert.deepEqual(await rejection(associate(untagged, node)), { name: 'UnauthorizedOperation', status: 403 });
      const { AssociationId } = await associate(blue, node);
      await client.send(new DisassociateAddressCommand({ AssociationId: AssociationId! }));
    } finally {
      open.off();
      iam = enforcePolicy(sim.ec2, sim.world, POLICY);
    }
  });

  test('EC2 checks every resource a call touches: without the network-interface statement, associate is denied', () => {
    const statements = parsePolicy(POLICY).filter((s) => !list(s.Resource).some((r) => r.includes(':network-interface/')));
    const eip = { arn: 'arn:aws:ec2:eu-west-1:123456789012:elastic-ip/eipalloc-1', tags: { color: 'orange' } };
    const eni = { arn: 'arn:aws:ec2:eu-west-1:123456789012:network-interface/eni-1', tags: {} };
    const instance = { arn: 'arn:aws:ec2:eu-west-1:123456789012:instance/i-1', tags: {} };
    assert.equal(authorize(parsePolicy(POLICY), 'ec2:AssociateAddress', [eip, eni, instance]).allowed, true);
    assert.deepEqual(authorize(statements, 'ec2:AssociateAddress', [eip, eni, instance]).deniedBy, { arn: eni.arn, reason: 'no-allow' });
    // An explicit Deny wins over the Allow.
    const deny: Statement = { Effect: 'Deny', Action: 'ec2:*', Resource: '*', Condition: { StringEquals: { 'ec2:ResourceTag/color': 'orange' } } };
    assert.equal(authorize([...parsePolicy(POLICY), deny], 'ec2:AssociateAddress', [eip, eni, instance]).deniedBy?.reason, 'explicit-deny');
    // What the simulator cannot judge, it refuses to judge.
    assert.throws(() => parsePolicy({ Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringLike: { 'aws:ResourceTag/color': 'o*' } } }] }), /StringLike is not supported/);
    assert.throws(() => parsePolicy({ Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEquals: { 'ec2:Vpc': 'x' } } }] }), /ec2:Vpc is not supported/);
  });

  test("the policy's placeholder tag is the one the README and the user_data examples document", () => {
    const documented = /with `([^`]+)`\/`([^`]+)` replaced by your pool tag/.exec(README);
    assert.ok(documented, 'README names the placeholder tag of the policy');
    const [, key, value] = documented;
    const conditions = (POLICY.Statement as Statement[]).flatMap((s) => Object.entries(s.Condition ?? {}));
    assert.deepEqual(conditions, [['StringEquals', { [`aws:ResourceTag/${key}`]: value }]]);
    assert.ok(README.includes(`"Null": {"aws:ResourceTag/${key}": "false"}`), 'the Null variant names the same key');
    for (const file of ['scripts/user-data-al2023.mime', 'scripts/karpenter/ec2nodeclass.yaml']) {
      assert.match(readFileSync(file, 'utf8'), new RegExp(`--tag-key ${key} --tag-value ${value}\\b`), file);
    }
  });
});

function list(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}
