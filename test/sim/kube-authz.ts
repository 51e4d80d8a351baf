// Who may do what: the Node authorizer with RBAC's system:node role for a kubelet's
// identity (user system:node:NAME in group system:nodes), and the NodeRestriction admission
// plugin's rules for the Node a kubelet updates. Messages as the API server words them
// (plugin/pkg/admission/noderestriction, the RBAC authorizer's "cannot VERB resource").
// Every other authenticated user is treated as a cluster admin: RBAC beyond this is not
// modelled. Pure.
import type { Json } from './kube-objects.js';

export interface KubeUser {
  username: string;
  groups: string[];
}

export interface Attributes {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
  /** '' for the core group */
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
}

/** A 403 with the Status fields Kubernetes fills for it. */
export interface Forbidden {
  message: string;
  /** the authorizer's own reason (a SelfSubjectAccessReview's status.reason) */
  reason?: string;
  details: { name?: string; group?: string; kind: string };
}

/** The node a kubelet credential speaks for, or undefined for any other user. */
export function nodeOf(user: KubeUser): string | undefined {
  const name = /^system:node:(.+)$/.exec(user.username)?.[1];
  return name !== undefined && user.groups.includes('system:nodes') ? name : undefined;
}

function forbidden(a: Attributes, user: KubeUser, reason?: string): Forbidden {
  const resource = a.group ? `${a.resource}.${a.group}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  const why = `User "${user.username}" cannot ${a.verb} resource "${a.resource}" in API group "${a.group}" ${scope}${reason ? `: ${reason}` : ''}`;
  return {
    message: a.name ? `${resource} "${a.name}" is forbidden: ${why}` : `${resource} is forbidden: ${why}`,
    ...(reason ? { reason } : {}),
    details: { ...(a.name ? { name: a.name } : {}), ...(a.group ? { group: a.group } : {}), kind: a.resource },
  };
}

export interface NodeContext {
  /** list/watch: the field selector asked for exactly this node's own objects (pods: spec.nodeName=<node>; Nodes: metadata.name=<node>) */
  ownSelector?: boolean;
  /** get of one pod: the node the pod is bound to (undefined: no such pod) */
  podNode?: string;
}

/** undefined: allowed. */
export function authorize(user: KubeUser, a: Attributes, context: NodeContext = {}): Forbidden | undefined {
  const node = nodeOf(user);
  if (node === undefined) return undefined;
  switch (`${a.group}/${a.resource}`) {
    case '/pods':
      if ((a.verb === 'list' || a.verb === 'watch') && context.ownSelector) return undefined;
      if (a.verb === 'list' || a.verb === 'watch') return forbidden(a, user, 'can only list/watch pods with spec.nodeName field selector');
      if (a.verb === 'get') return context.podNode === node ? undefined : forbidden(a, user, `no relationship found between node '${node}' and this object`);
      return forbidden(a, user);
    case '/nodes':
      // The Node authorizer (AuthorizeNodeWithSelectors, stable in 1.34): a kubelet reads only
      // its own Node. It may update and patch Nodes; NodeRestriction limits that to its own.
      if (a.verb === 'get') return a.name === node ? undefined : forbidden(a, user, `node '${node}' cannot read '${a.name}', only its own Node object`);
      if (a.verb === 'list' || a.verb === 'watch') {
        return context.ownSelector ? undefined : forbidden(a, user, `node '${node}' can only list/watch its own Node object with the field selector metadata.name=${node}`);
      }
      return ['update', 'patch'].includes(a.verb) ? undefined : forbidden(a, user);
    case '/events':
    case 'events.k8s.io/events':
      // Nodes record events; they do not read them.
      return ['create', 'update', 'patch'].includes(a.verb) ? undefined : forbidden(a, user);
    case 'coordination.k8s.io/leases':
      return a.verb === 'get' ? undefined : forbidden(a, user);
    case 'authentication.k8s.io/selfsubjectreviews':
    case 'authorization.k8s.io/selfsubjectaccessreviews':
      // system:basic-user grants every authenticated user these reviews of itself.
      return a.verb === 'create' ? undefined : forbidden(a, user);
    default:
      return forbidden(a, user);
  }
}

function labelNamespace(key: string): string {
  const slash = key.indexOf('/');
  return slash >= 0 ? key.slice(0, slash) : '';
}

const within = (namespace: string, domain: string): boolean => namespace === domain || namespace.endsWith(`.${domain}`);

// k8s.io/kubelet/pkg/apis: the labels a kubelet may set on its own Node.
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname',
  'kubernetes.io/arch',
  'kubernetes.io/os',
  'beta.kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'failure-domain.beta.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'topology.kubernetes.io/zone',
]);
const KUBELET_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

/** NodeRestriction's getForbiddenLabels over the keys that are added, changed or removed. */
export function forbiddenLabels(before: Record<string, string> | undefined, after: Record<string, string> | undefined): string[] {
  const a = before ?? {};
  const b = after ?? {};
  const modified = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]);
  return modified
    .filter((key) => {
      const ns = labelNamespace(key);
      if (within(ns, 'node-restriction.kubernetes.io')) return true;
      const kubernetes = within(ns, 'kubernetes.io') || within(ns, 'k8s.io');
      const kubelet = KUBELET_LABELS.has(key) || KUBELET_NAMESPACES.some((allowed) => within(ns, allowed));
      return kubernetes && !kubelet;
    })
    .sort();
}

// apimachinery's Semantic.DeepEqual: an empty and a missing list are equal.
const taintsOf = (node: Json): string => JSON.stringify(node?.spec?.taints ?? []);

/**
 * NodeRestriction on an update of `name` by a kubelet: its own Node only, never its taints,
 * no label under node-restriction.kubernetes.io/ nor a kubernetes.io/k8s.io label outside
 * the kubelet's set. Annotations are free. undefined: admitted.
 */
export function admitNodeUpdate(user: KubeUser, name: string, before: Json, after: Json): Forbidden | undefined {
  const node = nodeOf(user);
  if (node === undefined) return undefined;
  const deny = (why: string): Forbidden => ({ message: `nodes "${name}" is forbidden: ${why}`, details: { name, kind: 'nodes' } });
  if (name !== node) return deny(`node "${node}" is not allowed to modify node "${name}"`);
  if (taintsOf(before) !== taintsOf(after)) return deny(`node "${node}" is not allowed to modify taints`);
  const labels = forbiddenLabels(before?.metadata?.labels, after?.metadata?.labels);
  if (labels.length > 0) return deny(`is not allowed to modify labels: ${labels.join(', ')}`);
  return undefined;
}
