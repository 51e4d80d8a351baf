// The narrow ports the lifecycle talks through, in our own words. Adapters implement them
// over the AWS SDK, IMDS, the Kubernetes API and the host; tests implement them over the
// simulated world. Every method makes one attempt: retries are the caller's (shared/retry.ts).
import type { ErrorKind } from './errors.js';

export interface PoolSelector {
  tagKey: string;
  /** undefined: every address carrying the key is in the pool */
  tagValue?: string;
}

/** Where this node's address goes: one private IP of one interface. */
export interface Target {
  instanceId: string;
  networkInterfaceId: string;
  privateIp: string;
  /** the interface's MAC: IMDS keys its paths by it */
  mac: string;
}

/** An Elastic IP as DescribeAddresses shows it, reduced to what the agent decides on. */
export interface AddressView {
  allocationId: string;
  publicIp: string;
  /** set when the address is associated with anything at all */
  associationId?: string;
  networkInterfaceId?: string;
  privateIp?: string;
  instanceId?: string;
  tags: Readonly<Record<string, string>>;
}

export interface AssociateRequest {
  allocationId: string;
  networkInterfaceId: string;
  privateIp: string;
}

/** Every EC2 call the agent makes. All associations use AllowReassociation=false (G1). */
export interface Ec2Port {
  /** DescribeAddresses filtered to the pool: one call answers "do we hold one" and "which are free". */
  listPool(pool: PoolSelector): Promise<AddressView[]>;
  /** DescribeAddresses by allocation id; undefined when it no longer exists. */
  describeAllocation(allocationId: string): Promise<AddressView | undefined>;
  /** DescribeAddresses by public IP; undefined when that IP is not an Elastic IP. */
  describePublicIp(publicIp: string): Promise<AddressView | undefined>;
  /** AssociateAddress(AllowReassociation=false); returns the association id. */
  associate(request: AssociateRequest): Promise<string>;
  /** DisassociateAddress(AssociationId). */
  disassociate(associationId: string): Promise<void>;
  /** DescribeInstances of one instance: its IMDS settings; undefined when it is not found. */
  metadataOptions(instanceId: string): Promise<MetadataOptions | undefined>;
}

/** An instance's IMDS settings, as DescribeInstances reports them. */
export interface MetadataOptions {
  /** IMDSv2 tokens: `required` or `optional` */
  httpTokens: string | undefined;
  /** network hops a token answer may travel: above 1, pods in their own network namespace reach IMDS */
  hopLimit: number | undefined;
}

/** One EC2 HTTP attempt, reported by the adapter for metrics and benchmarks. */
export interface Ec2CallRecord {
  action: string;
  /** `ok` or the EC2 error code (`RequestLimitExceeded`, `Resource.AlreadyAssociated`, …), `network`, `malformed` */
  outcome: string;
  /** how the adapter typed a failure; undefined for `ok` */
  kind?: ErrorKind;
}

export interface InterfaceIdentity {
  mac: string;
  deviceIndex: number;
  networkInterfaceId: string;
  privateIps: string[];
}

/** What IMDS tells the agent about itself. */
export interface Identity {
  instanceId: string;
  region: string;
  availabilityZone: string;
  /** IMDS local-hostname: the EKS node name by default */
  localHostname: string;
  interfaces: InterfaceIdentity[];
}

/** The end-of-life notices IMDS may carry; a field is absent while IMDS has none (404). */
export interface Notices {
  /** spot/instance-action: the action and time, or `unreadable` for a notice that does not parse */
  spot?: { action: string; time: string } | 'unreadable';
  /** autoscaling/target-lifecycle-state, e.g. InService, Terminated, Warmed:Terminated */
  lifecycle?: string;
  /** events/recommendations/rebalance: the notice time */
  rebalance?: string;
}

export interface ImdsPort {
  identity(signal?: AbortSignal): Promise<Identity>;
  /** the public IPv4s IMDS shows on the target's private IP */
  publicIpsOn(target: Target, signal?: AbortSignal): Promise<string[]>;
  /** does IMDS show `publicIp` on the target's private IP? (one read: the watch asks every few seconds) */
  isLiveOn(target: Target, publicIp: string, signal?: AbortSignal): Promise<boolean>;
  /** `rebalance: false` leaves the recommendation unread (it is only shown: read less often) */
  notices(signal?: AbortSignal, options?: { rebalance: boolean }): Promise<Notices>;
}

/** A pod reduced to what the drain decision needs. */
export interface PodView {
  namespace: string;
  name: string;
  phase: string;
  ownerKinds: string[];
  mirror: boolean;
}

/** A Node reduced to what the agent reads of it. */
export interface NodeView {
  name: string;
  uid: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

/** Labels and annotations to set on a Node; null removes a key. */
export interface NodeMetadataPatch {
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
}

/** A Kubernetes Event about this node, for `kubectl describe node` and `kubectl get events`. */
export interface NodeEvent {
  type: 'Normal' | 'Warning';
  /** CamelCase, stable: what alerts match on */
  reason: string;
  message: string;
}

export interface KubePort {
  listPodsOnNode(nodeName: string, signal?: AbortSignal): Promise<PodView[]>;
  /** undefined while kubelet has not registered the Node (404) */
  getNode(nodeName: string, signal?: AbortSignal): Promise<NodeView | undefined>;
  /** a merge patch of the Node's labels and annotations (NodeRestriction lets a node change its own) */
  patchNode(nodeName: string, patch: NodeMetadataPatch, signal?: AbortSignal): Promise<NodeView>;
  recordEvent(node: Pick<NodeView, 'name' | 'uid'>, event: NodeEvent, signal?: AbortSignal): Promise<void>;
}

/** Answers whether `publicIp` is what this node's traffic leaves from (--live-check egress). */
export type EgressProbe = (publicIp: string, signal: AbortSignal) => Promise<boolean>;

/** sd_notify: `READY=1`, `STATUS=…`; a no-op outside systemd. */
export type Notify = (state: string) => Promise<void>;

export interface ListenAddress {
  host: string;
  port: number;
  loopback: boolean;
}
