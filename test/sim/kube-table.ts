// Server-side printing: kubectl asks for `application/json;as=Table;g=meta.k8s.io;v=v1` and
// prints the Table the API server sends. Columns and cells as the real printers make them
// (pkg/printers/internalversion) for pods, nodes and events. Pure, apart from the clock.
import type { Json } from './kube-objects.js';
import type { KubeResource } from './kube-state.js';

/** The Table version kubectl asked for, or undefined for plain JSON. */
export function tableVersion(accept: string | undefined): 'v1' | 'v1beta1' | undefined {
  for (const part of (accept ?? '').split(',')) {
    const params = new Map(
      part
        .split(';')
        .slice(1)
        .map((p) => p.trim().split('=') as [string, string]),
    );
    if (params.get('as') === 'Table' && params.get('g') === 'meta.k8s.io') {
      const v = params.get('v');
      if (v === 'v1' || v === 'v1beta1') return v;
    }
    if (part.trim().split(';')[0] === 'application/json' && !params.has('as')) return undefined;
  }
  return undefined;
}

/** apimachinery's duration.HumanDuration, as in the AGE column. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  return `${Math.floor(hours / 24 / 365)}y`;
}

const since = (time: string | undefined | null): string => (time ? humanDuration(Date.now() - Date.parse(time)) : '<unknown>');

interface Column {
  name: string;
  type: 'string' | 'integer';
  format?: 'name';
  priority?: 1;
  description: string;
  cell: (o: Json) => string | number;
}

const address = (o: Json, type: string): string => o.status?.addresses?.find((a: Json) => a.type === type)?.address ?? '<none>';

const COLUMNS: Readonly<Record<KubeResource, readonly Column[]>> = {
  pods: [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', cell: (o) => o.metadata.name },
    {
      name: 'Ready',
      type: 'string',
      description: 'The aggregate readiness state of this pod for accepting traffic.',
      cell: (o) => `${(o.status?.containerStatuses ?? []).filter((c: Json) => c.ready).length}/${o.spec?.containers?.length ?? 0}`,
    },
    { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.', cell: (o) => o.status?.phase ?? 'Unknown' },
    {
      name: 'Restarts',
      type: 'string',
      description: 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
      cell: (o) => String((o.status?.containerStatuses ?? []).reduce((n: number, c: Json) => n + (c.restartCount ?? 0), 0)),
    },
    { name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', cell: (o) => since(o.metadata.creationTimestamp) },
    { name: 'IP', type: 'string', priority: 1, description: 'podIP is the IP address allocated to the pod.', cell: (o) => o.status?.podIP ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, description: 'NodeName is the name of the node the pod is scheduled on.', cell: (o) => o.spec?.nodeName ?? '<none>' },
    { name: 'Nominated Node', type: 'string', priority: 1, description: 'nominatedNodeName is set when this pod preempts other pods on the node.', cell: () => '<none>' },
    { name: 'Readiness Gates', type: 'string', priority: 1, description: 'If specified, all readiness gates will be evaluated for pod readiness.', cell: () => '<none>' },
  ],
  nodes: [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', cell: (o) => o.metadata.name },
    {
      name: 'Status',
      type: 'string',
      description: 'The status of the node',
      cell: (o) => {
        const ready = o.status?.conditions?.find((c: Json) => c.type === 'Ready');
        const status = ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown';
        return o.spec?.unschedulable ? `${status},SchedulingDisabled` : status;
      },
    },
    {
      name: 'Roles',
      type: 'string',
      description: 'The roles of the node',
      cell: (o) =>
        Object.keys(o.metadata.labels ?? {})
          .filter((k) => k.startsWith('node-role.kubernetes.io/'))
          .map((k) => k.slice('node-role.kubernetes.io/'.length))
          .sort()
          .join(',') || '<none>',
    },
    { name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', cell: (o) => since(o.metadata.creationTimestamp) },
    { name: 'Version', type: 'string', description: 'Kubelet Version reported by the node.', cell: (o) => o.status?.nodeInfo?.kubeletVersion ?? '' },
    { name: 'Internal-IP', type: 'string', priority: 1, description: 'List of addresses reachable to the node.', cell: (o) => address(o, 'InternalIP') },
    { name: 'External-IP', type: 'string', priority: 1, description: 'List of addresses reachable to the node.', cell: (o) => address(o, 'ExternalIP') },
    { name: 'OS-Image', type: 'string', priority: 1, description: 'OS Image reported by the node.', cell: (o) => o.status?.nodeInfo?.osImage ?? '<unknown>' },
    { name: 'Kernel-Version', type: 'string', priority: 1, description: 'Kernel Version reported by the node.', cell: (o) => o.status?.nodeInfo?.kernelVersion ?? '<unknown>' },
    { name: 'Container-Runtime', type: 'string', priority: 1, description: 'Container Runtime Version reported by the node.', cell: (o) => o.status?.nodeInfo?.containerRuntimeVersion ?? '<unknown>' },
  ],
  events: [
    { name: 'Last Seen', type: 'string', description: 'Time when last this event was observed.', cell: (o) => since(o.series?.lastObservedTime ?? o.lastTimestamp ?? o.eventTime) },
    { name: 'Type', type: 'string', description: 'Type of this event (Normal, Warning), new types could be added in the future.', cell: (o) => o.type ?? '' },
    { name: 'Reason', type: 'string', description: 'This should be a short, machine understandable string that gives the reason for the transition into the object\'s current status.', cell: (o) => o.reason ?? '' },
    {
      name: 'Object',
      type: 'string',
      description: 'The object that this event is about.',
      cell: (o) => `${String(o.involvedObject?.kind ?? '').toLowerCase()}/${o.involvedObject?.name ?? ''}`,
    },
    { name: 'Subobject', type: 'string', priority: 1, description: 'The subobject that this event is about.', cell: (o) => o.involvedObject?.fieldPath ?? '' },
    {
      name: 'Source',
      type: 'string',
      priority: 1,
      description: 'The component reporting this event. Should be a short machine understandable string.',
      cell: (o) => [o.source?.component ?? o.reportingComponent, o.source?.host].filter(Boolean).join(', '),
    },
    { name: 'Message', type: 'string', description: 'A human-readable description of the status of this operation.', cell: (o) => o.message ?? '' },
    { name: 'First Seen', type: 'string', priority: 1, description: 'The time at which the event was first recorded.', cell: (o) => since(o.firstTimestamp ?? o.eventTime) },
    { name: 'Count', type: 'string', priority: 1, description: 'The number of times this event has occurred.', cell: (o) => String(o.series?.count ?? o.count ?? 1) },
    { name: 'Name', type: 'string', priority: 1, description: 'Name must be unique within a namespace.', cell: (o) => o.metadata.name },
  ],
};

/** `includeObject`: None, Metadata (the default), or Object. */
export function toTable(resource: KubeResource, objects: readonly Json[], options: { version: 'v1' | 'v1beta1'; resourceVersion: string; includeObject?: string | null }): Json {
  const columns = COLUMNS[resource];
  const include = options.includeObject ?? 'Metadata';
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${options.version}`,
    metadata: { resourceVersion: options.resourceVersion },
    columnDefinitions: columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description, priority: c.priority ?? 0 })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o)),
      ...(include === 'None'
        ? {}
        : { object: include === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata } }),
    })),
  };
}
