// The metadata of one simulated instance as IMDS lays it out: a tree of directories and
// text leaves, built from the world on every request so that it is always live.
import { INSTANCE_TYPE } from './kube-objects.js';
import { ACCOUNT_ID, privateDnsName } from './world.js';
import type { Eni, Instance, World } from './world.js';

export type MetadataNode = string | MetadataDir;
export interface MetadataDir {
  [name: string]: MetadataNode;
}

/** Fixed facts the world does not model; realistic values so the agent's parsers meet them. */
const IMAGE_ID = 'ami-0123456789abcdef0';
const SECURITY_GROUP = { id: 'sg-0123456789abcdef0', name: 'eks-cluster-sg' };
// The world's private IPs are 10.0.x.y: one VPC, one subnet, wide enough for them all.
const VPC_CIDR = '10.0.0.0/16';
const SUBNET_CIDR = '10.0.0.0/16';

/** `us-east-1` → `use1`, `ap-southeast-2` → `apse2`: the prefix of Availability Zone ids. */
function regionCode(region: string): string {
  const short: Record<string, string> = { north: 'n', south: 's', east: 'e', west: 'w', central: 'c', northeast: 'ne', northwest: 'nw', southeast: 'se', southwest: 'sw' };
  const [area = '', direction = '', number = ''] = region.split('-');
  return `${area}${short[direction] ?? direction.slice(0, 1)}${number}`;
}

/** The public DNS name of a public IPv4 (a VPC with DNS hostnames on): us-east-1's is `compute-1`. */
function publicDnsName(region: string, publicIp: string): string {
  return `ec2-${publicIp.replaceAll('.', '-')}.${region === 'us-east-1' ? 'compute-1' : `${region}.compute`}.amazonaws.com`;
}

