import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { createKubeClient } from '../../agent/adapters/kube.js';
import type { KubeClient, KubeClientDeps, RunExec } from '../../agent/adapters/kube.js';
import { createKubeTransport } from '../../agent/adapters/kube-client.js';
import type { KubeTransport } from '../../agent/adapters/kube-client.js';
import { loadKubeconfig } from '../../agent/adapters/kubeconfig.js';
import type { KubeTarget } from '../../agent/adapters/kubeconfig.js';
import { AgentError } from '../../agent/shared/errors.js';
import { startKube } from '../sim/kube.js';
import type { KubeSim } from '../sim/kube.js';
import { World } from '../sim/world.js';

// From .build/test/adapters/ back to the source tree: fixtures are not transpiled.
const PLUGIN = fileURLToPath(new URL('../../../test/fixtures/fake-exec-plugin.mjs', import.meta.url));
const NODE = 'ip-10-0-0-1.eu-west-1.compute.internal';
const PATH = `/api/v1/pods?fieldSelector=spec.nodeName%3D${NODE}`;

function assertAgentError(kind: string, code: string, ...mustNotContain: string[]) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof AgentError, `expected an AgentError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.equal(error.code, code, error.message);
    for (const secret of mustNotContain) assert.ok(!error.message.includes(secret), `message leaks ${secret}: ${error.message}`);
    return true;
  };
}

describe('kube client against the kube sim', () => {
  const world = new World();
  let sim: KubeSim;
  let dir: string;
  const clients: KubeClient[] = [];
  let caseNo = 0;

  /** Writes a kubeconfig for the sim with this user, loads it, builds a client. */
  async function clientFor(user: Record<string, unknown>, deps: KubeClientDeps = {}, cluster: Record<string, unknown> = {}) {
    caseNo += 1;
    const path = join(dir, `kubeconfig-${caseNo}`);
    await writeFile(join(dir, 'ca.crt'), sim.caPem!);
    await writeFile(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'sim',
        contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'agent' } }],
        clusters: [{ name: 'sim', cluster: { server: sim.url, 'certificate-authority': 'ca.crt', ...cluster } }],
        users: [{ name: 'agent', user }],
      }),
    );
    const target = (await loadKubeconfig(path))!;
    const client = createKubeClient(target, { timeoutMs: 2_000, ...deps });
    clients.push(client);
    return { client, target };
  }

  /** An exec user running the fake plugin with these env vars and a fresh run counter. */
  function execUser(env: Record<string, string>, apiVersion = 'client.authentication.k8s.io/v1beta1') {
    const counter = join(dir, `runs-${caseNo + 1}`);
    const runs = async (): Promise<number> =>
      (await readFile(counter, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
    const user = {
      exec: {
        apiVersion,
        command: process.execPath,
        args: [PLUGIN],
        env: Object.entries({ FAKE_EXEC_COUNTER: counter, ...env }).map(([name, value]) => ({ name, value })),
      },
    };
    return { user, runs };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eip-kube-'));
    world.addPod({ nodeName: NODE, name: 'web-5c9f-abcde', ownerKind: 'ReplicaSet' });
    world.addPod({ nodeName: NODE, name: 'kube-proxy-x1', namespace: 'kube-system', ownerKind: 'DaemonSet' });
    world.addPod({ nodeName: NODE, name: `etcd-${NODE}`, namespace: 'kube-system', mirror: true });
    world.addPod({ nodeName: NODE, name: 'migrate-1', ownerKind: 'Job', phase: 'Succeeded' });
    world.addPod({ nodeName: 'other-node', name: 'elsewhere' });
    sim = await startKube(world, { tls: true });
    sim.addToken('node-token', `system:node:${NODE}`, ['system:nodes']);
    sim.addToken('other-node-token', 'system:node:other-node', ['system:nodes']);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the pods of the node with a node token, over TLS with the CA from the kubeconfig', async () => {
    const { client } = await clientFor({ token: 'node-token' });
    const pods = await client.listPodsOnNode(NODE);
    assert.deepEqual(
      pods.sort((a, b) => a.name.localeCompare(b.name)),
      [
        { namespace: 'kube-system', name: `etcd-${NODE}`, phase: 'Running', ownerKinds: ['Node'], mirror: true },
        { namespace: 'kube-system', name: 'kube-proxy-x1', phase: 'Running', ownerKinds: ['DaemonSet'], mirror: false },
        { namespace: 'default', name: 'migrate-1', phase: 'Succeeded', ownerKinds: ['Job'], mirror: false },
        { namespace: 'default', name: 'web-5c9f-abcde', phase: 'Running', ownerKinds: ['ReplicaSet'], mirror: false },
      ],
    );
    // Exactly the selector the Node authorizer allows a node.
    assert.deepEqual(sim.requests.at(-1), { method: 'GET', path: PATH, user: `system:node:${NODE}`, status: 200 });
  });

  it('re-reads a tokenFile on every request', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'node-token\n');
    const { client } = await clientFor({ tokenFile });
    await client.listPodsOnNode(NODE);
    assert.equal(sim.requests.at(-1)!.user, `system:node:${NODE}`);
    await writeFile(tokenFile, sim.token);
    await client.listPodsOnNode(NODE);
    assert.equal(sim.requests.at(-1)!.user, 'kubernetes-admin');
    await rm(tokenFile);
    await assert.rejects(client.listPodsOnNode(NODE), assertAgentError('auth', 'kube.token-file'));
  });

  it('authenticates with a client certificate from the kubeconfig', async () => {
    const pair = await sim.issueClientCert(`system:node:${NODE}`, ['system:nodes']);
    const { client } = await clientFor({
      'client-certificate-data': Buffer.from(pair.certPem).toString('base64'),
      'client-key-data': Buffer.from(pair.keyPem).toString('base64'),
    });
    // Twice: a second connection may be opened here, which resumes the TLS session.
    for (let i = 0; i < 2; i++) {
      assert.equal((await client.listPodsOnNode(NODE)).length, 4);
      assert.equal(sim.requests.at(-1)!.user, `system:node:${NODE}`);
    }
  });

  it('runs the exec plugin once and reuses its token until it expires', async () => {
    const { user, runs } = execUser({ FAKE_EXEC_TOKEN: 'node-token', FAKE_EXEC_EXPIRES_IN: '900' });
    const { client } = await clientFor(user);
    for (let i = 0; i < 3; i++) assert.equal((await client.listPodsOnNode(NODE)).length, 4);
    assert.equal(await runs(), 1);
    assert.equal(sim.requests.at(-1)!.user, `system:node:${NODE}`);
  });

  it('tells the plugin what kubectl tells it in KUBERNETES_EXEC_INFO', async () => {
    const out = join(dir, 'exec-info.json');
    const { user } = execUser({ FAKE_EXEC_TOKEN: 'node-token', FAKE_EXEC_INFO_OUT: out }, 'client.authentication.k8s.io/v1');
    const { client, target } = await clientFor({ exec: { ...user.exec, provideClusterInfo: true } });
    await client.listPodsOnNode(NODE);
    const info = JSON.parse(await readFile(out, 'utf8'));
    assert.deepEqual(info, {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: {
          server: sim.url,
          'insecure-skip-tls-verify': false,
          'certificate-authority-data': Buffer.from(target.ca!).toString('base64'),
        },
      },
    });
  });

  it('runs the plugin again once the token is within 30 s of its expiry (injected clock and runner)', async () => {
    let clock = Date.parse('2026-03-01T12:00:00Z');
    const calls: { command: string; env: NodeJS.ProcessEnv }[] = [];
    const runExec: RunExec = async (command, _args, { env }) => {
      calls.push({ command, env });
      const status = { token: 'node-token', expirationTimestamp: new Date(clock + 600_000).toISOString() };
      return { exitCode: 0, timedOut: false, stderr: '', stdout: JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status }) };
    };
    const { client } = await clientFor(
      { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws', env: [{ name: 'AWS_PROFILE', value: 'node' }] } },
      { now: () => clock, runExec },
    );
    await client.listPodsOnNode(NODE);
    clock += 569_000; // 31 s left: still good
    await client.listPodsOnNode(NODE);
    assert.equal(calls.length, 1);
    clock += 2_000; // 29 s left: refresh
    await client.listPodsOnNode(NODE);
    assert.equal(calls.length, 2);
    assert.equal(calls[0]!.command, 'aws');
    assert.equal(calls[0]!.env.AWS_PROFILE, 'node');
    assert.equal(calls[0]!.env.PATH, process.env.PATH);
  });

  it('asks the plugin again once when the API server refuses its token (401)', async () => {
    sim.addToken('rotating-2', `system:node:${NODE}`);
    const { user, runs } = execUser({ FAKE_EXEC_TOKEN: 'rotating-{n}', FAKE_EXEC_EXPIRES_IN: '900' });
    const { client } = await clientFor(user);
    assert.equal((await client.listPodsOnNode(NODE)).length, 4);
    assert.equal(await runs(), 2);
    await client.listPodsOnNode(NODE);
    assert.equal(await runs(), 2, 'the refreshed token is cached');
  });

  it('gives up after one refresh when the new token is refused too', async () => {
    const { user, runs } = execUser({ FAKE_EXEC_TOKEN: 'revoked-{n}' });
    const { client } = await clientFor(user);
    await assert.rejects(client.listPodsOnNode(NODE), assertAgentError('auth', 'kube.unauthorized', 'revoked-'));
    assert.equal(await runs(), 2);
  });

  it('uses a client certificate handed out by the plugin', async () => {
    const pair = await sim.issueClientCert(`system:node:${NODE}`);
    await writeFile(join(dir, 'exec.crt'), pair.certPem);
    await writeFile(join(dir, 'exec.key'), pair.keyPem);
    const { user } = execUser({ FAKE_EXEC_MODE: 'cert', FAKE_EXEC_CERT_FILE: join(dir, 'exec.crt'), FAKE_EXEC_KEY_FILE: join(dir, 'exec.key') });
    const { client } = await clientFor(user);
    assert.equal((await client.listPodsOnNode(NODE)).length, 4);
    assert.equal(sim.requests.at(-1)!.user, `system:node:${NODE}`);
  });

  const failures: [string, Record<string, string>, KubeClientDeps, RegExp][] = [
    ['exits 1', { FAKE_EXEC_MODE: 'fail' }, {}, /: exited with code 1: could not get token: AccessDenied$/],
    ['prints garbage', { FAKE_EXEC_MODE: 'garbage' }, {}, /: printed something that is not ExecCredential JSON$/],
    ['answers another apiVersion', { FAKE_EXEC_API_VERSION: 'client.authentication.k8s.io/v1' }, {}, /: answered with apiVersion "client.authentication.k8s.io\/v1", expected client.authentication.k8s.io\/v1beta1$/],
    ['hangs', { FAKE_EXEC_MODE: 'hang' }, { execTimeoutMs: 300 }, /: no answer within 300 ms$/],
  ];
  for (const [name, env, deps, message] of failures) {
    it(`reports a plugin that ${name} as an auth error without the secret`, async () => {
      const secret = 'top-secret-token';
      const { user } = execUser({ FAKE_EXEC_TOKEN: secret, ...env });
      const { client } = await clientFor(user, deps);
      await assert.rejects(client.listPodsOnNode(NODE), (error: unknown) => {
        assertAgentError('auth', 'kube.exec', secret)(error);
        assert.match((error as Error).message, new RegExp(`^kubeconfig exec plugin ${process.execPath.replaceAll('/', '\\/')}`));
        assert.match((error as Error).message, message);
        return true;
      });
    });
  }

  it('reports a plugin that cannot be started', async () => {
    const { client } = await clientFor({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: '/nonexistent/aws-iam-authenticator' } });
    await assert.rejects(client.listPodsOnNode(NODE), (error: unknown) => {
      assertAgentError('auth', 'kube.exec')(error);
      assert.equal((error as Error).message, 'kubeconfig exec plugin /nonexistent/aws-iam-authenticator: could not run (ENOENT)');
      return true;
    });
  });

  describe('classifies failures', () => {
    it('401 for an unknown token → auth, without the token', async () => {
      const { client } = await clientFor({ token: 'no-such-token' });
      await assert.rejects(client.listPodsOnNode(NODE), assertAgentError('auth', 'kube.unauthorized', 'no-such-token'));
    });

    it('403 when another node lists this node → auth, with the Status message', async () => {
      const { client } = await clientFor({ token: 'other-node-token' });
      await assert.rejects(client.listPodsOnNode(NODE), (error: unknown) => {
        assertAgentError('auth', 'kube.forbidden', 'other-node-token')(error);
        assert.match((error as Error).message, /HTTP 403: pods is forbidden: User "system:node:other-node"/);
        return true;
      });
    });

    const injected: [number, string, string][] = [
      [500, 'transient', 'kube.unavailable'],
      [503, 'transient', 'kube.unavailable'],
      [429, 'throttled', 'kube.throttled'],
      [400, 'rejected', 'kube.rejected'],
    ];
    for (const [status, kind, code] of injected) {
      it(`${status} → ${kind}`, async () => {
        const { client } = await clientFor({ token: 'node-token' });
        sim.faults.failNext(1, status);
        await assert.rejects(client.listPodsOnNode(NODE), assertAgentError(kind, code));
        // The body was consumed: the same client goes on working.
        assert.equal((await client.listPodsOnNode(NODE)).length, 4);
      });
    }

    it('a body that is not JSON → malformed kube.malformed', async () => {
      const { client } = await clientFor({ token: 'node-token' });
      sim.faults.garbleNext(1);
      await assert.rejects(client.listPodsOnNode(NODE), assertAgentError('malformed', 'kube.malformed'));
    });

    it('a server that never answers → transient kube.timeout within the deadline', { timeout: 5_000 }, async () => {
      const { client } = await clientFor({ token: 'node-token' }, { timeoutMs: 200 });
      sim.faults.hang = true;
      const started = Date.now();
      try {
        await assert.rejects(client.listPodsOnNode(NODE), assertAgentError('transient', 'kube.timeout'));
      } finally {
        sim.faults.hang = false;
      }
      assert.ok(Date.now() - started < 1_500);
    });

    it('the caller cancelling is passed on as the abort reason, not as a fault', { timeout: 5_000 }, async () => {
      const { client } = await clientFor({ token: 'node-token' });
      sim.faults.hang = true;
      const controller = new AbortController();
      const reason = new Error('shutting down');
      setTimeout(() => controller.abort(reason), 50);
      try {
        await assert.rejects(client.listPodsOnNode(NODE, controller.signal), (error: unknown) => error === reason);
      } finally {
        sim.faults.hang = false;
      }
    });

    it('a closed port → transient kube.network', async () => {
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const { port } = probe.address() as AddressInfo;
      await new Promise((resolve) => probe.close(resolve));
      const target: KubeTarget = { server: `http://127.0.0.1:${port}`, insecureSkipTlsVerify: false, token: 't' };
      const client = createKubeClient(target, { timeoutMs: 1_000 });
      clients.push(client);
      await assert.rejects(client.listPodsOnNode(NODE), (error: unknown) => {
        assertAgentError('transient', 'kube.network')(error);
        assert.match((error as Error).message, /ECONNREFUSED/);
        return true;
      });
    });

    it('a server certificate from another CA → auth kube.tls; insecure-skip-tls-verify accepts it', async () => {
      const untrusted = createKubeClient({ server: sim.url, insecureSkipTlsVerify: false, token: 'node-token' });
      const insecure = createKubeClient({ server: sim.url, insecureSkipTlsVerify: true, token: 'node-token' });
      clients.push(untrusted, insecure);
      await assert.rejects(untrusted.listPodsOnNode(NODE), assertAgentError('auth', 'kube.tls'));
      assert.equal((await insecure.listPodsOnNode(NODE)).length, 4);
    });
  });
});

