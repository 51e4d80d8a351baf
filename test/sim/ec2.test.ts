// The simulated EC2 endpoint driven by the real @aws-sdk/client-ec2 over HTTP: actions,
// filters, EC2 error codes and statuses, SigV4 authentication and the wire format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DisassociateAddressCommand,
} from '@aws-sdk/client-ec2';
import type { AssociateAddressCommandInput, Filter } from '@aws-sdk/client-ec2';
import { ACCOUNT_ID } from './world.js';
import { ec2Fixture, rejectsWith, signedPost } from './ec2-testkit.js';

test('DescribeAddresses shows free and associated addresses with every field', async (t) => {
  const { world, instance, client } = await ec2Fixture(t);
  const [held, free] = world.addPool(2, { color: 'orange' });
  const eni = instance.enis[0]!;
  const association = world.associate({ allocationId: held!.allocationId, networkInterfaceId: eni.networkInterfaceId });

  const { Addresses } = await client().send(new DescribeAddressesCommand({}));
  assert.deepEqual(Addresses?.find((a) => a.AllocationId === held!.allocationId), {
    PublicIp: held!.publicIp,
    AllocationId: held!.allocationId,
    Domain: 'vpc',
    AssociationId: association.associationId,
    InstanceId: instance.instanceId,
    NetworkInterfaceId: eni.networkInterfaceId,
    NetworkInterfaceOwnerId: ACCOUNT_ID,
    PrivateIpAddress: eni.privateIps[0],
    Tags: [{ Key: 'color', Value: 'orange' }],
    PublicIpv4Pool: 'amazon',
    NetworkBorderGroup: world.region,
  });
  assert.deepEqual(Addresses?.find((a) => a.AllocationId === free!.allocationId), {
    PublicIp: free!.publicIp,
    AllocationId: free!.allocationId,
    Domain: 'vpc',
    Tags: [{ Key: 'color', Value: 'orange' }],
    PublicIpv4Pool: 'amazon',
    NetworkBorderGroup: world.region,
  });
});

test('DescribeAddresses filters: OR within a filter, AND across, wildcards, case-sensitive', async (t) => {
  const { world, instance, client } = await ec2Fixture(t);
  const orange = world.addAddress({ color: 'orange', team: 'a' }, '198.51.100.10');
  const orchid = world.addAddress({ color: 'orchid' }, '198.51.100.11');
  const blue = world.addAddress({ color: 'blue', team: 'a' }, '198.51.100.12');
  const literal = world.addAddress({ color: 'or*' }, '198.51.100.13');
  world.addAddress({ other: 'x' }, '198.51.100.14');
  const eni = instance.enis[0]!;
  const assoc = world.associate({ allocationId: blue.allocationId, networkInterfaceId: eni.networkInterfaceId });
  const c = client();
  const ids = async (...filters: Filter[]): Promise<string[]> => {
    const out = await c.send(new DescribeAddressesCommand({ Filters: filters }));
    return (out.Addresses ?? []).map((a) => a.AllocationId!).sort();
  };
  const sorted = (...a: { allocationId: string }[]) => a.map((x) => x.allocationId).sort();

  assert.deepEqual(await ids({ Name: 'tag:color', Values: ['orange'] }), sorted(orange));
  assert.deepEqual(await ids({ Name: 'tag:color', Values: ['orange', 'blue'] }), sorted(orange, blue));
  assert.deepEqual(await ids({ Name: 'tag:color', Values: ['or*'] }), sorted(orange, orchid, literal));
  assert.deepEqual(await ids({ Name: 'tag:color', Values: ['or\\*'] }), sorted(literal));
  assert.deepEqual(await ids({ Name: 'tag:color', Values: ['orc?id'] }), sorted(orchid));
  assert.deepEqual(await ids({ Name: 'tag:color', Values: ['ORANGE'] }), []);
  assert.deepEqual(await ids({ Name: 'tag:color', Values: ['orange'] }, { Name: 'tag:team', Values: ['a'] }), sorted(orange));
  assert.deepEqual(await ids({ Name: 'tag-key', Values: ['team'] }), sorted(orange, blue));
  assert.deepEqual(await ids({ Name: 'tag-key', Values: ['team'] }, { Name: 'tag:color', Values: ['b*'] }), sorted(blue));
  assert.deepEqual(await ids({ Name: 'allocation-id', Values: [orchid.allocationId] }), sorted(orchid));
  assert.deepEqual(await ids({ Name: 'public-ip', Values: ['198.51.100.1?'] }).then((l) => l.length), 5);
  assert.deepEqual(await ids({ Name: 'association-id', Values: [assoc.associationId] }), sorted(blue));
  assert.deepEqual(await ids({ Name: 'instance-id', Values: [instance.instanceId] }), sorted(blue));
  assert.deepEqual(await ids({ Name: 'network-interface-id', Values: [eni.networkInterfaceId] }), sorted(blue));
  assert.deepEqual(await ids({ Name: 'network-interface-owner-id', Values: [ACCOUNT_ID] }), sorted(blue));
  assert.deepEqual(await ids({ Name: 'private-ip-address', Values: [eni.privateIps[0]!] }), sorted(blue));
  assert.deepEqual(await ids({ Name: 'network-border-group', Values: [world.region] }).then((l) => l.length), 5);
  assert.deepEqual(await ids({ Name: 'network-border-group', Values: ['us-east-1'] }), []);

  const error = await rejectsWith(ids({ Name: 'public-ipv4-pool', Values: ['amazon'] }), 'InvalidParameterValue', 400);
  assert.equal(error.message, "The filter 'public-ipv4-pool' is invalid");
  assert.equal(error.$fault, 'client');
});

