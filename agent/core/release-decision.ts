// The release's decisions, as data: give the address back only if it is still this node's —
// associated with this node's interface and private IP (G2, G3: core/ours.ts) — and make sure
// it is gone. Pure: lifecycle/release.ts runs the steps and feeds back what it saw.
import type { AddressView, Target } from '../shared/ports.js';
import { describeWhere, whereIs } from './ours.js';

export interface Held {
  allocationId: string;
  associationId: string;
  publicIp: string;
}

export type ReleaseOutcome =
  /** our association is gone now */
  | 'released'
  /** it was gone before we asked (EC2 said so, or the instance's end took it) */
  | 'already-gone'
  /** the address sits on someone else's association: not ours to take away (G2) */
  | 'not-ours'
  /** EC2 kept showing our association after every request to remove it */
  | 'still-associated';

export type ReleaseStep =
  | { do: 'read' }
  | { do: 'wait'; ms: number }
  /** by this association id: the one last seen on our target, else the one the node holds */
  | { do: 'disassociate'; associationId: string }
  | { do: 'done'; outcome: ReleaseOutcome };

export type ReleaseObservation =
  | { of: 'read'; seen: AddressView | undefined }
  | { of: 'waited' }
  /** `gone`: EC2 answered that the association does not exist (InvalidAssociationID.NotFound) */
  | { of: 'disassociated'; gone: boolean };

export interface ReleaseMemory {
  readonly stage: 'check' | 'asked';
  readonly reads: number;
  readonly asks: number;
  readonly waitFirst: boolean;
  readonly seen?: 'ours' | 'elsewhere' | 'free';
  /** what to disassociate: a read showing another association on our target adopts it (G3) */
  readonly associationId: string;
  /** where the last read showed the address, in words (for the log of a skipped release) */
  readonly where?: string;
  readonly outcome?: ReleaseOutcome;
}

// Reads may lag writes by seconds (ours, and a previous holder's release): look up to
// this many times, a second apart, before deciding on what they show.
export const RELEASE_READS = 4;
export const RELEASE_READ_GAP_MS = 1000;

/**
 * G2 + G3: is the address still on our interface and private IP? Under any association id:
 * one put back there by hand after the node's own is ours too, at the end as at the start.
 */
export function standing(seen: AddressView | undefined, target: Target): 'ours' | 'elsewhere' | 'free' {
  const where = whereIs(seen, target);
  return where === 'ours' ? 'ours' : where === 'free' || where === 'gone' ? 'free' : 'elsewhere';
}

export function initialRelease(held: Held): ReleaseMemory {
  return { stage: 'check', reads: 0, asks: 0, waitFirst: false, associationId: held.associationId };
}

export function nextReleaseStep(memory: ReleaseMemory): ReleaseStep {
  if (memory.outcome) return { do: 'done', outcome: memory.outcome };
  if (memory.waitFirst) return { do: 'wait', ms: RELEASE_READ_GAP_MS };
  // Ours: ask, and ask again while a read back still shows it (the SDK reads nothing from
  // DisassociateAddress's answer, so an empty or cut 200 looks like success).
  if (memory.seen === 'ours') return { do: 'disassociate', associationId: memory.associationId };
  // Not read yet (at the start, and after each ask: observeRelease forgets what it saw), or
  // seen free or elsewhere before asking (after asking, anything but ours ends the release).
  if (memory.reads < RELEASE_READS) return { do: 'read' };
  // Reads keep showing it free: our association id is ours alone, so disassociating by it
  // can only remove our own association (a read lagging it) or find it gone.
  return memory.seen === 'elsewhere' ? { do: 'done', outcome: 'not-ours' } : { do: 'disassociate', associationId: memory.associationId };
}

export function observeRelease(memory: ReleaseMemory, seen: ReleaseObservation, target: Target): ReleaseMemory {
  switch (seen.of) {
    case 'waited':
      return { ...memory, waitFirst: false };
    case 'disassociated':
      if (seen.gone) return { ...memory, asks: memory.asks + 1, outcome: memory.asks === 0 ? 'already-gone' : 'released' };
      return { ...memory, stage: 'asked', asks: memory.asks + 1, reads: 0, seen: undefined };
    case 'read': {
      const now = standing(seen.seen, target);
      const reads = memory.reads + 1;
      memory = { ...memory, where: describeWhere(seen.seen, target), ...(now === 'ours' ? { associationId: seen.seen!.associationId! } : {}) };
      if (memory.stage === 'asked') {
        if (now !== 'ours') return { ...memory, reads, seen: now, outcome: 'released' };
        if (memory.asks >= RELEASE_READS) return { ...memory, reads, seen: now, outcome: 'still-associated' };
        return { ...memory, reads, seen: now, waitFirst: true };
      }
      return { ...memory, reads, seen: now, waitFirst: now !== 'ours' && reads < RELEASE_READS };
    }
  }
}
