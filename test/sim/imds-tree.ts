// The metadata of one simulated instance as IMDS lays it out: a tree of directories and
// text leaves, built from the world on every request so that it is always live.
import { INSTANCE_TYPE } from './kube-objects.js';
import { ACCOUNT_ID } from './world.js';
import type { Eni, Instance, World } from './world.js';

export type MetadataNode = string | MetadataDir;
export interface MetadataDir {
  [name: string]: MetadataNode;
}

/** Fixed facts the world does not model; realistic values so the agent's parsers meet them. */
const IMAGE_ID = 'ami-0123456789abcdef0';

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

function interfaceDir(world: World, eni: Eni): MetadataDir {
  const publics = associations(world, eni);
  const dir: MetadataDir = {
    'device-number': String(eni.deviceIndex),
    'interface-id': eni.networkInterfaceId,
    'local-ipv4s': eni.privateIps.join('\n'),
    mac: eni.mac,
    'owner-id': ACCOUNT_ID,
    'subnet-id': eni.subnetId,
    'vpc-id': eni.vpcId,
  };
  // Like IMDS, these two keys exist only while the interface has a public IPv4.
  if (publics.size > 0) {
    dir['public-ipv4s'] = [...publics.keys()].join('\n');
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

  const metaData: MetadataDir = {
    'ami-id': IMAGE_ID,
    hostname: instance.hostname,
    'instance-id': instance.instanceId,
    'instance-type': INSTANCE_TYPE,
    'local-hostname': instance.hostname,
    'local-ipv4': primaryIp,
    mac: eni0.mac,
    placement: { 'availability-zone': instance.availabilityZone, region: instance.region },
    network: {
      interfaces: { macs: Object.fromEntries(instance.enis.map((e) => [e.mac, interfaceDir(world, e)])) },
    },
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
  if (publicIp) metaData['public-ipv4'] = publicIp;
  if (instance.spotAction) metaData.spot = { 'instance-action': JSON.stringify(instance.spotAction) };
  if (instance.lifecycleState) metaData.autoscaling = { 'target-lifecycle-state': instance.lifecycleState };
  if (instance.rebalanceNoticeTime) {
    metaData.events = {
      recommendations: { rebalance: JSON.stringify({ noticeTime: instance.rebalanceNoticeTime }) },
    };
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
 * (one name a line, sub-directories with a trailing `/`). undefined: not found.
 */
export function lookup(root: MetadataDir, path: string): string | undefined {
  let node: MetadataNode = root;
  for (const part of path.split('/').filter((p) => p !== '')) {
    if (typeof node === 'string' || !Object.hasOwn(node, part)) return undefined;
    node = node[part]!;
  }
  if (typeof node === 'string') return node;
  return Object.entries(node)
    .map(([name, child]) => (typeof child === 'string' ? name : `${name}/`))
    .join('\n');
}
