// Kubernetes objects of the simulated world as the API server serves them: Pods rendered
// from the world's pods, Nodes built at registration (as kubelet registers them on EKS),
// Events in core/v1 and events.k8s.io/v1 form, the fields each resource can be selected
// by, and the validation of labels and events. Pure, apart from random uids.
import { randomUUID } from 'node:crypto';
import type { Instance, Pod } from './world.js';

export type Json = any;

/** As Kubernetes prints timestamps: seconds, Z. */
export function kubeTime(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const OWNER_API: Record<string, string> = {
  DaemonSet: 'apps/v1',
  ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  Job: 'batch/v1',
  Node: 'v1',
};

export function podJson(pod: Pod): Json {
  // Mirror pods are owned by their Node and carry the config.mirror annotation.
  const ownerKind = pod.ownerKind ?? (pod.mirror ? 'Node' : undefined);
  const ownerName = ownerKind === 'Node' ? pod.nodeName : pod.name.replace(/-[^-]+$/, '');
  const running = pod.phase === 'Running';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      resourceVersion: pod.resourceVersion,
      creationTimestamp: pod.creationTimestamp,
      ...(pod.labels ? { labels: { ...pod.labels } } : {}),
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
      ...(pod.mirror ? { annotations: { 'kubernetes.io/config.mirror': pod.uid, 'kubernetes.io/config.source': 'file' } } : {}),
    },
    spec: { nodeName: pod.nodeName, containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10' }] },
    status: {
      phase: pod.phase,
      containerStatuses: [{ name: 'main', ready: running, restartCount: 0, image: 'registry.k8s.io/pause:3.10', started: running }],
    },
  };
}

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

/** What kubelet's --node-labels and --register-with-taints add at registration. */
export interface NodeRegistration {
  labels?: Record<string, string>;
  taints?: Taint[];
}

export const INSTANCE_TYPE = 'm6i.large';

/** The Node kubelet registers on EKS AL2023 (labels, providerID, addresses, nodeInfo). */
export function nodeObject(instance: Instance, publicIp: string | undefined, registration: NodeRegistration = {}): Json {
  const name = instance.hostname;
  const zone = instance.availabilityZone;
  const now = kubeTime();
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
    reason,
    message,
  });
  const resources = { cpu: '2', 'ephemeral-storage': '20959212Ki', memory: '7869436Ki', pods: '29' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: randomUUID(),
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/instance-type': INSTANCE_TYPE,
        'beta.kubernetes.io/os': 'linux',
        'failure-domain.beta.kubernetes.io/region': instance.region,
        'failure-domain.beta.kubernetes.io/zone': zone,
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'node.kubernetes.io/instance-type': INSTANCE_TYPE,
        'topology.kubernetes.io/region': instance.region,
        'topology.kubernetes.io/zone': zone,
        ...registration.labels,
      },
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: {
      providerID: `aws:///${zone}/${instance.instanceId}`,
      ...(registration.taints?.length ? { taints: structuredClone(registration.taints) } : {}),
    },
    status: {
      // As the cloud provider sets them at registration; its later syncs are not modelled.
      addresses: [
        { type: 'InternalIP', address: instance.enis[0]!.privateIps[0] },
        ...(publicIp ? [{ type: 'ExternalIP', address: publicIp }] : []),
        { type: 'InternalDNS', address: name },
        { type: 'Hostname', address: name },
      ],
      allocatable: resources,
      capacity: resources,
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64',
        bootID: randomUUID(),
        containerRuntimeVersion: 'containerd://1.7.27',
        kernelVersion: '6.1.134-152.225.amzn2023.x86_64',
        kubeProxyVersion: '',
        kubeletVersion: 'v1.32.3-eks-473151a',
        machineID: randomUUID().replaceAll('-', ''),
        operatingSystem: 'linux',
        osImage: 'Amazon Linux 2023.7.20250512',
        systemUUID: randomUUID(),
      },
    },
  };
}

// ---- selectable fields (the API server's GetAttrs / field label conversions) -------------

