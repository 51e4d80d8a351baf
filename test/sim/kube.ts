// The Kubernetes API server face of the simulated world, over HTTPS with its own CA by
// default (EKS API servers are HTTPS only; plain HTTP only when asked for). It serves what
// the agent and kubectl use: discovery, Pods (list, watch, get), Nodes (list, watch, get,
// patch, update), Events (core/v1 and events.k8s.io/v1: create, patch, update, list, watch,
// get), SelfSubjectReview; Tables for kubectl; bearer tokens and client certificates; the
// Node authorizer and NodeRestriction for kubelet identities. Faults: failNext, garbleNext,
// hang, latency. Every request is logged.
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';
import { isDeepStrictEqual } from 'node:util';
import { authorize, admitNodeUpdate, nodeOf, type Attributes, type Forbidden, type KubeUser } from './kube-authz.js';
import { discovery } from './kube-discovery.js';
import { review } from './kube-review.js';
import { eventErrors, fieldsOf, fromEventsV1, labelErrors, podJson, SELECTABLE, toEventsV1, type Json } from './kube-objects.js';
import { applyPatch, PATCH_TYPES, PatchError, type PatchType } from './kube-patch.js';
import { fieldsMatch, labelsMatch, parseFieldSelector, parseLabelSelector, SelectorError } from './kube-select.js';
import type { KubeResource } from './kube-state.js';
import { tableVersion, toTable } from './kube-table.js';
import { serveWatch } from './kube-watch.js';
import { createPki, type KeyPair, type Pki } from './tls.js';
import type { World } from './world.js';

export type { KubeUser } from './kube-authz.js';

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

export interface KubeSimOptions {
  /** HTTPS with the simulator's CA (default); false serves plain HTTP */
  tls?: boolean;
}

export interface KubeSim {
  url: string;
  /** the CA to trust (PEM), when serving HTTPS */
  caPem?: string;
  /** a token of the default user, `kubernetes-admin` (group system:masters) */
  token: string;
  addToken(token: string, username: string, groups?: string[]): void;
  /** a client certificate the server accepts for this user (HTTPS only) */
  issueClientCert(username: string, groups?: string[]): Promise<KeyPair>;
  /** core/v1 Events stored so far, oldest first, optionally about one object or with one reason */
  events(filter?: { name?: string; kind?: string; reason?: string }): Json[];
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
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

function status(code: number, message: string, extra: { reason?: string; details?: object } = {}): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: extra.reason ?? REASONS[code] ?? 'Unknown',
    ...(extra.details ? { details: extra.details } : {}),
    code,
  };
}

class HttpFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly extra: { reason?: string; details?: object } = {},
  ) {
    super(message);
  }
}

/** `?dryRun=All` on a write; any other value is refused, as the API server does. */
function dryRunOf(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  if (values.length === 0) return false;
  const bad = values.find((v) => v !== 'All');
  if (bad !== undefined) throw new HttpFailure(400, `Invalid dry run value: ${JSON.stringify(bad)}: supported values: "All"`);
  return true;
}

const denied = (f: Forbidden): HttpFailure => new HttpFailure(403, f.message, { details: f.details });

/** One PKI per process: openssl runs once, every simulated API server shares the CA. */
let sharedPki: Promise<Pki> | undefined;

/** A path under one of the served resources. */
interface Target {
  group: '' | 'events.k8s.io';
  resource: KubeResource;
  namespace?: string;
  name?: string;
}

function parseTarget(path: string): Target | undefined {
  const match =
    /^\/api\/v1(?:\/namespaces\/([^/]+))?\/(pods|nodes|events)(?:\/([^/]+))?$/.exec(path) ??
    /^\/apis\/(events\.k8s\.io)\/v1(?:\/namespaces\/([^/]+))?\/(events)(?:\/([^/]+))?$/.exec(path);
  if (!match) return undefined;
  const [group, namespace, resource, name] = match[1] === 'events.k8s.io' ? [match[1], match[2], match[3], match[4]] : ['', match[1], match[2], match[3]];
  if (resource === 'nodes' && namespace !== undefined) return undefined;
  return {
    group: group as Target['group'],
    resource: resource as KubeResource,
    ...(namespace !== undefined ? { namespace: decodeURIComponent(namespace) } : {}),
    ...(name !== undefined ? { name: decodeURIComponent(name) } : {}),
  };
}

const KINDS: Record<KubeResource, string> = { pods: 'Pod', nodes: 'Node', events: 'Event' };


