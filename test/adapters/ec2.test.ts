// The production EC2 adapter against the simulated EC2 endpoint: shape mapping, error
// classification, per-attempt call records, timeouts and the SDK's endpoint variables.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AgentError } from '../../agent/shared/errors.js';
import type { ErrorKind } from '../../agent/shared/errors.js';
import type { Ec2CallRecord, Ec2Port } from '../../agent/shared/ports.js';
import { createEc2Client, createEc2Port } from '../../agent/adapters/ec2.js';
import type { Ec2ClientOptions } from '../../agent/adapters/ec2.js';
import { classifyEc2Error } from '../../agent/adapters/ec2-errors.js';
import { World } from '../sim/world.js';
import type { Instance } from '../sim/world.js';
import { startEc2 } from '../sim/ec2.js';
import type { Ec2Sim } from '../sim/ec2.js';

interface Setup {
  world: World;
  sim: Ec2Sim;
  instance: Instance;
  records: Ec2CallRecord[];
  port(options?: Partial<Ec2ClientOptions>): Ec2Port;
}

async function setup(t: TestContext): Promise<Setup> {
  const world = new World();
  const instance = world.addInstance();
  const sim = await startEc2(world);
  const records: Ec2CallRecord[] = [];
  const clients: ReturnType<typeof createEc2Client>[] = [];
  t.after(async () => {
    for (const client of clients) client.destroy();
    await sim.close();
  });
  return {
    world,
    sim,
    instance,
    records,
    port(options = {}) {
      const client = createEc2Client({ region: world.region, endpoint: sim.url, credentials: instance.credentials, maxAttempts: 1, ...options });
      clients.push(client);
      return createEc2Port({ client, onCall: (record) => records.push(record) });
    },
  };
}

