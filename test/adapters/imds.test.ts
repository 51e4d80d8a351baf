import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createImdsClient } from '../../agent/adapters/imds-client.js';
import type { ImdsClient, ImdsClientOptions } from '../../agent/adapters/imds-client.js';
import { isPublicIpOn, readIdentity, readPublicIps } from '../../agent/adapters/imds.js';
import { AgentError, isAgentError } from '../../agent/shared/errors.js';
import { IMDS_RETRY } from '../../agent/shared/pacing.js';
import { retrying } from '../../agent/shared/retry.js';
import type { Timing } from '../../agent/shared/time.js';
import { startImds } from '../sim/imds.js';
import type { ImdsSim } from '../sim/imds.js';
import { World } from '../sim/world.js';
import type { Instance } from '../sim/world.js';

interface Fixture {
  world: World;
  instance: Instance;
  sim: ImdsSim;
  sleeps: number[];
  /** records the waits of the retry layer instead of sleeping them */
  timing: Timing;
  client: (extra?: Partial<ImdsClientOptions>) => ImdsClient;
}

async function withSim(body: (f: Fixture) => Promise<void>, interfaces = 1): Promise<void> {
  const world = new World();
  const instance = world.addInstance({ interfaces });
  const sim = await startImds(world, instance.instanceId);
  const sleeps: number[] = [];
  try {
    await body({
      world,
      instance,
      sim,
      sleeps,
      timing: { clock: { now: () => 0 }, sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 },
      client: (extra = {}) => createImdsClient({ endpoint: sim.url, timeoutMs: 300, ...extra }),
    });
  } finally {
    await sim.close();
  }
}

const puts = (sim: ImdsSim) => sim.requests.filter((r) => r.method === 'PUT').length;

