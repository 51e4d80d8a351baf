// The agent's state, kept in one place: facts reported by claim, live check, monitors and
// release are applied here by the daemon, its one caller (core/status.ts decides what each
// fact changes). /status, /readyz and /metrics are views of it.
import { applyFact, initialState, readiness, type AgentState, type Fact, type GatePolicy, type Readiness, type Status, type Trail } from '../core/status.js';
import type { Logger } from '../shared/log.js';
import type { PoolSelector } from '../shared/ports.js';
import type { Clock } from '../shared/time.js';
import type { Metrics } from './metrics.js';

/** How lifecycle functions tell the daemon what happened; they never write the state. */
export type Report = (fact: Fact) => void;

export class AgentStore {
  private state: AgentState;

  constructor(
    pool: PoolSelector,
    version: string,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: Clock,
    gate: GatePolicy = 'strict',
  ) {
    this.state = initialState(pool, version, gate);
  }

  apply(fact: Fact): void {
    const before = this.state;
    const after = applyFact(before, fact, this.clock.now());
    if (after === before) return;
    this.state = after;
    const { phase, reason } = after.status;
    if (phase !== before.status.phase) {
      this.metrics.phase = phase;
      this.log.info('phase', { phase, from: before.status.phase, reason });
    }
    if (fact.type === 'attempt') this.metrics.claimAttempts += 1;
    if (fact.type === 'conflict') this.metrics.conflicts += 1;
    const { size, free } = after.status.pool;
    if (size !== null) this.metrics.poolSize = size;
    if (free !== null) this.metrics.poolFree = free;
  }

  get phase(): Status['phase'] {
    return this.state.status.phase;
  }

  status(): Status {
    return structuredClone(this.state.status);
  }

  trail(): Trail {
    return this.state.trail;
  }

  readiness(): Readiness {
    return readiness(this.state.status);
  }
}
