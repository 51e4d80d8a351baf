// SelfSubjectAccessReview and dryRun=All in the simulated API server: the Node authorizer's
// answers and reasons for a kubelet identity, and writes that are judged but never stored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { startKube, type KubeSim } from './kube.js';
import { World } from './world.js';

describe('kube sim: access reviews and dry runs', () => {
  const world = new World();
  let sim: KubeSim;
  let nodeName: string;
  let other: string;

  const send = async (method: 'POST' | 'PATCH', path: string, body: unknown, token = 'node-token', contentType = 'application/json') => {
    const res = await request(`${sim.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body: JSON.stringify(body) });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };
  const canI = (resourceAttributes: Record<string, unknown>, token?: string) =>
    send('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes } }, token);

  before(async () => {
    const mine = world.addInstance();
    const theirs = world.addInstance();
    nodeName = mine.hostname;
    other = theirs.hostname;
    world.registerNode(mine.instanceId);
    world.registerNode(theirs.instanceId);
    world.addPod({ nodeName: other, name: 'web-1' });
    sim = await startKube(world, { tls: false });
    sim.addToken('node-token', `system:node:${nodeName}`, ['system:nodes']);
  });
  after(() => sim.close());

  it("answers a node's reviews as the Node authorizer would, with its reasons", async () => {
    const cases: [Record<string, unknown>, boolean, RegExp | undefined][] = [
      [{ verb: 'get', resource: 'nodes', name: nodeName }, true, undefined],
      [{ verb: 'get', resource: 'nodes', name: other }, false, /cannot read '.*', only its own Node object/],
      [{ verb: 'patch', resource: 'nodes', name: nodeName }, true, undefined],
      [{ verb: 'list', resource: 'pods', fieldSelector: { rawSelector: `spec.nodeName=${nodeName}` } }, true, undefined],
      [{ verb: 'list', resource: 'pods', fieldSelector: { requirements: [{ key: 'spec.nodeName', operator: 'In', values: [nodeName] }] } }, true, undefined],
      [{ verb: 'list', resource: 'pods' }, false, /can only list\/watch pods with spec.nodeName field selector/],
      [{ verb: 'list', resource: 'pods', fieldSelector: { rawSelector: `spec.nodeName=${other}` } }, false, /spec.nodeName field selector/],
      [{ verb: 'get', resource: 'pods', namespace: 'default', name: 'web-1' }, false, /no relationship found/],
      [{ verb: 'create', resource: 'events', namespace: 'default' }, true, undefined],
      [{ verb: 'list', resource: 'secrets', namespace: 'default' }, false, undefined],
      [{ verb: 'get', group: 'apps', resource: 'deployments', namespace: 'default' }, false, undefined],
    ];
    for (const [attributes, allowed, reason] of cases) {
      const answer = await canI(attributes);
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      assert.equal(answer.body.kind, 'SelfSubjectAccessReview');
      assert.equal(answer.body.status.allowed, allowed, JSON.stringify(attributes));
      if (reason) assert.match(answer.body.status.reason, reason);
    }
    // An administrator may do anything.
    assert.equal((await canI({ verb: 'delete', resource: 'nodes', name: other }, sim.token)).body.status.allowed, true);
  });

  it('refuses a review without attributes (422)', async () => {
    const answer = await send('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { spec: {} });
    assert.equal(answer.status, 422);
  });

  it('judges a dryRun=All patch (NodeRestriction included) and stores nothing', async () => {
    const before = world.node(nodeName);
    const ok = await send('PATCH', `/api/v1/nodes/${nodeName}?dryRun=All`, { metadata: { labels: { 'eip-agent.io/public-ip': '198.51.100.7' } } }, undefined, 'application/merge-patch+json');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.metadata.labels['eip-agent.io/public-ip'], '198.51.100.7', 'the object as it would be');
    assert.deepEqual(world.node(nodeName), before, 'nothing stored');
    const forbidden = await send('PATCH', `/api/v1/nodes/${nodeName}?dryRun=All`, { metadata: { labels: { 'node-restriction.kubernetes.io/x': 'y' } } }, undefined, 'application/merge-patch+json');
    assert.equal(forbidden.status, 403);
    const otherNode = await send('PATCH', `/api/v1/nodes/${other}?dryRun=All`, { metadata: { labels: { a: 'b' } } }, undefined, 'application/merge-patch+json');
    assert.equal(otherNode.status, 403);
    const bad = await send('PATCH', `/api/v1/nodes/${nodeName}?dryRun=Yes`, { metadata: { labels: { a: 'b' } } }, undefined, 'application/merge-patch+json');
    assert.equal(bad.status, 400);
    assert.deepEqual(world.node(nodeName), before);
  });
});
