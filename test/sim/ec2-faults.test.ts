// The simulated EC2 endpoint's faults, seen through the real SDK: throttling buckets,
// error rates, stale reads, lost races, latency, scripted wire failures, the call log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { AssociateAddressCommand, DescribeAddressesCommand, DisassociateAddressCommand } from '@aws-sdk/client-ec2';
import { ec2Fixture, rejectsWith } from './ec2-testkit.js';

async function until(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('token buckets: reads and writes are throttled separately, then refill', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t, {
    // A slow refill, so that a loaded machine cannot slip a token in between the calls.
    faults: { throttle: { read: { capacity: 2, refillPerSecond: 1 }, write: { capacity: 1, refillPerSecond: 0 } } },
  });
  const [a, b] = world.addPool(2, {});
  const c = client();
  const describe = () => c.send(new DescribeAddressesCommand({}));
  await describe();
  await describe();
  await rejectsWith(describe(), 'RequestLimitExceeded', 503);

  const eni = instance.enis[0]!.networkInterfaceId;
  await c.send(new AssociateAddressCommand({ AllocationId: a!.allocationId, NetworkInterfaceId: eni }));
  await rejectsWith(c.send(new AssociateAddressCommand({ AllocationId: b!.allocationId, NetworkInterfaceId: eni })), 'RequestLimitExceeded', 503);
  assert.equal(b!.association, undefined);

  await new Promise((resolve) => setTimeout(resolve, 1100)); // 1/s: one token is back after a second
  await describe();
  assert.equal(sim.count({ outcome: 'RequestLimitExceeded' }), 2);

  sim.faults.throttle = false;
  await c.send(new AssociateAddressCommand({ AllocationId: b!.allocationId, NetworkInterfaceId: eni }));
});

test('the published EC2 bucket sizes apply with throttle: true', async (t) => {
  // The buckets run on the world's clock: held still, nothing refills however slow the machine.
  let now = Date.now();
  const { sim, client } = await ec2Fixture(t, { faults: { throttle: true } }, { now: () => now });
  const c = client();
  const burst = async (n: number) => (await Promise.allSettled(Array.from({ length: n }, () => c.send(new DescribeAddressesCommand({}))))).filter((r) => r.status === 'rejected').length;
  assert.equal(await burst(110), 10, 'Describe: 100 in the bucket');
  now += 500;
  assert.equal(await burst(11), 1, '20/s refill: 10 more after 0.5 s');
  assert.equal(sim.count({ outcome: 'RequestLimitExceeded' }), 11);
});

test('error rates answer InternalError 500, Unavailable 503, RequestLimitExceeded 503', async (t) => {
  const { sim, client } = await ec2Fixture(t);
  const c = client();
  sim.faults.errorRate = { InternalError: 1 };
  await rejectsWith(c.send(new DescribeAddressesCommand({})), 'InternalError', 500);
  sim.faults.errorRate = { Unavailable: 1 };
  await rejectsWith(c.send(new DescribeAddressesCommand({})), 'Unavailable', 503);
  sim.faults.errorRate = { RequestLimitExceeded: 1 };
  await rejectsWith(c.send(new DescribeAddressesCommand({})), 'RequestLimitExceeded', 503);
  sim.faults.errorRate = {};
  await c.send(new DescribeAddressesCommand({}));
});

test('stale reads: DescribeAddresses lags AssociateAddress by staleReadMs', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t);
  const [address] = world.addPool(1, {});
  sim.faults.staleReadMs = 100;
  await new Promise((resolve) => setTimeout(resolve, 110)); // the pool itself is older than the lag
  const c = client();
  const { AssociationId } = await c.send(
    new AssociateAddressCommand({ AllocationId: address!.allocationId, NetworkInterfaceId: instance.enis[0]!.networkInterfaceId }),
  );
  const read = async () => (await c.send(new DescribeAddressesCommand({}))).Addresses ?? [];
  const stale = await read();
  assert.equal(stale.length, 1);
  assert.equal(stale[0]?.AssociationId, undefined);
  let seen: string | undefined;
  const deadline = Date.now() + 2000;
  while (seen === undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    seen = (await read())[0]?.AssociationId;
  }
  assert.equal(seen, AssociationId);
});

