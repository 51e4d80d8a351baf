// One HTTP exchange over Node's own http/https modules: the adapters need nothing more.
// Bundled undici cost ~0.5 MB of the minified bundle, ~190 ms of start and ~10 MB of memory
// (BUILD-NOTES; BENCHMARKS.md has the before/after).
import { request as httpRequestRaw } from 'node:http';
import type { Agent as HttpAgent, ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { AgentError, networkCode, type ErrorKind } from '../shared/errors.js';

export interface HttpRequestOptions {
  url: string;
  method: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** bound on the whole exchange, connect to last byte of the body; 0 or absent: none */
  timeoutMs?: number;
  /** cancels the exchange; the promise rejects with the signal's reason */
  signal?: AbortSignal;
  /** connection pool and TLS settings (CA, client certificate, rejectUnauthorized); default: Node's global agent */
  agent?: HttpAgent | HttpsAgent;
  /** larger answers are cut off with ERR_HTTP_BODY_TOO_LARGE; default 16 MiB */
  maxBodyBytes?: number;
  /** talk HTTP over this Unix socket instead of the URL's host and port */
  socketPath?: string;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The exchange did not finish within `timeoutMs`. */
export class HttpTimeoutError extends Error {
  readonly code = 'ERR_HTTP_TIMEOUT';
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'HttpTimeoutError';
  }
}

/** The answer's body was larger than `maxBodyBytes`. */
export class HttpBodyTooLargeError extends Error {
  readonly code = 'ERR_HTTP_BODY_TOO_LARGE';
  constructor(readonly maxBodyBytes: number) {
    super(`answer larger than ${maxBodyBytes} bytes`);
    this.name = 'HttpBodyTooLargeError';
  }
}

// Certificate verification failed: the server is not the one we trust (a proxy in the way,
// a wrong CA). Asking again will not change that.
const TLS_TRUST_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export type NoAnswerReason = 'timeout' | 'network' | 'too-large' | 'untrusted';

const REASON_KIND: Record<NoAnswerReason, ErrorKind> = { timeout: 'transient', network: 'transient', 'too-large': 'malformed', untrusted: 'auth' };
const REASON_CODE: Record<NoAnswerReason, string> = { timeout: 'timeout', network: 'network', 'too-large': 'malformed', untrusted: 'tls' };

function whyNoAnswer(error: unknown): { reason: NoAnswerReason; detail: string } | undefined {
  if (error instanceof HttpTimeoutError) return { reason: 'timeout', detail: error.message };
  if (error instanceof HttpBodyTooLargeError) return { reason: 'too-large', detail: error.message };
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TLS_TRUST_CODES.has(code)) return { reason: 'untrusted', detail: `server certificate not trusted (${code})` };
  // Other TLS failures (a handshake cut short, a protocol mismatch) are no answer either.
  const network = networkCode(error) ?? (typeof code === 'string' && /^(ERR_SSL_|ERR_TLS_|EPROTO)/.test(code) ? code : undefined);
  return network === undefined ? undefined : { reason: 'network', detail: network };
}

/**
 * Why an exchange of httpRequest brought no answer, as an AgentError: the one rule of every
 * adapter over HTTP (IMDS, Kubernetes, the echo service). Its code is `<service>.timeout`,
 * `.network`, `.malformed` or `.tls` unless `codes` names another. Anything else is returned
 * unchanged: a bug of ours, for the caller to rethrow.
 */
export function noAnswerError(error: unknown, context: string, service: string, codes: Partial<Record<NoAnswerReason, string>> = {}): unknown {
  const why = whyNoAnswer(error);
  if (!why) return error;
  const code = codes[why.reason] ?? `${service}.${REASON_CODE[why.reason]}`;
  return new AgentError(REASON_KIND[why.reason], code, `${context}: ${why.detail}`, { cause: error });
}

/**
 * Sends one request and reads the whole answer, whatever its status (an unread body would
 * hold the keep-alive socket). Rejects with the signal's reason when `signal` aborts, an
 * HttpTimeoutError at the deadline, an HttpBodyTooLargeError past the size limit, and
 * otherwise with Node's own error, which carries the socket's `code` (ECONNREFUSED,
 * ECONNRESET, a TLS verification code, …). Failures end the request and its socket.
 */
export function httpRequest(options: HttpRequestOptions): Promise<HttpResponse> {
  const { signal } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return new Promise<HttpResponse>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let req: ClientRequest | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const onAbort = (): void => fail(signal!.reason);
    const cleanUp = (): void => {
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    function fail(error: unknown): void {
      if (settled) return;
      cleanUp();
      // Destroying the request also destroys its socket: nothing half-read goes back to the pool.
      req?.destroy();
      reject(error);
    }

    let url: URL;
    try {
      url = new URL(options.url);
    } catch (error) {
      fail(error);
      return;
    }
    // https (and with it TLS and crypto) loads on its first use, not at every start: IMDS is
    // plain http, and the first request goes out before it (issue 22).
    const send = url.protocol === 'https:' ? process.getBuiltinModule('node:https').request : url.protocol === 'http:' ? httpRequestRaw : undefined;
    if (!send) {
      fail(Object.assign(new Error(`unsupported protocol ${url.protocol}`), { code: 'ERR_INVALID_PROTOCOL' }));
      return;
    }

    if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
      const timeoutMs = options.timeoutMs;
      timer = setTimeout(() => fail(new HttpTimeoutError(timeoutMs)), timeoutMs);
    }
    signal?.addEventListener('abort', onAbort, { once: true });

    try {
      req = send(url, {
        method: options.method,
        headers: options.headers ?? {},
        ...(options.agent !== undefined ? { agent: options.agent } : {}),
        ...(options.socketPath !== undefined ? { socketPath: options.socketPath } : {}),
      });
    } catch (error) {
      // Invalid headers and the like are thrown synchronously.
      fail(error);
      return;
    }
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > maxBodyBytes) {
          fail(new HttpBodyTooLargeError(maxBodyBytes));
          return;
        }
        chunks.push(chunk);
      });
      // A connection lost mid-body: Node reports `aborted` with code ECONNRESET.
      res.on('error', fail);
      res.on('aborted', () => fail(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
      res.on('end', () => {
        if (settled) return;
        cleanUp();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(options.body);
  });
}
