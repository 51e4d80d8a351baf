// The EC2 actions the simulator answers: Query parameters in, the XML body of the answer out.
// Every world change happens in one synchronous World call, so each action is atomic.
import { ACCOUNT_ID, SimError } from './world.js';
import type { Address, Eni, Instance, World } from './world.js';
import { applyFilters, filtersOf, listParam } from './ec2-query.js';
import type { FilterField, Params } from './ec2-query.js';
import { itemSet, node, tagSetXml, text } from './ec2-xml.js';
import { INSTANCE_TYPE } from './kube-objects.js';
import type { Faults } from './ec2-faults.js';

export interface ActionContext {
  world: World;
  params: Params;
  now: number;
  faults: Faults;
  random: () => number;
}

export interface ActionSpec {
  /** mutating actions draw from the smaller EC2 throttle bucket */
  mutating: boolean;
  /** the XML inside the `<ActionResponse>` envelope; throws SimError */
  run(context: ActionContext): string;
}

const ADDRESS_FILTERS: Readonly<Record<string, FilterField<Address>>> = {
  'allocation-id': (a) => a.allocationId,
  'association-id': (a) => a.association?.associationId,
  'instance-id': (a) => a.association?.instanceId,
  'network-interface-id': (a) => a.association?.networkInterfaceId,
  'network-interface-owner-id': (a) => a.association?.ownerId,
  'private-ip-address': (a) => a.association?.privateIp,
  'public-ip': (a) => a.publicIp,
  'network-border-group': (a) => a.networkBorderGroup,
  'tag-key': (a) => Object.keys(a.tags),
};

const INSTANCE_FILTERS: Readonly<Record<string, FilterField<Instance>>> = {
  'instance-id': (i) => i.instanceId,
  'private-ip-address': (i) => i.enis[0]?.privateIps[0],
};

const ENI_FILTERS: Readonly<Record<string, FilterField<Eni>>> = {
  'network-interface-id': (e) => e.networkInterfaceId,
  'attachment.instance-id': (e) => e.instanceId,
  'attachment.device-index': (e) => (e.instanceId ? String(e.deviceIndex) : undefined),
  'mac-address': (e) => e.mac,
  'private-ip-address': (e) => e.privateIps,
};

function param(params: Params, name: string): string | undefined {
  const value = params[name];
  return value === '' ? undefined : value;
}

/** undefined when the parameter is left out: the action's own default applies. */
export function booleanParam(params: Params, name: string): boolean | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (value === 'false') return false;
  if (value === 'true') return true;
  throw new SimError('InvalidParameterValue', `Value (${value}) for parameter ${name} is invalid. Expected: 'true' or 'false'.`);
}

/**
 * MaxResults and NextToken of the paginated Describe actions: 5 to 1000 items a page
 * ("This value can be between 5 and 1000"), never together with a list of ids. The
 * messages are EC2's ("Value ( 1 ) for parameter maxResults is invalid. Expecting a value
 * greater than 5."). DescribeAddresses takes neither: it is not paginated.
 */
function paginate<T>(params: Params, items: T[], idSet: string, hasIds: boolean): { page: T[]; nextToken?: string } {
  const raw = params['MaxResults'];
  const token = param(params, 'NextToken');
  if (raw === undefined && token === undefined) return { page: items };
  if (hasIds) throw new SimError('InvalidParameterCombination', `The parameter ${idSet} cannot be used with the parameter maxResults`);
  let max = 1000;
  if (raw !== undefined) {
    if (!/^-?\d+$/.test(raw)) throw new SimError('InvalidParameterValue', `Value ( ${raw} ) for parameter maxResults is invalid. Expecting an integer.`);
    max = Number(raw);
    if (max < 5) throw new SimError('InvalidParameterValue', `Value ( ${raw} ) for parameter maxResults is invalid. Expecting a value greater than 5.`);
    if (max > 1000) throw new SimError('InvalidParameterValue', `Value ( ${raw} ) for parameter maxResults is invalid. Expecting a value smaller than or equal to 1000.`);
  }
  let start = 0;
  if (token !== undefined) {
    const match = /^page-(\d+)$/.exec(Buffer.from(token, 'base64').toString('utf8'));
    if (!match) throw new SimError('InvalidPaginationToken', `Invalid pagination token: ${token}`);
    start = Number(match[1]);
  }
  const page = items.slice(start, start + max);
  const next = start + max;
  return next < items.length ? { page, nextToken: Buffer.from(`page-${next}`).toString('base64') } : { page };
}