describe("the node's own Node and its Events (SPEC §4a)", () => {
  const world = new World();
  const instance = world.addInstance({ hostname: 'ip-10-0-0-9.eu-west-1.compute.internal' });
  const other = world.addInstance({ hostname: 'ip-10-0-0-10.eu-west-1.compute.internal' });
  let sim: KubeSim;
  let client: KubeClient;
  before(async () => {
    sim = await startKube(world, { tls: true });
    sim.addToken('me', `system:node:${instance.hostname}`, ['system:nodes']);
    client = createKubeClient({ server: sim.url, ca: sim.caPem!, insecureSkipTlsVerify: false, token: 'me' }, { timeoutMs: 2_000 });
  });
  after(async () => {
    await client.close();
    await sim.close();
  });

  it('a Node kubelet has not registered yet is undefined (404), then found', async () => {
    assert.equal(await client.getNode(instance.hostname), undefined);
    world.registerNode(instance.instanceId);
    const node = await client.getNode(instance.hostname);
    assert.equal(node?.name, instance.hostname);
    assert.match(node?.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(node?.labels['kubernetes.io/hostname'], instance.hostname);
  });

  it('labels and annotations by merge patch; null removes them', async () => {
    const set = await client.patchNode(instance.hostname, { labels: { 'eip-agent.io/public-ip': '198.51.100.7' }, annotations: { 'eip-agent.io/pool': 'color=orange' } });
    assert.equal(set.labels['eip-agent.io/public-ip'], '198.51.100.7');
    assert.equal(set.annotations['eip-agent.io/pool'], 'color=orange');
    assert.equal(set.labels['kubernetes.io/hostname'], instance.hostname, 'other labels stay');
    const removed = await client.patchNode(instance.hostname, { labels: { 'eip-agent.io/public-ip': null }, annotations: { 'eip-agent.io/pool': null } });
    assert.equal(removed.labels['eip-agent.io/public-ip'], undefined);
    assert.equal(removed.annotations['eip-agent.io/pool'], undefined);
    assert.equal(sim.requests.filter((r) => r.method === 'PATCH').at(-1)?.status, 200);
  });

  it("NodeRestriction: a node's credentials cannot set restricted keys, nor touch another Node (403, typed)", async () => {
    world.registerNode(other.instanceId);
    const forbidden = (error: unknown) => error instanceof AgentError && error.kind === 'auth' && error.code === 'kube.forbidden';
    await assert.rejects(client.patchNode(instance.hostname, { labels: { 'node-restriction.kubernetes.io/ip': 'x' } }), forbidden);
    await assert.rejects(client.patchNode(instance.hostname, { labels: { 'kubernetes.io/public-ip': 'x' } }), forbidden);
    await assert.rejects(client.patchNode(other.hostname, { labels: { 'eip-agent.io/public-ip': 'x' } }), forbidden);
    assert.equal(((world.node(other.hostname) as { metadata: { labels: Record<string, string> } }).metadata.labels)['eip-agent.io/public-ip'], undefined);
  });

  it('records an Event about the Node that kubectl describe shows', async () => {
    const node = (await client.getNode(instance.hostname))!;
    await client.recordEvent(node, { type: 'Warning', reason: 'PoolExhausted', message: 'pool color=orange: 0 of 3 addresses free' });
    const [event] = sim.events({ name: instance.hostname, reason: 'PoolExhausted' }) as { involvedObject: Record<string, string>; type: string; source: { component: string } }[];
    assert.deepEqual([event?.involvedObject['kind'], event?.involvedObject['uid'], event?.type, event?.source.component], ['Node', node.uid, 'Warning', 'eip-agent']);
  });
});

describe('the pooled connections of an exec plugin that rotates client certificates', () => {
  // A plain HTTP server on port 0 that answers `{}`, except that it holds `/held` until
  // told; every connection is kept, in the order they were opened.
  const sockets: Socket[] = [];
  let release: (() => void) | undefined;
  const server = createHttpServer((req, res) => {
    const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (req.url === '/held') release = answer;
    else answer();
  });
  server.keepAliveTimeout = 0; // idle connections stay open until the client closes them
  server.on('connection', (socket: Socket) => sockets.push(socket));
  let clock = Date.parse('2026-03-01T12:00:00Z');
  let runs = 0;
  // Each run hands out a new certificate, valid 10 min.
  const runExec: RunExec = async () => {
    runs += 1;
    const status = { clientCertificateData: `cert-${runs}`, clientKeyData: `key-${runs}`, expirationTimestamp: new Date(clock + 600_000).toISOString() };
    return { exitCode: 0, timedOut: false, stderr: '', stdout: JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status }) };
  };
  let transport: KubeTransport;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const exec = { apiVersion: 'client.authentication.k8s.io/v1' as const, command: 'plugin', args: [], env: [], provideClusterInfo: false };
    transport = createKubeTransport({ server: `http://127.0.0.1:${port}`, insecureSkipTlsVerify: false, exec }, { now: () => clock, runExec });
  });
  after(async () => {
    await transport.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('finishes a request in flight on the old certificate, then closes its connection; close() closes the rest', { timeout: 5_000 }, async () => {
    const held = transport.request({ method: 'GET', path: '/held', what: 'held' });
    while (release === undefined) await new Promise((resolve) => setImmediate(resolve));
    clock += 600_000; // the first certificate has expired: the next request runs the plugin again
    assert.deepEqual(await transport.request({ method: 'GET', path: '/next', what: 'next' }), {});
    assert.equal(runs, 2);
    assert.equal(sockets.length, 2, 'the new certificate has its own connection');
    const [old, current] = sockets as [Socket, Socket];
    const oldClosed = once(old, 'close');
    release();
    assert.deepEqual(await held, {}, 'the request in flight is not cut off');
    await oldClosed; // the retired agent is destroyed once its last request is done
    assert.equal(current.destroyed, false, 'the connection of the current certificate stays open');
    const currentClosed = once(current, 'close');
    await transport.close();
    await currentClosed;
  });
});
