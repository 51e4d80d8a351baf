// Pure decisions about the pool: which address is ours already, which are free, and in
// which order this node should try them.
import type { AddressView, PoolSelector, Target } from '../shared/ports.js';

export interface PoolView {
  size: number;
  /** the pool address already on the target interface + private IP: resume it (G3) */
  held: AddressView | undefined;
  /** pool addresses on another interface or private IP of this same instance (G3: never a second) */
  heldElsewhere: AddressView[];
  /** free pool addresses, in the order this node should try them */
  free: AddressView[];
}

export function inPool(address: AddressView, pool: PoolSelector): boolean {
  const value = address.tags[pool.tagKey];
  return value !== undefined && (pool.tagValue === undefined || value === pool.tagValue);
}

export function isOn(address: AddressView, target: Target): boolean {
  return (
    address.associationId !== undefined &&
    address.networkInterfaceId === target.networkInterfaceId &&
    address.privateIp === target.privateIp
  );
}

/** Free means no association at all: an address on a NAT gateway has no instance id. */
export function isFree(address: AddressView): boolean {
  return address.associationId === undefined;
}

export function viewPool(addresses: readonly AddressView[], pool: PoolSelector, target: Target): PoolView {
  // Trust the filter, but check it: G2 says we never touch an address outside the pool.
  const members = addresses.filter((a) => inPool(a, pool));
  const held = members.find((a) => isOn(a, target));
  const heldElsewhere = members.filter(
    (a) => a !== held && !isFree(a) && (a.instanceId === target.instanceId || a.networkInterfaceId === target.networkInterfaceId),
  );
  const free = rank(target.instanceId, members.filter(isFree));
  return { size: members.length, held, heldElsewhere, free };
}

/**
 * Rendezvous (highest-random-weight) order: every node ranks the addresses by a hash of
 * its own id and the address's, so nodes booting together start on different addresses
 * without talking to each other, and a node's order is stable across restarts.
 */
export function rank(instanceId: string, free: readonly AddressView[]): AddressView[] {
  // node:crypto loads when the first ranking is made, not at start (issue 22).
  const { createHash } = process.getBuiltinModule('node:crypto');
  const weight = (a: AddressView) => createHash('sha256').update(`${instanceId}\0${a.allocationId}`).digest().readBigUInt64BE(0);
  return free
    .map((address) => ({ address, w: weight(address) }))
    .sort((x, y) => Number(y.w - x.w)) // highest weight first
    .map(({ address }) => address);
}

export function describePool(pool: PoolSelector): string {
  return pool.tagValue === undefined ? `${pool.tagKey}=*` : `${pool.tagKey}=${pool.tagValue}`;
}
