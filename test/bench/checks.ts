// Double claims, counted two ways: replaying the simulator's call log (every AssociateAddress
// and DisassociateAddress that EC2 applied, in the order it applied them) and the final
// state of the world. Must be 0 for every scenario and strategy.
import type { Ec2Sim } from '../sim/ec2.js';
import type { World } from '../sim/world.js';

/** An association an Ec2Port got back, so that a DisassociateAddress can be mapped to its address. */
export interface SeenAssociation {
  associationId: string;
  allocationId: string;
  networkInterfaceId: string;
}

export interface DoubleClaims {
  /** an address associated to a second interface while the first still held it */
  addressTwice: number;
  /** an interface given a second pool address while it still held one */
  interfaceTwice: number;
  /** AssociateAddress sent without AllowReassociation=false (true or left out: G1) */
  reassociations: number;
  /** interfaces holding more than one pool address at the end (world.holdings) */
  finalTwice: number;
  total: number;
}

export function countDoubleClaims(ec2: Ec2Sim, world: World, tags: Record<string, string>, seen: readonly SeenAssociation[]): DoubleClaims {
  const byAssociation = new Map(seen.map((s) => [s.associationId, s.allocationId]));
  const holderOf = new Map<string, string>(); // allocation → interface
  const heldBy = new Map<string, string>(); // interface → allocation
  let addressTwice = 0;
  let interfaceTwice = 0;
  let reassociations = 0;
  for (const call of ec2.calls) {
    if (!call.applied) continue;
    if (call.action === 'AssociateAddress') {
      // Anything but an explicit false may take the address: EC2 reassociates by default.
      if (call.params['AllowReassociation'] !== 'false') reassociations += 1;
      const allocation = call.params['AllocationId'] ?? '';
      const eni = call.params['NetworkInterfaceId'] ?? `instance:${call.params['InstanceId'] ?? ''}`;
      const holder = holderOf.get(allocation);
      if (holder !== undefined && holder !== eni) addressTwice += 1;
      const held = heldBy.get(eni);
      if (held !== undefined && held !== allocation) interfaceTwice += 1;
      holderOf.set(allocation, eni);
      heldBy.set(eni, allocation);
    } else if (call.action === 'DisassociateAddress') {
      const allocation = byAssociation.get(call.params['AssociationId'] ?? '');
      if (allocation === undefined) continue;
      const eni = holderOf.get(allocation);
      holderOf.delete(allocation);
      if (eni !== undefined && heldBy.get(eni) === allocation) heldBy.delete(eni);
    }
  }
  const finalTwice = [...world.holdings(tags).values()].filter((held) => held.length > 1).length;
  return { addressTwice, interfaceTwice, reassociations, finalTwice, total: addressTwice + interfaceTwice + reassociations + finalTwice };
}
