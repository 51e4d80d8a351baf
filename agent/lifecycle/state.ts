// What the agent knows and shows: phase, identity, address, pool. /status and /readyz
// are views of this one object; the daemon is its only writer.
import { canMove, type Phase } from '../core/phase.js';
import type { Logger } from '../shared/log.js';
import type { Metrics } from '../shared/metrics.js';
import type { PoolSelector } from '../shared/ports.js';
import type { Clock } from '../shared/time.js';

export interface Status {
  phase: Phase;
  reason: string | null;
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
}

export type Facts = Partial<Omit<Status, 'phase' | 'pool' | 'attempts' | 'conflicts'>>;

export class AgentState {
  private current: Status;

  constructor(
    pool: PoolSelector,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.current = {
      phase: 'starting',
      reason: 'reading identity from IMDS',
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
    };
  }

  get phase(): Phase {
    return this.current.phase;
  }

  move(to: Phase, reason: string | null = null): void {
    const from = this.current.phase;
    if (from === to) {
      this.current.reason = reason;
      return;
    }
    if (!canMove(from, to)) throw new Error(`phase ${from} cannot move to ${to}`);
    this.current.phase = to;
    this.current.reason = reason;
    this.metrics.phase = to;
    if (to === 'ready') this.current.readySince = new Date(this.clock.now()).toISOString();
    this.log.info('phase', { phase: to, from, reason });
  }

  set(facts: Facts): void {
    Object.assign(this.current, facts);
  }

  setPool(size: number, free: number): void {
    this.current.pool = { ...this.current.pool, size, free };
  }

  countAttempt(): void {
    this.current.attempts += 1;
    this.metrics.claimAttempts += 1;
  }

  countConflict(): void {
    this.current.conflicts += 1;
    this.metrics.conflicts += 1;
  }

  status(): Status {
    return structuredClone(this.current);
  }

  readiness(): { ready: boolean; phase: Phase; reason: string | null } {
    return { ready: this.current.phase === 'ready', phase: this.current.phase, reason: this.current.reason };
  }
}
