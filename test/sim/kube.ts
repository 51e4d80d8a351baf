// The Kubernetes API server face of the simulated world: pods and nodes as the real API
// serves them (PodList/NodeList JSON, field selectors, Status errors), bearer-token and
// client-certificate authentication, and the Node authorizer's rule that a node may list
// only the pods bound to itself (Kubernetes ≥ 1.32).
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';
import { createPki } from './tls.js';
import type { KeyPair } from './tls.js';
import type { Pod, World } from './world.js';

export interface KubeUser {
  username: string;
  groups: string[];
}

export interface KubeRequest {
  method: string;
  /** path and query as sent */
  path: string;
  /** authenticated user name, if any */
  user?: string;
  status: number;
}

export interface KubeFaults {
  /** answer the next n requests with this HTTP status (a Status body), before auth */
  failNext(n: number, status: number): void;
  /** answer the next n requests with 200 and a body that is not JSON */
  garbleNext(n: number): void;
  /** while true, requests are never answered (until close) */
  hang: boolean;
  /** delay before every answer */
  latencyMs: number;
}

export interface KubeSim {
  url: string;
  /** the CA to trust, when started with tls */
  caPem?: string;
  /** a token of the default user, `kubernetes-admin` (group system:masters) */
  token: string;
  addToken(token: string, username: string, groups?: string[]): void;
  /** a client certificate the server accepts for this user (tls only) */
  issueClientCert(username: string, groups?: string[]): Promise<KeyPair>;
  requests: KubeRequest[];
  faults: KubeFaults;
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

function status(code: number, message: string): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: REASONS[code] ?? 'Unknown',
    code,
  };
}

class HttpFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

// The pod fields the API server accepts in a field selector (pkg/registry/core/pod).
const POD_FIELDS: Record<string, (pod: Pod) => string> = {
  'metadata.name': (p) => p.name,
  'metadata.namespace': (p) => p.namespace,
  'spec.nodeName': (p) => p.nodeName,
  'status.phase': (p) => p.phase,
};

interface Requirement {
  field: string;
  value: string;
  equal: boolean;
}