function addressXml(address: Address, faults: Faults): string {
  const a = address.association;
  return (
    text('publicIp', address.publicIp) +
    text('allocationId', address.allocationId) +
    text('domain', 'vpc') +
    (a
      ? text('associationId', a.associationId) +
        text('instanceId', a.instanceId ?? (faults.emptyInstanceId ? '' : undefined)) +
        text('networkInterfaceId', a.networkInterfaceId) +
        text('networkInterfaceOwnerId', a.ownerId) +
        text('privateIpAddress', a.privateIp)
      : text('instanceId', faults.emptyInstanceId ? '' : undefined)) +
    tagSetXml(address.tags) +
    text('publicIpv4Pool', address.publicIpv4Pool) +
    text('networkBorderGroup', address.networkBorderGroup)
  );
}

function describeAddresses({ world, params, now, faults }: ActionContext): string {
  // Eventual consistency: reads may show the state of a moment ago.
  let items: readonly Address[] = faults.staleReadMs > 0 ? world.snapshotAt(now - faults.staleReadMs) : [...world.addresses.values()];
  const allocationIds = listParam(params, 'AllocationId');
  if (allocationIds.length > 0) {
    for (const id of allocationIds) {
      if (!items.some((a) => a.allocationId === id)) {
        throw new SimError('InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`);
      }
    }
    items = items.filter((a) => allocationIds.includes(a.allocationId));
  }
  const publicIps = listParam(params, 'PublicIp');
  if (publicIps.length > 0) {
    for (const ip of publicIps) {
      if (!items.some((a) => a.publicIp === ip)) throw new SimError('InvalidAddress.NotFound', `Address '${ip}' not found.`);
    }
    items = items.filter((a) => publicIps.includes(a.publicIp));
  }
  items = applyFilters(items, filtersOf(params), ADDRESS_FILTERS, (a) => a.tags);
  return itemSet(
    'addressesSet',
    items.map((a) => addressXml(a, faults)),
  );
}

function associateAddress({ world, params, faults, random }: ActionContext): string {
  const allocationId = param(params, 'AllocationId');
  const target = allocationId ? world.addresses.get(allocationId) : undefined;
  if (target && !target.association) {
    // Another party's AssociateAddress lands first (a node booting at the same moment).
    const lose = faults.raceNext > 0 || random() < faults.raceProbability;
    if (lose) {
      if (faults.raceNext > 0) faults.raceNext -= 1;
      world.associateForeign(target.allocationId);
    }
  }
  const association = world.associate({
    allocationId,
    instanceId: param(params, 'InstanceId'),
    networkInterfaceId: param(params, 'NetworkInterfaceId'),
    privateIp: param(params, 'PrivateIpAddress'),
    allowReassociation: booleanParam(params, 'AllowReassociation'),
  });
  return text('return', true) + text('associationId', association.associationId);
}

function disassociateAddress({ world, params, faults }: ActionContext): string {
  const associationId = param(params, 'AssociationId');
  const ended = world.disassociate(associationId);
  if (!ended && faults.staleDisassociate === 'not-found') {
    // The reading seen in the wild (Terraform's aws_eip_association handles it on destroy).
    throw new SimError('InvalidAssociationID.NotFound', `The association ID '${associationId}' does not exist`);
  }
  return text('return', true);
}

function association(world: World, eni: Eni, privateIp: string): string {
  const eip = world.addressOn(eni.networkInterfaceId, privateIp);
  if (eip?.association) {
    return node(
      'association',
      text('publicIp', eip.publicIp),
      text('ipOwnerId', ACCOUNT_ID),
      text('allocationId', eip.allocationId),
      text('associationId', eip.association.associationId),
    );
  }
  if (privateIp === eni.privateIps[0] && eni.autoPublicIp) {
    return node('association', text('publicIp', eni.autoPublicIp), text('ipOwnerId', 'amazon'));
  }
  return '';
}

/** One interface, as both DescribeInstances and DescribeNetworkInterfaces show it. */
function eniXml(world: World, eni: Eni): string {
  const primary = eni.privateIps[0]!;
  const instance = eni.instanceId ? world.instances.get(eni.instanceId) : undefined;
  return (
    text('networkInterfaceId', eni.networkInterfaceId) +
    text('subnetId', eni.subnetId) +
    text('vpcId', eni.vpcId) +
    text('availabilityZone', instance?.availabilityZone) +
    text('ownerId', ACCOUNT_ID) +
    text('status', eni.instanceId ? 'in-use' : 'available') +
    text('macAddress', eni.mac) +
    text('privateIpAddress', primary) +
    text('interfaceType', 'interface') +
    (eni.instanceId
      ? node(
          'attachment',
          text('attachmentId', `eni-attach-${eni.networkInterfaceId.slice('eni-'.length)}`),
          text('instanceId', eni.instanceId),
          text('instanceOwnerId', ACCOUNT_ID),
          text('deviceIndex', eni.deviceIndex),
          text('status', 'attached'),
        )
      : '') +
    association(world, eni, primary) +
    itemSet(
      'privateIpAddressesSet',
      eni.privateIps.map((ip) => text('privateIpAddress', ip) + text('primary', ip === primary) + association(world, eni, ip)),
    )
  );
}

function metadataOptionsXml(instance: Instance): string {
  const m = instance.metadataOptions;
  return node(
    'metadataOptions',
    text('state', 'applied'),
    text('httpTokens', m.httpTokens),
    text('httpPutResponseHopLimit', m.httpPutResponseHopLimit),
    text('httpEndpoint', 'enabled'),
    text('httpProtocolIpv6', 'disabled'),
    text('instanceMetadataTags', 'disabled'),
  );
}

function describeInstances({ world, params }: ActionContext): string {
  const ids = listParam(params, 'InstanceId');
  const missing = ids.filter((id) => !world.instances.has(id));
  if (missing.length > 0) {
    throw new SimError(
      'InvalidInstanceID.NotFound',
      missing.length === 1 ? `The instance ID '${missing[0]}' does not exist` : `The instance IDs '${missing.join(', ')}' do not exist`,
    );
  }
  let instances = [...world.instances.values()];
  if (ids.length > 0) instances = instances.filter((i) => ids.includes(i.instanceId));
  // Simulated instances carry no tags: a tag filter is valid and matches none of them.
  instances = applyFilters(instances, filtersOf(params), INSTANCE_FILTERS, () => ({}));
  const { page, nextToken } = paginate(params, instances, 'instancesSet', ids.length > 0);
  return itemSet(
    'reservationSet',
    page.map((instance) => {
      const primary = instance.enis[0]!;
      return (
        text('reservationId', `r-${instance.instanceId.slice('i-'.length)}`) +
        text('ownerId', ACCOUNT_ID) +
        itemSet('instancesSet', [
          text('instanceId', instance.instanceId) +
            node('instanceState', text('code', 16), text('name', 'running')) +
            text('privateDnsName', instance.hostname) +
            text('instanceType', INSTANCE_TYPE) +
            node('placement', text('availabilityZone', instance.availabilityZone)) +
            text('subnetId', primary.subnetId) +
            text('vpcId', primary.vpcId) +
            text('privateIpAddress', primary.privateIps[0]) +
            text('ipAddress', world.publicIpOf(primary, primary.privateIps[0]!)) +
            itemSet(
              'networkInterfaceSet',
              instance.enis.map((eni) => eniXml(world, eni)),
            ) +
            metadataOptionsXml(instance),
        ])
      );
    }),
  ) + text('nextToken', nextToken);
}

function describeNetworkInterfaces({ world, params }: ActionContext): string {
  const ids = listParam(params, 'NetworkInterfaceId');
  for (const id of ids) {
    if (!world.findEni(id)) {
      throw new SimError('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`);
    }
  }
  let enis = world.allEnis();
  if (ids.length > 0) enis = enis.filter((e) => ids.includes(e.networkInterfaceId));
  enis = applyFilters(enis, filtersOf(params), ENI_FILTERS);
  const { page, nextToken } = paginate(params, enis, 'networkInterfaceIdSet', ids.length > 0);
  return (
    itemSet(
      'networkInterfaceSet',
      page.map((eni) => eniXml(world, eni)),
    ) + text('nextToken', nextToken)
  );
}

export const ACTIONS: Readonly<Record<string, ActionSpec>> = {
  DescribeAddresses: { mutating: false, run: describeAddresses },
  AssociateAddress: { mutating: true, run: associateAddress },
  DisassociateAddress: { mutating: true, run: disassociateAddress },
  DescribeInstances: { mutating: false, run: describeInstances },
  DescribeNetworkInterfaces: { mutating: false, run: describeNetworkInterfaces },
};