export async function startKube(world: World, options: KubeSimOptions = {}): Promise<KubeSim> {
  const pki = options.tls === false ? undefined : await (sharedPki ??= createPki());
  const tokens = new Map<string, KubeUser>();
  const token = randomBytes(24).toString('base64url');
  tokens.set(token, { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] });
  const requests: KubeRequest[] = [];
  const failures: number[] = [];
  const watches = new Set<() => void>();
  let garbled = 0;
  let serverAddress = '';
  const faults: KubeFaults = {
    failNext: (n, code) => failures.push(...Array<number>(n).fill(code)),
    garbleNext: (n) => {
      garbled += n;
    },
    hang: false,
    latencyMs: 0,
  };
  const store = world.kube;

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

  /** The stored form of every object of a resource (Events as core/v1), in key order. */
  function objects(resource: KubeResource): Json[] {
    const all =
      resource === 'pods' ? [...world.pods.values()].map(podJson) : resource === 'nodes' ? [...store.nodes.values()] : [...store.events.values()];
    const key = (o: Json) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    return all.map((o) => structuredClone(o)).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }

  function storedKey(t: Target): string {
    return t.resource === 'nodes' ? t.name! : `${t.namespace ?? ''}/${t.name}`;
  }

  function findOne(t: Target): Json | undefined {
    if (t.resource === 'pods') {
      const pod = world.pods.get(`${t.namespace}/${t.name}`);
      return pod ? podJson(pod) : undefined;
    }
    const found = (t.resource === 'nodes' ? store.nodes : store.events).get(storedKey(t));
    return found ? structuredClone(found) : undefined;
  }

  const notFound = (t: Target): HttpFailure =>
    new HttpFailure(404, `${t.group ? `${t.resource}.${t.group}` : t.resource} "${t.name}" not found`, {
      details: { name: t.name, ...(t.group ? { group: t.group } : {}), kind: t.resource },
    });

  /** Stored form → the form of the API group asked for. */
  const inGroup = (t: Target) => (o: Json) => (t.group === 'events.k8s.io' ? toEventsV1(o) : o);

  function selection(t: Target, user: KubeUser, query: URLSearchParams): (o: Json) => boolean {
    let fields;
    let labels;
    try {
      fields = parseFieldSelector(query.get('fieldSelector') ?? '', SELECTABLE[t.resource]);
      labels = parseLabelSelector(query.get('labelSelector') ?? '');
    } catch (error) {
      if (error instanceof SelectorError) throw new HttpFailure(400, error.message);
      throw error;
    }
    const verb = query.get('watch') === 'true' || query.get('watch') === '1' ? 'watch' : 'list';
    const node = nodeOf(user);
    const ownField = t.resource === 'nodes' ? 'metadata.name' : 'spec.nodeName';
    const own = node !== undefined && fields.length === 1 && fields[0]!.field === ownField && fields[0]!.equal && fields[0]!.value === node;
    const refusal = authorize(user, { verb, group: t.group, resource: t.resource, ...(t.namespace ? { namespace: t.namespace } : {}) }, { ownSelector: own });
    if (refusal) throw denied(refusal);
    return (o: Json) =>
      (t.namespace === undefined || o.metadata.namespace === t.namespace) && fieldsMatch(fieldsOf(t.resource, o), fields) && labelsMatch(o.metadata.labels, labels);
  }

  function list(t: Target, user: KubeUser, query: URLSearchParams, accept: string | undefined): Json {
    const matches = selection(t, user, query);
    const items = objects(t.resource).filter(matches).map(inGroup(t));
    const table = tableVersion(accept);
    if (table) return toTable(t.resource, items.map((o) => (t.group ? fromEventsV1(o) : o)), { version: table, resourceVersion: store.resourceVersion, includeObject: query.get('includeObject') });
    return { apiVersion: t.group ? `${t.group}/v1` : 'v1', kind: `${KINDS[t.resource]}List`, metadata: { resourceVersion: store.resourceVersion }, items };
  }

  function get(t: Target, user: KubeUser, accept: string | undefined, query: URLSearchParams): Json {
    const found = findOne(t);
    const attributes: Attributes = { verb: 'get', group: t.group, resource: t.resource, name: t.name!, ...(t.namespace ? { namespace: t.namespace } : {}) };
    const refusal = authorize(user, attributes, { podNode: found?.spec?.nodeName });
    if (refusal) throw denied(refusal);
    if (!found) throw notFound(t);
    const table = tableVersion(accept);
    if (table) return toTable(t.resource, [found], { version: table, resourceVersion: found.metadata.resourceVersion, includeObject: query.get('includeObject') });
    return inGroup(t)(found);
  }

  function checkWrite(t: Target, user: KubeUser, verb: 'create' | 'patch' | 'update'): void {
    if (t.resource === 'pods') throw new HttpFailure(405, 'the server does not allow this method on the requested resource');
    const refusal = authorize(user, { verb, group: t.group, resource: t.resource, ...(t.name ? { name: t.name } : {}), ...(t.namespace ? { namespace: t.namespace } : {}) });
    if (refusal) throw denied(refusal);
  }

  function parseBody(body: string): Json {
    try {
      const parsed = JSON.parse(body);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected an object');
      return parsed;
    } catch (error) {
      throw new HttpFailure(400, `the body of the request could not be decoded: ${(error as Error).message}`);
    }
  }

  const invalid = (t: Target, name: string, errors: string[]): HttpFailure =>
    new HttpFailure(422, `${KINDS[t.resource]}${t.group ? `.${t.group}` : ''} "${name}" is invalid: ${errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`}`, {
      details: { name, ...(t.group ? { group: t.group } : {}), kind: KINDS[t.resource] },
    });

  function createEvent(t: Target, user: KubeUser, body: string, dryRun: boolean): Json {
    checkWrite(t, user, 'create');
    if (t.resource !== 'events' || t.name !== undefined || t.namespace === undefined) {
      throw new HttpFailure(405, 'the server does not allow this method on the requested resource');
    }
    const given = parseBody(body);
    const event = t.group ? fromEventsV1(given) : { ...given, apiVersion: 'v1', kind: 'Event' };
    const meta = { ...event.metadata };
    if (meta.namespace !== undefined && meta.namespace !== t.namespace) {
      throw new HttpFailure(400, 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomBytes(4).toString('hex').slice(0, 5)}`;
    if (!meta.name) throw invalid(t, '', ['metadata.name: Required value: name or generateName is required']);
    meta.namespace = t.namespace;
    event.metadata = meta;
    const errors = eventErrors(event, t.namespace, t.group);
    if (errors.length > 0) throw invalid(t, meta.name, errors);
    const key = `${t.namespace}/${meta.name}`;
    if (store.events.has(key)) {
      throw new HttpFailure(409, `${t.group ? 'events.events.k8s.io' : 'events'} "${meta.name}" already exists`, { reason: 'AlreadyExists', details: { name: meta.name, kind: 'events' } });
    }
    if (dryRun) return inGroup(t)(event);
    return inGroup(t)(store.create('events', key, event));
  }

  /** PATCH and PUT: the new object is judged (validation, conflicts, NodeRestriction), then stored. */
  function write(t: Target, user: KubeUser, method: 'PATCH' | 'PUT', contentType: string, body: string, dryRun: boolean): Json {
    checkWrite(t, user, method === 'PATCH' ? 'patch' : 'update');
    if (t.name === undefined || (t.resource === 'events' && t.namespace === undefined)) {
      throw new HttpFailure(405, 'the server does not allow this method on the requested resource');
    }
    const before = findOne(t);
    if (!before) throw notFound(t);
    const asSeen = inGroup(t)(before);
    let edited: Json;
    if (method === 'PATCH') {
      const type = contentType.split(';')[0]!.trim();
      if (!(PATCH_TYPES as readonly string[]).includes(type)) {
        throw new HttpFailure(415, `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(', ')}, application/apply-patch+yaml`);
      }
      try {
        edited = applyPatch(type as PatchType, asSeen, body);
      } catch (error) {
        if (error instanceof PatchError) throw new HttpFailure(error.code, error.message);
        throw error;
      }
    } else {
      edited = parseBody(body);
      // An update without a resourceVersion is unconditional (Nodes and Events allow it).
      edited.metadata = { ...edited.metadata, resourceVersion: edited.metadata?.resourceVersion || before.metadata.resourceVersion };
    }
    const after = t.group ? fromEventsV1(edited) : edited;
    if (after.metadata?.name !== t.name) throw invalid(t, t.name, [`metadata.name: Invalid value: ${JSON.stringify(after.metadata?.name)}: field is immutable`]);
    if (String(after.metadata?.resourceVersion) !== before.metadata.resourceVersion) {
      throw new HttpFailure(409, `Operation cannot be fulfilled on ${t.resource}${t.group ? `.${t.group}` : ''} "${t.name}": the object has been modified; please apply your changes to the latest version and try again`, {
        details: { name: t.name, kind: t.resource },
      });
    }
    const errors = labelErrors(after.metadata?.labels);
    if (t.resource === 'events') errors.push(...eventErrors(after, t.namespace!, t.group));
    if (errors.length > 0) throw invalid(t, t.name, errors);
    if (t.resource === 'nodes') {
      const refusal = admitNodeUpdate(user, t.name, before, after);
      if (refusal) throw denied(refusal);
    }
    after.metadata = { ...after.metadata, uid: before.metadata.uid, creationTimestamp: before.metadata.creationTimestamp, namespace: before.metadata.namespace };
    if (before.metadata.namespace === undefined) delete after.metadata.namespace;
    // An update that changes nothing keeps the resourceVersion and tells no watcher.
    if (isDeepStrictEqual(after, before)) return asSeen;
    // dryRun=All: authorization, validation and admission ran; nothing is stored or watched.
    if (dryRun) return inGroup(t)(after);
    return inGroup(t)(store.replace(t.resource as 'nodes' | 'events', storedKey(t), after));
  }

  /** The Lease kubelet renews for a registered Node (`kubectl describe node` shows it). */
  function nodeLease(user: KubeUser, name: string): Json {
    const refusal = authorize(user, { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease', name });
    if (refusal) throw denied(refusal);
    const node = store.nodes.get(name);
    if (!node) throw new HttpFailure(404, `leases.coordination.k8s.io "${name}" not found`, { details: { name, group: 'coordination.k8s.io', kind: 'leases' } });
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: 'kube-node-lease', uid: node.metadata.uid, resourceVersion: node.metadata.resourceVersion, creationTimestamp: node.metadata.creationTimestamp },
      spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date().toISOString().replace('Z', '000Z') },
    };
  }

  function route(req: IncomingMessage, res: ServerResponse, user: KubeUser, url: URL, body: string): Json | undefined {
    const path = url.pathname.replace(/\/$/, '') || '/';
    const method = req.method ?? 'GET';
    if (method === 'POST' && path === '/apis/authentication.k8s.io/v1/selfsubjectreviews') {
      return {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'SelfSubjectReview',
        metadata: { creationTimestamp: null },
        status: { userInfo: { username: user.username, groups: user.groups } },
      };
    }
    if (method === 'POST' && path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
      const answer = review(user, parseBody(body), (namespace, name) => world.pods.get(`${namespace}/${name}`)?.nodeName);
      if (!answer.ok) throw new HttpFailure(answer.status, answer.message);
      return answer.review;
    }
    if (method === 'GET') {
      const found = discovery(path, serverAddress);
      if (found) return found;
    }
    const lease = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/kube-node-lease\/leases\/([^/]+)$/.exec(path);
    if (lease && method === 'GET') return nodeLease(user, decodeURIComponent(lease[1]!));
    const t = parseTarget(path);
    if (!t) throw new HttpFailure(404, 'the server could not find the requested resource');
    const accept = req.headers.accept;
    const watch = url.searchParams.get('watch');
    if (method === 'GET' && t.name === undefined && (watch === 'true' || watch === '1')) {
      const matches = selection(t, user, url.searchParams);
      const table = tableVersion(accept);
      const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
      serveWatch(res, {
        store,
        resource: t.resource,
        current: () => objects(t.resource),
        matches,
        render: (o) =>
          table ? toTable(t.resource, [o], { version: table, resourceVersion: o.metadata.resourceVersion, includeObject: url.searchParams.get('includeObject') }) : inGroup(t)(o),
        resourceVersion: url.searchParams.get('resourceVersion'),
        ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutSeconds: timeout } : {}),
        onClose: (end) => {
          watches.add(end);
          res.on('close', () => watches.delete(end));
        },
      });
      return undefined;
    }
    if (method === 'GET') return t.name === undefined ? list(t, user, url.searchParams, accept) : get(t, user, accept, url.searchParams);
    if (method === 'POST') return createEvent(t, user, body, dryRunOf(url.searchParams));
    if (method === 'PATCH' || method === 'PUT') return write(t, user, method, req.headers['content-type'] ?? '', body, dryRunOf(url.searchParams));
    throw new HttpFailure(405, 'the server does not allow this method on the requested resource');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const entry: KubeRequest = { method: req.method ?? 'GET', path: `${url.pathname}${url.search}`, status: 0 };
    requests.push(entry);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
    if (faults.hang) return; // held open until close() ends the connection
    const send = (code: number, text: string): void => {
      entry.status = code;
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
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
      const answer = route(req, res, user, url, body);
      if (answer === undefined) {
        entry.status = 200; // a watch: streaming
        return;
      }
      send(req.method === 'POST' && answer.kind !== 'SelfSubjectReview' ? 201 : 200, JSON.stringify(answer));
    } catch (error) {
      if (!(error instanceof HttpFailure)) throw error;
      send(error.code, JSON.stringify(status(error.code, error.message, error.extra)));
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
  serverAddress = `127.0.0.1:${port}`;

  return {
    url: `${pki ? 'https' : 'http'}://127.0.0.1:${port}`,
    ...(pki ? { caPem: pki.caPem } : {}),
    token,
    addToken: (t, username, groups = []) => {
      tokens.set(t, { username, groups: [...groups, 'system:authenticated'] });
    },
    issueClientCert: (username, groups) => {
      if (!pki) return Promise.reject(new Error('client certificates need HTTPS: startKube(world) without tls: false'));
      return pki.issueClient(username, groups);
    },
    events: (filter) => store.eventList(filter),
    requests,
    faults,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const end of watches) end();
        if (!server.listening) return resolve();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
