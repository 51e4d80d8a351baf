// The simulated EC2 endpoint follows the EC2 API reference where it is dangerous too: the
// AllowReassociation default, DryRun, mutually exclusive parameters, MaxResults bounds and
// pagination, DisassociateAddress idempotency, and the instance metadata options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DisassociateAddressCommand,
  paginateDescribeInstances,
} from '@aws-sdk/client-ec2';
import { readFileSync } from 'node:fs';
import { enforcePolicy } from './iam.js';
import { ec2Fixture, rejectsWith } from './ec2-testkit.js';

test('AssociateAddress without AllowReassociation takes the address, as EC2 does; only false refuses', async (t) => {
  const { world, instance, client } = await ec2Fixture(t);
  const [address] = world.addPool(1, { color: 'orange' });
  const theirs = world.addInstance().enis[0]!;
  world.associate({ allocationId: address!.allocationId, networkInterfaceId: theirs.networkInterfaceId, allowReassociation: false });
  const before = address!.association!.associationId;
  const mine = instance.enis[0]!;
  const c = client();
  const request = { AllocationId: address!.allocationId, NetworkInterfaceId: mine.networkInterfaceId };
  await rejectsWith(c.send(new AssociateAddressCommand({ ...request, AllowReassociation: false })), 'Resource.AlreadyAssociated', 400);
  assert.equal(address!.association?.networkInterfaceId, theirs.networkInterfaceId);
  const moved = await c.send(new AssociateAddressCommand(request));
  assert.equal(address!.association?.networkInterfaceId, mine.networkInterfaceId, 'left out: reassociated');
  assert.notEqual(moved.AssociationId, before);
});

test('AssociateAddress with both InstanceId and NetworkInterfaceId is InvalidParameterCombination', async (t) => {
  const { world, instance, client } = await ec2Fixture(t);
  const [address] = world.addPool(1, {});
  const request = { AllocationId: address!.allocationId, InstanceId: instance.instanceId, NetworkInterfaceId: instance.enis[0]!.networkInterfaceId };
  const error = await rejectsWith(client().send(new AssociateAddressCommand(request)), 'InvalidParameterCombination', 400);
  assert.match(error.message, /InstanceId or NetworkInterfaceId, but not both/);
  assert.equal(address!.association, undefined);
});

test('DryRun asks IAM and answers DryRunOperation 412 or UnauthorizedOperation 403, changing nothing', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t);
  const [address] = world.addPool(1, { color: 'orange' });
  const eni = instance.enis[0]!;
  const c = client();
  const associate = { AllocationId: address!.allocationId, NetworkInterfaceId: eni.networkInterfaceId, AllowReassociation: false, DryRun: true };
  sim.faults.raceNext = 1; // a dry run is not a request that lands: no race can be lost
  const dry = await rejectsWith(c.send(new AssociateAddressCommand(associate)), 'DryRunOperation', 412);
  assert.equal(dry.message, 'Request would have succeeded, but DryRun flag is set.');
  assert.equal(address!.association, undefined);
  assert.equal(sim.faults.raceNext, 1);
  sim.faults.raceNext = 0;
  await rejectsWith(c.send(new DescribeAddressesCommand({ DryRun: true })), 'DryRunOperation', 412);

  const { AssociationId } = await c.send(new AssociateAddressCommand({ ...associate, DryRun: false }));
  const held = () => world.addresses.get(address!.allocationId)?.association?.associationId;
  await rejectsWith(c.send(new DisassociateAddressCommand({ AssociationId, DryRun: true })), 'DryRunOperation', 412);
  assert.equal(held(), AssociationId);

  sim.faults.deny = (action) => action === 'DisassociateAddress';
  await rejectsWith(c.send(new DisassociateAddressCommand({ AssociationId, DryRun: true })), 'UnauthorizedOperation', 403);
  assert.equal(held(), AssociationId);
  assert.deepEqual(
    sim.calls.filter((call) => call.params['DryRun'] === 'true').map((call) => [call.action, call.outcome, call.status, call.applied]),
    [
      ['AssociateAddress', 'DryRunOperation', 412, false],
      ['DescribeAddresses', 'DryRunOperation', 412, false],
      ['DisassociateAddress', 'DryRunOperation', 412, false],
      ['DisassociateAddress', 'UnauthorizedOperation', 403, false],
    ],
  );
});

test('DryRun under the shipped IAM policy: a pool address is allowed, an untagged one is not', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t);
  const [pool] = world.addPool(1, { color: 'orange' });
  const untagged = world.addAddress({});
  enforcePolicy(sim, world, JSON.parse(readFileSync('scripts/iam-policy.json', 'utf8')));
  const c = client();
  const dry = (allocationId: string) =>
    c.send(new AssociateAddressCommand({ AllocationId: allocationId, NetworkInterfaceId: instance.enis[0]!.networkInterfaceId, AllowReassociation: false, DryRun: true }));
  await rejectsWith(dry(pool!.allocationId), 'DryRunOperation', 412);
  await rejectsWith(dry(untagged.allocationId), 'UnauthorizedOperation', 403);
  assert.equal(pool!.association, undefined);
  assert.equal(untagged.association, undefined);
});

