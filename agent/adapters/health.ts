// The local health endpoint: /healthz, /readyz, /status, /metrics, POST /release.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../cli/config.js';
import { InputError, errorMessage } from '../shared/errors.js';
import type { Metrics } from '../shared/metrics.js';
import type { AgentState, Status } from '../lifecycle/state.js';

export interface HealthDeps {
  state: AgentState;
  metrics: Metrics;
  /** starts the drain-wait and release; resolves when the address is released */
  release: (force: boolean) => Promise<Status>;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export const isLoopback = (address: string | undefined): boolean =>
  address !== undefined && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? `${JSON.stringify(body)}\n` : String(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(text);
}

async function route(req: IncomingMessage, res: ServerResponse, deps: HealthDeps): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const get = req.method === 'GET' || req.method === 'HEAD';
  switch (url.pathname) {
    case '/healthz':
      return get ? send(res, 200, 'ok\n', 'text/plain') : send(res, 405, { error: 'use GET' });
    case '/readyz': {
      if (!get) return send(res, 405, { error: 'use GET' });
      const readiness = deps.state.readiness();
      return send(res, readiness.ready ? 200 : 503, readiness);
    }
    case '/status':
      return get ? send(res, 200, deps.state.status()) : send(res, 405, { error: 'use GET' });
    case '/metrics':
      return get ? send(res, 200, deps.metrics.render(), 'text/plain; version=0.0.4') : send(res, 405, { error: 'use GET' });
    case '/release': {
      if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
      // Releasing is a local operator's act: never from another host, whatever we listen on.
      if (!isLoopback(req.socket.remoteAddress)) return send(res, 403, { error: 'release is accepted from loopback only' });
      const force = ['1', 'true'].includes(url.searchParams.get('force') ?? '');
      try {
        return send(res, 200, await deps.release(force));
      } catch (error) {
        return send(res, 500, { error: errorMessage(error) });
      }
    }
    default:
      return send(res, 404, { error: `no such path ${url.pathname}` });
  }
}

export function startHealthServer(listen: ListenAddress, deps: HealthDeps): Promise<HealthServer> {
  const server = createServer((req, res) => {
    req.resume();
    route(req, res, deps).catch((error) => send(res, 500, { error: errorMessage(error) }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error) =>
      reject(new InputError('--health-listen', `cannot listen on ${listen.host}:${listen.port}: ${errorMessage(error)}`, { cause: error })),
    );
    server.listen(listen.port, listen.host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
