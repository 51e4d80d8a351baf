// What the agent knows and shows (/status, /readyz), and how each fact the lifecycle
// reports changes it: a pure reducer. The daemon is its only caller (lifecycle/state.ts);
// claim, live check, monitors and release only report facts.
import type { PoolSelector } from '../shared/ports.js';
import type { Claimed } from './claim-decision.js';
import { canMove, type Phase } from './phase.js';

export interface Status {
  phase: Phase;
  reason: string | null;
  version: string;
  instanceId: string | null;
  region: string | null;
  nodeName: string | null;
  networkInterfaceId: string | null;
  privateIp: string | null;
  publicIp: string | null;
  allocationId: string | null;
  associationId: string | null;
  pool: { tagKey: string; tagValue: string | null; size: number | null; free: number | null };
  readySince: string | null;
  attempts: number;
  conflicts: number;
  lastError: string | null;
  termination: string | null;
  rebalanceNotice: string | null;
  /** standing warnings about the configuration (e.g. `region.mismatch`), each once */
  warnings: string[];
  /** --gate: strict keeps kubelet waiting for a live address; label lets it start after --gate-timeout without one */
  gate: { policy: GatePolicy; open: boolean };
}

export type GatePolicy = 'strict' | 'label';

/** What a claim cut short may hold that no listing shows yet (reads lag writes): the release finds it here. */
export interface Trail {
  /** AssociateAddress answered: this association exists unless a later read proved it lost */
  landed?: Claimed;
  /** allocations whose AssociateAddress answer was lost: they may be ours */
  uncertain: readonly string[];
}

export interface AgentState {
  status: Status;
  trail: Trail;
}

export type Fact =
  | { type: 'identified'; instanceId: string; region: string; nodeName: string; networkInterfaceId: string; privateIp: string }
  | { type: 'claiming'; reason: string }
  | { type: 'pool'; size: number; free: number }
  | { type: 'attempt' }
  | { type: 'conflict' }
  | { type: 'landed'; claimed: Claimed }
  | { type: 'uncertain'; allocationId: string }
  /** the landed association was proven lost (moved elsewhere, never confirmed) */
  | { type: 'unlanded' }
  | { type: 'claimed'; claimed: Claimed }
  | { type: 'verifying'; reason: string }
  | { type: 'ready' }
  /** the address is no longer live behind the agent's back */
  | { type: 'lost'; reason: string }
  /** live again, under `associationId` as EC2 shows it on our target: a new one was put back by hand (G3) */
  | { type: 'back'; associationId: string }
  | { type: 'error'; message: string }
  /** a standing warning about the configuration, shown until the daemon stops */
  | { type: 'warning'; message: string }
  /** the pool has no free address (for the cluster's events; the reason shows in `claiming`) */
  | { type: 'exhausted'; size: number }
  /** an Elastic IP outside the pool sits on the target (G2a) */
  | { type: 'foreign'; reason: string }
  /** this instance holds a pool address on another interface or private IP: no second one (G3) */
  | { type: 'held-elsewhere'; reason: string }
  /** --gate label: kubelet may start without an address */
  | { type: 'gate-open' }
  | { type: 'termination'; detail: string }
  | { type: 'rebalance'; notice: string }
  | { type: 'draining'; reason: string }
  | { type: 'releasing'; reason: string }
  | { type: 'released'; reason: string }
  | { type: 'failed'; reason: string };

export function initialState(pool: PoolSelector, version: string, gate: GatePolicy = 'strict'): AgentState {
  return {
    status: {
      phase: 'starting',
      reason: 'reading identity from IMDS',
      version,
      instanceId: null,
      region: null,
      nodeName: null,
      networkInterfaceId: null,
      privateIp: null,
      publicIp: null,
      allocationId: null,
      associationId: null,
      pool: { tagKey: pool.tagKey, tagValue: pool.tagValue ?? null, size: null, free: null },
      readySince: null,
      attempts: 0,
      conflicts: 0,
      lastError: null,
      termination: null,
      rebalanceNotice: null,
      warnings: [],
      gate: { policy: gate, open: false },
    },
    trail: { uncertain: [] },
  };
}

