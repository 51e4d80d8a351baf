// Discovery as the API server serves it to clients that do not ask for the aggregated
// form (kubectl falls back to these when the answer is not an APIGroupDiscoveryList):
// /version, /api, /api/v1, /apis and one document per group version. Pure data.
import type { Json } from './kube-objects.js';

export const VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.3-eks-sim',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23.6',
  compiler: 'gc',
  platform: 'linux/amd64',
};

const EVENTS = { name: 'events', singularName: 'event', namespaced: true, kind: 'Event', verbs: ['create', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ev'] };

const RESOURCES: Readonly<Record<string, Json[]>> = {
  v1: [
    EVENTS,
    { name: 'nodes', singularName: 'node', namespaced: false, kind: 'Node', verbs: ['get', 'list', 'patch', 'update', 'watch'], shortNames: ['no'] },
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list', 'watch'], shortNames: ['po'], categories: ['all'] },
  ],
  'authentication.k8s.io/v1': [{ name: 'selfsubjectreviews', singularName: 'selfsubjectreview', namespaced: false, kind: 'SelfSubjectReview', verbs: ['create'] }],
  'authorization.k8s.io/v1': [{ name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: ['create'] }],
  'coordination.k8s.io/v1': [{ name: 'leases', singularName: 'lease', namespaced: true, kind: 'Lease', verbs: ['get'] }],
  'events.k8s.io/v1': [EVENTS],
};

export function discovery(path: string, serverAddress: string): Json | undefined {
  if (path === '/version') return VERSION;
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  if (path === '/apis') {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: Object.keys(RESOURCES)
        .filter((gv) => gv.includes('/'))
        .map((gv) => {
          const [name, version] = gv.split('/') as [string, string];
          const entry = { groupVersion: gv, version };
          return { name, versions: [entry], preferredVersion: entry };
        }),
    };
  }
  const gv = path === '/api/v1' ? 'v1' : /^\/apis\/([^/]+\/[^/]+)$/.exec(path)?.[1];
  const resources = gv === undefined ? undefined : RESOURCES[gv];
  return resources ? { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources } : undefined;
}
