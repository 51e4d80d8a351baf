// The state of one simulated AWS account and region: Elastic IPs, instances with their
// network interfaces, Kubernetes pods. Every mutation is synchronous, so each EC2 action
// is atomic exactly as it is in EC2. The HTTP faces (ec2.ts, imds.ts, kube.ts) only
// translate wire formats to these methods.
import { randomBytes } from 'node:crypto';
import { kubeTime, nodeObject, podJson, type Json, type NodeRegistration } from './kube-objects.js';
import { KubeStore } from './kube-state.js';

export const ACCOUNT_ID = '123456789012';

export interface Association {
  associationId: string;
  networkInterfaceId: string;
  privateIp: string;
  instanceId?: string;
  ownerId: string;
  at: number;
}

export interface Address {
  allocationId: string;
  publicIp: string;
  tags: Record<string, string>;
  networkBorderGroup: string;
  publicIpv4Pool: string;
  association?: Association;
}

export interface Eni {
  networkInterfaceId: string;
  mac: string;
  deviceIndex: number;
  instanceId?: string;
  /** first one is the primary private IP */
  privateIps: string[];
  subnetId: string;
  vpcId: string;
  /** auto-assigned public IPv4 of the primary private IP, if the subnet gives one */
  autoPublicIp?: string;
}

