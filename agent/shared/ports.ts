// The narrow ports the core talks through, in our own words. Adapters implement them over
// the AWS SDK, IMDS and the Kubernetes API; tests may implement them over the simulator.

export interface PoolSelector {
  tagKey: string;
  /** undefined: every address carrying the key is in the pool */
  tagValue?: string;
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
}

/** One EC2 HTTP attempt, reported by the adapter for metrics and benchmarks. */
export interface Ec2CallRecord {
  action: string;
  /** `ok` or the EC2 error code (`RequestLimitExceeded`, `Resource.AlreadyAssociated`, …) or `network` */
  outcome: string;
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

export interface ImdsPort {
  /** GET a metadata path below /latest/; undefined when IMDS answers 404. */
  get(path: string): Promise<string | undefined>;
}

/** A pod reduced to what the drain decision needs. */
export interface PodView {
  namespace: string;
  name: string;
  phase: string;
  ownerKinds: string[];
  mirror: boolean;
}

export interface KubePort {
  listPodsOnNode(nodeName: string, signal?: AbortSignal): Promise<PodView[]>;
}
