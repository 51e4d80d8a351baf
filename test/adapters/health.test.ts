import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { startHealthServer } from '../../agent/adapters/health.js';
import { Metrics } from '../../agent/lifecycle/metrics.js';
import { AgentStore } from '../../agent/lifecycle/state.js';
import { memoryLogger } from '../../agent/shared/log.js';

/** POST over the Unix socket, as `eip-agent release` does. */
function overSocket(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, method: 'POST' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end();
  });
}

test('health endpoint: read-only over TCP; release only on the root-only control socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eip-health-'));
  const socket = join(dir, 'run', 'control.sock');
  const metrics = new Metrics('1.2.3', 'color=orange');
  const state = new AgentStore({ tagKey: 'color', tagValue: 'orange' }, '1.2.3', metrics, memoryLogger(), { now: () => 0 });
  const asked: boolean[] = [];
  const refused: string[] = [];
  const view = {
    readiness: () => state.readiness(),
    status: () => state.status(),
    metrics: () => metrics.render(),
    release: async (force: boolean) => {
      asked.push(force);
      return state.status();
    },
    refused: (peer: string) => refused.push(peer),
  };
  const server = await startHealthServer({ host: '127.0.0.1', port: 0, loopback: true }, view, socket);
  const call = async (method: 'GET' | 'POST', path: string) => {
    const res = await request(`http://127.0.0.1:${server.port}${path}`, { method });
    return { status: res.statusCode, body: await res.body.text() };
  };
  try {
    assert.equal((await call('GET', '/healthz')).status, 200);
    const notReady = await call('GET', '/readyz');
    assert.equal(notReady.status, 503);
    assert.deepEqual(JSON.parse(notReady.body), { ready: false, phase: 'starting', reason: 'reading identity from IMDS', gateOpen: false });
    state.apply({ type: 'claiming', reason: 'x' });
    state.apply({ type: 'verifying', reason: 'y' });
    state.apply({ type: 'ready' });
    assert.equal((await call('GET', '/readyz')).status, 200);
    assert.equal(JSON.parse((await call('GET', '/status')).body).readySince, '1970-01-01T00:00:00.000Z');
    assert.match((await call('GET', '/metrics')).body, /eip_agent_phase\{phase="ready"\} 1/);
    assert.match((await call('GET', '/metrics')).body, /eip_agent_info\{version="1\.2\.3"\} 1/);
    assert.equal(JSON.parse((await call('GET', '/status')).body).version, '1.2.3');

    // Any local process reaches the TCP port (every hostNetwork pod): it may not release.
    const tcp = await call('POST', '/release?force=true');
    assert.equal(tcp.status, 403);
    assert.match(tcp.body, /control socket only/);
    assert.deepEqual(asked, [], 'nothing changes');
    assert.match(refused[0] ?? '', /^127\.0\.0\.1:\d+$/, 'the refusal names the peer');

    // The control socket: mode 0600, and it takes the release.
    assert.equal(statSync(socket).mode & 0o777, 0o600);
    assert.equal((await overSocket(socket, '/release?force=true')).status, 200);
    assert.deepEqual(asked, [true]);
    assert.equal((await call('GET', '/release')).status, 405);
    assert.equal((await call('GET', '/nope')).status, 404);

    // Another user on the node cannot even connect (root only).
    if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v runuser && command -v curl']).status === 0) {
      const other = spawnSync('runuser', ['-u', 'nobody', '--', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', socket, '-X', 'POST', 'http://localhost/release'], { encoding: 'utf8' });
      assert.notEqual(other.stdout, '200', 'nobody was refused');
      assert.deepEqual(asked, [true], 'still only the one release');
    }

    await assert.rejects(startHealthServer({ host: '127.0.0.1', port: server.port, loopback: true }, view, join(dir, 'other.sock')), {
      message: /^--health-listen: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/,
    });
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => statSync(socket), /ENOENT/, 'the socket file goes with the daemon');
});