async function rejectsAs(promise: Promise<unknown>, kind: ErrorKind, code: string): Promise<AgentError> {
  const error = await promise.then(
    () => assert.fail(`expected ${kind}/${code}, the call succeeded`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof AgentError, `not an AgentError: ${String(error)}`);
  assert.equal(error.kind, kind, error.message);
  assert.equal(error.code, code, error.message);
  return error;
}

test('listPool maps DescribeAddresses items to AddressView', async (t) => {
  const { world, instance, port, sim } = await setup(t);
  const [held, free] = world.addPool(2, { color: 'orange' });
  world.addAddress({ color: 'blue' });
  const eni = instance.enis[0]!;
  const association = world.associate({ allocationId: held!.allocationId, networkInterfaceId: eni.networkInterfaceId });

  const pool = await port().listPool({ tagKey: 'color', tagValue: 'orange' });
  assert.deepEqual(pool, [
    {
      allocationId: held!.allocationId,
      publicIp: held!.publicIp,
      associationId: association.associationId,
      networkInterfaceId: eni.networkInterfaceId,
      privateIp: eni.privateIps[0],
      instanceId: instance.instanceId,
      tags: { color: 'orange' },
    },
    { allocationId: free!.allocationId, publicIp: free!.publicIp, tags: { color: 'orange' } },
  ]);
  assert.equal(sim.calls[0]?.params['Filter.1.Name'], 'tag:color');

  const anyValue = await port().listPool({ tagKey: 'color' });
  assert.equal(anyValue.length, 3);
  assert.equal(sim.calls[1]?.params['Filter.1.Name'], 'tag-key');
});

test('pool tag values are literal: wildcards in them are escaped (G2)', async (t) => {
  const { world, port } = await setup(t);
  const star = world.addAddress({ color: 'or*' });
  world.addAddress({ color: 'orange' });
  const question = world.addAddress({ 'te?m': 'a' });
  world.addAddress({ team: 'a' });
  assert.deepEqual((await port().listPool({ tagKey: 'color', tagValue: 'or*' })).map((a) => a.allocationId), [star.allocationId]);
  assert.deepEqual((await port().listPool({ tagKey: 'te?m' })).map((a) => a.allocationId), [question.allocationId]);
});

test('empty strings from the SDK are absent fields', async (t) => {
  const { world, sim, port } = await setup(t);
  const [address] = world.addPool(1, { color: 'orange' });
  const foreign = world.addAddress({ color: 'orange' });
  world.associateForeign(foreign.allocationId); // an interface of no instance
  sim.faults.emptyInstanceId = true;
  const [free, held] = await port().listPool({ tagKey: 'color', tagValue: 'orange' });
  assert.deepEqual(free, { allocationId: address!.allocationId, publicIp: address!.publicIp, tags: { color: 'orange' } });
  assert.equal(held?.instanceId, undefined);
  assert.ok(held?.associationId);
  assert.ok(!('instanceId' in free!));
});

test('describeAllocation and describePublicIp: undefined when the address is gone', async (t) => {
  const { world, port } = await setup(t);
  const [address] = world.addPool(1, { color: 'orange' });
  const ec2 = port();
  assert.equal((await ec2.describeAllocation(address!.allocationId))?.publicIp, address!.publicIp);
  assert.equal((await ec2.describePublicIp(address!.publicIp))?.allocationId, address!.allocationId);
  world.addresses.delete(address!.allocationId); // released by the operator
  assert.equal(await ec2.describeAllocation(address!.allocationId), undefined);
  assert.equal(await ec2.describePublicIp(address!.publicIp), undefined);
});

test('malformed answers: items without allocationId or publicIp, no addressesSet, no associationId', async (t) => {
  const { world, sim, instance, port } = await setup(t);
  const ec2 = port();
  const wrap = (body: string) => `<DescribeAddressesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>${body}</DescribeAddressesResponse>`;
  sim.script('DescribeAddresses', { raw: wrap('<addressesSet><item><publicIp>192.0.2.1</publicIp></item></addressesSet>') });
  assert.match((await rejectsAs(ec2.listPool({ tagKey: 'color' }), 'malformed', 'ec2.malformed')).message, /allocationId/);
  sim.script('DescribeAddresses', { raw: wrap('<addressesSet><item><allocationId>eipalloc-1</allocationId><publicIp/></item></addressesSet>') });
  assert.match((await rejectsAs(ec2.listPool({ tagKey: 'color' }), 'malformed', 'ec2.malformed')).message, /publicIp/);
  sim.script('DescribeAddresses', { raw: wrap('') });
  assert.match((await rejectsAs(ec2.describeAllocation('eipalloc-1'), 'malformed', 'ec2.malformed')).message, /addressesSet/);
  sim.script('DescribeAddresses', 'malformed');
  await rejectsAs(ec2.listPool({ tagKey: 'color' }), 'malformed', 'ec2.malformed');

  const [address] = world.addPool(1, {});
  sim.script('AssociateAddress', { raw: '<AssociateAddressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><return>true</return></AssociateAddressResponse>' });
  const request = { allocationId: address!.allocationId, networkInterfaceId: instance.enis[0]!.networkInterfaceId, privateIp: instance.enis[0]!.privateIps[0]! };
  assert.match((await rejectsAs(ec2.associate(request), 'malformed', 'ec2.malformed')).message, /associationId/);
  sim.script('AssociateAddress', 'empty');
  await rejectsAs(ec2.associate(request), 'malformed', 'ec2.malformed');
});

test('associate always sends AllowReassociation=false with the interface and private IP (G1)', async (t) => {
  const { world, sim, instance, port } = await setup(t);
  const [address] = world.addPool(1, {});
  const other = world.addInstance();
  const ec2 = port();
  const eni = instance.enis[0]!;
  const associationId = await ec2.associate({ allocationId: address!.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0]! });
  assert.equal(associationId, address!.association?.associationId);
  assert.deepEqual(sim.calls[0]?.params, {
    Action: 'AssociateAddress',
    Version: '2016-11-15',
    AllocationId: address!.allocationId,
    NetworkInterfaceId: eni.networkInterfaceId,
    PrivateIpAddress: eni.privateIps[0],
    AllowReassociation: 'false',
  });

  const theirs = other.enis[0]!;
  const lost = await rejectsAs(
    ec2.associate({ allocationId: address!.allocationId, networkInterfaceId: theirs.networkInterfaceId, privateIp: theirs.privateIps[0]! }),
    'conflict',
    'Resource.AlreadyAssociated',
  );
  assert.equal((lost.cause as { name?: string }).name, 'Resource.AlreadyAssociated');
  assert.equal(address!.association?.networkInterfaceId, eni.networkInterfaceId);

  await ec2.disassociate(associationId);
  assert.equal(address!.association, undefined);
  // A repeat: no error, as the reference has it; or NotFound, as seen in the wild.
  await ec2.disassociate(associationId);
  sim.faults.staleDisassociate = 'not-found';
  await rejectsAs(ec2.disassociate(associationId), 'not-found', 'InvalidAssociationID.NotFound');
  await rejectsAs(
    ec2.associate({ allocationId: 'eipalloc-0000', networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0]! }),
    'not-found',
    'InvalidAllocationID.NotFound',
  );
});

