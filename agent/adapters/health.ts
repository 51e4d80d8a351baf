// The local endpoints. Read-only health (/healthz, /readyz, /status, /metrics) on the TCP
// listener, for probes and scrapers; the one thing that changes state (POST /release) only
// on a Unix socket under the agent's runtime directory, mode 0600, which only root on the
// node can open. Any process in the host network namespace (every hostNetwork pod) reaches
// the TCP port; only root reaches the socket.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
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
  /** a POST /release that came over TCP and was refused: who asked */
  refused?(peer: string): void;
}

export interface HealthServer {
  /** host:port it listens on (the port the kernel chose, for port 0) */
  listen: string;
  port: number;
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 2000;

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? `${JSON.stringify(body)}\n` : String(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(text);
}

/** `control`: the request came over the root-only socket. */
async function route(req: IncomingMessage, res: ServerResponse, deps: HealthDeps, control: boolean): Promise<void> {
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
      if (!control) {
        deps.refused?.(`${req.socket.remoteAddress ?? 'unknown'}:${req.socket.remotePort ?? '?'}`);
        return send(res, 403, { error: 'release is accepted on the control socket only (eip-agent release, as root)' });
      }
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

function serve(deps: HealthDeps, control: boolean): Server {
  return createServer((req, res) => {
    req.resume();
    route(req, res, deps, control).catch((error) => send(res, 500, { error: errorMessage(error) }));
  });
}

function listening(server: Server, input: string, where: string, listen: (done: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(new InputError(input, `cannot listen on ${where}: ${errorMessage(error)}`, { cause: error })));
    listen(() => resolve());
  });
}

// Stop accepting, let the answers in flight go out (a release answers only as the daemon
// ends), then drop whatever is left after a short grace.
function closed(server: Server): Promise<void> {
  return new Promise((done) => {
    if (!server.listening) return done();
    const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    server.close(() => {
      clearTimeout(grace);
      done();
    });
    server.closeIdleConnections();
  });
}

export async function startHealthServer(listen: ListenAddress, deps: HealthDeps, controlSocket: string): Promise<HealthServer> {
  const tcp = serve(deps, false);
  const control = serve(deps, true);
  await listening(tcp, '--health-listen', `${listen.host}:${listen.port}`, (done) => tcp.listen(listen.port, listen.host, done));
  try {
    // The socket file of an agent that died is in the way; the lock (--lock-file) already
    // guarantees no other agent runs here.
    mkdirSync(dirname(controlSocket), { recursive: true, mode: 0o700 });
    rmSync(controlSocket, { force: true });
    await listening(control, '--control-socket', controlSocket, (done) => control.listen(controlSocket, done));
    chmodSync(controlSocket, 0o600);
  } catch (error) {
    await closed(tcp);
    throw error instanceof InputError ? error : new InputError('--control-socket', `cannot create ${controlSocket}: ${errorMessage(error)}`, { cause: error });
  }
  const { port } = tcp.address() as AddressInfo;
  return {
    listen: `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`,
    port,
    close: async () => {
      await Promise.all([closed(tcp), closed(control)]);
      rmSync(controlSocket, { force: true });
    },
  };
}
