import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { isLoopback, startHealthServer } from '../../agent/adapters/health.js';
import { memoryLogger } from '../../agent/shared/log.js';
import { Metrics } from '../../agent/lifecycle/metrics.js';
import { AgentStore } from '../../agent/lifecycle/state.js';

test('isLoopback: only loopback peers may ask for a release', () => {
  const cases: [string | undefined, boolean][] = [
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['192.0.2.10', false],
    ['::ffff:10.0.0.1', false],
    ['fd00::2', false],
    [undefined, false],
  ];
  for (const [address, expected] of cases) assert.equal(isLoopback(address), expected, String(address));
});

test('health endpoint: readiness follows the phase; release answers once released', async () => {
  const metrics = new Metrics('1.2.3', 'color=orange');
  const state = new AgentStore({ tagKey: 'color', tagValue: 'orange' }, '1.2.3', metrics, memoryLogger(), { now: () => 0 });
  let asked: boolean | undefined;
  const view = {
    readiness: () => state.readiness(),
    status: () => state.status(),
    metrics: () => metrics.render(),
    release: async (force: boolean) => {
      asked = force;
      return state.status();
    },
  };
  const server = await startHealthServer({ host: '127.0.0.1', port: 0, loopback: true }, view);
  const call = async (method: 'GET' | 'POST', path: string) => {
    const res = await request(`http://127.0.0.1:${server.port}${path}`, { method });
    return { status: res.statusCode, body: await res.body.text() };
  };
  try {
    assert.equal((await call('GET', '/healthz')).status, 200);
    const notReady = await call('GET', '/readyz');
    assert.equal(notReady.status, 503);
    assert.deepEqual(JSON.parse(notReady.body), { ready: false, phase: 'starting', reason: 'reading identity from IMDS' });
    state.apply({ type: 'claiming', reason: 'x' });
    state.apply({ type: 'verifying', reason: 'y' });
    state.apply({ type: 'ready' });
    assert.equal((await call('GET', '/readyz')).status, 200);
    assert.equal(JSON.parse((await call('GET', '/status')).body).readySince, '1970-01-01T00:00:00.000Z');
    assert.match((await call('GET', '/metrics')).body, /eip_agent_phase\{phase="ready"\} 1/);
    assert.match((await call('GET', '/metrics')).body, /eip_agent_info\{version="1\.2\.3"\} 1/);
    assert.equal(JSON.parse((await call('GET', '/status')).body).version, '1.2.3');
    assert.equal((await call('GET', '/release')).status, 405);
    assert.equal((await call('POST', '/release?force=true')).status, 200);
    assert.equal(asked, true);
    assert.equal((await call('GET', '/nope')).status, 404);
    await assert.rejects(
      startHealthServer({ host: '127.0.0.1', port: server.port, loopback: true }, view),
      { message: /^--health-listen: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/ },
    );
  } finally {
    await server.close();
  }
});