// IMDS prints times without milliseconds: 2026-01-02T03:04:05Z.
export function imdsTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Public IPv4s of an interface as IMDS shows them now (with the world's IMDS lag): public → private. */
function associations(world: World, eni: Eni): Map<string, string> {
  const byPublic = new Map<string, string>();
  for (const privateIp of eni.privateIps) {
    const publicIp = world.imdsPublicIpOf(eni, privateIp);
    if (publicIp) byPublic.set(publicIp, privateIp);
  }
  return byPublic;
}

function interfaceDir(world: World, region: string, eni: Eni): MetadataDir {
  const publics = associations(world, eni);
  const dir: MetadataDir = {
    'device-number': String(eni.deviceIndex),
    'interface-id': eni.networkInterfaceId,
    'local-hostname': privateDnsName(region, eni.privateIps[0]!),
    'local-ipv4s': eni.privateIps.join('\n'),
    mac: eni.mac,
    'owner-id': ACCOUNT_ID,
    'security-group-ids': SECURITY_GROUP.id,
    'security-groups': SECURITY_GROUP.name,
    'subnet-id': eni.subnetId,
    'subnet-ipv4-cidr-block': SUBNET_CIDR,
    'vpc-id': eni.vpcId,
    'vpc-ipv4-cidr-block': VPC_CIDR,
    'vpc-ipv4-cidr-blocks': VPC_CIDR,
  };
  // Like IMDS, these keys exist only while the interface has a public IPv4.
  if (publics.size > 0) {
    dir['public-ipv4s'] = [...publics.keys()].join('\n');
    dir['public-hostname'] = publicDnsName(region, [...publics.keys()][0]!);
    dir['ipv4-associations'] = Object.fromEntries(publics);
  }
  return dir;
}

export function metadataTree(world: World, instance: Instance, pendingTime: Date): MetadataDir {
  const eni0 = instance.enis[0]!;
  const primaryIp = eni0.privateIps[0]!;
  const publicIp = world.imdsPublicIpOf(eni0, primaryIp);
  const lastUpdated = imdsTime(new Date());
  const c = instance.credentials;

  const zone = instance.availabilityZone;
  const metaData: MetadataDir = {
    'ami-id': IMAGE_ID,
    'ami-launch-index': '0',
    'ami-manifest-path': '(unknown)',
    'block-device-mapping': { ami: '/dev/xvda', root: '/dev/xvda' },
    // IMDS answers an empty list while no maintenance is scheduled (and none is past).
    events: { maintenance: { history: '[]', scheduled: '[]' } },
    hostname: instance.hostname,
    'instance-action': 'none',
    'instance-id': instance.instanceId,
    // A spot notice comes only to a spot instance.
    'instance-life-cycle': instance.spotAction ? 'spot' : instance.lifeCycle,
    'instance-type': INSTANCE_TYPE,
    'local-hostname': instance.hostname,
    'local-ipv4': primaryIp,
    mac: eni0.mac,
    metrics: { vhostmd: '<?xml version="1.0" encoding="UTF-8"?>' },
    placement: { 'availability-zone': zone, 'availability-zone-id': `${regionCode(instance.region)}-az${zone.charCodeAt(zone.length - 1) - 96}`, region: instance.region },
    network: {
      interfaces: { macs: Object.fromEntries(instance.enis.map((e) => [e.mac, interfaceDir(world, instance.region, e)])) },
    },
    profile: 'default-hvm',
    'reservation-id': `r-${instance.instanceId.slice(2)}`,
    'security-groups': SECURITY_GROUP.name,
    services: { domain: 'amazonaws.com', partition: 'aws' },
    iam: {
      info: JSON.stringify({
        Code: 'Success',
        LastUpdated: lastUpdated,
        InstanceProfileArn: `arn:aws:iam::${ACCOUNT_ID}:instance-profile/${instance.roleName}`,
        InstanceProfileId: 'AIPAEXAMPLEPROFILEID0',
      }),
      'security-credentials': {
        [instance.roleName]: JSON.stringify({
          Code: 'Success',
          LastUpdated: lastUpdated,
          Type: 'AWS-HMAC',
          AccessKeyId: c.accessKeyId,
          SecretAccessKey: c.secretAccessKey,
          Token: c.sessionToken,
          Expiration: imdsTime(c.expiration),
        }),
      },
    },
  };
  if (publicIp) {
    metaData['public-ipv4'] = publicIp;
    metaData['public-hostname'] = publicDnsName(instance.region, publicIp);
  }
  if (instance.spotAction) {
    metaData.spot = { 'instance-action': JSON.stringify(instance.spotAction) };
    // termination-time: only for a terminate notice, the same time (the User Guide's IMDS categories).
    if (instance.spotAction.action === 'terminate') metaData.spot['termination-time'] = instance.spotAction.time;
  }
  if (instance.lifecycleState) metaData.autoscaling = { 'target-lifecycle-state': instance.lifecycleState };
  if (instance.rebalanceNoticeTime) {
    (metaData.events as MetadataDir).recommendations = { rebalance: JSON.stringify({ noticeTime: instance.rebalanceNoticeTime }) };
  }

  const document = {
    accountId: ACCOUNT_ID,
    architecture: 'x86_64',
    availabilityZone: instance.availabilityZone,
    billingProducts: null,
    devpayProductCodes: null,
    marketplaceProductCodes: null,
    imageId: IMAGE_ID,
    instanceId: instance.instanceId,
    instanceType: INSTANCE_TYPE,
    kernelId: null,
    pendingTime: imdsTime(pendingTime),
    privateIp: primaryIp,
    ramdiskId: null,
    region: instance.region,
    version: '2017-09-30',
  };
  return {
    'meta-data': metaData,
    dynamic: { 'instance-identity': { document: JSON.stringify(document, null, 2) } },
  };
}

/**
 * Resolves a path below /latest/ to its text: a leaf's value, or a directory's listing
 * (one name a line, sub-directories with a trailing `/`, in name order as IMDS lists them).
 * undefined: not found.
 */
export function lookup(root: MetadataDir, path: string): string | undefined {
  let node: MetadataNode = root;
  for (const part of path.split('/').filter((p) => p !== '')) {
    if (typeof node === 'string' || !Object.hasOwn(node, part)) return undefined;
    node = node[part]!;
  }
  if (typeof node === 'string') return node;
  return Object.keys(node)
    .sort()
    .map((name) => (typeof node[name] === 'string' ? name : `${name}/`))
    .join('\n');
}
