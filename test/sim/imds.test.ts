import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { fromInstanceMetadata, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { startImds } from './imds.js';
import type { ImdsSim, ImdsSimOptions } from './imds.js';
import { World, ACCOUNT_ID } from './world.js';
import type { Instance, InstanceOptions } from './world.js';

interface Fixture {
  world: World;
  instance: Instance;
  sim: ImdsSim;
}

async function withImds(
  body: (f: Fixture) => Promise<void>,
  options: ImdsSimOptions & InstanceOptions = {},
): Promise<void> {
  const world = new World();
  const instance = world.addInstance(options);
  const sim = await startImds(world, instance.instanceId, options);
  try {
    await body({ world, instance, sim });
  } finally {
    await sim.close();
  }
}

async function call(
  sim: ImdsSim,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const response = await request(`${sim.url}${path}`, { method, headers });
  return { status: response.statusCode, body: await response.body.text() };
}

async function token(sim: ImdsSim, ttl = '60'): Promise<string> {
  const { status, body } = await call(sim, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': ttl });
  assert.equal(status, 200);
  return body;
}

async function meta(sim: ImdsSim, path: string, t: string): Promise<{ status: number; body: string }> {
  return call(sim, 'GET', `/latest/${path}`, { 'x-aws-ec2-metadata-token': t });
}

test('token PUT honours the TTL range and refuses proxied requests', async () => {
  await withImds(async ({ sim }) => {
    const put = (headers: Record<string, string>) => call(sim, 'PUT', '/latest/api/token', headers);
    assert.equal((await put({})).status, 400);
    assert.equal((await put({ 'x-aws-ec2-metadata-token-ttl-seconds': '0' })).status, 400);
    assert.equal((await put({ 'x-aws-ec2-metadata-token-ttl-seconds': '21601' })).status, 400);
    assert.equal((await put({ 'x-aws-ec2-metadata-token-ttl-seconds': 'abc' })).status, 400);
    assert.equal((await put({ 'x-aws-ec2-metadata-token-ttl-seconds': '1' })).status, 200);
    const max = await put({ 'x-aws-ec2-metadata-token-ttl-seconds': '21600' });
    assert.equal(max.status, 200);
    assert.ok(max.body.length > 20);
    const proxied = await put({ 'x-aws-ec2-metadata-token-ttl-seconds': '60', 'x-forwarded-for': '10.0.0.9' });
    assert.equal(proxied.status, 403);
    assert.equal((await call(sim, 'GET', '/latest/api/token')).status, 405);
    assert.equal((await call(sim, 'POST', '/latest/meta-data/instance-id')).status, 405);
  });
});

test('GETs need a valid, unexpired token', async () => {
  let clock = 1_000_000;
  await withImds(
    async ({ sim, instance }) => {
      assert.equal((await call(sim, 'GET', '/latest/meta-data/instance-id')).status, 401);
      assert.equal((await meta(sim, 'meta-data/instance-id', 'AQAEAforged==')).status, 401);
      const t = await token(sim, '10');
      const ok = await meta(sim, 'meta-data/instance-id', t);
      assert.deepEqual(ok, { status: 200, body: instance.instanceId });
      clock += 9_999;
      assert.equal((await meta(sim, 'meta-data/instance-id', t)).status, 200);
      clock += 1;
      const expired = await meta(sim, 'meta-data/instance-id', t);
      assert.equal(expired.status, 401);
      assert.match(expired.body, /401 - Unauthorized/);

      const fresh = await token(sim);
      sim.expireTokens();
      assert.equal((await meta(sim, 'meta-data/instance-id', fresh)).status, 401);
    },
    { now: () => clock },
  );
});

test('tokenTtlScale shortens token lifetimes', async () => {
  await withImds(
    async ({ sim }) => {
      const t = await token(sim, '1'); // 1 s × 0.02 = 20 ms
      await new Promise((resolve) => setTimeout(resolve, 40));
      assert.equal((await meta(sim, 'meta-data/instance-id', t)).status, 401);
    },
    { tokenTtlScale: 0.02 },
  );
});

test('instance paths read the world', async () => {
  await withImds(async ({ sim, instance }) => {
    const t = await token(sim);
    const eni = instance.enis[0]!;
    const primary = eni.privateIps[0]!;
    const expect: Record<string, string> = {
      'meta-data/instance-id': instance.instanceId,
      'meta-data/placement/region': instance.region,
      'meta-data/placement/availability-zone': instance.availabilityZone,
      'meta-data/mac': eni.mac,
      'meta-data/local-ipv4': primary,
      'meta-data/local-hostname': instance.hostname,
      'meta-data/hostname': instance.hostname,
      'meta-data/iam/security-credentials/': instance.roleName,
      'meta-data/network/interfaces/macs/': `${eni.mac}/`,
      [`meta-data/network/interfaces/macs/${eni.mac}/device-number`]: '0',
      [`meta-data/network/interfaces/macs/${eni.mac}/interface-id`]: eni.networkInterfaceId,
      [`meta-data/network/interfaces/macs/${eni.mac}/local-ipv4s`]: primary,
      [`meta-data/network/interfaces/macs/${eni.mac}/subnet-id`]: eni.subnetId,
      [`meta-data/network/interfaces/macs/${eni.mac}/vpc-id`]: eni.vpcId,
      [`meta-data/network/interfaces/macs/${eni.mac}/mac`]: eni.mac,
    };
    for (const [path, body] of Object.entries(expect)) {
      assert.deepEqual(await meta(sim, path, t), { status: 200, body }, path);
    }
    const listing = (await meta(sim, 'meta-data/', t)).body.split('\n');
    for (const entry of ['instance-id', 'placement/', 'network/', 'iam/', 'local-ipv4', 'mac']) {
      assert.ok(listing.includes(entry), `meta-data/ lists ${entry}`);
    }
    assert.ok(!listing.includes('public-ipv4'), 'no public-ipv4 without a public IP');

    const info = JSON.parse((await meta(sim, 'meta-data/iam/info', t)).body);
    assert.equal(info.Code, 'Success');
    const creds = JSON.parse((await meta(sim, `meta-data/iam/security-credentials/${instance.roleName}`, t)).body);
    assert.equal(creds.Code, 'Success');
    assert.equal(creds.Type, 'AWS-HMAC');
    assert.equal(creds.AccessKeyId, instance.credentials.accessKeyId);
    assert.equal(creds.SecretAccessKey, instance.credentials.secretAccessKey);
    assert.equal(creds.Token, instance.credentials.sessionToken);
    assert.equal(Date.parse(creds.Expiration), Math.floor(instance.credentials.expiration.getTime() / 1000) * 1000);

    const doc = JSON.parse((await meta(sim, 'dynamic/instance-identity/document', t)).body);
    assert.equal(doc.instanceId, instance.instanceId);
    assert.equal(doc.region, instance.region);
    assert.equal(doc.availabilityZone, instance.availabilityZone);
    assert.equal(doc.privateIp, primary);
    assert.equal(doc.accountId, ACCOUNT_ID);
    for (const key of ['instanceType', 'imageId', 'architecture', 'pendingTime', 'version']) {
      assert.ok(typeof doc[key] === 'string', key);
    }

    const missing = await meta(sim, 'meta-data/no-such-thing', t);
    assert.equal(missing.status, 404);
    assert.match(missing.body, /404 - Not Found/);
    for (const path of [
      'meta-data/public-ipv4',
      `meta-data/network/interfaces/macs/${eni.mac}/public-ipv4s`,
      `meta-data/network/interfaces/macs/${eni.mac}/ipv4-associations/`,
      'meta-data/spot/instance-action',
      'meta-data/events/recommendations/rebalance',
      'meta-data/instance-id/extra',
    ]) {
      assert.equal((await meta(sim, path, t)).status, 404, path);
    }
    assert.deepEqual(
      sim.requests.filter((r) => r.path === '/latest/meta-data/no-such-thing'),
      [{ method: 'GET', path: '/latest/meta-data/no-such-thing', status: 404 }],
    );
  });
});

test('every interface is listed with its own facts', async () => {
  await withImds(
    async ({ sim, instance, world }) => {
      const third = world.attachEni(instance.instanceId);
      const secondary = world.addPrivateIp(third.networkInterfaceId);
      const t = await token(sim);
      const macs = (await meta(sim, 'meta-data/network/interfaces/macs/', t)).body.split('\n');
      assert.deepEqual(macs, instance.enis.map((e) => `${e.mac}/`).sort(), 'every MAC, in name order');
      assert.equal(macs.length, 3);
      const base = `meta-data/network/interfaces/macs/${third.mac}`;
      assert.equal((await meta(sim, `${base}/device-number`, t)).body, '2');
      assert.equal((await meta(sim, `${base}/interface-id`, t)).body, third.networkInterfaceId);
      assert.equal((await meta(sim, `${base}/local-ipv4s`, t)).body, `${third.privateIps[0]}\n${secondary}`);
    },
    { interfaces: 2 },
  );
});

test('public IPv4 shows an association after the IMDS lag', async () => {
  await withImds(async ({ sim, instance, world }) => {
    world.imdsLagMs = 200;
    const t = await token(sim);
    const eni = instance.enis[0]!;
    const primary = eni.privateIps[0]!;
    const [address] = world.addPool(1, { color: 'orange' });
    // Taken before the association, so a busy machine between the two lines cannot make
    // a correct lag look short.
    const associatedAt = Date.now();
    world.associate({ allocationId: address!.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: primary });
    assert.equal((await meta(sim, 'meta-data/public-ipv4', t)).status, 404, 'not yet visible');

    let seen: string | undefined;
    while (Date.now() - associatedAt < 2_000) {
      const answer = await meta(sim, 'meta-data/public-ipv4', t);
      if (answer.status === 200) {
        seen = answer.body;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(seen, address!.publicIp);
    assert.ok(Date.now() - associatedAt >= 200, 'not before the lag');

    const base = `meta-data/network/interfaces/macs/${eni.mac}`;
    assert.equal((await meta(sim, `${base}/public-ipv4s`, t)).body, address!.publicIp);
    assert.equal((await meta(sim, `${base}/ipv4-associations/`, t)).body, address!.publicIp);
    assert.equal((await meta(sim, `${base}/ipv4-associations/${address!.publicIp}`, t)).body, primary);
    assert.ok((await meta(sim, 'meta-data/', t)).body.split('\n').includes('public-ipv4'));
  });
});

test('an Auto Scaling member answers InService until told otherwise; a standalone instance 404', async () => {
  await withImds(async ({ sim }) => {
    const t = await token(sim);
    assert.deepEqual(await meta(sim, 'meta-data/autoscaling/target-lifecycle-state', t), { status: 200, body: 'InService' });
  });
  await withImds(
    async ({ sim }) => {
      const t = await token(sim);
      assert.equal((await meta(sim, 'meta-data/autoscaling/target-lifecycle-state', t)).status, 404);
      assert.ok(!(await meta(sim, 'meta-data/', t)).body.split('\n').includes('autoscaling/'));
    },
    { asg: false },
  );
});

test('IMDSv1 is refused unless the instance allows it (httpTokens optional)', async () => {
  await withImds(async ({ sim }) => {
    assert.equal((await call(sim, 'GET', '/latest/meta-data/instance-id')).status, 401);
  });
  await withImds(
    async ({ sim, instance }) => {
      assert.deepEqual(await call(sim, 'GET', '/latest/meta-data/instance-id'), { status: 200, body: instance.instanceId });
      // A token that is given must still be valid.
      assert.equal((await call(sim, 'GET', '/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': 'forged' })).status, 401);
    },
    { metadataOptions: { httpTokens: 'optional' } },
  );
});

test('spot, lifecycle and rebalance notices appear when set', async () => {
  await withImds(async ({ sim, instance }) => {
    const t = await token(sim);
    instance.spotAction = { action: 'terminate', time: '2026-11-23T12:00:00Z' };
    instance.lifecycleState = 'Terminated';
    instance.rebalanceNoticeTime = '2026-11-23T11:50:00Z';
    assert.deepEqual(JSON.parse((await meta(sim, 'meta-data/spot/instance-action', t)).body), instance.spotAction);
    assert.equal((await meta(sim, 'meta-data/autoscaling/target-lifecycle-state', t)).body, 'Terminated');
    assert.deepEqual(JSON.parse((await meta(sim, 'meta-data/events/recommendations/rebalance', t)).body), {
      noticeTime: '2026-11-23T11:50:00Z',
    });
  });
});

// Listings as IMDS gives them (the EC2 User Guide's "Instance metadata categories", and
// what an instance answers): every key, in name order, directories with a trailing slash.
test('listings are complete and in name order: the top level, placement/, per-MAC, events/', async () => {
  await withImds(async ({ sim, instance, world }) => {
    const t = await token(sim);
    const eni = instance.enis[0]!;
    const list = async (path: string) => (await meta(sim, path, t)).body.split('\n');
    const top = ['ami-id', 'ami-launch-index', 'ami-manifest-path', 'autoscaling/', 'block-device-mapping/', 'events/', 'hostname', 'iam/', 'instance-action', 'instance-id', 'instance-life-cycle', 'instance-type', 'local-hostname', 'local-ipv4', 'mac', 'metrics/', 'network/', 'placement/', 'profile', 'reservation-id', 'security-groups', 'services/'];
    assert.deepEqual(await list('meta-data/'), top);
    assert.deepEqual(await list('meta-data/placement/'), ['availability-zone', 'availability-zone-id', 'region']);
    assert.equal((await meta(sim, 'meta-data/placement/availability-zone-id', t)).body, 'euw1-az1');
    const perMac = ['device-number', 'interface-id', 'local-hostname', 'local-ipv4s', 'mac', 'owner-id', 'security-group-ids', 'security-groups', 'subnet-id', 'subnet-ipv4-cidr-block', 'vpc-id', 'vpc-ipv4-cidr-block', 'vpc-ipv4-cidr-blocks'];
    assert.deepEqual(await list(`meta-data/network/interfaces/macs/${eni.mac}/`), perMac);
    assert.deepEqual(await list('meta-data/events/'), ['maintenance/']);
    assert.deepEqual(await list('meta-data/events/maintenance/'), ['history', 'scheduled']);
    assert.deepEqual(await list('meta-data/services/'), ['domain', 'partition']);
    // With a public IPv4 the per-MAC and top-level listings gain its keys, still in order.
    const address = world.addAddress({});
    world.associate({ allocationId: address.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0]!, allowReassociation: false });
    await until(async () => (await list('meta-data/')).includes('public-ipv4'));
    assert.deepEqual(await list('meta-data/'), [...top.slice(0, 19), 'public-hostname', 'public-ipv4', ...top.slice(19)]);
    assert.deepEqual(await list(`meta-data/network/interfaces/macs/${eni.mac}/`), [...perMac.slice(0, 2), 'ipv4-associations/', ...perMac.slice(2, 6), 'public-hostname', 'public-ipv4s', ...perMac.slice(6)]);
    assert.equal((await meta(sim, 'meta-data/public-hostname', t)).body, `ec2-${address.publicIp.replaceAll('.', '-')}.${instance.region}.compute.amazonaws.com`);
  });
});

test('events/maintenance/scheduled and history answer an empty list while nothing is scheduled', async () => {
  await withImds(async ({ sim }) => {
    const t = await token(sim);
    assert.deepEqual(await meta(sim, 'meta-data/events/maintenance/scheduled', t), { status: 200, body: '[]' });
    assert.deepEqual(await meta(sim, 'meta-data/events/maintenance/history', t), { status: 200, body: '[]' });
  });
});

test('instance-life-cycle is always served: on-demand, or spot', async () => {
  await withImds(async ({ sim }) => {
    assert.deepEqual(await meta(sim, 'meta-data/instance-life-cycle', await token(sim)), { status: 200, body: 'on-demand' });
  });
  await withImds(
    async ({ sim }) => {
      assert.deepEqual(await meta(sim, 'meta-data/instance-life-cycle', await token(sim)), { status: 200, body: 'spot' });
    },
    { spot: true },
  );
});

test('spot/termination-time is served with a terminate notice (the same time), not with stop or hibernate', async () => {
  await withImds(async ({ sim, instance }) => {
    const t = await token(sim);
    assert.equal((await meta(sim, 'meta-data/spot/termination-time', t)).status, 404, 'no notice yet');
    instance.spotAction = { action: 'stop', time: '2026-11-23T12:00:00Z' };
    assert.equal((await meta(sim, 'meta-data/spot/termination-time', t)).status, 404, 'a stop notice has no termination time');
    assert.deepEqual(await meta(sim, 'meta-data/spot/', t), { status: 200, body: 'instance-action' });
    instance.spotAction = { action: 'terminate', time: '2026-11-23T12:02:00Z' };
    assert.deepEqual(await meta(sim, 'meta-data/spot/termination-time', t), { status: 200, body: '2026-11-23T12:02:00Z' });
    assert.deepEqual(await meta(sim, 'meta-data/spot/', t), { status: 200, body: 'instance-action\ntermination-time' });
    assert.equal((await meta(sim, 'meta-data/instance-life-cycle', t)).body, 'spot');
  });
});

test('local-hostname: ip-a-b-c-d.ec2.internal in us-east-1, ip-a-b-c-d.REGION.compute.internal elsewhere', async () => {
  for (const [region, domain] of [['us-east-1', 'ec2.internal'], ['eu-west-1', 'eu-west-1.compute.internal'], ['ap-southeast-2', 'ap-southeast-2.compute.internal']] as const) {
    const world = new World({ region });
    const instance = world.addInstance();
    const sim = await startImds(world, instance.instanceId);
    try {
      const t = await token(sim);
      const primary = instance.enis[0]!.privateIps[0]!;
      const name = `ip-${primary.replaceAll('.', '-')}.${domain}`;
      assert.equal((await meta(sim, 'meta-data/local-hostname', t)).body, name, region);
      assert.equal((await meta(sim, 'meta-data/hostname', t)).body, name, region);
      assert.equal((await meta(sim, `meta-data/network/interfaces/macs/${instance.enis[0]!.mac}/local-hostname`, t)).body, name, region);
      assert.equal((await meta(sim, 'meta-data/placement/availability-zone-id', t)).body, { 'us-east-1': 'use1-az1', 'eu-west-1': 'euw1-az1', 'ap-southeast-2': 'apse2-az1' }[region]);
    } finally {
      await sim.close();
    }
  }
});

async function until(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('faults: failNext, latency, hang and down', async () => {
  await withImds(async ({ sim }) => {
    sim.faults.failNext(2, 503);
    const put = () => call(sim, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' });
    assert.equal((await put()).status, 503);
    assert.equal((await put()).status, 503);
    assert.equal((await put()).status, 200);

    sim.faults.latencyMs = 100;
    const started = Date.now();
    assert.equal((await put()).status, 200);
    assert.ok(Date.now() - started >= 90);
    sim.faults.latencyMs = 0;

    sim.faults.hang = true;
    await assert.rejects(
      request(`${sim.url}/latest/api/token`, {
        method: 'PUT',
        headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
        signal: AbortSignal.timeout(100),
      }),
      { name: 'TimeoutError' },
    );
    assert.equal(sim.requests.at(-1)!.status, 0);
    sim.faults.hang = false;

    sim.faults.down = true;
    await assert.rejects(put());
    sim.faults.down = false;
    // Let undici see the reset sockets close before it picks one from its pool again.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await put()).status, 200);
  });
});

test('a terminated instance has no IMDS', async () => {
  await withImds(async ({ sim, instance, world }) => {
    const t = await token(sim);
    world.terminate(instance.instanceId);
    await assert.rejects(meta(sim, 'meta-data/instance-id', t));
  });
});

test('the AWS SDK default chain reads the instance role credentials', async () => {
  await withImds(async ({ sim, instance }) => {
    // Point the chain at the sim alone: no env keys, no profile files.
    const env = {
      AWS_EC2_METADATA_SERVICE_ENDPOINT: sim.url,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
      AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_CONFIG_FILE: '/nonexistent/config',
    };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    const apply = (values: Record<string, string | undefined>) => {
      for (const [k, v] of Object.entries(values)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
    apply(env);
    try {
      for (const provider of [fromInstanceMetadata({ timeout: 1000, maxRetries: 0 }), fromNodeProviderChain()]) {
        const credentials = await provider();
        assert.equal(credentials.accessKeyId, instance.credentials.accessKeyId);
        assert.equal(credentials.secretAccessKey, instance.credentials.secretAccessKey);
        assert.equal(credentials.sessionToken, instance.credentials.sessionToken);
        assert.ok(credentials.expiration instanceof Date);
      }
      // IMDSv2: the SDK took a token first, and every GET it made was authorized.
      assert.equal(sim.requests[0]!.path, '/latest/api/token');
      assert.ok(sim.requests.every((r) => r.status === 200));
    } finally {
      apply(saved);
    }
  });
});