test('DescribeAddresses by AllocationId and PublicIp, and their NotFound codes', async (t) => {
  const { world, client } = await ec2Fixture(t);
  const [a, b] = world.addPool(2, {});
  const c = client();
  const byId = await c.send(new DescribeAddressesCommand({ AllocationIds: [a!.allocationId] }));
  assert.deepEqual(byId.Addresses?.map((x) => x.PublicIp), [a!.publicIp]);
  const byIp = await c.send(new DescribeAddressesCommand({ PublicIps: [b!.publicIp] }));
  assert.deepEqual(byIp.Addresses?.map((x) => x.AllocationId), [b!.allocationId]);
  await rejectsWith(c.send(new DescribeAddressesCommand({ AllocationIds: [a!.allocationId, 'eipalloc-0000'] })), 'InvalidAllocationID.NotFound', 400);
  await rejectsWith(c.send(new DescribeAddressesCommand({ PublicIps: ['192.0.2.1'] })), 'InvalidAddress.NotFound', 400);
  const none = await c.send(new DescribeAddressesCommand({ Filters: [{ Name: 'allocation-id', Values: ['eipalloc-0000'] }] }));
  assert.deepEqual(none.Addresses, []);
});

test('AssociateAddress is a compare-and-swap; AllowReassociation=true moves the address', async (t) => {
  const { world, instance, client } = await ec2Fixture(t);
  const [address] = world.addPool(1, { color: 'orange' });
  const other = world.addInstance();
  const c = client();
  const mine = instance.enis[0]!;
  const out = await c.send(
    new AssociateAddressCommand({
      AllocationId: address!.allocationId,
      NetworkInterfaceId: mine.networkInterfaceId,
      PrivateIpAddress: mine.privateIps[0],
      AllowReassociation: false,
    }),
  );
  assert.equal(out.AssociationId, address!.association?.associationId);
  assert.match(out.AssociationId ?? '', /^eipassoc-/);

  const theirs = other.enis[0]!;
  const taken = { AllocationId: address!.allocationId, NetworkInterfaceId: theirs.networkInterfaceId, PrivateIpAddress: theirs.privateIps[0] };
  const error = await rejectsWith(c.send(new AssociateAddressCommand({ ...taken, AllowReassociation: false })), 'Resource.AlreadyAssociated', 400);
  assert.equal(error.message, `resource ${address!.allocationId} is already associated with associate-id ${out.AssociationId}`);
  assert.equal(address!.association?.networkInterfaceId, mine.networkInterfaceId);

  const moved = await c.send(new AssociateAddressCommand({ ...taken, AllowReassociation: true }));
  assert.equal(address!.association?.networkInterfaceId, theirs.networkInterfaceId);
  assert.equal(address!.association?.associationId, moved.AssociationId);
});

test('AssociateAddress by InstanceId needs a single interface; another EIP on the target is replaced', async (t) => {
  const { world, instance, client } = await ec2Fixture(t);
  const [first, second] = world.addPool(2, {});
  const c = client();
  await c.send(new AssociateAddressCommand({ AllocationId: first!.allocationId, InstanceId: instance.instanceId }));
  assert.equal(first!.association?.networkInterfaceId, instance.enis[0]!.networkInterfaceId);

  // EC2 silently takes the first EIP off the private IP and leaves it allocated.
  await c.send(new AssociateAddressCommand({ AllocationId: second!.allocationId, InstanceId: instance.instanceId }));
  assert.equal(first!.association, undefined);
  assert.equal(second!.association?.privateIp, instance.enis[0]!.privateIps[0]);
  assert.ok(world.addresses.has(first!.allocationId));

  world.attachEni(instance.instanceId);
  const error = await rejectsWith(
    c.send(new AssociateAddressCommand({ AllocationId: first!.allocationId, InstanceId: instance.instanceId })),
    'InvalidInstanceID',
    400,
  );
  assert.match(error.message, /multiple interfaces/);
});

