// HTTP to the Kubernetes API server with the kubeconfig's credentials (a token, a token
// file, client certificates, or an exec plugin as on EKS): one request at a time, its
// answer parsed, its failure typed by the one rule of shared/errors.ts. Nothing is retried
// here: the drain polls, labels and events try again later.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { AgentError, kindOfStatus } from '../shared/errors.js';
import { httpRequest, noAnswerError } from './http.js';
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

/** A keep-alive agent and the client certificate it presents. */
interface PooledAgent {
  cert: string | undefined;
  key: string | undefined;
  agent: HttpAgent;
  inFlight: number;
  retired: boolean;
}

interface AgentPool {
  /** The agent for this client certificate, counted in use until released. */
  acquire(cert: string | undefined, key: string | undefined): PooledAgent;
  release(used: PooledAgent): void;
  /** Retires the current agent. */
  close(): void;
}

function newAgent(target: KubeTarget, base: string, cert: string | undefined, key: string | undefined): HttpAgent {
  if (!/^https:/i.test(base)) return new HttpAgent({ keepAlive: true });
  return new HttpsAgent({
    keepAlive: true,
    rejectUnauthorized: !target.insecureSkipTlsVerify,
    ...(target.ca !== undefined ? { ca: target.ca } : {}),
    ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
  });
}

// One pooled agent per client certificate; an exec plugin may hand out a new one. The
// agent of a certificate no longer used is destroyed once its requests have finished.
function createAgentPool(target: KubeTarget, base: string): AgentPool {
  let current: PooledAgent | undefined;
  const destroyIfDone = (pooled: PooledAgent): void => {
    if (pooled.retired && pooled.inFlight === 0) pooled.agent.destroy();
  };
  const retire = (old: PooledAgent): void => {
    old.retired = true;
    destroyIfDone(old);
  };
  return {
    acquire(cert, key) {
      if (!current || current.cert !== cert || current.key !== key) {
        if (current) retire(current);
        current = { cert, key, agent: newAgent(target, base, cert, key), inFlight: 0, retired: false };
      }
      current.inFlight += 1;
      return current;
    },
    release(used) {
      used.inFlight -= 1;
      destroyIfDone(used);
    },
    close() {
      if (current) retire(current);
      current = undefined;
    },
  };
}

/** What every request of one transport shares. */
interface Wire {
  base: string;
  where: string;
  timeoutMs: number;
  agents: AgentPool;
}

interface Answer {
  status: number;
  text: string;
}

function headersFor(auth: Credential, body: unknown, contentType: string | undefined): Record<string, string> {
  return {
    accept: 'application/json',
    'user-agent': 'eip-agent',
    ...(auth.token !== undefined ? { authorization: `Bearer ${auth.token}` } : {}),
    ...(body !== undefined ? { 'content-type': contentType ?? 'application/json' } : {}),
  };
}

/** One exchange with the API server, whatever its status; no answer at all is a typed error. */
async function send(wire: Wire, { method, path, what, body, contentType, signal }: KubeRequest, auth: Credential): Promise<Answer> {
  const used = wire.agents.acquire(auth.cert, auth.key);
  try {
    const response = await httpRequest({
      url: `${wire.base}${path}`,
      method,
      headers: headersFor(auth, body, contentType),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      agent: used.agent,
      timeoutMs: wire.timeoutMs,
      ...(signal ? { signal } : {}),
    });
    // httpRequest reads the body on every path: an unread body holds the socket.
    return { status: response.status, text: response.body };
  } catch (error) {
    // The caller's cancellation is not a fault of the API server: pass it on as is.
    if (signal?.aborted) throw signal.reason;
    throw noAnswerError(error, `${wire.where}: ${what}`, 'kube');
  } finally {
    wire.agents.release(used);
  }
}

/** The parsed JSON of a 2xx answer; `undefined` for a 404 when `absentOk`; otherwise a typed error. */
function readAnswer({ status, text }: Answer, context: string, absentOk: boolean | undefined): unknown {
  if (status === 404 && absentOk) return undefined;
  if (status >= 200 && status < 300) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new AgentError('malformed', 'kube.malformed', `${context}: answer is not JSON`, { cause: error });
    }
  }
  const kind = kindOfStatus(status);
  const code = status === 401 ? 'kube.unauthorized' : status === 403 ? 'kube.forbidden' : `kube.${kind === 'transient' ? 'unavailable' : kind}`;
  throw new AgentError(kind, code, `${context}: HTTP ${status}${statusMessage(text)}`);
}

export function createKubeTransport(target: KubeTarget, deps: KubeClientDeps = {}): KubeTransport {
  const credentials = createCredentialSource(target, {
    now: deps.now ?? Date.now,
    runExec: deps.runExec ?? runExecFile,
    timeoutMs: deps.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
  });
  const base = target.server.replace(/\/+$/, '');
  const where = `kubernetes API ${base}`;
  const wire: Wire = { base, where, timeoutMs: deps.timeoutMs ?? DEFAULT_TIMEOUT_MS, agents: createAgentPool(target, base) };
  return {
    async request(req) {
      let answer = await send(wire, req, await credentials.get(false));
      // An exec token can be revoked before its stated expiry: ask the plugin once more.
      if (answer.status === 401 && credentials.refreshable) answer = await send(wire, req, await credentials.get(true));
      return readAnswer(answer, `${where}: ${req.what}`, req.absentOk);
    },
    where,
    async close() {
      wire.agents.close();
    },
  };
}