async function rejection(promise: Promise<unknown>): Promise<AgentError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AgentError, `expected an AgentError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

test('one token serves many GETs, in parallel and in sequence', async () => {
  await withSim(async ({ sim, instance, client }) => {
    const imds = client();
    const ids = await Promise.all(Array.from({ length: 5 }, () => imds.get('meta-data/instance-id')));
    assert.deepEqual(ids, Array(5).fill(instance.instanceId));
    assert.equal(await imds.get('/meta-data/placement/region'), instance.region);
    assert.equal(puts(sim), 1);
    const ttl = sim.requests.find((r) => r.method === 'PUT');
    assert.deepEqual(ttl, { method: 'PUT', path: '/latest/api/token', status: 200 });
  });
});

test('the token is refreshed ahead of its expiry', async () => {
  await withSim(async ({ sim, client }) => {
    let clock = 0;
    const imds = client({ now: () => clock, tokenTtlSeconds: 600 });
    await imds.get('meta-data/instance-id');
    clock += 539_000; // 61 s left: still good
    await imds.get('meta-data/instance-id');
    assert.equal(puts(sim), 1);
    clock += 2_000; // 59 s left: inside the refresh margin
    await imds.get('meta-data/instance-id');
    assert.equal(puts(sim), 2);
  });
});

test('a 401 brings a fresh token and one more GET', async () => {
  await withSim(async ({ sim, instance, client }) => {
    const imds = client();
    await imds.get('meta-data/instance-id');
    sim.expireTokens();
    assert.equal(await imds.get('meta-data/instance-id'), instance.instanceId);
    assert.equal(puts(sim), 2);
    assert.deepEqual(
      sim.requests.slice(-3).map((r) => `${r.method} ${r.status}`),
      ['GET 401', 'PUT 200', 'GET 200'],
    );
  });
});

test('a token refused twice is an auth error, not a loop', async () => {
  const server = createServer((req, res) => {
    res.writeHead(req.method === 'PUT' ? 200 : 401).end(req.method === 'PUT' ? 'SECRET-TOKEN' : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const imds = createImdsClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    const error = await rejection(imds.get('meta-data/instance-id'));
    assert.equal(error.kind, 'auth');
    assert.equal(error.code, 'imds.unauthorized');
    assert.doesNotMatch(error.message, /SECRET-TOKEN/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('one attempt a call: 503 and 429 are typed, and the retry layer rides them out with jitter', async () => {
  await withSim(async ({ sim, instance, sleeps, timing, client }) => {
    const imds = client();
    sim.faults.failNext(1, 503);
    const once = await rejection(imds.get('meta-data/instance-id'));
    assert.deepEqual([once.kind, once.code], ['transient', 'imds.unreachable']);
    sim.faults.failNext(2, 503);
    assert.equal(await retrying(() => imds.get('meta-data/instance-id'), { policy: IMDS_RETRY, timing }), instance.instanceId);
    assert.deepEqual(sleeps, [50, 100], 'full jitter from 100 ms, with random 0.5');
  });
});

test("failures past the retry layer's attempts are typed: throttled and transient", async () => {
  await withSim(async ({ sim, client, sleeps, timing }) => {
    const imds = client();
    await imds.get('meta-data/instance-id'); // the token first: failNext counts every request
    const before = sim.requests.length;
    sim.faults.failNext(4, 429);
    const throttled = await rejection(retrying(() => imds.get('meta-data/instance-id'), { policy: IMDS_RETRY, timing }));
    assert.equal(throttled.kind, 'throttled');
    assert.equal(throttled.code, 'imds.throttled');
    assert.equal(sim.requests.length - before, 4, 'four attempts (IMDS_RETRY)');
    assert.deepEqual(sleeps, [100, 200, 200], 'from 200 ms, capped at 400 ms, with random 0.5');

    sim.faults.failNext(1, 500);
    const failed = await rejection(imds.get('meta-data/instance-id'));
    assert.equal(failed.kind, 'transient');
    assert.equal(failed.code, 'imds.unreachable');
    assert.match(failed.message, /500/);
  });
});

test('404 is undefined and never retried; other refusals are not retried', async () => {
  await withSim(async ({ sim, client }) => {
    const imds = client();
    assert.equal(await imds.get('meta-data/spot/instance-action'), undefined);
    assert.equal(sim.requests.filter((r) => r.status === 404).length, 1);

    sim.faults.failNext(1, 403);
    const refused = await rejection(client().get('meta-data/instance-id'));
    assert.equal(refused.kind, 'auth');
    assert.equal(refused.code, 'imds.rejected');
    assert.match(refused.message, /PUT \/latest\/api\/token.*403/);
    assert.equal(sim.requests.filter((r) => r.status === 403).length, 1);
  });
});

test('an unreachable IMDS is a transient error', async () => {
  await withSim(async ({ sim, client }) => {
    sim.faults.down = true;
    const error = await rejection(client().get('meta-data/instance-id'));
    assert.equal(error.kind, 'transient');
    assert.equal(error.code, 'imds.unreachable');
  });
});

test('a hanging IMDS times out within the timeout; no token leaks into errors', async () => {
  await withSim(async ({ sim, client }) => {
    const imds = client({ timeoutMs: 150 });
    await imds.get('meta-data/instance-id');
    const issued = sim.requests.length;
    sim.faults.hang = true;
    const started = Date.now();
    const error = await rejection(imds.get('meta-data/instance-id'));
    const took = Date.now() - started;
    assert.ok(took >= 140 && took < 1_000, `took ${took} ms`);
    assert.equal(error.kind, 'transient');
    assert.equal(error.code, 'imds.unreachable');
    assert.match(error.message, /no answer within 150 ms/);
    assert.equal(sim.requests.length, issued + 1);
    const everything = `${error.message} ${String(error.cause)} ${JSON.stringify(error)}`;
    assert.doesNotMatch(everything, /AQAEA/);
  });
});

test('an abort signal stops a call at once', async () => {
  await withSim(async ({ sim, client }) => {
    const imds = client({ timeoutMs: 5_000 });
    await imds.get('meta-data/instance-id');
    sim.faults.hang = true;
    const controller = new AbortController();
    const started = Date.now();
    const pending = imds.get('meta-data/instance-id', controller.signal);
    setTimeout(() => controller.abort(new Error('shutdown')), 20);
    await assert.rejects(pending, /shutdown/);
    assert.ok(Date.now() - started < 1_000);
  });
});

test('error bodies are consumed: the connection is given back', async () => {
  // An error page too large to sit in the socket's buffers: left undrained, it would keep the
  // only connection busy until the per-request timeout aborted it.
  const page = 'x'.repeat(4 << 20);
  const server = createServer((req, res) => {
    if (req.method === 'PUT') return void res.end('token');
    if (req.url === '/latest/meta-data/instance-id') return void res.end('i-0123');
    res.writeHead(req.url?.endsWith('/busy') ? 503 : 404).end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const imds = createImdsClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      timeoutMs: 5_000,
      agent,
    });
    const started = Date.now();
    assert.equal(await imds.get('meta-data/missing'), undefined);
    await assert.rejects(imds.get('meta-data/busy'), { code: 'imds.unreachable' });
    assert.equal(await imds.get('meta-data/instance-id'), 'i-0123');
    assert.ok(Date.now() - started < 1_500, `took ${Date.now() - started} ms`);
  } finally {
    agent.destroy();
    server.closeAllConnections();
    server.close();
  }
});

test('options are validated at construction', () => {
  assert.throws(() => createImdsClient({ endpoint: '169.254.169.254' }), /IMDS endpoint: expected an http:\/\/ URL/);
  assert.throws(() => createImdsClient({ endpoint: 'http://x', tokenTtlSeconds: 0 }), /1 to 21600/);
  assert.throws(() => createImdsClient({ endpoint: 'http://x', timeoutMs: 0 }), /positive number of ms/);
});

test('readIdentity on a single-interface instance', async () => {
  await withSim(async ({ sim, instance, client }) => {
    const identity = await readIdentity(client());
    const eni = instance.enis[0]!;
    assert.deepEqual(identity, {
      instanceId: instance.instanceId,
      region: instance.region,
      availabilityZone: instance.availabilityZone,
      localHostname: instance.hostname,
      interfaces: [{ mac: eni.mac, deviceIndex: 0, networkInterfaceId: eni.networkInterfaceId, privateIps: eni.privateIps }],
    });
    assert.equal(puts(sim), 1);
    assert.equal(sim.requests.length, 1 + 5 + 3);
  });
});

test('readIdentity on a multi-interface instance, ordered by device index', async () => {
  await withSim(async ({ world, instance, client }) => {
    world.attachEni(instance.instanceId);
    world.addPrivateIp(instance.enis[1]!.networkInterfaceId);
    const identity = await readIdentity(client());
    assert.deepEqual(
      identity.interfaces,
      instance.enis.map((e) => ({
        mac: e.mac,
        deviceIndex: e.deviceIndex,
        networkInterfaceId: e.networkInterfaceId,
        privateIps: e.privateIps,
      })),
    );
    assert.equal(identity.interfaces.length, 3);
    assert.equal(identity.interfaces[1]!.privateIps.length, 2);
  }, 2);
});

test('readPublicIps maps public IPs to private IPs, empty when none', async () => {
  await withSim(async ({ world, instance, client }) => {
    const imds = client();
    const eni = instance.enis[0]!;
    assert.deepEqual(await readPublicIps(imds, eni.mac), new Map());
    const secondary = world.addPrivateIp(eni.networkInterfaceId);
    const [a, b] = world.addPool(2, { color: 'orange' });
    world.associate({ allocationId: a!.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0] });
    world.associate({ allocationId: b!.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: secondary });
    assert.deepEqual(
      await readPublicIps(imds, eni.mac),
      new Map([
        [a!.publicIp, eni.privateIps[0]!],
        [b!.publicIp, secondary],
      ]),
    );
  });
});

test('isPublicIpOn: one GET over real HTTP, true only on the target private IP', async () => {
  await withSim(async ({ world, instance, client, sim }) => {
    const imds = client();
    const eni = instance.enis[0]!;
    const secondary = world.addPrivateIp(eni.networkInterfaceId);
    const [a, b] = world.addPool(2, { color: 'orange' });
    const target = { instanceId: instance.instanceId, networkInterfaceId: eni.networkInterfaceId, mac: eni.mac, privateIp: eni.privateIps[0]! };
    assert.equal(await isPublicIpOn(imds, target, a!.publicIp), false, 'nothing associated');
    world.associate({ allocationId: a!.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0] });
    world.associate({ allocationId: b!.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: secondary });
    const before = sim.requests.filter((r) => r.method === 'GET').length;
    assert.equal(await isPublicIpOn(imds, target, a!.publicIp), true);
    assert.equal(sim.requests.filter((r) => r.method === 'GET').length - before, 1, 'one GET a look');
    assert.equal(await isPublicIpOn(imds, target, b!.publicIp), false, 'on another private IP of the interface');
  });
});

test('isPublicIpOn rejects a malformed private IP', async () => {
  const path = `meta-data/network/interfaces/macs/${MAC}/ipv4-associations/198.51.100.1`;
  const error = await rejection(isPublicIpOn(fakeImds({ [path]: 'x' }), { instanceId: 'i-1', networkInterfaceId: 'eni-1', mac: MAC, privateIp: '10.0.0.1' }, '198.51.100.1'));
  assert.equal(error.code, 'imds.malformed');
});

/** A fake IMDS answering from a table: for the garbage an honest simulator never sends. */
function fakeImds(answers: Record<string, string>): ImdsClient {
  return { get: async (path) => answers[path] };
}

const MAC = '0a:1b:2c:3d:4e:5f';
const GOOD: Record<string, string> = {
  'meta-data/instance-id': 'i-0123456789abcdef0',
  'meta-data/placement/region': 'eu-west-1',
  'meta-data/placement/availability-zone': 'eu-west-1b',
  'meta-data/local-hostname': 'ip-10-0-0-1.eu-west-1.compute.internal',
  'meta-data/network/interfaces/macs/': `${MAC}/\n`,
  [`meta-data/network/interfaces/macs/${MAC}/device-number`]: '0',
  [`meta-data/network/interfaces/macs/${MAC}/interface-id`]: 'eni-0123456789abcdef0',
  [`meta-data/network/interfaces/macs/${MAC}/local-ipv4s`]: '10.0.0.1\n10.0.0.2\n',
};

test('readIdentity orders interfaces by device number, whatever the listing order', async () => {
  const second = '0a:1b:2c:3d:4e:60';
  const base = `meta-data/network/interfaces/macs/${second}`;
  const identity = await readIdentity(
    fakeImds({
      ...GOOD,
      'meta-data/network/interfaces/macs/': `${second}/\n${MAC}/\n`,
      [`${base}/device-number`]: '1',
      [`${base}/interface-id`]: 'eni-0fedcba9876543210',
      [`${base}/local-ipv4s`]: '10.0.1.7',
    }),
  );
  assert.deepEqual(
    identity.interfaces.map((i) => [i.deviceIndex, i.mac, i.privateIps]),
    [
      [0, MAC, ['10.0.0.1', '10.0.0.2']],
      [1, second, ['10.0.1.7']],
    ],
  );
});

test('readIdentity rejects malformed values with one clear error', async () => {
  const base = `meta-data/network/interfaces/macs/${MAC}`;
  const cases: [string, string | undefined, RegExp][] = [
    ['meta-data/instance-id', 'i-XYZ', /IMDS meta-data\/instance-id: expected an instance id.*got "i-XYZ"/],
    ['meta-data/instance-id', undefined, /instance-id: expected .* got nothing \(404\)/],
    ['meta-data/placement/region', '<html>oops</html>', /region: expected a region/],
    ['meta-data/placement/availability-zone', 'us-east-1a', /availability-zone: expected a zone of region eu-west-1/],
    ['meta-data/local-hostname', 'bad host name', /local-hostname: expected a DNS host name/],
    ['meta-data/network/interfaces/macs/', 'not-a-mac/', /macs\/: expected MAC addresses/],
    ['meta-data/network/interfaces/macs/', '', /macs\/: expected MAC addresses/],
    [`${base}/device-number`, 'zero', /device-number: expected a device number/],
    [`${base}/interface-id`, 'eni-', /interface-id: expected an interface id/],
    [`${base}/local-ipv4s`, '10.0.0.256', /local-ipv4s: expected IPv4 addresses.*"10.0.0.256"/],
    ['meta-data/instance-id', `i-${'z'.repeat(100)}`, /got "i-z{38}…"/],
  ];
  for (const [path, value, message] of cases) {
    const answers = { ...GOOD };
    if (value === undefined) delete answers[path];
    else answers[path] = value;
    const error = await rejection(readIdentity(fakeImds(answers)));
    assert.ok(isAgentError(error, 'malformed'), path);
    assert.equal(error.code, 'imds.malformed');
    assert.match(error.message, message);
  }
});

test('readPublicIps rejects a malformed private IP and skips one that vanished', async () => {
  const list = `meta-data/network/interfaces/macs/${MAC}/ipv4-associations/`;
  const vanished = await readPublicIps(fakeImds({ [list]: '198.51.100.1\n198.51.100.2', [`${list}198.51.100.2`]: '10.0.0.1' }), MAC);
  assert.deepEqual(vanished, new Map([['198.51.100.2', '10.0.0.1']]));
  const error = await rejection(readPublicIps(fakeImds({ [list]: '198.51.100.1', [`${list}198.51.100.1`]: 'x' }), MAC));
  assert.equal(error.code, 'imds.malformed');
});