test('EC2 error codes and statuses are classified into kinds', async (t) => {
  const { sim, port } = await setup(t);
  const ec2 = port();
  const cases: [{ error: string; status?: number }, ErrorKind][] = [
    [{ error: 'RequestLimitExceeded' }, 'throttled'],
    [{ error: 'SomethingSlowDown', status: 429 }, 'throttled'],
    [{ error: 'InternalError' }, 'transient'],
    [{ error: 'Unavailable' }, 'transient'],
    [{ error: 'ServiceUnavailable', status: 503 }, 'transient'],
    [{ error: 'NewServerFault', status: 502 }, 'transient'],
    [{ error: 'Resource.AlreadyAssociated' }, 'conflict'],
    [{ error: 'InvalidNetworkInterfaceID.NotFound' }, 'not-found'],
    [{ error: 'InvalidInstanceID.NotFound' }, 'not-found'],
    [{ error: 'InvalidAddress.NotFound' }, 'not-found'],
    [{ error: 'AuthFailure' }, 'auth'],
    [{ error: 'UnauthorizedOperation' }, 'auth'],
    [{ error: 'ExpiredToken' }, 'auth'],
    [{ error: 'SomeDenial', status: 403 }, 'auth'],
    [{ error: 'InvalidParameterValue' }, 'rejected'],
    [{ error: 'Gateway.NotAttached' }, 'rejected'],
  ];
  for (const [fault, kind] of cases) {
    sim.script('DescribeAddresses', fault);
    const error = await rejectsAs(ec2.listPool({ tagKey: 'color' }), kind, fault.error);
    assert.match(error.message, new RegExp(`^EC2 DescribeAddresses: ${fault.error.replaceAll('.', '\\.')} \\(HTTP \\d+\\): `));
    assert.ok(error.cause instanceof Error);
  }
  sim.script('DescribeAddresses', 'reset');
  await rejectsAs(ec2.listPool({ tagKey: 'color' }), 'transient', 'ec2.network');
});

test('bugs are rethrown unchanged, never classified', async (t) => {
  const { world, sim, instance } = await setup(t);
  const client = createEc2Client({ region: world.region, endpoint: sim.url, credentials: instance.credentials });
  t.after(() => client.destroy());
  const bug = new TypeError('a bug');
  client.middlewareStack.add(
    () => () => {
      throw bug;
    },
    { step: 'initialize' },
  );
  await assert.rejects(createEc2Port({ client }).listPool({ tagKey: 'color' }), (e) => e === bug);
  assert.equal(classifyEc2Error('DescribeAddresses', new RangeError('x')), undefined);
  assert.equal(classifyEc2Error('DescribeAddresses', 'a string'), undefined);
  assert.equal(sim.count(), 0);
});