// The phase each phase-moving fact moves to, where phase.ts allows the move. Elsewhere it
// is late news (a live watch that finishes its look after the end of the node began) and
// changes nothing. `only`: a fact that is news in these phases alone (a look at the
// address while claiming, a loss seen by the watch after ready).
const MOVES: Partial<Record<Fact['type'], { to: Phase; only?: readonly Phase[] }>> = {
  claiming: { to: 'claiming' },
  verifying: { to: 'verifying', only: ['claiming', 'verifying'] },
  ready: { to: 'ready' },
  lost: { to: 'verifying', only: ['ready'] },
  back: { to: 'ready' },
  draining: { to: 'draining' },
  releasing: { to: 'releasing' },
  released: { to: 'released' },
  failed: { to: 'failed' },
};

/** `now`: epoch ms, for readySince. Returns the same object when the fact changes nothing. */
export function applyFact(state: AgentState, fact: Fact, now: number): AgentState {
  const move = MOVES[fact.type];
  if (move) {
    const phase = state.status.phase;
    if (!canMove(phase, move.to) || (move.only && !move.only.includes(phase))) return state;
    const reason = 'reason' in fact ? fact.reason : null;
    const status = { ...state.status, phase: move.to, reason };
    if (move.to === 'ready') {
      status.readySince = new Date(now).toISOString();
      status.gate = { ...status.gate, open: true };
    }
    if (fact.type === 'failed') status.lastError = fact.reason;
    if (fact.type === 'released') status.associationId = null;
    if (fact.type === 'back') status.associationId = fact.associationId;
    return { ...state, status };
  }
  const set = (patch: Partial<Status>): AgentState => ({ ...state, status: { ...state.status, ...patch } });
  switch (fact.type) {
    case 'identified': {
      const { type: _, ...identity } = fact;
      return set(identity);
    }
    case 'pool':
      return set({ pool: { ...state.status.pool, size: fact.size, free: fact.free } });
    case 'attempt':
      return set({ attempts: state.status.attempts + 1 });
    case 'conflict':
      return set({ conflicts: state.status.conflicts + 1 });
    case 'landed':
      return { ...state, trail: { ...state.trail, landed: fact.claimed } };
    case 'uncertain':
      return state.trail.uncertain.includes(fact.allocationId) ? state : { ...state, trail: { ...state.trail, uncertain: [...state.trail.uncertain, fact.allocationId] } };
    case 'unlanded': {
      const { landed: _, ...rest } = state.trail;
      return { ...state, trail: rest };
    }
    case 'claimed': {
      const { allocationId, publicIp, associationId, resumed } = fact.claimed;
      // The listing counted the address free; the claim took it. A resumed one was not free.
      const { free } = state.status.pool;
      const pool = !resumed && free !== null ? { ...state.status.pool, free: Math.max(0, free - 1) } : state.status.pool;
      return set({ allocationId, publicIp, associationId, pool });
    }
    case 'error':
      return set({ lastError: fact.message });
    case 'warning':
      return state.status.warnings.includes(fact.message) ? state : set({ warnings: [...state.status.warnings, fact.message] });
    case 'termination':
      return set({ termination: fact.detail });
    case 'rebalance':
      return set({ rebalanceNotice: fact.notice });
    case 'gate-open':
      return set({ gate: { ...state.status.gate, open: true } });
    default:
      return state;
  }
}

export interface Readiness {
  ready: boolean;
  phase: Phase;
  reason: string | null;
  /** kubelet may start: the address is live, or (--gate label) the gate's wait is over */
  gateOpen: boolean;
}

export function readiness(status: Status): Readiness {
  return { ready: status.phase === 'ready', phase: status.phase, reason: status.reason, gateOpen: status.gate.open };
}