test('AssociateAddress and DisassociateAddress error codes', async (t) => {
  const { world, instance, client } = await ec2Fixture(t);
  const [address] = world.addPool(1, {});
  const eni = instance.enis[0]!;
  const c = client();
  const send = (input: AssociateAddressCommandInput) => c.send(new AssociateAddressCommand(input));
  await rejectsWith(send({ AllocationId: 'eipalloc-0000', NetworkInterfaceId: eni.networkInterfaceId }), 'InvalidAllocationID.NotFound', 400);
  await rejectsWith(send({ AllocationId: address!.allocationId, NetworkInterfaceId: 'eni-0000' }), 'InvalidNetworkInterfaceID.NotFound', 400);
  await rejectsWith(send({ AllocationId: address!.allocationId, InstanceId: 'i-0000' }), 'InvalidInstanceID.NotFound', 400);
  await rejectsWith(
    send({ AllocationId: address!.allocationId, NetworkInterfaceId: eni.networkInterfaceId, PrivateIpAddress: '10.9.9.9' }),
    'InvalidParameterValue',
    400,
  );
  await rejectsWith(send({ NetworkInterfaceId: eni.networkInterfaceId }), 'MissingParameter', 400);
  await rejectsWith(send({ AllocationId: address!.allocationId }), 'MissingParameter', 400);

  const { AssociationId } = await send({ AllocationId: address!.allocationId, NetworkInterfaceId: eni.networkInterfaceId });
  const ok = await c.send(new DisassociateAddressCommand({ AssociationId }));
  assert.equal(ok.$metadata.httpStatusCode, 200);
  assert.equal(address!.association, undefined);
  // An id that never existed; the repeat of a done disassociation is in ec2-reference.test.
  await rejectsWith(c.send(new DisassociateAddressCommand({ AssociationId: 'eipassoc-0000' })), 'InvalidAssociationID.NotFound', 400);
  await rejectsWith(c.send(new DisassociateAddressCommand({})), 'MissingParameter', 400);
});

test('DescribeInstances shows interfaces with device index, private IPs and the EIP', async (t) => {
  const { world, instance, client } = await ec2Fixture(t);
  const second = world.attachEni(instance.instanceId);
  const secondaryIp = world.addPrivateIp(second.networkInterfaceId);
  const [address] = world.addPool(1, {});
  world.associate({ allocationId: address!.allocationId, networkInterfaceId: second.networkInterfaceId, privateIp: secondaryIp });
  const c = client();

  const out = await c.send(new DescribeInstancesCommand({ InstanceIds: [instance.instanceId] }));
  const described = out.Reservations?.[0]?.Instances?.[0];
  assert.equal(described?.InstanceId, instance.instanceId);
  assert.equal(described?.PrivateIpAddress, instance.enis[0]!.privateIps[0]);
  assert.equal(described?.PrivateDnsName, instance.hostname);
  const enis = described?.NetworkInterfaces ?? [];
  assert.deepEqual(
    enis.map((e) => [e.NetworkInterfaceId, e.Attachment?.DeviceIndex]),
    [
      [instance.enis[0]!.networkInterfaceId, 0],
      [second.networkInterfaceId, 1],
    ],
  );
  assert.deepEqual(
    enis[1]?.PrivateIpAddresses?.map((p) => [p.PrivateIpAddress, p.Primary, p.Association?.PublicIp]),
    [
      [second.privateIps[0], true, undefined],
      [secondaryIp, false, address!.publicIp],
    ],
  );
  await rejectsWith(c.send(new DescribeInstancesCommand({ InstanceIds: ['i-0000'] })), 'InvalidInstanceID.NotFound', 400);
});

test('DescribeNetworkInterfaces by id and by attachment.instance-id', async (t) => {
  const { world, instance, client } = await ec2Fixture(t);
  const second = world.attachEni(instance.instanceId);
  world.addInstance();
  const c = client();
  const byInstance = await c.send(
    new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [instance.instanceId] }] }),
  );
  assert.deepEqual(
    byInstance.NetworkInterfaces?.map((e) => [e.NetworkInterfaceId, e.Attachment?.InstanceId, e.Attachment?.DeviceIndex, e.Status]),
    [
      [instance.enis[0]!.networkInterfaceId, instance.instanceId, 0, 'in-use'],
      [second.networkInterfaceId, instance.instanceId, 1, 'in-use'],
    ],
  );
  const byId = await c.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [second.networkInterfaceId] }));
  assert.equal(byId.NetworkInterfaces?.[0]?.MacAddress, second.mac);
  assert.deepEqual(byId.NetworkInterfaces?.[0]?.PrivateIpAddresses?.map((p) => p.PrivateIpAddress), second.privateIps);
  await rejectsWith(c.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ['eni-0000'] })), 'InvalidNetworkInterfaceID.NotFound', 400);
});

