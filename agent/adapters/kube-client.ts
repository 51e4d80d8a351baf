// HTTP to the Kubernetes API server with the kubeconfig's credentials (a token, a token
// file, client certificates, or an exec plugin as on EKS): one request at a time, its
// answer parsed, its failure typed by the one rule of shared/errors.ts. Nothing is retried
// here: the drain polls, labels and events try again later.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { AgentError, kindOfStatus, networkCode } from '../shared/errors.js';
import { HttpBodyTooLargeError, HttpTimeoutError, httpRequest } from './http.js';
import { createCredentialSource } from './kube-credentials.js';
import { isObject, runExecFile, type Credential, type RunExec } from './kube-exec.js';
import type { KubeTarget } from './kubeconfig.js';

export type { RunExec } from './kube-exec.js';

export interface KubeClientDeps {
  /** epoch ms, for exec credential expiry */
  now?: () => number;
  runExec?: RunExec;
  /** deadline of one API request, connect to last byte */
  timeoutMs?: number;
  /** deadline of one exec plugin run */
  execTimeoutMs?: number;
}

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  /** for messages: what the request is for */
  what: string;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface KubeTransport {
  /** The parsed JSON of a 2xx answer; `undefined` for a 404 when `absentOk`; otherwise a typed error. */
  request(request: KubeRequest & { absentOk?: boolean }): Promise<unknown>;
  /** for messages */
  where: string;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

// An API server that has not answered a list in 5 s is as good as down for this poll; the
// drain loop asks again.
const DEFAULT_TIMEOUT_MS = 5_000;
// `aws eks get-token` normally answers in about a second; allow for a slow STS.
const DEFAULT_EXEC_TIMEOUT_MS = 10_000;
// Certificate verification failures: retrying will not make the server trusted.
const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The message of a Kubernetes Status body, if that is what came back. */
function statusMessage(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed) && typeof parsed.message === 'string') return `: ${parsed.message.slice(0, 300)}`;
  } catch {
    // not a Status: the status code says enough
  }
  return '';
}

export function createKubeTransport(target: KubeTarget, deps: KubeClientDeps = {}): KubeTransport {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const credentials = createCredentialSource(target, {
    now: deps.now ?? Date.now,
    runExec: deps.runExec ?? runExecFile,
    timeoutMs: deps.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
  });
  const base = target.server.replace(/\/+$/, '');
  const where = `kubernetes API ${base}`;

  // One pooled agent per client certificate; an exec plugin may hand out a new one. The
  // agent of a certificate no longer used is destroyed once its requests have finished.
  interface Pool {
    cert: string | undefined;
    key: string | undefined;
    agent: HttpAgent;
    inFlight: number;
    retired: boolean;
  }
  let pool: Pool | undefined;
  const retire = (old: Pool): void => {
    old.retired = true;
    if (old.inFlight === 0) old.agent.destroy();
  };
  const poolFor = (cert: string | undefined, key: string | undefined): Pool => {
    if (pool && pool.cert === cert && pool.key === key) return pool;
    if (pool) retire(pool);
    const agent = /^https:/i.test(base)
      ? new HttpsAgent({
          keepAlive: true,
          rejectUnauthorized: !target.insecureSkipTlsVerify,
          ...(target.ca !== undefined ? { ca: target.ca } : {}),
          ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
        })
      : new HttpAgent({ keepAlive: true });
    pool = { cert, key, agent, inFlight: 0, retired: false };
    return pool;
  };

  const send = async ({ method, path, what, body, contentType, signal }: KubeRequest, auth: Credential): Promise<{ status: number; text: string }> => {
    const used = poolFor(auth.cert, auth.key);
    used.inFlight += 1;
    try {
      const response = await httpRequest({
        url: `${base}${path}`,
        method,
        headers: {
          accept: 'application/json',
          'user-agent': 'eip-agent',
          ...(auth.token !== undefined ? { authorization: `Bearer ${auth.token}` } : {}),
          ...(body !== undefined ? { 'content-type': contentType ?? 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        agent: used.agent,
        timeoutMs,
        ...(signal ? { signal } : {}),
      });
      // httpRequest reads the body on every path: an unread body holds the socket.
      return { status: response.status, text: response.body };
    } catch (error) {
      // The caller's cancellation is not a fault of the API server: pass it on as is.
      if (signal?.aborted) throw signal.reason;
      if (error instanceof HttpTimeoutError) {
        throw new AgentError('transient', 'kube.timeout', `${where}: ${what}: no answer within ${timeoutMs} ms`, { cause: error });
      }
      if (error instanceof HttpBodyTooLargeError) throw new AgentError('malformed', 'kube.malformed', `${where}: ${what}: ${error.message}`, { cause: error });
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && TLS_TRUST_CODES.has(code)) {
        throw new AgentError('auth', 'kube.tls', `${where}: ${what}: server certificate not trusted (${code})`, { cause: error });
      }
      // Other TLS failures (a handshake cut short, a protocol mismatch) are no answer either.
      const network = networkCode(error) ?? (typeof code === 'string' && /^(ERR_SSL_|ERR_TLS_|EPROTO)/.test(code) ? code : undefined);
      if (network !== undefined) throw new AgentError('transient', 'kube.network', `${where}: ${what}: ${network}`, { cause: error });
      throw error; // anything else is a bug of ours, not a fault of the API server
    } finally {
      used.inFlight -= 1;
      if (used.retired && used.inFlight === 0) used.agent.destroy();
    }
  };

  const request = async (req: KubeRequest & { absentOk?: boolean }): Promise<unknown> => {
    let answer = await send(req, await credentials.get(false));
    // An exec token can be revoked before its stated expiry: ask the plugin once more.
    if (answer.status === 401 && credentials.refreshable) answer = await send(req, await credentials.get(true));
    const { status, text } = answer;
    if (status === 404 && req.absentOk) return undefined;
    if (status >= 200 && status < 300) {
      try {
        return JSON.parse(text);
      } catch (error) {
        throw new AgentError('malformed', 'kube.malformed', `${where}: ${req.what}: answer is not JSON`, { cause: error });
      }
    }
    const message = `${where}: ${req.what}: HTTP ${status}${statusMessage(text)}`;
    const kind = kindOfStatus(status);
    throw new AgentError(kind, status === 401 ? 'kube.unauthorized' : status === 403 ? 'kube.forbidden' : `kube.${kind === 'transient' ? 'unavailable' : kind}`, message);
  };

  return {
    request,
    where,
    async close() {
      if (pool) retire(pool);
      pool = undefined;
    },
  };
}