test('DisassociateAddress twice: no error the second time (idempotent), unless staleDisassociate says not-found', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t);
  const [address] = world.addPool(1, {});
  const c = client();
  const associate = () => c.send(new AssociateAddressCommand({ AllocationId: address!.allocationId, NetworkInterfaceId: instance.enis[0]!.networkInterfaceId }));
  const { AssociationId } = await associate();
  await c.send(new DisassociateAddressCommand({ AssociationId }));
  const again = await c.send(new DisassociateAddressCommand({ AssociationId }));
  assert.equal(again.$metadata.httpStatusCode, 200);
  assert.equal(address!.association, undefined);

  sim.faults.staleDisassociate = 'not-found';
  await rejectsWith(c.send(new DisassociateAddressCommand({ AssociationId })), 'InvalidAssociationID.NotFound', 400);
  // An id that never existed is NotFound under either reading.
  sim.faults.staleDisassociate = 'ok';
  await rejectsWith(c.send(new DisassociateAddressCommand({ AssociationId: 'eipassoc-0123456789abcdef0' })), 'InvalidAssociationID.NotFound', 400);

  // An association ended by EC2 itself (the instance terminated) is stale the same way.
  const { AssociationId: second } = await associate();
  world.terminate(instance.instanceId);
  assert.equal((await c.send(new DisassociateAddressCommand({ AssociationId: second }))).$metadata.httpStatusCode, 200);
});

test('MaxResults: 5 to 1000, never with ids; pages carry a NextToken', async (t) => {
  const { world, instance, client } = await ec2Fixture(t);
  for (let i = 0; i < 6; i++) world.addInstance();
  const c = client();
  for (const [max, pattern] of [
    [4, /Value \( 4 \) for parameter maxResults is invalid\. Expecting a value greater than 5\./],
    [1001, /Value \( 1001 \) for parameter maxResults is invalid/],
  ] as const) {
    const error = await rejectsWith(c.send(new DescribeInstancesCommand({ MaxResults: max })), 'InvalidParameterValue', 400);
    assert.match(error.message, pattern);
    await rejectsWith(c.send(new DescribeNetworkInterfacesCommand({ MaxResults: max })), 'InvalidParameterValue', 400);
  }
  await rejectsWith(c.send(new DescribeInstancesCommand({ MaxResults: 5, InstanceIds: [instance.instanceId] })), 'InvalidParameterCombination', 400);
  await rejectsWith(
    c.send(new DescribeNetworkInterfacesCommand({ MaxResults: 5, NetworkInterfaceIds: [instance.enis[0]!.networkInterfaceId] })),
    'InvalidParameterCombination',
    400,
  );
  const first = await c.send(new DescribeInstancesCommand({ MaxResults: 5 }));
  assert.equal(first.Reservations?.length, 5);
  assert.ok(first.NextToken);
  const rest = await c.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: first.NextToken }));
  assert.equal(rest.Reservations?.length, 2);
  assert.equal(rest.NextToken, undefined);
  await rejectsWith(c.send(new DescribeInstancesCommand({ NextToken: 'garbage' })), 'InvalidPaginationToken', 400);

  const seen: string[] = [];
  for await (const page of paginateDescribeInstances({ client: c, pageSize: 5 }, {})) {
    for (const r of page.Reservations ?? []) seen.push(r.Instances![0]!.InstanceId!);
  }
  assert.deepEqual(seen.sort(), [...world.instances.keys()].sort());
  const enis = await c.send(new DescribeNetworkInterfacesCommand({ MaxResults: 5 }));
  assert.equal(enis.NetworkInterfaces?.length, 5);
  assert.ok(enis.NextToken);
});

test('DescribeInstances reports the metadata options: tokens required, hop limit 2 unless set', async (t) => {
  const { world, instance, client } = await ec2Fixture(t);
  const tight = world.addInstance({ metadataOptions: { httpPutResponseHopLimit: 1 } });
  const out = await client().send(new DescribeInstancesCommand({ InstanceIds: [instance.instanceId, tight.instanceId] }));
  const options = new Map(out.Reservations!.map((r) => [r.Instances![0]!.InstanceId, r.Instances![0]!.MetadataOptions]));
  assert.deepEqual(options.get(instance.instanceId), {
    State: 'applied',
    HttpTokens: 'required',
    HttpPutResponseHopLimit: 2,
    HttpEndpoint: 'enabled',
    HttpProtocolIpv6: 'disabled',
    InstanceMetadataTags: 'disabled',
  });
  assert.equal(options.get(tight.instanceId)?.HttpPutResponseHopLimit, 1);
});
