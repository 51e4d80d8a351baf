// The KubePort over the API server: the pods bound to this node (SPEC §5), this node's
// Node (labels and annotations, SPEC §4a) and Events about it. Answers are checked here:
// one that lacks what it must carry is `malformed`.
import { AgentError } from '../shared/errors.js';
import type { KubePort, NodeView, PodView } from '../shared/ports.js';
import { createKubeTransport, type KubeClientDeps, type KubeTransport } from './kube-client.js';
import { isObject } from './kube-exec.js';
import type { KubeTarget } from './kubeconfig.js';

export type { KubeClientDeps, RunExec } from './kube-client.js';

export interface KubeClient extends KubePort {
  /** Closes pooled connections. */
  close(): Promise<void>;
}

// Events of a node go to the `default` namespace, as kubelet's own do.
const EVENT_NAMESPACE = 'default';
const COMPONENT = 'eip-agent';

function podView(item: unknown): PodView | undefined {
  if (!isObject(item) || !isObject(item.metadata)) return undefined;
  const { name, namespace, ownerReferences, annotations } = item.metadata;
  if (typeof name !== 'string' || typeof namespace !== 'string') return undefined;
  if (ownerReferences !== undefined && !Array.isArray(ownerReferences)) return undefined;
  const phase = isObject(item.status) && typeof item.status.phase === 'string' ? item.status.phase : 'Unknown';
  return {
    namespace,
    name,
    // A pod without a phase yet is not known to be finished: 'Unknown' keeps it workload.
    phase,
    ownerKinds: (ownerReferences ?? []).flatMap((ref: unknown) => (isObject(ref) && typeof ref.kind === 'string' ? [ref.kind] : [])),
    mirror: isObject(annotations) && 'kubernetes.io/config.mirror' in annotations,
  };
}

const strings = (value: unknown): Record<string, string> =>
  isObject(value) ? Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};

function nodeView(item: unknown): NodeView | undefined {
  if (!isObject(item) || item.kind !== 'Node' || !isObject(item.metadata)) return undefined;
  const { name, uid, labels, annotations } = item.metadata;
  if (typeof name !== 'string' || typeof uid !== 'string') return undefined;
  return { name, uid, labels: strings(labels), annotations: strings(annotations) };
}

export function createKubeClient(target: KubeTarget, deps: KubeClientDeps = {}): KubeClient {
  return kubePort(createKubeTransport(target, deps));
}

export function kubePort(api: KubeTransport): KubeClient {
  const malformed = (what: string, expected: string) => new AgentError('malformed', 'kube.malformed', `${api.where}: ${what}: answer is not ${expected}`);
  const node = (answer: unknown, what: string): NodeView => {
    const view = nodeView(answer);
    if (!view) throw malformed(what, 'a Node');
    return view;
  };
  return {
    async listPodsOnNode(nodeName, signal) {
      const what = `list pods on node ${nodeName}`;
      // Exactly this selector: the Node authorizer lets a node list nothing else.
      const path = `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`;
      const list = await api.request({ method: 'GET', path, what, ...(signal ? { signal } : {}) });
      const items = isObject(list) && list.kind === 'PodList' && Array.isArray(list.items) ? list.items : undefined;
      const pods = items?.map(podView);
      if (!pods || pods.includes(undefined)) throw malformed(what, 'a PodList');
      return pods as PodView[];
    },
    async getNode(nodeName, signal) {
      const what = `get node ${nodeName}`;
      const answer = await api.request({ method: 'GET', path: `/api/v1/nodes/${encodeURIComponent(nodeName)}`, what, absentOk: true, ...(signal ? { signal } : {}) });
      return answer === undefined ? undefined : node(answer, what);
    },
    async patchNode(nodeName, patch, signal) {
      const what = `label node ${nodeName}`;
      const answer = await api.request({
        method: 'PATCH',
        path: `/api/v1/nodes/${encodeURIComponent(nodeName)}`,
        what,
        // A JSON merge patch: only the keys named change; null removes one.
        body: { metadata: { ...(patch.labels ? { labels: patch.labels } : {}), ...(patch.annotations ? { annotations: patch.annotations } : {}) } },
        contentType: 'application/merge-patch+json',
        ...(signal ? { signal } : {}),
      });
      return node(answer, what);
    },
    async recordEvent(target, event, signal) {
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      await api.request({
        method: 'POST',
        path: `/api/v1/namespaces/${EVENT_NAMESPACE}/events`,
        what: `record event ${event.reason} on node ${target.name}`,
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${target.name}.`, namespace: EVENT_NAMESPACE },
          involvedObject: { apiVersion: 'v1', kind: 'Node', name: target.name, uid: target.uid },
          type: event.type,
          reason: event.reason,
          message: event.message,
          source: { component: COMPONENT, host: target.name },
          reportingComponent: COMPONENT,
          reportingInstance: target.name,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
        ...(signal ? { signal } : {}),
      });
    },
    close: () => api.close(),
  };
}