test('unsigned and badly signed requests are refused with AuthFailure 401', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t);
  world.addPool(1, {});

  const unsigned = await fetch(`${sim.url}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'Action=DescribeAddresses&Version=2016-11-15',
  });
  assert.equal(unsigned.status, 401);
  assert.match(await unsigned.text(), /<Code>AuthFailure<\/Code>/);

  const { credentials } = instance;
  await rejectsWith(client({ credentials: { ...credentials, secretAccessKey: 'wrong' } }).send(new DescribeAddressesCommand({})), 'AuthFailure', 401);
  await rejectsWith(client({ credentials: { ...credentials, accessKeyId: 'ASIAUNKNOWN' } }).send(new DescribeAddressesCommand({})), 'AuthFailure', 401);
  await rejectsWith(client({ credentials: { ...credentials, sessionToken: 'forged' } }).send(new DescribeAddressesCommand({})), 'AuthFailure', 401);
  await rejectsWith(client({ region: 'us-east-1' }).send(new DescribeAddressesCommand({})), 'AuthFailure', 401);
  assert.equal(sim.count({ outcome: 'AuthFailure' }), 5);
  assert.equal(sim.count({ caller: instance.instanceId }), 0);
});

test('static credentials sign; rotated role keys stay valid until they expire', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t);
  const staticKey = sim.addStaticCredentials('operator');
  await client({ credentials: staticKey }).send(new DescribeAddressesCommand({}));
  assert.equal(sim.count({ caller: 'operator' }), 1);

  const old = instance.credentials;
  await client({ credentials: old }).send(new DescribeAddressesCommand({}));
  instance.credentials = world.newCredentials();
  await client({ credentials: old }).send(new DescribeAddressesCommand({}));
  await client({ credentials: instance.credentials }).send(new DescribeAddressesCommand({}));
  assert.equal(sim.count({ caller: instance.instanceId, outcome: 'ok' }), 3);

  const expired = world.newCredentials(-1000);
  world.addInstance().credentials = expired;
  await rejectsWith(client({ credentials: expired }).send(new DescribeAddressesCommand({})), 'RequestExpired', 400);
});

test('answers carry the EC2 namespace, a requestId and a correct Date header', async (t) => {
  const { world, sim, instance } = await ec2Fixture(t);
  const ok = await signedPost(sim, world.region, instance.credentials, 'Action=DescribeAddresses&Version=2016-11-15');
  assert.equal(ok.status, 200);
  assert.match(ok.text, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<DescribeAddressesResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/"><requestId>[0-9a-f-]{36}<\/requestId><addressesSet><\/addressesSet>/);
  assert.ok(Math.abs(Date.parse(ok.date ?? '') - Date.now()) < 2000, `Date header ${ok.date}`);

  const unknown = await signedPost(sim, world.region, instance.credentials, 'Action=RunInstances&Version=2016-11-15');
  assert.equal(unknown.status, 400);
  assert.match(unknown.text, /^<\?xml[^>]*>\n<Response><Errors><Error><Code>InvalidAction<\/Code><Message>[^<]+<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/);
  assert.ok(unknown.date);
});

test('malformed request bodies get error XML, and the server keeps serving', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t);
  const post = (body: string) => signedPost(sim, world.region, instance.credentials, body);
  const cases: [string, string][] = [
    ['', 'MissingAction'],
    ['%%%&&&==', 'MissingAction'],
    ['\u0000\u00ff binary \ufffd', 'MissingAction'],
    ['Action=DescribeAddresses&Filter.1.Value.1=x', 'MissingParameter'],
    ['Action=AssociateAddress&AllocationId=eipalloc-1&NetworkInterfaceId=eni-1&AllowReassociation=maybe', 'InvalidParameterValue'],
    ['Action=Describe%Addresses', 'InvalidAction'],
  ];
  for (const [body, code] of cases) {
    const answer = await post(body);
    assert.equal(answer.status, 400, body);
    assert.match(answer.text, new RegExp(`<Code>${code.replaceAll('.', '\\.')}</Code>`), body);
  }
  const { Addresses } = await client().send(new DescribeAddressesCommand({}));
  assert.deepEqual(Addresses, []);
});

test('the deny hook answers UnauthorizedOperation 403', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t);
  const [address] = world.addPool(1, {});
  sim.faults.deny = (action, params, caller) => action === 'AssociateAddress' && params.AllocationId === address!.allocationId && caller === instance.instanceId;
  const c = client();
  await rejectsWith(
    c.send(new AssociateAddressCommand({ AllocationId: address!.allocationId, NetworkInterfaceId: instance.enis[0]!.networkInterfaceId })),
    'UnauthorizedOperation',
    403,
  );
  assert.equal(address!.association, undefined);
  await c.send(new DescribeAddressesCommand({}));
});
