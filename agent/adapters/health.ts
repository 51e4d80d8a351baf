// The local health endpoint: /healthz, /readyz, /status, /metrics, POST /release.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InputError, errorMessage } from '../shared/errors.js';
import type { ListenAddress } from '../shared/ports.js';

/** What the endpoint shows: views of the daemon's state, and the one action it may ask for. */
export interface HealthDeps {
  readiness(): { ready: boolean };
  status(): object;
  /** Prometheus text */
  metrics(): string;
  /** starts the drain-wait and release; resolves with the status once the address is released */
  release(force: boolean): Promise<object>;
}

export interface HealthServer {
  /** host:port it listens on (the port the kernel chose, for port 0) */
  listen: string;
  port: number;
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 2000;

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
      const readiness = deps.readiness();
      return send(res, readiness.ready ? 200 : 503, readiness);
    }
    case '/status':
      return get ? send(res, 200, deps.status()) : send(res, 405, { error: 'use GET' });
    case '/metrics':
      return get ? send(res, 200, deps.metrics(), 'text/plain; version=0.0.4') : send(res, 405, { error: 'use GET' });
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
      const { port } = server.address() as AddressInfo;
      resolve({
        listen: `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`,
        port,
        // Stop accepting, let the answers in flight go out (a release answers only as the
        // daemon ends), then drop whatever is left after a short grace.
        close: () =>
          new Promise((done) => {
            const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
            server.close(() => {
              clearTimeout(grace);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}