test('onCall sees every HTTP attempt, the SDK retries included', async (t) => {
  const { world, sim, instance, port, records } = await setup(t);
  const [address] = world.addPool(1, {});
  const ec2 = port({ maxAttempts: 3 });
  for (let i = 0; i < 3; i++) sim.script('DescribeAddresses', { error: 'RequestLimitExceeded' });
  await rejectsAs(ec2.listPool({ tagKey: 'color' }), 'throttled', 'RequestLimitExceeded');
  assert.deepEqual(records, Array.from({ length: 3 }, () => ({ action: 'DescribeAddresses', outcome: 'RequestLimitExceeded', kind: 'throttled' })));
  assert.equal(sim.count({ action: 'DescribeAddresses' }), 3);

  records.length = 0;
  sim.script('AssociateAddress', { error: 'InternalError' });
  sim.script('AssociateAddress', 'reset');
  const eni = instance.enis[0]!;
  await ec2.associate({ allocationId: address!.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0]! });
  sim.script('DescribeAddresses', 'malformed');
  await rejectsAs(ec2.describeAllocation(address!.allocationId), 'malformed', 'ec2.malformed');
  // Resource.AlreadyAssociated is final: the SDK does not retry it.
  const theirs = world.addInstance().enis[0]!;
  await rejectsAs(
    ec2.associate({ allocationId: address!.allocationId, networkInterfaceId: theirs.networkInterfaceId, privateIp: theirs.privateIps[0]! }),
    'conflict',
    'Resource.AlreadyAssociated',
  );
  assert.deepEqual(records, [
    { action: 'AssociateAddress', outcome: 'InternalError', kind: 'transient' },
    { action: 'AssociateAddress', outcome: 'network', kind: 'transient' },
    { action: 'AssociateAddress', outcome: 'ok' },
    { action: 'DescribeAddresses', outcome: 'malformed', kind: 'malformed' },
    { action: 'AssociateAddress', outcome: 'Resource.AlreadyAssociated', kind: 'conflict' },
  ]);
});

test('a hanging endpoint fails as transient within the request timeout', { timeout: 5000 }, async (t) => {
  const { sim, port, records } = await setup(t);
  sim.script('DescribeAddresses', 'hang');
  const started = Date.now();
  const error = await rejectsAs(port({ requestTimeoutMs: 200 }).listPool({ tagKey: 'color' }), 'transient', 'ec2.network');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 190 && elapsed < 1500, `took ${elapsed} ms`);
  assert.equal((error.cause as { name?: string }).name, 'TimeoutError');
  assert.deepEqual(records, [{ action: 'DescribeAddresses', outcome: 'network', kind: 'transient' }]);
});

test('a refused connection is transient', async (t) => {
  const { world, sim, instance } = await setup(t);
  const url = sim.url;
  await sim.close();
  const client = createEc2Client({ region: world.region, endpoint: url, credentials: instance.credentials, maxAttempts: 1 });
  t.after(() => client.destroy());
  await rejectsAs(createEc2Port({ client }).listPool({ tagKey: 'color' }), 'transient', 'ec2.network');
});

function withEnv(t: TestContext, vars: Record<string, string | undefined>): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  t.after(() => apply(saved));
}

test('AWS_ENDPOINT_URL_EC2 (over AWS_ENDPOINT_URL) and env credentials are honoured', async (t) => {
  const { world, sim } = await setup(t);
  world.addPool(1, { color: 'orange' });
  const key = sim.addStaticCredentials('env-node');
  withEnv(t, {
    AWS_ENDPOINT_URL_EC2: sim.url,
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9', // discard port: would fail if it won
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
  });
  const client = createEc2Client({ region: world.region, maxAttempts: 1 });
  t.after(() => client.destroy());
  const pool = await createEc2Port({ client }).listPool({ tagKey: 'color', tagValue: 'orange' });
  assert.equal(pool.length, 1);
  assert.equal(sim.count({ caller: 'env-node', outcome: 'ok' }), 1);

  delete process.env.AWS_ENDPOINT_URL_EC2;
  process.env.AWS_ENDPOINT_URL = sim.url;
  const generic = createEc2Client({ region: world.region, maxAttempts: 1 });
  t.after(() => generic.destroy());
  await createEc2Port({ client: generic }).listPool({ tagKey: 'color' });
  assert.equal(sim.count({ caller: 'env-node', outcome: 'ok' }), 2);
});