test('races: the next AssociateAddress on a free address loses to a foreign interface', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t);
  const [a, b, c3] = world.addPool(3, {});
  const eni = instance.enis[0]!.networkInterfaceId;
  const c = client();
  sim.faults.raceNext = 1;
  await rejectsWith(c.send(new AssociateAddressCommand({ AllocationId: a!.allocationId, NetworkInterfaceId: eni, AllowReassociation: false })), 'Resource.AlreadyAssociated', 400);
  assert.ok(a!.association && a!.association.networkInterfaceId !== eni);
  assert.equal(sim.faults.raceNext, 0);
  await c.send(new AssociateAddressCommand({ AllocationId: b!.allocationId, NetworkInterfaceId: eni }));
  assert.equal(b!.association?.networkInterfaceId, eni);

  sim.faults.raceProbability = 1;
  await rejectsWith(c.send(new AssociateAddressCommand({ AllocationId: c3!.allocationId, NetworkInterfaceId: eni, AllowReassociation: false })), 'Resource.AlreadyAssociated', 400);
  // an address already held is not raced again: the caller's own association stays
  await c.send(new AssociateAddressCommand({ AllocationId: b!.allocationId, NetworkInterfaceId: eni }));
  assert.equal(b!.association?.networkInterfaceId, eni);
});

test('latency delays every answer', async (t) => {
  const { sim, client } = await ec2Fixture(t, { faults: { latencyMs: [80, 80] } });
  const started = Date.now();
  await client().send(new DescribeAddressesCommand({}));
  assert.ok(Date.now() - started >= 75);
  sim.faults.latencyMs = [0, 0];
});

test('scripted errors, raw answers and wire faults, in order, per action or for any', { timeout: 5000 }, async (t) => {
  const { world, sim, client } = await ec2Fixture(t);
  world.addPool(1, {});
  const c = client();
  const describe = () => c.send(new DescribeAddressesCommand({}));
  sim.script('DescribeAddresses', { error: 'Gateway.NotAttached', message: 'no gateway' });
  sim.script('DescribeAddresses', { error: 'Teapot', status: 418 });
  sim.script('*', { error: 'Unavailable' });
  const first = await rejectsWith(describe(), 'Gateway.NotAttached', 400);
  assert.equal(first.message, 'no gateway');
  await rejectsWith(describe(), 'Teapot', 418);
  await rejectsWith(c.send(new DisassociateAddressCommand({ AssociationId: 'eipassoc-1' })), 'Unavailable', 503);

  sim.script('DescribeAddresses', 'malformed');
  await assert.rejects(describe(), (e: Error & { $metadata?: { httpStatusCode?: number } }) => /XML parse error/.test(e.message) && e.$metadata?.httpStatusCode === 200);
  sim.script('DescribeAddresses', 'empty');
  assert.equal((await describe()).Addresses, undefined);
  sim.script('DescribeAddresses', { raw: '<DescribeAddressesResponse><addressesSet><item><publicIp>192.0.2.9</publicIp></item></addressesSet></DescribeAddressesResponse>' });
  assert.deepEqual((await describe()).Addresses, [{ PublicIp: '192.0.2.9' }]);
  sim.script('DescribeAddresses', 'truncated');
  await assert.rejects(describe(), (e: Error & { code?: string }) => e.code === 'ECONNRESET');
  sim.script('DescribeAddresses', 'reset');
  await assert.rejects(describe(), (e: Error & { code?: string }) => e.code === 'ECONNRESET' || e.code === 'EPIPE');
  sim.script('DescribeAddresses', 'hang');
  await assert.rejects(client({ requestHandler: { requestTimeout: 150, throwOnRequestTimeout: true } }).send(new DescribeAddressesCommand({})), {
    name: 'TimeoutError',
  });
  await describe();
  assert.deepEqual(
    sim.calls.map((call) => [call.outcome, call.status]),
    [
      ['Gateway.NotAttached', 400],
      ['Teapot', 418],
      ['Unavailable', 503],
      ['malformed', 200],
      ['empty', 200],
      ['raw', 200],
      ['truncated', 200],
      ['reset', 0],
      ['hang', 0],
      ['ok', 200],
    ],
  );
});