export const SELECTABLE: Readonly<Record<'pods' | 'nodes' | 'events', readonly string[]>> = {
  pods: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase'],
  nodes: ['metadata.name', 'spec.unschedulable'],
  events: [
    'metadata.name',
    'metadata.namespace',
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
};

export function fieldsOf(resource: 'pods' | 'nodes' | 'events', o: Json): Record<string, string> {
  const m = o.metadata ?? {};
  const base = { 'metadata.name': m.name ?? '', 'metadata.namespace': m.namespace ?? '' };
  if (resource === 'pods') return { ...base, 'spec.nodeName': o.spec?.nodeName ?? '', 'status.phase': o.status?.phase ?? '' };
  if (resource === 'nodes') return { ...base, 'spec.unschedulable': String(o.spec?.unschedulable === true) };
  const i = o.involvedObject ?? {};
  return {
    ...base,
    'involvedObject.kind': i.kind ?? '',
    'involvedObject.namespace': i.namespace ?? '',
    'involvedObject.name': i.name ?? '',
    'involvedObject.uid': i.uid ?? '',
    'involvedObject.apiVersion': i.apiVersion ?? '',
    'involvedObject.resourceVersion': i.resourceVersion ?? '',
    'involvedObject.fieldPath': i.fieldPath ?? '',
    reason: o.reason ?? '',
    reportingComponent: o.reportingComponent ?? '',
    source: o.source?.component ?? '',
    type: o.type ?? '',
  };
}

// ---- validation ----------------------------------------------------------------------------

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** apimachinery's ValidateLabels: one message per bad key or value, with its path. */
export function labelErrors(labels: unknown): string[] {
  if (labels === undefined || labels === null) return [];
  if (typeof labels !== 'object' || Array.isArray(labels)) return ['metadata.labels: Invalid value: expected a map of strings'];
  const errors: string[] = [];
  for (const [key, value] of Object.entries(labels as Record<string, unknown>)) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
      errors.push(`metadata.labels: Invalid value: ${JSON.stringify(key)}: prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`);
    } else if (name.length > 63 || !NAME.test(name)) {
      errors.push(`metadata.labels: Invalid value: ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`);
    }
    if (typeof value !== 'string') {
      errors.push(`metadata.labels: Invalid value: ${JSON.stringify(value)}: a label value must be a string`);
    } else if (value !== '' && (value.length > 63 || !NAME.test(value))) {
      errors.push(
        value.length > 63
          ? `metadata.labels: Invalid value: ${JSON.stringify(value)}: must be no more than 63 characters`
          : `metadata.labels: Invalid value: ${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
      );
    }
  }
  return errors;
}

// ---- events: core/v1 is stored; events.k8s.io/v1 is converted at the edge ------------------

const RENAMES: readonly [core: string, events: string][] = [
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['reportingComponent', 'reportingController'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
];

/** A copy of `event` in the other API's form: its apiVersion and the renamed fields. */
function renamed(event: Json, apiVersion: string, renames: readonly (readonly [string, string])[]): Json {
  const out: Json = { ...structuredClone(event), apiVersion, kind: 'Event' };
  for (const [from, to] of renames) {
    if (from in out) {
      out[to] = out[from];
      delete out[from];
    }
  }
  return out;
}

export const toEventsV1 = (core: Json): Json => renamed(core, 'events.k8s.io/v1', RENAMES);
export const fromEventsV1 = (event: Json): Json => renamed(event, 'v1', RENAMES.map(([core, v1]) => [v1, core] as const));

/**
 * ValidateEventCreate: an event about a cluster-scoped object (a Node) lives in "default"
 * (or no namespace); one about a namespaced object lives in that namespace. events.k8s.io
 * also requires what its recorder always sets.
 */
export function eventErrors(core: Json, namespace: string, group: '' | 'events.k8s.io'): string[] {
  const errors: string[] = [];
  const involved = core.involvedObject ?? {};
  const field = group === '' ? 'involvedObject' : 'regarding';
  if (!involved.namespace) {
    if (namespace !== '' && namespace !== 'default') errors.push(`${field}.namespace: Invalid value: "": does not match event.namespace`);
  } else if (involved.namespace !== namespace) {
    errors.push(`${field}.namespace: Invalid value: ${JSON.stringify(involved.namespace)}: does not match event.namespace`);
  }
  if (core.type !== undefined && core.type !== '' && core.type !== 'Normal' && core.type !== 'Warning') {
    errors.push(`type: Invalid value: ${JSON.stringify(core.type)}: has invalid value: ${String(core.type)}`);
  } else if (group === 'events.k8s.io' && !core.type) {
    errors.push('type: Required value');
  }
  if (group === 'events.k8s.io') {
    if (!core.eventTime) errors.push('eventTime: Required value');
    if (!core.reportingComponent) errors.push('reportingController: Required value');
    if (!core.reportingInstance) errors.push('reportingInstance: Required value');
    if (!core.action) errors.push('action: Required value');
    if (!core.reason) errors.push('reason: Required value');
  }
  return errors;
}
