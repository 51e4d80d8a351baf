// The echo service probe of --live-check egress: its answers and its failures, typed by the
// one rule every adapter over HTTP follows.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { egressProbe } from '../../agent/adapters/egress.js';
import { AgentError } from '../../agent/shared/errors.js';
import { startKube, type KubeSim } from '../sim/kube.js';
import { World } from '../sim/world.js';

const IP = '198.51.100.7';

function typed(kind: string, code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof AgentError, `an AgentError, got ${String(error)}`);
    assert.deepEqual([error.kind, error.code], [kind, code]);
    return true;
  };
}

describe('egress probe', () => {
  let echo: Server;
  let url: string;
  let kube: KubeSim;
  const answers = new Map<string, [number, string]>([
    ['/ours', [200, `${IP}\n`]],
    ['/other', [200, '203.0.113.9\n']],
    ['/busy', [503, 'busy']],
    ['/big', [200, 'x'.repeat(4096)]],
  ]);
  before(async () => {
    echo = createServer((req, res) => {
      const [status, body] = answers.get(req.url ?? '') ?? [404, ''];
      res.writeHead(status).end(body);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    kube = await startKube(new World()); // an HTTPS server whose CA this process does not trust
  });
  after(async () => {
    echo.close();
    await kube.close();
  });
  const probe = (path: string) => egressProbe(`${url}${path}`)(IP, new AbortController().signal);

  it('answers whether the echo is our address', async () => {
    assert.equal(await probe('/ours'), true);
    assert.equal(await probe('/other'), false);
  });

  it('a 503 → transient egress.status; an answer too long for an address → malformed egress.malformed', async () => {
    await assert.rejects(probe('/busy'), typed('transient', 'egress.status'));
    await assert.rejects(probe('/big'), typed('malformed', 'egress.malformed'));
  });

  it('a closed port → transient egress.network', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(egressProbe(`http://127.0.0.1:${port}/`)(IP, new AbortController().signal), typed('transient', 'egress.network'));
  });

  it('a certificate not trusted (a proxy in the way) → auth egress.tls, not a crash of the live check', async () => {
    await assert.rejects(egressProbe(`${kube.url}/`)(IP, new AbortController().signal), typed('auth', 'egress.tls'));
  });
});
