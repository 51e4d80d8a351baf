// The agent's phases: exactly the names /status shows, and which move may follow which.

export const PHASES = ['starting', 'claiming', 'verifying', 'ready', 'draining', 'releasing', 'released', 'failed'] as const;
export type Phase = (typeof PHASES)[number];

const NEXT: Record<Phase, readonly Phase[]> = {
  starting: ['claiming', 'draining', 'released', 'failed'],
  // The end of life may come before the address does: drain (or release) what we have.
  claiming: ['verifying', 'draining', 'releasing', 'released', 'failed'],
  // A lost or vanished association sends verification back to claiming.
  verifying: ['ready', 'claiming', 'draining', 'releasing', 'released', 'failed'],
  // Ready and verifying alternate if the address is taken away and comes back (live watch).
  ready: ['verifying', 'draining', 'releasing', 'released', 'failed'],
  draining: ['releasing', 'released', 'failed'],
  releasing: ['released', 'failed'],
  released: [],
  failed: [],
};

export function canMove(from: Phase, to: Phase): boolean {
  return NEXT[from].includes(to);
}
