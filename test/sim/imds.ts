// A simulated IMDSv2 for one instance of the world, on 127.0.0.1:0. The agent and the AWS
// SDK find it through AWS_EC2_METADATA_SERVICE_ENDPOINT. Metadata is read live from the
// world on every request; faults (latency, failures, hangs, an unreachable service) are
// switched on by tests.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { lookup, metadataTree } from './imds-tree.js';
import type { World } from './world.js';

export interface ImdsSimOptions {
  /** clock for token expiry (ms since the epoch) */
  now?: () => number;
  /** multiplies every token TTL, so that tests can watch tokens expire in milliseconds */
  tokenTtlScale?: number;
}

export interface ImdsRequestRecord {
  method: string;
  path: string;
  /** 0 while unanswered (a hanging request); refused connections are not logged */
  status: number;
}

export interface ImdsFaults {
  /** delay before every answer */
  latencyMs: number;
  /** accept requests and never answer them */
  hang: boolean;
  /** reset every connection at once, as an unreachable service does */
  down: boolean;
  /** answer the next `n` requests (token PUTs included) with `status` */
  failNext(n: number, status: number): void;
}

export interface ImdsSim {
  url: string;
  requests: ImdsRequestRecord[];
  faults: ImdsFaults;
  /** every token issued so far becomes invalid (as after their TTL) */
  expireTokens(): void;
  close(): Promise<void>;
}

const MAX_TTL_SECONDS = 21_600;
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

// IMDS answers errors with this XHTML page, not with an empty body.
function errorPage(status: number): string {
  const title = `${status} - ${STATUS_TEXT[status] ?? 'Error'}`;
  return [
    '<?xml version="1.0" encoding="iso-8859-1"?>',
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"',
    '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">',
    ' <head>',
    `  <title>${title}</title>`,
    ' </head>',
    ' <body>',
    `  <h1>${title}</h1>`,
    ' </body>',
    '</html>',
    '',
  ].join('\n');
}

export async function startImds(world: World, instanceId: string, options: ImdsSimOptions = {}): Promise<ImdsSim> {
  const now = options.now ?? Date.now;
  const ttlScale = options.tokenTtlScale ?? 1;
  const pendingTime = new Date();
  const tokens = new Map<string, number>(); // token → expiry (ms)
  const requests: ImdsRequestRecord[] = [];
  const sockets = new Set<Socket>();
  let failures: { left: number; status: number } = { left: 0, status: 500 };
  let down = false;

  const faults: ImdsFaults = {
    latencyMs: 0,
    hang: false,
    get down() {
      return down;
    },
    set down(value: boolean) {
      down = value;
      if (value) for (const socket of sockets) socket.destroy();
    },
    failNext(n, status) {
      failures = { left: n, status };
    },
  };

  const send = (res: ServerResponse, record: ImdsRequestRecord, status: number, body: string, headers: Record<string, string> = {}): void => {
    record.status = status;
    if (res.destroyed) return;
    res.writeHead(status, {
      'content-type': status === 200 ? 'text/plain' : 'text/html',
      server: 'EC2ws',
      ...headers,
    });
    res.end(body);
  };

  const answer = (req: IncomingMessage, res: ServerResponse, record: ImdsRequestRecord): void => {
    const path = record.path;
    if (path === '/latest/api/token') {
      if (req.method !== 'PUT') return send(res, record, 405, errorPage(405), { allow: 'PUT' });
      // IMDS refuses token requests that went through a proxy (SSRF protection).
      if (req.headers['x-forwarded-for'] !== undefined) return send(res, record, 403, errorPage(403));
      const ttlText = req.headers['x-aws-ec2-metadata-token-ttl-seconds'];
      const ttl = typeof ttlText === 'string' && /^\d+$/.test(ttlText) ? Number(ttlText) : NaN;
      if (!(ttl >= 1 && ttl <= MAX_TTL_SECONDS)) return send(res, record, 400, errorPage(400));
      const token = `AQAEA${randomBytes(36).toString('base64url')}==`;
      tokens.set(token, now() + ttl * 1000 * ttlScale);
      return send(res, record, 200, token, { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) });
    }
    if (req.method !== 'GET') return send(res, record, 405, errorPage(405), { allow: 'GET' });
    const token = req.headers['x-aws-ec2-metadata-token'];
    const expiry = typeof token === 'string' ? tokens.get(token) : undefined;
    // IMDSv1 (no token at all) is answered only where the instance allows it (httpTokens
    // optional); AL2023 launches with tokens required. A bad token is refused either way.
    const instance = world.instances.get(instanceId);
    const v1 = token === undefined && instance?.metadataOptions.httpTokens === 'optional';
    if (!v1 && (expiry === undefined || expiry <= now())) return send(res, record, 401, errorPage(401));
    if (!instance) {
      // A terminated instance has no IMDS left to answer.
      res.socket?.destroy();
      return;
    }
    const body = path.startsWith('/latest/') ? lookup(metadataTree(world, instance, pendingTime), path.slice(8)) : undefined;
    if (body === undefined) return send(res, record, 404, errorPage(404));
    send(res, record, 200, body);
  };

  const server = createServer((req, res) => {
    req.resume();
    const record: ImdsRequestRecord = {
      method: req.method ?? '',
      path: new URL(req.url ?? '/', 'http://imds').pathname,
      status: 0,
    };
    requests.push(record);
    if (faults.hang) return;
    void (async () => {
      if (faults.latencyMs > 0) await delay(faults.latencyMs);
      if (failures.left > 0) {
        failures.left -= 1;
        return send(res, record, failures.status, errorPage(failures.status));
      }
      answer(req, res, record);
    })();
  });
  server.on('connection', (socket) => {
    if (down) return void socket.destroy();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    expireTokens: () => tokens.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive and hanging connections would hold close() open.
        for (const socket of sockets) socket.destroy();
      }),
  };
}
