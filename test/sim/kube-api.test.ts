// The simulated API server's Kubernetes semantics, over HTTPS: Node registration, GET and
// PATCH/PUT of Nodes with every patch type, the Node authorizer and NodeRestriction with
// Kubernetes' Status bodies, Events in both API groups, single pod GET, watches, discovery
// and Tables.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { startKube, type KubeSim } from './kube.js';
import { World } from './world.js';
import type { Instance } from './world.js';

interface Answer {
  status: number;
  body: any;
}

describe('kube API semantics', () => {
  const world = new World();
  let sim: KubeSim;
  let tls: Agent;
  let mine: Instance;
  let other: Instance;
  const NODE_TOKEN = 'node-a-token';
  const OTHER_TOKEN = 'node-b-token';

  async function api(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT',
    path: string,
    options: { token?: string; body?: unknown; contentType?: string; accept?: string } = {},
  ): Promise<Answer> {
    const response = await request(`${sim.url}${path}`, {
      method,
      dispatcher: tls,
      headers: {
        authorization: `Bearer ${options.token ?? sim.token}`,
        ...(options.body !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
        ...(options.accept ? { accept: options.accept } : {}),
      },
      ...(options.body !== undefined ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: JSON.parse(text) };
  }
  const patch = (name: string, body: unknown, contentType: string, token?: string) =>
    api('PATCH', `/api/v1/nodes/${name}`, { body, contentType, ...(token ? { token } : {}) });

  /** A watch read line by line; `next()` is the next event. */
  async function watch(path: string, token = sim.token) {
    const controller = new AbortController();
    const response = await request(`${sim.url}${path}`, { dispatcher: tls, headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    assert.equal(response.statusCode, 200);
    const queue: any[] = [];
    const waiters: ((event: any) => void)[] = [];
    let buffer = '';
    response.body.setEncoding('utf8');
    response.body.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const event = JSON.parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        const waiter = waiters.shift();
        if (waiter) waiter(event);
        else queue.push(event);
      }
    });
    response.body.on('error', () => {});
    return {
      // An event that never comes fails the test instead of hanging it.
      next: () =>
        queue.length > 0
          ? Promise.resolve(queue.shift())
          : new Promise<any>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error(`no watch event on ${path} within 10 s`)), 10_000);
              waiters.push((event) => {
                clearTimeout(timer);
                resolve(event);
              });
            }),
      close: () => controller.abort(),
    };
  }

  before(async () => {
    mine = world.addInstance();
    other = world.addInstance();
    sim = await startKube(world);
    tls = new Agent({ connect: { ca: sim.caPem! } });
    sim.addToken(NODE_TOKEN, `system:node:${mine.hostname}`, ['system:nodes']);
    sim.addToken(OTHER_TOKEN, `system:node:${other.hostname}`, ['system:nodes']);
  });
  after(async () => {
    await sim.close();
    await tls.close();
  });

  it('has no Node until kubelet registers it; then one as kubelet makes it on EKS', async () => {
    const missing = await api('GET', `/api/v1/nodes/${mine.hostname}`);
    assert.deepEqual(missing.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `nodes "${mine.hostname}" not found`,
      reason: 'NotFound',
      details: { name: mine.hostname, kind: 'nodes' },
      code: 404,
    });
    world.registerNode(mine.instanceId, { labels: { 'eks.amazonaws.com/nodegroup': 'ng-1' }, taints: [{ key: 'dedicated', value: 'media', effect: 'NoSchedule' }] });
    world.registerNode(other.instanceId);
    assert.throws(() => world.registerNode(mine.instanceId), /already registered/);
    const node = (await api('GET', `/api/v1/nodes/${mine.hostname}`)).body;
    assert.equal(node.kind, 'Node');
    assert.equal(node.metadata.name, mine.hostname);
    assert.match(node.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(node.metadata.resourceVersion, /^\d+$/);
    assert.ok(Date.parse(node.metadata.creationTimestamp) > 0);
    for (const [key, value] of Object.entries({
      'kubernetes.io/hostname': mine.hostname,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'topology.kubernetes.io/region': world.region,
      'topology.kubernetes.io/zone': mine.availabilityZone,
      'node.kubernetes.io/instance-type': 'm6i.large',
      'eks.amazonaws.com/nodegroup': 'ng-1',
    })) {
      assert.equal(node.metadata.labels[key], value, key);
    }
    assert.equal(node.spec.providerID, `aws:///${mine.availabilityZone}/${mine.instanceId}`);
    assert.deepEqual(node.spec.taints, [{ key: 'dedicated', value: 'media', effect: 'NoSchedule' }]);
    assert.deepEqual(node.status.addresses.find((a: any) => a.type === 'InternalIP'), { type: 'InternalIP', address: mine.enis[0]!.privateIps[0] });
  });

  it('patches a Node with merge, strategic merge and JSON patches; resourceVersion moves only on a change', async () => {
    const name = mine.hostname;
    const rv0 = Number((await api('GET', `/api/v1/nodes/${name}`)).body.metadata.resourceVersion);
    const merged = await patch(name, { metadata: { labels: { 'eip.example.com/ip': '198.51.100.7' } } }, 'application/merge-patch+json');
    assert.equal(merged.status, 200);
    assert.equal(merged.body.metadata.labels['eip.example.com/ip'], '198.51.100.7');
    const rv1 = Number(merged.body.metadata.resourceVersion);
    assert.ok(rv1 > rv0);
    const same = await patch(name, { metadata: { labels: { 'eip.example.com/ip': '198.51.100.7' } } }, 'application/merge-patch+json');
    assert.equal(Number(same.body.metadata.resourceVersion), rv1, 'no change, no new resourceVersion');
    const strategic = await patch(name, { metadata: { labels: { 'eip.example.com/ip': null }, annotations: { 'eip.example.com/allocation-id': 'eipalloc-1' } } }, 'application/strategic-merge-patch+json');
    assert.equal(strategic.status, 200);
    assert.equal(strategic.body.metadata.labels['eip.example.com/ip'], undefined, 'null deletes');
    assert.equal(strategic.body.metadata.annotations['eip.example.com/allocation-id'], 'eipalloc-1');
    assert.equal(strategic.body.metadata.labels['kubernetes.io/hostname'], name, 'the rest is kept');
    const json = await patch(
      name,
      [
        { op: 'test', path: '/metadata/annotations/eip.example.com~1allocation-id', value: 'eipalloc-1' },
        { op: 'add', path: '/metadata/labels/eip.example.com~1ip', value: '198.51.100.8' },
        { op: 'remove', path: '/metadata/annotations/eip.example.com~1allocation-id' },
      ],
      'application/json-patch+json',
    );
    assert.equal(json.status, 200);
    assert.equal(json.body.metadata.labels['eip.example.com/ip'], '198.51.100.8');
    assert.equal(json.body.metadata.annotations['eip.example.com/allocation-id'], undefined);
    assert.equal(world.node(name)!.metadata.labels['eip.example.com/ip'], '198.51.100.8', 'stored');

    const failed = await patch(name, [{ op: 'test', path: '/metadata/labels/eip.example.com~1ip', value: 'x' }], 'application/json-patch+json');
    assert.deepEqual([failed.status, failed.body.reason], [422, 'Invalid']);
    const unknown = await patch(name, 'metadata: {}', 'application/apply-patch+yaml');
    assert.deepEqual([unknown.status, unknown.body.reason], [415, 'UnsupportedMediaType']);
    const badValue = await patch(name, { metadata: { labels: { 'eip.example.com/ip': 'not an ip!' } } }, 'application/merge-patch+json');
    assert.deepEqual([badValue.status, badValue.body.reason], [422, 'Invalid']);
    assert.match(badValue.body.message, /^Node ".+" is invalid: metadata\.labels: Invalid value: "not an ip!"/);
    const stale = await patch(name, { metadata: { resourceVersion: String(rv0), labels: { x: 'y' } } }, 'application/merge-patch+json');
    assert.deepEqual([stale.status, stale.body.reason], [409, 'Conflict']);
    assert.match(stale.body.message, /the object has been modified; please apply your changes to the latest version and try again/);

    const current = (await api('GET', `/api/v1/nodes/${name}`)).body;
    current.metadata.annotations['eip.example.com/put'] = 'yes';
    const put = await api('PUT', `/api/v1/nodes/${name}`, { body: current });
    assert.equal(put.status, 200);
    assert.equal(put.body.metadata.annotations['eip.example.com/put'], 'yes');
    assert.equal((await api('PUT', `/api/v1/nodes/${name}`, { body: current })).status, 409, 'a PUT from an old read conflicts');
  });

  it('NodeRestriction: a node edits only its own Node, never its taints, no restricted labels; annotations are free', async () => {
    const name = mine.hostname;
    const labels = (l: Record<string, string | null>) => ({ metadata: { labels: l } });
    const asNode = (body: unknown, target = name) => patch(target, body, 'application/strategic-merge-patch+json', NODE_TOKEN);
    for (const allowed of [
      labels({ 'eip.example.com/public-ip': '198.51.100.9' }),
      labels({ 'node.kubernetes.io/eip': 'yes', 'kubelet.kubernetes.io/x': 'y', 'topology.kubernetes.io/zone': 'eu-west-1b' }),
      { metadata: { annotations: { 'kubernetes.io/anything': 'free', 'eip.example.com/association-id': 'eipassoc-1' } } },
    ]) {
      const answer = await asNode(allowed);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    }
    const refused = async (body: unknown, message: string, target = name) => {
      const answer = await asNode(body, target);
      assert.equal(answer.status, 403, JSON.stringify(body));
      assert.deepEqual(
        { kind: answer.body.kind, status: answer.body.status, reason: answer.body.reason, code: answer.body.code, details: answer.body.details },
        { kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403, details: { name: target, kind: 'nodes' } },
      );
      assert.equal(answer.body.message, message);
    };
    await refused(labels({ 'eip.example.com/x': 'y' }), `nodes "${other.hostname}" is forbidden: node "${name}" is not allowed to modify node "${other.hostname}"`, other.hostname);
    await refused(labels({ 'node-restriction.kubernetes.io/eip': 'yes' }), `nodes "${name}" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/eip`);
    await refused(
      labels({ 'kubernetes.io/eip': 'a', 'eip.k8s.io/x': 'b', 'sub.node-restriction.kubernetes.io/z': 'c' }),
      `nodes "${name}" is forbidden: is not allowed to modify labels: eip.k8s.io/x, kubernetes.io/eip, sub.node-restriction.kubernetes.io/z`,
    );
    // Removing a restricted label is a modification too.
    await patch(name, labels({ 'node-role.kubernetes.io/media': '' }), 'application/merge-patch+json');
    await refused(labels({ 'node-role.kubernetes.io/media': null }), `nodes "${name}" is forbidden: is not allowed to modify labels: node-role.kubernetes.io/media`);
    await refused({ spec: { taints: [] } }, `nodes "${name}" is forbidden: node "${name}" is not allowed to modify taints`);
    await refused({ spec: { taints: [{ key: 'dedicated', value: 'media', effect: 'NoExecute' }] } }, `nodes "${name}" is forbidden: node "${name}" is not allowed to modify taints`);
    assert.deepEqual(world.node(name)!.spec.taints, [{ key: 'dedicated', value: 'media', effect: 'NoSchedule' }]);
    // A cluster admin may.
    assert.equal((await patch(name, { spec: { taints: null } }, 'application/merge-patch+json')).status, 200);
    // A node reads only its own Node (Node authorizer, stable in 1.34).
    assert.equal((await api('GET', `/api/v1/nodes/${name}`, { token: NODE_TOKEN })).status, 200);
    assert.equal((await api('GET', `/api/v1/nodes/${other.hostname}`, { token: NODE_TOKEN })).status, 403);
    assert.equal((await api('GET', '/api/v1/nodes', { token: NODE_TOKEN })).status, 403);
    const own = await api('GET', `/api/v1/nodes?fieldSelector=metadata.name%3D${name}`, { token: NODE_TOKEN });
    assert.deepEqual(own.body.items.map((n: { metadata: { name: string } }) => n.metadata.name), [name]);
  });

  it('GET of one pod: a node sees only pods bound to it (Node authorizer)', async () => {
    world.addPod({ nodeName: mine.hostname, name: 'web-1' });
    world.addPod({ nodeName: other.hostname, name: 'web-2' });
    assert.equal((await api('GET', '/api/v1/namespaces/default/pods/web-1')).body.spec.nodeName, mine.hostname);
    assert.equal((await api('GET', '/api/v1/namespaces/default/pods/web-1', { token: NODE_TOKEN })).status, 200);
    const theirs = await api('GET', '/api/v1/namespaces/default/pods/web-2', { token: NODE_TOKEN });
    assert.equal(theirs.status, 403);
    assert.equal(
      theirs.body.message,
      `pods "web-2" is forbidden: User "system:node:${mine.hostname}" cannot get resource "pods" in API group "" in the namespace "default": no relationship found between node '${mine.hostname}' and this object`,
    );
    assert.equal((await api('GET', '/api/v1/namespaces/default/pods/nope')).status, 404);
    assert.equal((await api('GET', '/api/v1/namespaces/default/pods/nope', { token: NODE_TOKEN })).status, 403);
  });

  it('Events: nodes create and patch them (core/v1 and events.k8s.io/v1) but do not read them; admins select them', async () => {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const core = {
      metadata: { name: `${mine.hostname}.claimed` },
      involvedObject: { kind: 'Node', name: mine.hostname, uid: mine.hostname },
      reason: 'AddressClaimed',
      message: 'claimed 198.51.100.9',
      type: 'Normal',
      source: { component: 'eip-agent', host: mine.hostname },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    const created = await api('POST', '/api/v1/namespaces/default/events', { token: NODE_TOKEN, body: core });
    assert.equal(created.status, 201);
    assert.equal(created.body.metadata.namespace, 'default');
    assert.equal((await api('POST', '/api/v1/namespaces/default/events', { token: NODE_TOKEN, body: core })).body.reason, 'AlreadyExists');
    const wrongNamespace = await api('POST', '/api/v1/namespaces/kube-system/events', { token: NODE_TOKEN, body: { ...core, metadata: { name: 'x' } } });
    assert.deepEqual([wrongNamespace.status, wrongNamespace.body.reason], [422, 'Invalid']);
    assert.match(wrongNamespace.body.message, /involvedObject\.namespace: Invalid value: "": does not match event\.namespace/);

    const v1 = {
      metadata: { generateName: `${mine.hostname}.` },
      regarding: { kind: 'Node', name: mine.hostname, uid: mine.hostname },
      reason: 'PoolExhausted',
      note: 'pool color=orange: 3 addresses, 0 free',
      type: 'Warning',
      action: 'Claim',
      eventTime: new Date().toISOString(),
      reportingController: 'eip-agent',
      reportingInstance: mine.hostname,
    };
    const createdV1 = await api('POST', '/apis/events.k8s.io/v1/namespaces/default/events', { token: NODE_TOKEN, body: v1 });
    assert.equal(createdV1.status, 201, JSON.stringify(createdV1.body));
    assert.equal(createdV1.body.apiVersion, 'events.k8s.io/v1');
    assert.equal(createdV1.body.note, v1.note);
    const incomplete = await api('POST', '/apis/events.k8s.io/v1/namespaces/default/events', { token: NODE_TOKEN, body: { ...v1, reportingController: undefined, action: undefined } });
    assert.equal(incomplete.status, 422);
    assert.match(incomplete.body.message, /reportingController: Required value, action: Required value/);

    const bumped = await api('PATCH', `/api/v1/namespaces/default/events/${core.metadata.name}`, {
      token: NODE_TOKEN,
      body: { count: 2, lastTimestamp: now },
      contentType: 'application/strategic-merge-patch+json',
    });
    assert.deepEqual([bumped.status, bumped.body.count], [200, 2]);

    const cannotRead = await api('GET', '/api/v1/namespaces/default/events', { token: NODE_TOKEN });
    assert.equal(cannotRead.status, 403);
    assert.equal(cannotRead.body.message, `events is forbidden: User "system:node:${mine.hostname}" cannot list resource "events" in API group "" in the namespace "default"`);

    const selected = await api('GET', `/api/v1/events?fieldSelector=${encodeURIComponent(`involvedObject.kind=Node,involvedObject.name=${mine.hostname},reason=PoolExhausted`)}`);
    assert.deepEqual(selected.body.items.map((e: any) => [e.reason, e.message, e.involvedObject.name]), [['PoolExhausted', v1.note, mine.hostname]]);
    assert.equal((await api('GET', '/apis/events.k8s.io/v1/namespaces/default/events')).body.items.length, 2);
    assert.deepEqual(sim.events({ name: mine.hostname }).map((e) => e.reason), ['AddressClaimed', 'PoolExhausted']);
    assert.deepEqual(sim.events({ reason: 'AddressClaimed' })[0].count, 2);
  });

  it('watches: ADDED for what exists, then changes; from a resourceVersion; objects leaving a selection are DELETED', async () => {
    const nodes = await watch(`/api/v1/nodes?watch=true&fieldSelector=metadata.name%3D${mine.hostname}`);
    const first = await nodes.next();
    assert.deepEqual([first.type, first.object.metadata.name], ['ADDED', mine.hostname]);
    await patch(mine.hostname, { metadata: { labels: { 'eip.example.com/ip': '198.51.100.10' } } }, 'application/merge-patch+json', NODE_TOKEN);
    const modified = await nodes.next();
    assert.equal(modified.type, 'MODIFIED');
    assert.equal(modified.object.metadata.labels['eip.example.com/ip'], '198.51.100.10');
    assert.ok(Number(modified.object.metadata.resourceVersion) > Number(first.object.metadata.resourceVersion));
    nodes.close();

    const list = await api('GET', `/api/v1/pods?fieldSelector=spec.nodeName%3D${mine.hostname}`, { token: NODE_TOKEN });
    world.addPod({ nodeName: mine.hostname, name: 'late' });
    world.addPod({ nodeName: other.hostname, name: 'elsewhere' });
    const pods = await watch(`/api/v1/pods?watch=1&resourceVersion=${list.body.metadata.resourceVersion}&fieldSelector=spec.nodeName%3D${mine.hostname}`, NODE_TOKEN);
    const added = await pods.next();
    assert.deepEqual([added.type, added.object.metadata.name], ['ADDED', 'late'], 'replayed from the list resourceVersion; the other node\'s pod is not shown');
    world.setPodPhase('default', 'late', 'Succeeded');
    assert.deepEqual(await pods.next().then((e) => [e.type, e.object.status.phase]), ['MODIFIED', 'Succeeded']);
    world.deletePod('default', 'late');
    assert.deepEqual(await pods.next().then((e) => [e.type, e.object.metadata.name]), ['DELETED', 'late']);
    pods.close();

    const labelled = await watch('/api/v1/nodes?watch=true&labelSelector=eip.example.com%2Fip');
    assert.deepEqual(await labelled.next().then((e) => [e.type, e.object.metadata.name]), ['ADDED', mine.hostname]);
    await patch(mine.hostname, { metadata: { labels: { 'eip.example.com/ip': null } } }, 'application/merge-patch+json');
    assert.deepEqual(await labelled.next().then((e) => [e.type, e.object.metadata.name]), ['DELETED', mine.hostname]);
    await patch(other.hostname, { metadata: { labels: { 'eip.example.com/ip': '198.51.100.11' } } }, 'application/merge-patch+json');
    assert.deepEqual(await labelled.next().then((e) => [e.type, e.object.metadata.name]), ['ADDED', other.hostname]);
    labelled.close();

    const refused = await api('GET', '/api/v1/pods?watch=true', { token: NODE_TOKEN });
    assert.equal(refused.status, 403);
    for (let i = 0; i < 2100; i++) world.setPodPhase('default', 'web-1', i % 2 ? 'Running' : 'Pending');
    const expired = await watch('/api/v1/pods?watch=true&resourceVersion=1001');
    const error = await expired.next();
    assert.deepEqual([error.type, error.object.kind, error.object.code, error.object.reason], ['ERROR', 'Status', 410, 'Expired']);
    expired.close();
  });

  it('serves discovery and, for kubectl, Tables', async () => {
    assert.equal((await api('GET', '/version')).body.major, '1');
    assert.deepEqual((await api('GET', '/api')).body.versions, ['v1']);
    const groups = (await api('GET', '/apis')).body.groups.map((g: any) => g.name);
    for (const group of ['authentication.k8s.io', 'events.k8s.io']) assert.ok(groups.includes(group), group);
    const core = (await api('GET', '/api/v1')).body.resources.map((r: any) => r.name).sort();
    assert.deepEqual(core, ['events', 'nodes', 'pods']);
    assert.equal((await api('GET', '/apis/events.k8s.io/v1')).body.resources[0].kind, 'Event');

    const table = await api('GET', '/api/v1/nodes', { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    assert.equal(table.body.kind, 'Table');
    assert.deepEqual(
      table.body.columnDefinitions.filter((c: any) => c.priority === 0).map((c: any) => c.name),
      ['Name', 'Status', 'Roles', 'Age', 'Version'],
    );
    const row = table.body.rows.find((r: any) => r.cells[0] === mine.hostname);
    assert.equal(row.cells[1], 'Ready');
    assert.equal(row.object.kind, 'PartialObjectMetadata');
    assert.equal(row.object.metadata.labels['kubernetes.io/hostname'], mine.hostname);
    const pods = await api('GET', '/api/v1/pods', { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    assert.deepEqual(pods.body.columnDefinitions.slice(0, 5).map((c: any) => c.name), ['Name', 'Ready', 'Status', 'Restarts', 'Age']);
  });
});
