import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { startKube } from './kube.js';
import type { KubeSim } from './kube.js';
import { World } from './world.js';

interface Answer {
  status: number;
  body: any;
}

async function call(
  sim: KubeSim,
  path: string,
  options: { token?: string | null; method?: 'GET' | 'POST'; dispatcher?: Dispatcher; signal?: AbortSignal } = {},
): Promise<Answer> {
  const token = options.token === undefined ? sim.token : options.token;
  const response = await request(`${sim.url}${path}`, {
    method: options.method ?? 'GET',
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: JSON.parse(text) };
}

const names = (answer: Answer): string[] => answer.body.items.map((p: any) => `${p.metadata.namespace}/${p.metadata.name}`).sort();

describe('kube sim over HTTP', () => {
  const world = new World();
  let sim: KubeSim;

  before(async () => {
    world.addPod({ nodeName: 'node-a', name: 'web-7d9f-abcde', ownerKind: 'ReplicaSet' });
    world.addPod({ nodeName: 'node-a', name: 'aws-node-x1', namespace: 'kube-system', ownerKind: 'DaemonSet' });
    world.addPod({ nodeName: 'node-a', name: 'etcd-node-a', namespace: 'kube-system', mirror: true });
    world.addPod({ nodeName: 'node-a', name: 'job-1', ownerKind: 'Job', phase: 'Succeeded' });
    world.addPod({ nodeName: 'node-b', name: 'web-7d9f-fghij', ownerKind: 'ReplicaSet' });
    sim = await startKube(world, { tls: false });
  });
  after(() => sim.close());

  it('lists the pods of one node as a PodList', async () => {
    const answer = await call(sim, '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a');
    assert.equal(answer.status, 200);
    assert.equal(answer.body.kind, 'PodList');
    assert.equal(answer.body.apiVersion, 'v1');
    assert.match(answer.body.metadata.resourceVersion, /^\d+$/);
    assert.deepEqual(names(answer), ['default/job-1', 'default/web-7d9f-abcde', 'kube-system/aws-node-x1', 'kube-system/etcd-node-a']);
    const byName = new Map<string, any>(answer.body.items.map((p: any) => [p.metadata.name, p]));
    const ds = byName.get('aws-node-x1');
    assert.deepEqual(
      ds.metadata.ownerReferences.map((o: any) => [o.apiVersion, o.kind, o.controller]),
      [['apps/v1', 'DaemonSet', true]],
    );
    assert.equal(ds.spec.nodeName, 'node-a');
    assert.equal(ds.status.phase, 'Running');
    const mirror = byName.get('etcd-node-a');
    assert.ok('kubernetes.io/config.mirror' in mirror.metadata.annotations);
    assert.equal(mirror.metadata.ownerReferences[0].kind, 'Node');
    assert.equal(byName.get('job-1').status.phase, 'Succeeded');
    assert.equal(byName.get('web-7d9f-abcde').metadata.annotations, undefined);
  });

  it('parses selectors as the API server does: ==, !=, comma-joined, namespaced path', async () => {
    assert.equal(names(await call(sim, '/api/v1/pods?fieldSelector=spec.nodeName%3D%3Dnode-b')).length, 1);
    const running = await call(sim, '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a,status.phase!%3DSucceeded');
    assert.deepEqual(names(running), ['default/web-7d9f-abcde', 'kube-system/aws-node-x1', 'kube-system/etcd-node-a']);
    const namespaced = await call(sim, '/api/v1/namespaces/kube-system/pods?fieldSelector=spec.nodeName%3Dnode-a');
    assert.deepEqual(names(namespaced), ['kube-system/aws-node-x1', 'kube-system/etcd-node-a']);
    assert.equal(names(await call(sim, '/api/v1/pods')).length, 5);
  });

  it('sees pods come and go in the world', async () => {
    world.addPod({ nodeName: 'node-c', name: 'late' });
    assert.deepEqual(names(await call(sim, '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-c')), ['default/late']);
    world.deletePod('default', 'late');
    assert.deepEqual(names(await call(sim, '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-c')), []);
  });

  it('answers an unsupported field with a 400 Status', async () => {
    const answer = await call(sim, '/api/v1/pods?fieldSelector=spec.hostname%3Dx');
    assert.equal(answer.status, 400);
    assert.deepEqual(
      [answer.body.kind, answer.body.status, answer.body.reason, answer.body.code],
      ['Status', 'Failure', 'BadRequest', 400],
    );
    assert.match(answer.body.message, /field label not supported: spec\.hostname/);
    assert.equal((await call(sim, '/api/v1/pods?fieldSelector=garbage')).status, 400);
  });

  it('answers a missing or unknown token with a 401 Status', async () => {
    for (const token of [null, 'nope']) {
      const answer = await call(sim, '/api/v1/pods', { token });
      assert.equal(answer.status, 401);
      assert.deepEqual([answer.body.kind, answer.body.reason, answer.body.code], ['Status', 'Unauthorized', 401]);
    }
  });

  it('lets a node list only its own pods, with exactly that selector (Node authorizer)', async () => {
    sim.addToken('node-a-token', 'system:node:node-a', ['system:nodes']);
    const own = await call(sim, '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a', { token: 'node-a-token' });
    assert.equal(own.status, 200);
    for (const query of ['fieldSelector=spec.nodeName%3Dnode-b', '', 'fieldSelector=spec.nodeName%3Dnode-a,status.phase%3DRunning']) {
      const answer = await call(sim, `/api/v1/pods?${query}`, { token: 'node-a-token' });
      assert.equal(answer.status, 403, query);
      assert.equal(answer.body.reason, 'Forbidden');
      assert.match(answer.body.message, /User "system:node:node-a" cannot list resource "pods"/);
    }
  });

  it('tells a token its user through a SelfSubjectReview', async () => {
    sim.addToken('node-b-token', 'system:node:node-b', ['system:nodes']);
    const answer = await call(sim, '/apis/authentication.k8s.io/v1/selfsubjectreviews', { token: 'node-b-token', method: 'POST' });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.kind, 'SelfSubjectReview');
    assert.equal(answer.body.status.userInfo.username, 'system:node:node-b');
    assert.ok(answer.body.status.userInfo.groups.includes('system:nodes'));
  });

  it('serves a Node only once kubelet has registered it', async () => {
    const instance = world.addInstance();
    assert.deepEqual((await call(sim, '/api/v1/nodes')).body.items, []);
    const missing = await call(sim, `/api/v1/nodes/${instance.hostname}`);
    assert.deepEqual([missing.status, missing.body.reason, missing.body.message], [404, 'NotFound', `nodes "${instance.hostname}" not found`]);
    world.registerNode(instance.instanceId);
    const list = await call(sim, '/api/v1/nodes');
    assert.equal(list.body.kind, 'NodeList');
    assert.deepEqual(list.body.items.map((n: any) => n.metadata.name), [instance.hostname]);
    const one = await call(sim, `/api/v1/nodes/${instance.hostname}`);
    assert.equal(one.body.kind, 'Node');
    assert.match(one.body.spec.providerID, new RegExp(`${instance.instanceId}$`));
    assert.equal((await call(sim, '/api/v1/services')).status, 404);
  });

  it('injects faults: failNext, garbleNext, latency; and logs requests', async () => {
    sim.faults.failNext(2, 503);
    const path = '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b';
    const first = await call(sim, path);
    assert.deepEqual([first.status, first.body.kind, first.body.code], [503, 'Status', 503]);
    assert.equal((await call(sim, path)).status, 503);
    assert.equal((await call(sim, path)).status, 200);
    sim.faults.garbleNext(1);
    await assert.rejects(call(sim, path), SyntaxError);
    assert.equal((await call(sim, path)).status, 200);
    sim.faults.latencyMs = 80;
    const started = Date.now();
    await call(sim, path);
    assert.ok(Date.now() - started >= 75);
    sim.faults.latencyMs = 0;
    const last = sim.requests.at(-1)!;
    assert.deepEqual(last, { method: 'GET', path: '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b', user: 'kubernetes-admin', status: 200 });
    assert.deepEqual(sim.requests.slice(-6, -4).map((r) => r.status), [503, 503]);
  });
});

