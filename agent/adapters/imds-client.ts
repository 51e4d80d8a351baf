// IMDSv2 over HTTP: one cached session token, a short timeout, one attempt per GET (the
// caller retries: shared/retry.ts). Every failure leaves here as an AgentError typed by the
// one rule of shared/errors.ts; the token never appears in one.
import { Agent as HttpAgent } from 'node:http';
import { AgentError, InputError, kindOfStatus, type ErrorKind } from '../shared/errors.js';
import { httpRequest, noAnswerError } from './http.js';

export interface ImdsClientOptions {
  /** base URL, e.g. http://169.254.169.254 (the caller resolves AWS_EC2_METADATA_SERVICE_ENDPOINT) */
  endpoint: string;
  /** session token lifetime asked for, 1..21600 seconds */
  tokenTtlSeconds?: number;
  /** bound on one HTTP exchange */
  timeoutMs?: number;
  /** epoch ms, for the token's expiry */
  now?: () => number;
  /** connection pool; default: one kept-alive connection of its own (below) */
  agent?: HttpAgent;
}

export interface ImdsClient {
  /** GET a path below /latest/; undefined on 404. `signal` cancels it (shutdown). */
  get(path: string, signal?: AbortSignal): Promise<string | undefined>;
}

const MAX_TTL_SECONDS = 21_600;
// IMDS is a link-local service on the host itself: an answer takes milliseconds, so a
// second without one means it is not coming, and failing fast lets the caller retry.
const DEFAULT_TIMEOUT_MS = 1_000;
// Refresh ahead of expiry so a request never carries a token that lapses in flight.
const REFRESH_MARGIN_MS = 60_000;
const TOKEN_PATH = 'api/token';

const CODES: Partial<Record<ErrorKind, string>> = {
  throttled: 'imds.throttled',
  transient: 'imds.unreachable',
  malformed: 'imds.malformed',
};

// No answer, for whatever reason, is one code: IMDS is unreachable for now.
const UNREACHABLE = { timeout: 'imds.unreachable', network: 'imds.unreachable' };

function imdsError(kind: ErrorKind, message: string, cause?: unknown): AgentError {
  return new AgentError(kind, CODES[kind] ?? 'imds.rejected', message, cause === undefined ? undefined : { cause });
}

interface Token {
  value: string;
  expiresAt: number;
}

function validateOptions(options: ImdsClientOptions): void {
  if (!URL.canParse(options.endpoint) || !/^https?:$/.test(new URL(options.endpoint).protocol)) {
    throw new InputError('IMDS endpoint', `expected an http:// URL, got ${JSON.stringify(options.endpoint)}`);
  }
  const ttl = options.tokenTtlSeconds;
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 1 && ttl <= MAX_TTL_SECONDS)) {
    throw new InputError('IMDS token TTL', `expected an integer from 1 to ${MAX_TTL_SECONDS} seconds, got ${ttl}`);
  }
  if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
    throw new InputError('IMDS timeout', `expected a positive number of ms, got ${options.timeoutMs}`);
  }
}

export function createImdsClient(options: ImdsClientOptions): ImdsClient {
  validateOptions(options);
  const base = options.endpoint.replace(/\/+$/, '');
  const ttlSeconds = options.tokenTtlSeconds ?? MAX_TTL_SECONDS;
  const refreshMarginMs = Math.min(REFRESH_MARGIN_MS, (ttlSeconds * 1000) / 10);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  // IMDS answers in a millisecond: one connection, kept alive, carries every read in turn
  // (the notices and the live check every 5 s) instead of a new connection for each.
  const agent = options.agent ?? new HttpAgent({ keepAlive: true, maxSockets: 1 });

  let token: Token | undefined;
  // One PUT serves every GET that needs a token meanwhile (identity reads run in parallel).
  let pendingToken: Promise<Token> | undefined;

  /** One HTTP exchange; failures to get an answer become AgentErrors, statuses do not. */
  async function exchange(method: 'GET' | 'PUT', path: string, headers: Record<string, string>, signal: AbortSignal | undefined) {
    const what = `IMDS ${method} /latest/${path}`;
    try {
      const response = await httpRequest({
        url: `${base}/latest/${path}`,
        method,
        headers,
        timeoutMs,
        ...(signal ? { signal } : {}),
        agent,
      });
      // Error bodies are read too (httpRequest always does), or the keep-alive socket is
      // never given back; only a 200's body is of use.
      return { what, status: response.status, body: response.status === 200 ? response.body : '' };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      // An answer too large is not IMDS (a proxy or something else in the way): malformed.
      throw noAnswerError(error, what, 'imds', UNREACHABLE);
    }
  }

  function statusError(what: string, status: number, tokenFresh: boolean): AgentError {
    if (status === 401 && tokenFresh) return new AgentError('auth', 'imds.unauthorized', `${what}: a fresh session token was refused (401)`);
    // 400/403 on the token PUT: IMDS turned off, or a proxy in the way.
    return imdsError(kindOfStatus(status), `${what}: answered ${status}`);
  }

  async function fetchToken(): Promise<Token> {
    const requestedAt = now();
    // Shared by concurrent callers, so no single caller's signal may cancel it; the
    // timeout bounds it.
    const { what, status, body } = await exchange('PUT', TOKEN_PATH, { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttlSeconds) }, undefined);
    if (status !== 200) throw statusError(what, status, false);
    if (body === '') throw imdsError('malformed', `${what}: an empty token`);
    return { value: body, expiresAt: requestedAt + ttlSeconds * 1000 };
  }

  async function currentToken(): Promise<Token> {
    if (token && token.expiresAt - now() > refreshMarginMs) return token;
    pendingToken ??= fetchToken()
      .then((fresh) => (token = fresh))
      .finally(() => (pendingToken = undefined));
    return pendingToken;
  }

  async function get(path: string, signal?: AbortSignal): Promise<string | undefined> {
    const clean = path.replace(/^\/+/, '');
    // A 401 means the token expired or was revoked early (IMDS restarted): one more GET
    // with a fresh token. That is the protocol, not a retry.
    for (let fresh = false; ; fresh = true) {
      const used = await currentToken();
      const { what, status, body } = await exchange('GET', clean, { 'x-aws-ec2-metadata-token': used.value }, signal);
      if (status === 200) return body;
      if (status === 404) return undefined;
      if (status === 401 && !fresh) {
        if (token === used) token = undefined; // unless a concurrent caller already replaced it
        continue;
      }
      throw statusError(what, status, fresh);
    }
  }

  return { get };
}
