// The one rule for "ours" (G3), the same at start, while running and at the end: an
// association of a pool address with this node's interface *and* private IP is ours, whatever
// its association id — one put back by hand under a new id is adopted like any other. Every
// other place EC2 may show the address is named here, for the reasons /status gives.
import type { AddressView, Target } from '../shared/ports.js';
import { isOn } from './pool.js';

export type Where =
  /** on our interface and private IP: ours (G3) */
  | 'ours'
  /** on another private IP of our interface: put there on purpose by someone, not ours to release */
  | 'our-other-ip'
  /** on another interface of this instance */
  | 'our-other-interface'
  /** on another instance, interface or service (a NAT gateway has no instance) */
  | 'elsewhere'
  /** associated with nothing */
  | 'free'
  /** the allocation no longer exists */
  | 'gone';

export function whereIs(seen: AddressView | undefined, target: Target): Where {
  if (!seen) return 'gone';
  if (!seen.associationId) return 'free';
  if (isOn(seen, target)) return 'ours';
  if (seen.networkInterfaceId === target.networkInterfaceId) return 'our-other-ip';
  if (seen.instanceId === target.instanceId) return 'our-other-interface';
  return 'elsewhere';
}

/** Where EC2 shows the address, in words for /readyz and /status. */
export function describeWhere(seen: AddressView | undefined, target: Target): string {
  const where = whereIs(seen, target);
  switch (where) {
    case 'gone':
      return 'EC2 no longer knows its allocation (released from the account?)';
    case 'free':
      return 'EC2 shows it not associated (disassociated by hand?)';
    case 'ours':
      return `EC2 shows it on this interface and private IP (${seen!.associationId})`;
    case 'our-other-ip':
      return `EC2 shows it on another private IP of this interface (${seen!.privateIp}): not ours to hold or release (G3); put it back on ${target.privateIp} or disassociate it`;
    case 'our-other-interface':
      return `EC2 shows it on another interface of this instance (${seen!.networkInterfaceId} ${seen!.privateIp}): not ours (G3)`;
    case 'elsewhere':
      return `EC2 shows it on ${[seen!.instanceId, seen!.networkInterfaceId, seen!.privateIp].filter(Boolean).join(' ') || seen!.associationId}`;
  }
}
