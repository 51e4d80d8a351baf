// The shipped IAM policy (scripts/iam-policy.json), enforced by the simulator: the agent's
// whole life needs nothing more; a node's credentials cannot move an address outside the
// pool (SPEC §6, G2), cannot put one onto another node's instance or onto an interface in
// another VPC, and static keys cannot move any; and what IAM cannot express (README, IAM) is
// pinned here as it stands, so that a change to it has to come with the README's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DisassociateAddressCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { startAgent } from '../helpers/fleet.js';
import { authorize, enforcePolicy, parsePolicy, type Enforcement, type EnforceOptions, type PolicyDocument, type Statement } from '../sim/iam.js';
import { Sim, type SimNode } from '../sim/sim.js';
import type { Address, Eni } from '../sim/world.js';

const POLICY = JSON.parse(readFileSync('scripts/iam-policy.json', 'utf8')) as PolicyDocument;
const README = readFileSync('README.md', 'utf8');
const POOL = { color: 'orange' };
const UNAUTHORIZED = { name: 'UnauthorizedOperation', status: 403 };

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
  let operator: EC2Client;
  const clients: EC2Client[] = [];
  let untagged: Address;
  let blue: Address;
  let elsewhere: Eni;

  /** Enforce `policy` (with `options`) instead of the shipped one for the length of `body`. */
  async function enforcing(policy: unknown, options: EnforceOptions, body: (e: Enforcement) => Promise<void>): Promise<void> {
    iam.off();
    const other = enforcePolicy(sim.ec2, sim.world, policy, options);
    try {
      await body(other);
    } finally {
      other.off();
      iam = enforcePolicy(sim.ec2, sim.world, POLICY);
    }
  }

  before(async () => {
    sim = await Sim.start({ pool: 3, tags: POOL });
    untagged = sim.world.addAddress({});
    blue = sim.world.addAddress({ color: 'blue' });
    elsewhere = sim.world.addDetachedEni();
    elsewhere.vpcId = 'vpc-0another000000000'; // an interface in another VPC (the sim's world has one VPC)
    iam = enforcePolicy(sim.ec2, sim.world, POLICY);
    // As if the node role's policy were attached to a user: the operator's CLI keys.
    operator = new EC2Client({ region: sim.world.region, endpoint: sim.ec2.url, credentials: sim.ec2.addStaticCredentials('operator'), maxAttempts: 1 });
  });
  after(async () => {
    operator.destroy();
    for (const c of clients) c.destroy();
    await sim.close();
  });

  /** An EC2 client signing with the node's role credentials, as the agent (or a pod borrowing them) does. */
  const as = (node: SimNode): EC2Client => {
    const client = new EC2Client({ region: sim.world.region, endpoint: sim.ec2.url, credentials: node.instance.credentials, maxAttempts: 1 });
    clients.push(client);
    return client;
  };
  const eniOf = (node: SimNode) => node.instance.enis[0]!;
  const freePool = () => [...sim.world.addresses.values()].find((a) => a.tags['color'] === 'orange' && !a.association)!;
  const associate = (client: EC2Client, address: Address, networkInterfaceId: string, AllowReassociation = false) =>
    client.send(new AssociateAddressCommand({ AllocationId: address.allocationId, NetworkInterfaceId: networkInterfaceId, AllowReassociation }));
  const disassociate = (client: EC2Client, AssociationId: string) => client.send(new DisassociateAddressCommand({ AssociationId }));
  const associationOf = (address: Address) => sim.world.addresses.get(address.allocationId)!.association;

  for (const interfaceInstance of ['checked', 'unchecked'] as const) {
    test(`the agent's whole life (claim, ready, SIGTERM, released) needs nothing the policy does not grant (interface's instance ${interfaceInstance})`, async () => {
      await enforcing(POLICY, { interfaceInstance }, async (enforced) => {
        const node = await sim.addNode();
        const { agent } = await startAgent(sim, node);
        try {
          const ready = await agent.waitFor('ready');
          agent.proc.kill('SIGTERM');
          await agent.waitFor('released');
          assert.equal((await agent.exited).code, 0);
          const mine = sim.ec2.calls.filter((c) => c.caller === node.instance.instanceId);
          assert.deepEqual(mine.filter((c) => c.outcome === 'UnauthorizedOperation'), [], 'no call refused');
          const judged = enforced.decisions.filter((d) => d.caller === node.instance.instanceId);
          for (const action of ['ec2:DescribeAddresses', 'ec2:AssociateAddress', 'ec2:DisassociateAddress']) {
            assert.ok(judged.some((d) => d.action === action && d.allowed), `${action} was judged by the policy and allowed`);
          }
          const associated = judged.find((d) => d.action === 'ec2:AssociateAddress')!;
          assert.equal(associated.resources.some((r) => r.arn.includes(':instance/')), interfaceInstance === 'checked', 'the instance was part of the check');
          assert.equal(sim.world.addressOn(eniOf(node).networkInterfaceId, eniOf(node).privateIps[0]!), undefined, 'released');
          assert.ok([...sim.world.addresses.values()].some((a) => a.publicIp === ready['publicIp'] && a.tags['color'] === 'orange'));
        } finally {
          await agent.stop('SIGKILL');
        }
      });
    });
  }

  test("a node's own credentials: an address without the pool tag is refused (403, nothing changes); a pool address on and off its own interface is not", async () => {
    const node = await sim.addNode();
    const client = as(node);
    for (const address of [untagged, blue]) {
      assert.deepEqual(await rejection(associate(client, address, eniOf(node).networkInterfaceId)), UNAUTHORIZED);
      assert.equal(associationOf(address), undefined);
    }
    assert.match(iam.denied().at(-1)!.deniedBy!.arn, new RegExp(`:elastic-ip/${blue.allocationId}$`));
    const pool = freePool();
    const { AssociationId } = await associate(client, pool, eniOf(node).networkInterfaceId);
    assert.ok(AssociationId);
    await disassociate(client, AssociationId);
    assert.equal(associationOf(pool), undefined);
  });

  test('disassociating an address without the pool tag is refused, even from its own node', async () => {
    const node = await sim.addNode();
    // Put there by someone else (IAM does not apply inside the world).
    const held = sim.world.associate({ allocationId: untagged.allocationId, networkInterfaceId: eniOf(node).networkInterfaceId });
    try {
      assert.deepEqual(await rejection(disassociate(as(node), held.associationId)), UNAUTHORIZED);
      assert.equal(associationOf(untagged)?.associationId, held.associationId, 'still associated');
    } finally {
      sim.world.disassociate(held.associationId);
    }
  });

  test("another node's credentials cannot put a pool address onto this node's interface: 403 on the instance, nothing changes", async () => {
    const [a, b] = [await sim.addNode(), await sim.addNode()];
    const pool = freePool();
    for (const reassociate of [false, true]) {
      assert.deepEqual(await rejection(associate(as(b), pool, eniOf(a).networkInterfaceId, reassociate)), UNAUTHORIZED);
      assert.equal(iam.denied().at(-1)!.deniedBy!.arn, `arn:aws:ec2:${sim.world.region}:123456789012:instance/${a.instance.instanceId}`);
      assert.equal(associationOf(pool), undefined);
    }
    // Nor by naming the instance instead of the interface.
    const byInstance = as(b).send(new AssociateAddressCommand({ AllocationId: pool.allocationId, InstanceId: a.instance.instanceId, AllowReassociation: false }));
    assert.deepEqual(await rejection(byInstance), UNAUTHORIZED);
    assert.equal(associationOf(pool), undefined);
  });

  test('static keys (no instance) are refused by the instance-scoped statements, on both actions; they may still list the pool', async () => {
    const node = await sim.addNode();
    const pool = freePool();
    assert.deepEqual(await rejection(associate(operator, pool, eniOf(node).networkInterfaceId)), UNAUTHORIZED);
    assert.match(iam.denied().at(-1)!.deniedBy!.arn, /:network-interface\//);
    assert.equal(associationOf(pool), undefined);
    const held = sim.world.associate({ allocationId: pool.allocationId, networkInterfaceId: eniOf(node).networkInterfaceId });
    try {
      assert.deepEqual(await rejection(disassociate(operator, held.associationId)), UNAUTHORIZED);
      assert.equal(associationOf(pool)?.associationId, held.associationId, 'still associated');
    } finally {
      sim.world.disassociate(held.associationId);
    }
    const { Addresses } = await operator.send(new DescribeAddressesCommand({}));
    assert.ok((Addresses ?? []).length >= 5);
  });

  test("an interface in another VPC is refused to any node's credentials, both ways", async () => {
    const node = await sim.addNode();
    const pool = freePool();
    assert.deepEqual(await rejection(associate(as(node), pool, elsewhere.networkInterfaceId)), UNAUTHORIZED);
    assert.equal(associationOf(pool), undefined);
    const held = sim.world.associate({ allocationId: pool.allocationId, networkInterfaceId: elsewhere.networkInterfaceId });
    try {
      assert.deepEqual(await rejection(disassociate(as(node), held.associationId)), UNAUTHORIZED);
      assert.equal(associationOf(pool)?.associationId, held.associationId, 'still associated');
    } finally {
      sim.world.disassociate(held.associationId);
    }
  });

  // README (Deploy on EKS, IAM): the Service Authorization Reference gives DisassociateAddress
  // no instance resource and no network-interface key naming the interface's instance, and
  // no key for AllowReassociation or for an address's current association. These pass on
  // purpose; the defence is that pods cannot borrow the role (IMDS hop limit 1).
  test("what IAM cannot express: another node's credentials in the same VPC can disassociate a node's address, or pull it onto their own interface", async () => {
    const [a, b] = [await sim.addNode(), await sim.addNode()];
    const pool = freePool();
    const held = sim.world.associate({ allocationId: pool.allocationId, networkInterfaceId: eniOf(a).networkInterfaceId });
    await disassociate(as(b), held.associationId);
    assert.equal(associationOf(pool), undefined, "b's credentials took a's address off");

    sim.world.associate({ allocationId: pool.allocationId, networkInterfaceId: eniOf(a).networkInterfaceId });
    const stolen = await associate(as(b), pool, eniOf(b).networkInterfaceId, true);
    assert.equal(associationOf(pool)?.networkInterfaceId, eniOf(b).networkInterfaceId, "b's credentials moved a's address onto b");
    await disassociate(as(b), stolen.AssociationId!);

    // And where EC2 checks only the interface a request names, not its instance.
    await enforcing(POLICY, { interfaceInstance: 'unchecked' }, async () => {
      const { AssociationId } = await associate(as(b), pool, eniOf(a).networkInterfaceId);
      assert.equal(associationOf(pool)?.networkInterfaceId, eniOf(a).networkInterfaceId);
      await disassociate(as(a), AssociationId!);
    });
  });

  test('anything the policy does not name is denied; DescribeAddresses and DescribeInstances are not', async () => {
    const client = as(await sim.addNode());
    const { Addresses } = await client.send(new DescribeAddressesCommand({}));
    assert.ok((Addresses ?? []).length >= 5);
    await client.send(new DescribeInstancesCommand({}));
    assert.deepEqual(await rejection(client.send(new DescribeNetworkInterfacesCommand({}))), UNAUTHORIZED);
  });

  test("the README's variant for a pool open on the value (Null) allows any value of the key, and no address without it", async () => {
    await enforcing(nullVariant(POLICY), {}, async () => {
      const node = await sim.addNode();
      assert.deepEqual(await rejection(associate(as(node), untagged, eniOf(node).networkInterfaceId)), UNAUTHORIZED);
      const { AssociationId } = await associate(as(node), blue, eniOf(node).networkInterfaceId);
      await disassociate(as(node), AssociationId!);
    });
  });

  test('EC2 checks every resource a call touches: without the network-interface statement, associate is denied', () => {
    const statements = parsePolicy(POLICY);
    const withoutEni = statements.filter((s) => !list(s.Resource).some((r) => r.includes(':network-interface/')));
    const eip = { arn: 'arn:aws:ec2:eu-west-1:123456789012:elastic-ip/eipalloc-1', tags: { color: 'orange' } };
    const eni = { arn: 'arn:aws:ec2:eu-west-1:123456789012:network-interface/eni-1', tags: {}, keys: { 'ec2:vpc': 'arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1' } };
    const instance = { arn: 'arn:aws:ec2:eu-west-1:123456789012:instance/i-1', tags: {}, keys: { 'ec2:instanceid': 'i-1' } };
    const self = { caller: 'i-1', keys: { 'ec2:sourceinstancearn': instance.arn, 'aws:ec2instancesourcevpc': 'vpc-1' } };
    assert.equal(authorize(statements, 'ec2:AssociateAddress', [eip, eni, instance], self).allowed, true);
    assert.deepEqual(authorize(withoutEni, 'ec2:AssociateAddress', [eip, eni, instance], self).deniedBy, { arn: eni.arn, reason: 'no-allow' });
    // An explicit Deny wins over the Allow.
    const deny: Statement = { Effect: 'Deny', Action: 'ec2:*', Resource: '*', Condition: { StringEquals: { 'ec2:ResourceTag/color': 'orange' } } };
    assert.equal(authorize([...statements, deny], 'ec2:AssociateAddress', [eip, eni, instance], self).deniedBy?.reason, 'explicit-deny');
  });

  test("the policy's placeholder tag is the one the README and the user_data examples document, and the README explains every condition key", () => {
    const documented = /with `([^`]+)`\/`([^`]+)` replaced by your pool tag/.exec(README);
    assert.ok(documented, 'README names the placeholder tag of the policy');
    const [, key, value] = documented;
    const conditions = (POLICY.Statement as Statement[]).flatMap((s) => Object.entries(s.Condition ?? {}));
    const tagConditions = conditions.filter(([, keys]) => Object.keys(keys).some((k) => k.includes('ResourceTag/')));
    assert.deepEqual(tagConditions, [['StringEquals', { [`aws:ResourceTag/${key}`]: value }]]);
    assert.ok(README.includes(`"Null": {"aws:ResourceTag/${key}": "false"}`), 'the Null variant names the same key');
    for (const file of ['scripts/user-data-al2023.mime', 'scripts/karpenter/ec2nodeclass.yaml']) {
      assert.match(readFileSync(file, 'utf8'), new RegExp(`--tag-key ${key} --tag-value ${value}\\b`), file);
    }
    const keysAndVariables = conditions.flatMap(([, keys]) => Object.entries(keys).flatMap(([k, v]) => [k, ...[...String(v).matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]!)]));
    for (const name of new Set(keysAndVariables.filter((k) => !k.includes('ResourceTag/')))) {
      assert.ok(README.includes(`\`${name}\``), `README explains ${name}`);
    }
  });
});

function list(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}
