// IMDSv2 client: one cached session token, short timeouts, a few jittered retries.
// Every failure leaves here as an AgentError; the token never appears in one.
import type { Agent as HttpAgent } from 'node:http';
import { AgentError, InputError, isRetryable } from '../shared/errors.js';
import type { ImdsPort } from '../shared/ports.js';
import { sleep as abortableSleep, type Sleep } from '../shared/time.js';
import { HttpBodyTooLargeError, HttpTimeoutError, httpRequest } from './http.js';

export interface ImdsClientOptions {
  /** base URL, e.g. http://169.254.169.254 (the caller resolves AWS_EC2_METADATA_SERVICE_ENDPOINT) */
  endpoint: string;
  /** session token lifetime asked for, 1..21600 seconds */
  tokenTtlSeconds?: number;
  /** bound on one HTTP exchange */
  timeoutMs?: number;
  /** further attempts after a throttled, 5xx or network failure */
  retries?: number;
  now?: () => number;
  sleep?: Sleep;
  random?: () => number;
  /** connection pool; default: Node's global agent (keep-alive) */
  agent?: HttpAgent;
}

export interface ImdsClient extends ImdsPort {
  /** GET a path below /latest/; undefined on 404. `signal` cancels waiting (shutdown). */
  get(path: string, signal?: AbortSignal): Promise<string | undefined>;
}

const MAX_TTL_SECONDS = 21_600;
// IMDS is a link-local service on the host itself: an answer takes milliseconds, so a
// second without one means it is not coming, and failing fast lets the caller retry.
const DEFAULT_TIMEOUT_MS = 1_000;
const DEFAULT_RETRIES = 3;
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 400;
// Refresh ahead of expiry so a request never carries a token that lapses in flight.
const REFRESH_MARGIN_MS = 60_000;

// Failures of the connection itself; anything else the request throws is a bug, not a fault.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN']);

const TOKEN_PATH = 'api/token';

interface Token {
  value: string;
  expiresAt: number;
}

function validateOptions(options: ImdsClientOptions): void {
  let url: URL | undefined;
  try {
    url = new URL(options.endpoint);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InputError('IMDS endpoint', `expected an http:// URL, got ${JSON.stringify(options.endpoint)}`);
  }
  const ttl = options.tokenTtlSeconds;
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 1 && ttl <= MAX_TTL_SECONDS)) {
    throw new InputError('IMDS token TTL', `expected an integer from 1 to ${MAX_TTL_SECONDS} seconds, got ${ttl}`);
  }
  if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
    throw new InputError('IMDS timeout', `expected a positive number of ms, got ${options.timeoutMs}`);
  }
  if (options.retries !== undefined && !(Number.isInteger(options.retries) && options.retries >= 0)) {
    throw new InputError('IMDS retries', `expected a non-negative integer, got ${options.retries}`);
  }
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function createImdsClient(options: ImdsClientOptions): ImdsClient {
  validateOptions(options);
  const base = options.endpoint.replace(/\/+$/, '');
  const ttlSeconds = options.tokenTtlSeconds ?? MAX_TTL_SECONDS;
  const refreshMarginMs = Math.min(REFRESH_MARGIN_MS, (ttlSeconds * 1000) / 10);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retries = options.retries ?? DEFAULT_RETRIES;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;

  let token: Token | undefined;
  // One PUT serves every GET that needs a token meanwhile (identity reads run in parallel).
  let pendingToken: Promise<Token> | undefined;

  /** One HTTP exchange; network failures and timeouts become AgentErrors, statuses do not. */
  async function exchange(
    method: 'GET' | 'PUT',
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; body: string }> {
    const what = `IMDS ${method} /latest/${path}`;
    try {
      const response = await httpRequest({
        url: `${base}/latest/${path}`,
        method,
        headers,
        timeoutMs,
        ...(signal ? { signal } : {}),
        ...(options.agent ? { agent: options.agent } : {}),
      });
      // Error bodies are read too (httpRequest always does), or the keep-alive socket is
      // never given back; only a 200's body is of use.
      return { status: response.status, body: response.status === 200 ? response.body : '' };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof HttpTimeoutError) {
        throw new AgentError('transient', 'imds.unreachable', `${what}: no answer within ${timeoutMs} ms`, {
          cause: error,
        });
      }
      if (error instanceof HttpBodyTooLargeError) {
        // Not IMDS (a proxy or something else in the way), or IMDS gone wrong.
        throw new AgentError('transient', 'imds.unreachable', `${what}: ${error.message}`, { cause: error });
      }
      const code = errorCode(error);
      if (code !== undefined && NETWORK_CODES.has(code)) {
        throw new AgentError('transient', 'imds.unreachable', `${what}: ${code}`, { cause: error });
      }
      throw error;
    }
  }

  function statusError(what: string, status: number): AgentError {
    if (status === 429) return new AgentError('throttled', 'imds.throttled', `${what}: throttled (429)`);
    if (status >= 500) return new AgentError('transient', 'imds.unreachable', `${what}: answered ${status}`);
    if (status === 401) {
      return new AgentError('auth', 'imds.unauthorized', `${what}: a fresh session token was refused (401)`);
    }
    // 400/403 on the token PUT (IMDS turned off, or a proxy in the way) and other
    // refusals: asking again will not change the answer.
    return new AgentError('rejected', 'imds.rejected', `${what}: refused (${status})`);
  }

  async function fetchToken(): Promise<Token> {
    const requestedAt = now();
    const { status, body } = await exchange(
      'PUT',
      TOKEN_PATH,
      { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttlSeconds) },
      // Shared by concurrent callers, so no single caller's signal may cancel it; the
      // timeout bounds it.
      undefined,
    );
    if (status !== 200) throw statusError(`IMDS PUT /latest/${TOKEN_PATH}`, status);
    if (body === '') {
      throw new AgentError('transient', 'imds.unreachable', `IMDS PUT /latest/${TOKEN_PATH}: empty token`);
    }
    return { value: body, expiresAt: requestedAt + ttlSeconds * 1000 };
  }

  async function currentToken(): Promise<Token> {
    if (token && token.expiresAt - now() > refreshMarginMs) return token;
    pendingToken ??= fetchToken()
      .then((fresh) => (token = fresh))
      .finally(() => (pendingToken = undefined));
    return pendingToken;
  }

  /** One attempt: token (cached or fresh), GET, and on a 401 one more GET with a fresh token. */
  async function attempt(path: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    const what = `IMDS GET /latest/${path}`;
    for (let refreshed = false; ; refreshed = true) {
      const used = await currentToken();
      const { status, body } = await exchange('GET', path, { 'x-aws-ec2-metadata-token': used.value }, signal);
      if (status === 200) return body;
      if (status === 404) return undefined;
      if (status === 401 && !refreshed) {
        // Expired or revoked early (e.g. IMDS restarted): forget it unless a concurrent
        // caller already replaced it.
        if (token === used) token = undefined;
        continue;
      }
      throw statusError(what, status);
    }
  }

  async function get(path: string, signal?: AbortSignal): Promise<string | undefined> {
    const clean = path.replace(/^\/+/, '');
    for (let attemptNo = 0; ; attemptNo++) {
      try {
        return await attempt(clean, signal);
      } catch (error) {
        if (!isRetryable(error) || attemptNo >= retries || signal?.aborted) throw error;
        // Jittered exponential backoff: 100, 200, 400 ms ceilings, at least half of each.
        const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attemptNo);
        await sleep(ceiling / 2 + (random() * ceiling) / 2, signal);
      }
    }
  }

  return { get };
}
