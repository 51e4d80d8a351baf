// The end of life: wait until the node's workload pods are gone (G5), then give the address
// back — but only the association this node made, on this node's interface (G2).
import { isDrained, workloadPods } from '../core/drain.js';
import { isOn, type Target } from '../core/pool.js';
import { errorMessage, isAgentError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { Ec2Port, KubePort } from '../shared/ports.js';
import { retrying, type RetryOptions } from '../shared/retry.js';
import type { AgentState } from './state.js';
import type { Clock, Sleep } from '../shared/time.js';

export type DrainOutcome = 'drained' | 'timeout' | 'skipped' | 'forced';

// One list of the node's pods a second, and only while the node ends: the hand-off waits
// on it (last pod gone → disassociated), the API server hardly notices.
const DRAIN_POLL_MS = 1000;

export interface DrainDeps {
  /** undefined: no kubeconfig, the wait is skipped */
  kube: KubePort | undefined;
  nodeName: string;
  state: AgentState;
  log: Logger;
  clock: Clock;
  sleep: Sleep;
  intervalMs?: number;
}

export async function drainWait(deps: DrainDeps, timeoutMs: number, forced: AbortSignal): Promise<DrainOutcome> {
  const { kube, nodeName, state, log, clock } = deps;
  if (!kube) {
    log.warn('drain.skipped', { reason: 'no kubeconfig: cannot see the node\'s pods' });
    return 'skipped';
  }
  if (forced.aborted) return 'forced';
  const deadline = clock.now() + timeoutMs;
  for (let polls = 0; ; polls++) {
    try {
      const pods = await kube.listPodsOnNode(nodeName, forced);
      if (isDrained(pods)) {
        log.info('drain.done', { nodeName, polls });
        return 'drained';
      }
      const left = workloadPods(pods).map((p) => `${p.namespace}/${p.name}`);
      state.move('draining', `waiting for ${left.length} workload pod(s) to leave ${nodeName}: ${left.slice(0, 5).join(', ')}`);
      if (polls % 15 === 0) log.info('drain.waiting', { nodeName, pods: left.length, sample: left.slice(0, 5) });
    } catch (error) {
      if (forced.aborted) return 'forced';
      // Unreachable or refusing API server: keep asking until the drain timeout (SPEC §5).
      state.set({ lastError: errorMessage(error) });
      state.move('draining', `cannot list pods of ${nodeName}: ${errorMessage(error)}`);
      if (polls % 15 === 0) log.warn('drain.waiting', { nodeName, error: errorMessage(error) });
    }
    const left = deadline - clock.now();
    if (left <= 0) {
      log.warn('drain.timeout', { nodeName, timeoutS: timeoutMs / 1000, reason: 'releasing anyway: the instance is going away' });
      return 'timeout';
    }
    try {
      await deps.sleep(Math.min(deps.intervalMs ?? DRAIN_POLL_MS, left), forced);
    } catch {
      return 'forced';
    }
  }
}

export interface Held {
  allocationId: string;
  associationId: string;
  publicIp: string;
}

export interface ReleaseDeps {
  ec2: Ec2Port;
  log: Logger;
  sleep: Sleep;
  retry: Omit<RetryOptions, 'signal' | 'onRetry'>;
}

export type ReleaseOutcome = 'released' | 'already-gone' | 'not-ours';

// Reads may lag writes; look a few times before deciding on what they show.
const RELEASE_READS = 4;

export async function releaseAddress(deps: ReleaseDeps, held: Held, target: Target, signal: AbortSignal): Promise<ReleaseOutcome> {
  const { ec2, log } = deps;
  const call = <T>(fn: () => Promise<T>) =>
    retrying(fn, { ...deps.retry, signal, onRetry: (error, attempt) => log.warn('retry', { action: 'release', attempt, error: errorMessage(error) }) });

  for (let read = 1; ; read++) {
    const now = await call(() => ec2.describeAllocation(held.allocationId));
    // G2: disassociate only the association this node made, on this node's interface.
    if (now && now.associationId === held.associationId && isOn(now, target)) break;
    if (read >= RELEASE_READS) {
      if (now?.associationId) {
        log.warn('release.skipped', { ...held, outcome: 'not-ours', seenAssociationId: now.associationId, seenInterface: now.networkInterfaceId });
        return 'not-ours';
      }
      // Reads keep showing it free. Our association id is ours alone: disassociating by it
      // can only remove our own association (a read lagging it) or answer not-found.
      break;
    }
    // Reads lag writes by seconds (ours, and the previous holder's release): look again.
    await deps.sleep(1000, signal);
  }
  // The SDK reads nothing from DisassociateAddress's answer, so an empty or cut 200 looks
  // like success: read back, and ask again while the association still stands. Asking by
  // association id is a compare-and-swap: "not found" means it is gone.
  for (let asked = 1; ; asked++) {
    try {
      await call(() => ec2.disassociate(held.associationId));
    } catch (error) {
      if (!isAgentError(error, 'not-found')) throw error;
      log.info('released', { ...held, note: asked === 1 ? 'association already gone' : undefined });
      return asked === 1 ? 'already-gone' : 'released';
    }
    const after = await call(() => ec2.describeAllocation(held.allocationId));
    if (after?.associationId !== held.associationId || asked >= RELEASE_READS) break;
    await deps.sleep(1000, signal);
  }
  log.info('released', { ...held });
  return 'released';
}