test('afterApply: the association lands but its answer is lost or fails', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t);
  const [a, b] = world.addPool(2, {});
  const eni = instance.enis[0]!.networkInterfaceId;
  const c = client();
  sim.script('AssociateAddress', { afterApply: 'reset' });
  await assert.rejects(c.send(new AssociateAddressCommand({ AllocationId: a!.allocationId, NetworkInterfaceId: eni })));
  assert.equal(a!.association?.networkInterfaceId, eni);
  sim.script('AssociateAddress', { afterApply: { error: 'InternalError' } });
  await rejectsWith(c.send(new AssociateAddressCommand({ AllocationId: b!.allocationId, NetworkInterfaceId: eni })), 'InternalError', 500);
  assert.equal(b!.association?.networkInterfaceId, eni);
  assert.deepEqual(
    sim.calls.map((call) => [call.outcome, call.applied]),
    [
      ['reset', true],
      ['InternalError', true],
    ],
  );
});

test('the call log records action, params, caller, outcome, status', async (t) => {
  const { world, sim, instance, client } = await ec2Fixture(t);
  const [address] = world.addPool(1, { color: 'orange' });
  const c = client();
  const before = Date.now();
  await c.send(new DescribeAddressesCommand({ Filters: [{ Name: 'tag:color', Values: ['orange'] }] }));
  await rejectsWith(c.send(new AssociateAddressCommand({ AllocationId: address!.allocationId, NetworkInterfaceId: 'eni-0000' })), 'InvalidNetworkInterfaceID.NotFound', 400);
  const [describe, associate] = sim.calls;
  assert.ok(describe && describe.at >= before && describe.at <= Date.now());
  assert.deepEqual({ ...describe, at: 0 }, {
    at: 0,
    action: 'DescribeAddresses',
    params: { Action: 'DescribeAddresses', Version: '2016-11-15', 'Filter.1.Name': 'tag:color', 'Filter.1.Value.1': 'orange' },
    caller: instance.instanceId,
    outcome: 'ok',
    status: 200,
    applied: true,
  });
  assert.equal(associate?.outcome, 'InvalidNetworkInterfaceID.NotFound');
  assert.equal(associate?.status, 400);
  assert.equal(associate?.applied, false);
  assert.equal(associate?.params.AllocationId, address!.allocationId);
  assert.equal(sim.count(), 2);
  assert.equal(sim.count({ action: 'AssociateAddress' }), 1);
  assert.equal(sim.count({ caller: instance.instanceId, outcome: 'ok' }), 1);
  assert.equal(sim.count({ caller: 'i-other' }), 0);
});

test('close() ends idle keep-alive and hanging connections promptly', { timeout: 5000 }, async (t) => {
  const { sim, client } = await ec2Fixture(t);
  await client().send(new DescribeAddressesCommand({})); // leaves an idle keep-alive socket
  sim.script('*', 'hang');
  const hanging = client().send(new DescribeAddressesCommand({}));
  hanging.catch(() => undefined);
  await until(() => sim.count({ outcome: 'hang' }) === 1);
  const started = Date.now();
  await sim.close();
  assert.ok(Date.now() - started < 500);
  await assert.rejects(hanging);
  // and the port no longer answers
  await assert.rejects(
    new Promise((resolve, reject) => request(`${sim.url}/`, { method: 'POST' }, resolve).on('error', reject).end()),
  );
});