describe('kube sim with TLS', () => {
  const world = new World();
  let sim: KubeSim;
  let trusted: Agent;

  before(async () => {
    world.addPod({ nodeName: 'node-a', name: 'web' });
    sim = await startKube(world, { tls: true });
    trusted = new Agent({ connect: { ca: sim.caPem! } });
  });
  after(async () => {
    await trusted.close();
    await sim.close();
  });

  it('serves https with a certificate for 127.0.0.1 signed by its CA', async () => {
    assert.match(sim.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(sim.caPem!, /-----BEGIN CERTIFICATE-----/);
    const answer = await call(sim, '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a', { dispatcher: trusted });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.items.length, 1);
  });

  it('is not trusted without its CA', async () => {
    const untrusting = new Agent();
    try {
      await assert.rejects(call(sim, '/api/v1/pods', { dispatcher: untrusting }), { code: /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/ });
    } finally {
      await untrusting.close();
    }
  });

  it('authenticates a client certificate: CN is the user, O the groups', async () => {
    const pair = await sim.issueClientCert('system:node:node-a', ['system:nodes']);
    const withCert = new Agent({ connect: { ca: sim.caPem!, cert: pair.certPem, key: pair.keyPem } });
    try {
      const review = await call(sim, '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
        token: null,
        method: 'POST',
        dispatcher: withCert,
      });
      assert.equal(review.status, 200);
      assert.equal(review.body.status.userInfo.username, 'system:node:node-a');
      assert.ok(review.body.status.userInfo.groups.includes('system:nodes'));
      const own = await call(sim, '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a', { token: null, dispatcher: withCert });
      assert.equal(own.status, 200);
    } finally {
      await withCert.close();
    }
  });

  it('holds requests while hang is set, and close() ends them', async () => {
    sim.faults.hang = true;
    await assert.rejects(
      call(sim, '/api/v1/pods', { dispatcher: trusted, signal: AbortSignal.timeout(150) }),
      (error: Error) => error.name === 'TimeoutError' || error.name === 'AbortError',
    );
    const held = call(sim, '/api/v1/pods', { dispatcher: trusted });
    const outcome = held.then(
      () => 'answered',
      () => 'ended',
    );
    await new Promise((r) => setTimeout(r, 50));
    await sim.close();
    assert.equal(await outcome, 'ended');
  });
});