/** Parses `a=b,c==d,e!=f` as apimachinery's fields.ParseSelector does. */
function parseFieldSelector(selector: string): Requirement[] {
  if (selector === '') return [];
  return selector.split(',').map((term) => {
    const match = /^([^=!]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (!match) throw new HttpFailure(400, `invalid field selector: invalid selector: '${selector}'; can't understand '${term}'`);
    const [, field = '', op, value = ''] = match;
    if (!(field in POD_FIELDS)) throw new HttpFailure(400, `field label not supported: ${field}`);
    return { field, value, equal: op !== '!=' };
  });
}

function matches(pod: Pod, requirements: Requirement[]): boolean {
  return requirements.every((r) => (POD_FIELDS[r.field]!(pod) === r.value) === r.equal);
}

const OWNER_API: Record<string, string> = {
  DaemonSet: 'apps/v1',
  ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  Job: 'batch/v1',
  Node: 'v1',
};

function podJson(pod: Pod, resourceVersion: string): object {
  // Mirror pods are owned by their Node and carry the config.mirror annotation.
  const ownerKind = pod.ownerKind ?? (pod.mirror ? 'Node' : undefined);
  const ownerName = ownerKind === 'Node' ? pod.nodeName : pod.name.replace(/-[^-]+$/, '');
  return {
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      resourceVersion,
      creationTimestamp: '2026-01-01T00:00:00Z',
      ...(ownerKind
        ? {
            ownerReferences: [
              {
                apiVersion: OWNER_API[ownerKind] ?? 'v1',
                kind: ownerKind,
                name: ownerName,
                uid: pod.uid.split('').reverse().join(''),
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          }
        : {}),
      ...(pod.mirror
        ? { annotations: { 'kubernetes.io/config.mirror': pod.uid, 'kubernetes.io/config.source': 'file' } }
        : {}),
    },
    spec: { nodeName: pod.nodeName, containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10' }] },
    status: { phase: pod.phase },
  };
}

export async function startKube(world: World, options: { tls?: boolean } = {}): Promise<KubeSim> {
  const pki = options.tls ? await createPki() : undefined;
  const tokens = new Map<string, KubeUser>();
  const token = randomBytes(24).toString('base64url');
  tokens.set(token, { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] });
  const requests: KubeRequest[] = [];
  const failures: number[] = [];
  let garbled = 0;
  let resourceVersion = 1000;
  const faults: KubeFaults = {
    failNext: (n, code) => failures.push(...Array<number>(n).fill(code)),
    garbleNext: (n) => {
      garbled += n;
    },
    hang: false,
    latencyMs: 0,
  };

  function authenticate(req: IncomingMessage): KubeUser | undefined {
    // x509 first, then bearer tokens, as the API server's union authenticator does.
    // Node reports a resumed TLS 1.3 session as authorized even when no certificate was
    // ever presented (PSK-style resumption): only a certificate with a subject counts.
    const subject = req.socket instanceof TLSSocket && req.socket.authorized ? req.socket.getPeerCertificate().subject : undefined;
    if (subject) {
      const [username] = [subject.CN].flat();
      const groups = subject.O === undefined ? [] : [subject.O].flat();
      if (username) return { username, groups: [...groups, 'system:authenticated'] };
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/i.exec(header);
    return match ? tokens.get(match[1]!) : undefined;
  }

  function listPods(user: KubeUser, namespace: string | undefined, query: URLSearchParams): object {
    const requirements = parseFieldSelector(query.get('fieldSelector') ?? '');
    const node = /^system:node:(.+)$/.exec(user.username)?.[1];
    if (node !== undefined) {
      const own = requirements.length === 1 && requirements[0]!.field === 'spec.nodeName' && requirements[0]!.equal;
      if (!own || requirements[0]!.value !== node) {
        const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
        throw new HttpFailure(
          403,
          `pods is forbidden: User "${user.username}" cannot list resource "pods" in API group "" ${scope}: ` +
            `can only list/watch pods with spec.nodeName field selector`,
        );
      }
    }
    const rv = String(resourceVersion++);
    const items = [...world.pods.values()]
      .filter((p) => (namespace === undefined || p.namespace === namespace) && matches(p, requirements))
      .map((p) => podJson(p, rv));
    return { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: rv }, items };
  }

  function nodeJson(hostname: string): object {
    const instance = [...world.instances.values()].find((i) => i.hostname === hostname)!;
    return {
      metadata: { name: hostname, labels: { 'kubernetes.io/hostname': hostname } },
      spec: { providerID: `aws:///${instance.availabilityZone}/${instance.instanceId}` },
      status: {
        addresses: [
          { type: 'InternalIP', address: instance.enis[0]?.privateIps[0] },
          { type: 'Hostname', address: hostname },
        ],
      },
    };
  }

  function route(req: IncomingMessage, user: KubeUser, url: URL): object {
    const path = url.pathname;
    if (req.method === 'POST' && path === '/apis/authentication.k8s.io/v1/selfsubjectreviews') {
      return {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'SelfSubjectReview',
        metadata: { creationTimestamp: null },
        status: { userInfo: { username: user.username, groups: user.groups } },
      };
    }
    const pods = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/pods$/.exec(path);
    const nodes = /^\/api\/v1\/nodes(?:\/([^/]+))?$/.exec(path);
    if ((pods || nodes) && req.method !== 'GET') throw new HttpFailure(405, `the server does not allow this method on the requested resource`);
    if (pods) return listPods(user, pods[1] && decodeURIComponent(pods[1]), url.searchParams);
    if (nodes) {
      const names = [...world.instances.values()].map((i) => i.hostname);
      const name = nodes[1] && decodeURIComponent(nodes[1]);
      if (name === undefined) {
        return { apiVersion: 'v1', kind: 'NodeList', metadata: { resourceVersion: String(resourceVersion++) }, items: names.map(nodeJson) };
      }
      if (!names.includes(name)) throw new HttpFailure(404, `nodes "${name}" not found`);
      return { apiVersion: 'v1', kind: 'Node', ...nodeJson(name) };
    }
    throw new HttpFailure(404, 'the server could not find the requested resource');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const entry: KubeRequest = { method: req.method ?? 'GET', path: `${url.pathname}${url.search}`, status: 0 };
    requests.push(entry);
    // Drain the request body so keep-alive connections stay usable.
    for await (const _ of req);
    if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
    if (faults.hang) return; // held open until close() ends the connection
    const send = (code: number, body: string): void => {
      entry.status = code;
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const failure = failures.shift();
    if (failure !== undefined) return send(failure, JSON.stringify(status(failure, `injected fault ${failure}`)));
    if (garbled > 0) {
      garbled -= 1;
      return send(200, '{"kind":"PodList","items":[{"metad');
    }
    const user = authenticate(req);
    if (!user) return send(401, JSON.stringify(status(401, 'Unauthorized')));
    entry.user = user.username;
    try {
      send(200, JSON.stringify(route(req, user, url)));
    } catch (error) {
      if (!(error instanceof HttpFailure)) throw error;
      send(error.code, JSON.stringify(status(error.code, error.message)));
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status(500, String(error))));
    });
  };
  const server: Server = pki
    ? createHttpsServer(
        // Ask for a client certificate but do not require one: tokens are accepted too.
        { key: pki.server.keyPem, cert: pki.server.certPem, ca: pki.caPem, requestCert: true, rejectUnauthorized: false },
        listener,
      )
    : createHttpServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `${pki ? 'https' : 'http'}://127.0.0.1:${port}`,
    ...(pki ? { caPem: pki.caPem } : {}),
    token,
    addToken: (t, username, groups = []) => {
      tokens.set(t, { username, groups: [...groups, 'system:authenticated'] });
    },
    issueClientCert: (username, groups) => {
      if (!pki) return Promise.reject(new Error('client certificates need startKube(world, { tls: true })'));
      return pki.issueClient(username, groups);
    },
    requests,
    faults,
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) return resolve();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
