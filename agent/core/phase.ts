// The agent's phases: exactly the names /status shows, and the one table of which move may
// follow which (status.ts applies a fact's move only where this table allows it).

export const PHASES = ['starting', 'claiming', 'verifying', 'ready', 'draining', 'releasing', 'released', 'failed'] as const;
export type Phase = (typeof PHASES)[number];

// A phase listed after itself may repeat with a new reason (claiming again, another look,
// another pod count). `releasing` never follows `starting`: an end of life with an address
// drains first (lifecycle/daemon.ts endOfLife), and without one it is released at once.
const NEXT: Record<Phase, readonly Phase[]> = {
  starting: ['claiming', 'draining', 'released', 'failed'],
  // The end of life may come before the address does: drain (or release) what we have.
  claiming: ['claiming', 'verifying', 'draining', 'releasing', 'released', 'failed'],
  // A lost or vanished association sends verification back to claiming.
  verifying: ['verifying', 'ready', 'claiming', 'draining', 'releasing', 'released', 'failed'],
  // Ready and verifying alternate if the address is taken away and comes back (live watch).
  ready: ['verifying', 'draining', 'releasing', 'released', 'failed'],
  draining: ['draining', 'releasing', 'released', 'failed'],
  releasing: ['released', 'failed'],
  released: [],
  failed: [],
};

export function canMove(from: Phase, to: Phase): boolean {
  return NEXT[from].includes(to);
}