export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** The instance metadata options DescribeInstances reports (and IMDS follows). */
/** The private DNS name EC2 gives an IP (IP-based naming): us-east-1 alone keeps the old `ec2.internal` domain. */
export function privateDnsName(region: string, privateIp: string): string {
  return `ip-${privateIp.replaceAll('.', '-')}.${region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`}`;
}

export interface MetadataOptions {
  /** `required`: IMDSv2 only; `optional`: token-less (IMDSv1) GETs are answered too */
  httpTokens: 'required' | 'optional';
  /** AL2023 AMIs launch with 2, so that containers one hop away reach IMDS */
  httpPutResponseHopLimit: number;
}

export interface Instance {
  instanceId: string;
  region: string;
  availabilityZone: string;
  hostname: string;
  roleName: string;
  credentials: RoleCredentials;
  enis: Eni[];
  /** IMDS instance-life-cycle: how the instance was bought */
  lifeCycle: 'on-demand' | 'spot';
  spotAction?: { action: 'terminate' | 'stop' | 'hibernate'; time: string };
  /** Auto Scaling target lifecycle state; undefined for an instance outside any group (IMDS 404) */
  lifecycleState?: string;
  rebalanceNoticeTime?: string;
  metadataOptions: MetadataOptions;
}

export interface InstanceOptions {
  interfaces?: number;
  autoPublicIp?: boolean;
  hostname?: string;
  /** a Spot Instance (IMDS instance-life-cycle `spot`); default on-demand */
  spot?: boolean;
  /** false: a standalone instance, not an Auto Scaling member (default true: `InService`) */
  asg?: boolean;
  metadataOptions?: Partial<MetadataOptions>;
}

export interface Pod {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  ownerKind?: string;
  mirror?: boolean;
  labels?: Record<string, string>;
  resourceVersion: string;
  creationTimestamp: string;
}

/** An EC2 error as the Query API reports it: code, message, HTTP status. */
export class SimError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface AssociateInput {
  allocationId?: string;
  instanceId?: string;
  networkInterfaceId?: string;
  privateIp?: string;
  /** undefined reassociates, as EC2 does when the parameter is left out */
  allowReassociation?: boolean;
}

export interface WorldOptions {
  region?: string;
  /** the world's clock (ms since the epoch); tests on a fake clock hand theirs in */
  now?: () => number;
  /** uniform in [0, 1): makes ids (and so rendezvous orders) the same for the same seed */
  random?: () => number;
  /** ms before IMDS shows a new association (EC2 → IMDS propagation) */
  imdsLagMs?: number;
}

function randomHex(n: number): string {
  return randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
}

export class World {
  readonly region: string;
  readonly now: () => number;
  /** n hex digits for ids */
  private readonly hex: (n: number) => string;
  imdsLagMs: number;
  readonly addresses = new Map<string, Address>();
  readonly instances = new Map<string, Instance>();
  readonly pods = new Map<string, Pod>();
  /** Nodes, Events, and the resourceVersions and change history of every Kubernetes object */
  readonly kube = new KubeStore();
  /** address snapshots after each change, for stale (eventually consistent) reads */
  private readonly history: { at: number; addresses: readonly Address[] }[] = [];
  private ipCounter = 0;
  private privateCounter = 0;

  constructor(options: WorldOptions = {}) {
    this.region = options.region ?? 'eu-west-1';
    this.now = options.now ?? Date.now;
    const random = options.random;
    this.hex = random ? (n) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('') : randomHex;
    this.imdsLagMs = options.imdsLagMs ?? 0;
    this.record();
  }

  // ---- set-up -------------------------------------------------------------------

  addAddress(tags: Record<string, string> = {}, publicIp?: string): Address {
    this.ipCounter += 1;
    const address: Address = {
      allocationId: `eipalloc-${this.hex(17)}`,
      publicIp: publicIp ?? `198.51.${100 + Math.floor(this.ipCounter / 250)}.${this.ipCounter % 250}`,
      tags: { ...tags },
      networkBorderGroup: this.region,
      publicIpv4Pool: 'amazon',
    };
    this.addresses.set(address.allocationId, address);
    this.record();
    return address;
  }

  addPool(count: number, tags: Record<string, string>): Address[] {
    return Array.from({ length: count }, () => this.addAddress(tags));
  }

  addInstance(options: InstanceOptions = {}): Instance {
    const instanceId = `i-${this.hex(17)}`;
    const enis: Eni[] = [];
    for (let deviceIndex = 0; deviceIndex < (options.interfaces ?? 1); deviceIndex++) {
      enis.push(this.newEni(instanceId, deviceIndex, deviceIndex === 0 && options.autoPublicIp === true));
    }
    const primaryIp = enis[0]!.privateIps[0]!;
    const instance: Instance = {
      instanceId,
      region: this.region,
      availabilityZone: `${this.region}a`,
      hostname: options.hostname ?? privateDnsName(this.region, primaryIp),
      lifeCycle: options.spot ? 'spot' : 'on-demand',
      roleName: 'eks-node-role',
      credentials: this.newCredentials(),
      enis,
      // EKS node groups and Karpenter-less fleets run in Auto Scaling groups: IMDS answers
      // InService until the group moves the instance on.
      ...(options.asg === false ? {} : { lifecycleState: 'InService' }),
      metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2, ...options.metadataOptions },
    };
    this.instances.set(instanceId, instance);
    return instance;
  }

  /** Attach another interface, as the VPC CNI does when pods scale. */
  attachEni(instanceId: string): Eni {
    const instance = this.mustInstance(instanceId);
    const eni = this.newEni(instanceId, instance.enis.length, false);
    instance.enis.push(eni);
    return eni;
  }

  /** Add a secondary private IP to an interface. */
  addPrivateIp(networkInterfaceId: string): string {
    const eni = this.mustEni(networkInterfaceId);
    const ip = this.nextPrivateIp();
    eni.privateIps.push(ip);
    return ip;
  }

  /** A bare interface not attached to any instance (e.g. a NAT gateway's). */
  addDetachedEni(): Eni {
    return this.newEni(undefined, 0, false);
  }

  private readonly detachedEnis: Eni[] = [];

  private newEni(instanceId: string | undefined, deviceIndex: number, autoPublicIp: boolean): Eni {
    const eni: Eni = {
      networkInterfaceId: `eni-${this.hex(17)}`,
      mac: `0a:${this.hex(2)}:${this.hex(2)}:${this.hex(2)}:${this.hex(2)}:${this.hex(2)}`,
      deviceIndex,
      privateIps: [this.nextPrivateIp()],
      subnetId: `subnet-0123456789abcdef0`,
      vpcId: `vpc-0123456789abcdef0`,
      ...(instanceId ? { instanceId } : {}),
      ...(autoPublicIp ? { autoPublicIp: `203.0.113.${(this.privateCounter % 250) + 1}` } : {}),
    };
    if (!instanceId) this.detachedEnis.push(eni);
    return eni;
  }

  private nextPrivateIp(): string {
    this.privateCounter += 1;
    return `10.0.${Math.floor(this.privateCounter / 250)}.${(this.privateCounter % 250) + 1}`;
  }

  newCredentials(ttlMs = 6 * 3600_000): RoleCredentials {
    return {
      accessKeyId: `ASIA${this.hex(16).toUpperCase()}`,
      secretAccessKey: this.hex(40),
      sessionToken: `IQoJb3JpZ2luX2Vj${this.hex(64)}`,
      expiration: new Date(this.now() + ttlMs),
    };
  }

  // ---- look-ups -----------------------------------------------------------------

  allEnis(): Eni[] {
    return [...[...this.instances.values()].flatMap((i) => i.enis), ...this.detachedEnis];
  }

  findEni(networkInterfaceId: string): Eni | undefined {
    if (!this.known(networkInterfaceId)) return undefined;
    return this.allEnis().find((e) => e.networkInterfaceId === networkInterfaceId);
  }

  /** interface or instance id → world time until which EC2's API does not know it yet */
  private readonly unknownUntil = new Map<string, number>();

  /**
   * EC2 is eventually consistent: an interface or instance just created may be unknown to
   * the API (InvalidNetworkInterfaceID.NotFound, InvalidInstanceID.NotFound) for a moment
   * while IMDS on the host already names it. Unknown for `ms` from now.
   */
  unknownFor(id: string, ms: number): void {
    this.unknownUntil.set(id, this.now() + ms);
  }

  private known(id: string): boolean {
    const until = this.unknownUntil.get(id);
    return until === undefined || this.now() >= until;
  }

  instanceByAccessKey(accessKeyId: string): Instance | undefined {
    for (const instance of this.instances.values()) {
      if (instance.credentials.accessKeyId === accessKeyId) return instance;
    }
    return undefined;
  }

  addressOn(networkInterfaceId: string, privateIp: string): Address | undefined {
    for (const address of this.addresses.values()) {
      const a = address.association;
      if (a && a.networkInterfaceId === networkInterfaceId && a.privateIp === privateIp) return address;
    }
    return undefined;
  }

  /** Public IPv4 of a private IP as EC2 knows it now (an EIP wins over an auto-assigned IP). */
  publicIpOf(eni: Eni, privateIp: string): string | undefined {
    const eip = this.addressOn(eni.networkInterfaceId, privateIp);
    if (eip) return eip.publicIp;
    return privateIp === eni.privateIps[0] ? eni.autoPublicIp : undefined;
  }

  /** Public IPv4 of a private IP as IMDS shows it: EC2's answer, `imdsLagMs` late. */
  imdsPublicIpOf(eni: Eni, privateIp: string, now = this.now()): string | undefined {
    const visible = this.snapshotAt(now - this.imdsLagMs);
    const eip = visible.find(
      (a) => a.association?.networkInterfaceId === eni.networkInterfaceId && a.association.privateIp === privateIp,
    );
    if (eip) return eip.publicIp;
    return privateIp === eni.privateIps[0] ? eni.autoPublicIp : undefined;
  }

  /**
   * Addresses as they stood at `at` (the newest snapshot not after it). Snapshots are frozen
   * and shared: every lagging IMDS read of every node asks, so no copy and no scan.
   */
  snapshotAt(at: number): readonly Address[] {
    let low = 0;
    let high = this.history.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.history[mid]!.at <= at) low = mid;
      else high = mid - 1;
    }
    return this.history[low]!.addresses;
  }

  // ---- EC2 actions (atomic) ---------------------------------------------------------

  associate(input: AssociateInput): Association {
    if (!input.allocationId) {
      throw new SimError('MissingParameter', 'The request must contain the parameter AllocationId');
    }
    const address = this.addresses.get(input.allocationId);
    if (!address) {
      throw new SimError('InvalidAllocationID.NotFound', `The allocation ID '${input.allocationId}' does not exist`);
    }
    if (!input.instanceId && !input.networkInterfaceId) {
      throw new SimError('MissingParameter', 'Either instance ID or network interface ID must be specified');
    }
    if (input.instanceId && input.networkInterfaceId) {
      // The API reference: "You can specify either the instance ID or the network interface
      // ID, but not both." Wording as EC2-compatible clouds report it.
      throw new SimError('InvalidParameterCombination', 'You may specify InstanceId or NetworkInterfaceId, but not both in the same call');
    }
    let eni: Eni;
    if (input.networkInterfaceId) {
      const found = this.findEni(input.networkInterfaceId);
      if (!found) {
        throw new SimError(
          'InvalidNetworkInterfaceID.NotFound',
          `The networkInterface ID '${input.networkInterfaceId}' does not exist`,
        );
      }
      eni = found;
    } else {
      const instance = this.known(input.instanceId!) ? this.instances.get(input.instanceId!) : undefined;
      if (!instance) {
        throw new SimError('InvalidInstanceID.NotFound', `The instance ID '${input.instanceId}' does not exist`);
      }
      if (instance.enis.length > 1) {
        throw new SimError(
          'InvalidInstanceID',
          `There are multiple interfaces attached to instance '${instance.instanceId}'. Please specify an interface ID for the operation instead.`,
        );
      }
      eni = instance.enis[0]!;
    }
    const privateIp = input.privateIp ?? eni.privateIps[0]!;
    if (!eni.privateIps.includes(privateIp)) {
      throw new SimError(
        'InvalidParameterValue',
        `The specified private IP address ${privateIp} is not associated with network interface ${eni.networkInterfaceId}`,
      );
    }
    const held = address.association;
    if (held) {
      if (held.networkInterfaceId === eni.networkInterfaceId && held.privateIp === privateIp) {
        return { ...held }; // EC2 answers with the existing association
      }
      // EC2's default is to reassociate ("Reassociation is automatic, but you can specify
      // false…"): only an explicit false refuses; a missing parameter takes the address.
      if (input.allowReassociation === false) {
        throw new SimError(
          'Resource.AlreadyAssociated',
          `resource ${address.allocationId} is already associated with associate-id ${held.associationId}`,
        );
      }
    }
    // The target private IP may already carry another EIP: EC2 replaces it silently.
    const previous = this.addressOn(eni.networkInterfaceId, privateIp);
    if (previous) this.retire(previous);
    if (held) this.retire(address);
    const association: Association = {
      associationId: `eipassoc-${this.hex(17)}`,
      networkInterfaceId: eni.networkInterfaceId,
      privateIp,
      ownerId: ACCOUNT_ID,
      at: this.now(),
      ...(eni.instanceId ? { instanceId: eni.instanceId } : {}),
    };
    address.association = association;
    this.record();
    return { ...association };
  }

  /**
   * Ends an association. true: it was ended now; false: it existed and is already gone (the
   * API reference calls DisassociateAddress idempotent; the EC2 face decides how to answer).
   * An id EC2 never issued is InvalidAssociationID.NotFound: idempotency covers repeating
   * an operation, and NotFound is EC2's answer to every id it does not know.
   */
  disassociate(associationId: string | undefined): boolean {
    if (!associationId) {
      throw new SimError('MissingParameter', 'The request must contain the parameter AssociationId');
    }
    for (const address of this.addresses.values()) {
      if (address.association?.associationId === associationId) {
        this.retire(address);
        this.record();
        return true;
      }
    }
    if (this.retired.has(associationId)) return false;
    throw new SimError('InvalidAssociationID.NotFound', `The association ID '${associationId}' does not exist`);
  }

  /** association ids that existed and were ended (disassociated, replaced, terminated) */
  private readonly retired = new Set<string>();

  private retire(address: Address): void {
    if (!address.association) return;
    this.retired.add(address.association.associationId);
    delete address.association;
  }

  /** Hand an address to an interface of nobody we simulate (an operator, another tool). */
  associateForeign(allocationId: string): Association {
    const eni = this.addDetachedEni();
    return this.associate({ allocationId, networkInterfaceId: eni.networkInterfaceId });
  }

  /** The instance ends: EC2 disassociates its addresses (they stay allocated). */
  terminate(instanceId: string): void {
    const instance = this.mustInstance(instanceId);
    for (const address of this.addresses.values()) {
      if (address.association && instance.enis.some((e) => e.networkInterfaceId === address.association!.networkInterfaceId)) {
        this.retire(address);
      }
    }
    this.instances.delete(instanceId);
    this.record();
    // The cloud provider deletes the Node of an instance that is gone.
    this.kube.remove('nodes', instance.hostname);
  }

  // ---- Kubernetes ---------------------------------------------------------------------

  addPod(pod: Partial<Pod> & { nodeName: string; name: string }): Pod {
    const full: Pod = { namespace: 'default', uid: this.hex(32), phase: 'Running', creationTimestamp: kubeTime(), ...pod, resourceVersion: this.kube.nextRevision() };
    this.pods.set(`${full.namespace}/${full.name}`, full);
    this.kube.emit('pods', 'ADDED', podJson(full));
    return full;
  }

  deletePod(namespace: string, name: string): void {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) return;
    this.pods.delete(`${namespace}/${name}`);
    this.kube.emit('pods', 'DELETED', podJson({ ...pod, resourceVersion: this.kube.nextRevision() }));
  }

  /** A pod moves on (finishes, fails): watchers see MODIFIED. */
  setPodPhase(namespace: string, name: string, phase: Pod['phase']): void {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw new Error(`no simulated pod ${namespace}/${name}`);
    const previous = podJson(pod);
    Object.assign(pod, { phase, resourceVersion: this.kube.nextRevision() });
    this.kube.emit('pods', 'MODIFIED', podJson(pod), previous);
  }

  podsOn(nodeName: string): Pod[] {
    return [...this.pods.values()].filter((p) => p.nodeName === nodeName);
  }

  /**
   * kubelet registers the instance's Node (name = its hostname, as on EKS), with the labels
   * and taints of --node-labels / --register-with-taints. Until then GET of the Node is 404.
   */
  registerNode(instanceId: string, registration: NodeRegistration = {}): Json {
    const instance = this.mustInstance(instanceId);
    if (this.kube.nodes.has(instance.hostname)) throw new Error(`node ${instance.hostname} is already registered`);
    const eni = instance.enis[0]!;
    return this.kube.create('nodes', instance.hostname, nodeObject(instance, this.publicIpOf(eni, eni.privateIps[0]!), registration));
  }

  /** The Node as stored (a copy), or undefined before registration. */
  node(name: string): Json | undefined {
    const node = this.kube.nodes.get(name);
    return node ? structuredClone(node) : undefined;
  }

  // ---- invariants for tests -------------------------------------------------------------

  /** Pool addresses per interface/private IP: G3 says never more than one. */
  holdings(tags: Record<string, string>): Map<string, Address[]> {
    const byTarget = new Map<string, Address[]>();
    for (const address of this.addresses.values()) {
      const inPool = Object.entries(tags).every(([k, v]) => address.tags[k] === v);
      if (!inPool || !address.association) continue;
      const key = `${address.association.networkInterfaceId}/${address.association.privateIp}`;
      byTarget.set(key, [...(byTarget.get(key) ?? []), address]);
    }
    return byTarget;
  }

  private mustInstance(instanceId: string): Instance {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new Error(`no simulated instance ${instanceId}`);
    return instance;
  }

  private mustEni(networkInterfaceId: string): Eni {
    const eni = this.findEni(networkInterfaceId);
    if (!eni) throw new Error(`no simulated interface ${networkInterfaceId}`);
    return eni;
  }

  private record(): void {
    this.history.push({ at: this.now(), addresses: deepFreeze(structuredClone([...this.addresses.values()])) });
    // Stale reads never reach back more than a minute; keep the history small.
    const horizon = this.now() - 60_000;
    while (this.history.length > 1 && this.history[1]!.at < horizon) this.history.shift();
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
