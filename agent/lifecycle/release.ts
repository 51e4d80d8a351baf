// The end of life: wait until the node's workload pods are gone (G5), then give the address
// back — but only the association this node made, on this node's interface (G2).
import { isDrained, workloadPods } from '../core/drain.js';
import { initialRelease, nextReleaseStep, observeRelease, type Held, type ReleaseOutcome } from '../core/release-decision.js';
import { errorMessage, isAgentError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { EC2_READ_RETRY, type RetryPolicy } from '../shared/pacing.js';
import type { Ec2Port, KubePort, Target } from '../shared/ports.js';
import { retrying } from '../shared/retry.js';
import type { Timing } from '../shared/time.js';
import type { Report } from './state.js';

export type { Held, ReleaseOutcome } from '../core/release-decision.js';
export type DrainOutcome = 'drained' | 'timeout' | 'skipped' | 'forced';

// One list of the node's pods a second, and only while the node ends: the hand-off waits
// on it (last pod gone → disassociated), the API server hardly notices.
const DRAIN_POLL_MS = 1000;

export interface DrainDeps {
  /** undefined: no kubeconfig, the wait is skipped */
  kube: KubePort | undefined;
  nodeName: string;
  report: Report;
  log: Logger;
  timing: Timing;
  intervalMs?: number;
}

export async function drainWait(deps: DrainDeps, timeoutMs: number, forced: AbortSignal): Promise<DrainOutcome> {
  const { kube, nodeName, report, log, timing } = deps;
  if (!kube) {
    log.warn('drain.skipped', { reason: "no kubeconfig: cannot see the node's pods" });
    return 'skipped';
  }
  if (forced.aborted) return 'forced';
  const deadline = timing.clock.now() + timeoutMs;
  for (let polls = 0; ; polls++) {
    try {
      const pods = await kube.listPodsOnNode(nodeName, forced);
      if (isDrained(pods)) {
        log.info('drain.done', { nodeName, polls });
        return 'drained';
      }
      const left = workloadPods(pods).map((p) => `${p.namespace}/${p.name}`);
      report({ type: 'draining', reason: `waiting for ${left.length} workload pod(s) to leave ${nodeName}: ${left.slice(0, 5).join(', ')}` });
      if (polls % 15 === 0) log.info('drain.waiting', { nodeName, pods: left.length, sample: left.slice(0, 5) });
    } catch (error) {
      if (forced.aborted) return 'forced';
      if (!isAgentError(error)) throw error;
      // Unreachable or refusing API server: keep asking until the drain timeout (SPEC §5).
      report({ type: 'error', message: errorMessage(error) });
      report({ type: 'draining', reason: `cannot list pods of ${nodeName}: ${errorMessage(error)}` });
      if (polls % 15 === 0) log.warn('drain.waiting', { nodeName, error: errorMessage(error) });
    }
    const left = deadline - timing.clock.now();
    if (left <= 0) {
      log.warn('drain.timeout', { nodeName, timeoutS: timeoutMs / 1000, reason: 'releasing anyway: the instance is going away' });
      return 'timeout';
    }
    try {
      await timing.sleep(Math.min(deps.intervalMs ?? DRAIN_POLL_MS, left), forced);
    } catch (error) {
      if (forced.aborted) return 'forced';
      throw error;
    }
  }
}

export interface ReleaseDeps {
  ec2: Ec2Port;
  log: Logger;
  timing: Timing;
  /** retry policy of EC2 reads (the soak shortens it) */
  reads?: RetryPolicy;
}

/** Runs core/release-decision.ts through the EC2 port. */
export async function releaseAddress(deps: ReleaseDeps, held: Held, target: Target, signal: AbortSignal): Promise<ReleaseOutcome> {
  const { ec2, log, timing } = deps;
  const call = <T>(fn: () => Promise<T>) =>
    retrying(fn, {
      policy: deps.reads ?? EC2_READ_RETRY,
      timing,
      signal,
      onRetry: (error, attempt, delayMs) => log.warn('retry', { action: 'release', attempt, delayMs, error: errorMessage(error) }),
    });
  let memory = initialRelease(held);
  let adopted = false;
  for (;;) {
    const step = nextReleaseStep(memory);
    switch (step.do) {
      case 'done': {
        const fields = { ...held, associationId: memory.associationId };
        if (step.outcome === 'not-ours') log.warn('release.skipped', { ...fields, outcome: step.outcome, seen: memory.where });
        // Asked, and EC2 kept it: not skipped, failed — an operator must look.
        else if (step.outcome === 'still-associated') log.error('release.failed', { ...fields, outcome: step.outcome });
        else log.info('released', { ...fields, ...(step.outcome === 'already-gone' ? { note: 'association already gone' } : {}) });
        return step.outcome;
      }
      case 'wait':
        await timing.sleep(step.ms, signal);
        memory = observeRelease(memory, { of: 'waited' }, target);
        break;
      case 'read': {
        const seen = await call(() => ec2.describeAllocation(held.allocationId));
        memory = observeRelease(memory, { of: 'read', seen }, target);
        break;
      }
      case 'disassociate': {
        if (step.associationId !== held.associationId && !adopted) {
          // Put back on our interface and private IP by hand, unnoticed while running (or with
          // a live check that does not watch): ours all the same (G3).
          adopted = true;
          log.info('address.readopted', { allocationId: held.allocationId, publicIp: held.publicIp, associationId: step.associationId, previousAssociationId: held.associationId, when: 'release' });
        }
        // By association id: a compare-and-swap (G2). "Not found" means it is gone.
        const gone = await call(() => ec2.disassociate(step.associationId)).then(
          () => false,
          (error: unknown) => (isAgentError(error, 'not-found') ? true : Promise.reject(error)),
        );
        memory = observeRelease(memory, { of: 'disassociated', gone }, target);
        break;
      }
    }
  }
}
