// Claim one pool address for the target, optimistically: a short interpreter of the pure
// decisions in core/claim-decision.ts. Each step runs through a port; what it saw goes back
// into the decision. No lock service, no check-then-act: AssociateAddress with
// AllowReassociation=false is the compare-and-swap (G1).
import { decide, initialMemory, observe, type AttemptResult, type ClaimSettings, type Claimed, type ClaimStep } from '../core/claim-decision.js';
import { describePool } from '../core/pool.js';
import { errorMessage, isAgentError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { EC2_READ_RETRY, IMDS_RETRY, type RetryPolicy } from '../shared/pacing.js';
import type { AddressView, Ec2Port, ImdsPort } from '../shared/ports.js';
import { retrying } from '../shared/retry.js';
import type { Timing } from '../shared/time.js';
import type { Report } from './state.js';

export interface ClaimDeps {
  ec2: Ec2Port;
  imds: ImdsPort;
  report: Report;
  log: Logger;
  timing: Timing;
  /** retry policy of EC2 reads (tests and the soak shorten it) */
  reads?: RetryPolicy;
}

export async function claim(deps: ClaimDeps, settings: ClaimSettings, signal: AbortSignal): Promise<Claimed> {
  const { ec2, imds, report, log, timing } = deps;
  const pool = describePool(settings.pool);
  let memory = initialMemory();

  /** An EC2 read through the one retry layer; `throttled` counts the throttled answers it met. */
  const read = async <T>(action: string, fn: () => Promise<T>): Promise<{ value: T; throttled: number }> => {
    let throttled = 0;
    const value = await retrying(fn, {
      policy: deps.reads ?? EC2_READ_RETRY,
      timing,
      signal,
      onRetry: (error, attempt, delayMs) => {
        if (isAgentError(error, 'throttled')) throttled += 1;
        report({ type: 'error', message: errorMessage(error) });
        log.warn('retry', { action, attempt, delayMs, error: errorMessage(error) });
      },
    });
    return { value, throttled };
  };

  const run = async (step: Exclude<ClaimStep, { do: 'done' }>) => {
    switch (step.do) {
      case 'list': {
        const { value: addresses, throttled } = await read('DescribeAddresses', () => ec2.listPool(settings.pool));
        memory = observe(memory, { of: 'listed', addresses, throttled }, settings);
        const view = memory.listing!;
        report({ type: 'pool', size: view.size, free: view.free.length });
        log.info('pool.listed', { pool, size: view.size, free: view.free.length });
        return;
      }
      case 'forget':
        memory = observe(memory, { of: 'forgot' }, settings);
        return;
      case 'look': {
        const publicIps = await retrying(() => imds.publicIpsOn(settings.target, signal), { policy: IMDS_RETRY, timing, signal });
        memory = observe(memory, { of: 'looked', publicIps }, settings);
        return;
      }
      case 'identify': {
        const { value: address } = await read('DescribeAddresses', () => ec2.describePublicIp(step.publicIp));
        memory = observe(memory, { of: 'identified', publicIp: step.publicIp, address }, settings);
        return;
      }
      case 'wait': {
        if (step.why === 'exhausted' || step.why === 'foreign-eip' || step.why === 'held-elsewhere') {
          report({ type: 'claiming', reason: step.reason });
          if (step.why === 'exhausted') report({ type: 'exhausted', size: memory.listing?.size ?? 0 });
          else report({ type: 'foreign', reason: step.reason });
          const event = step.why === 'exhausted' ? 'pool.exhausted' : 'claim.foreign-eip';
          log[step.why === 'exhausted' ? 'warn' : 'error'](event, { pool, reason: step.reason, waitMs: step.ms });
        } else {
          log.debug('claim.wait', { why: step.why, waitMs: step.ms, reason: step.reason });
        }
        await timing.sleep(step.ms, signal);
        memory = observe(memory, { of: 'waited', why: step.why, ms: step.ms }, settings);
        return;
      }
      case 'attempt': {
        report({ type: 'attempt' });
        log.info('claim.attempt', { allocationId: step.address.allocationId, publicIp: step.address.publicIp });
        const result = await attempt(step.address);
        memory = observe(memory, { of: 'attempted', address: step.address, result }, settings);
        return;
      }
      case 'read': {
        const { value: seen } = await read('DescribeAddresses', () => ec2.describeAllocation(step.address.allocationId));
        const id = step.address.allocationId;
        const wasLost = memory.lost.has(id);
        memory = observe(memory, { of: 'read', address: step.address, seen }, settings);
        if (memory.lost.has(id) && !wasLost) {
          // Our association is gone (moved elsewhere, or never confirmed by any read).
          report({ type: 'unlanded' });
          if (seen?.associationId) lostRace(step.address, `now associated as ${seen.associationId}`);
          else log.warn('claim.vanished', { allocationId: id, reason: 'never confirmed by DescribeAddresses' });
        }
        return;
      }
    }
  };

  const lostRace = (address: AddressView, reason: string) => {
    report({ type: 'conflict' });
    log.info('claim.conflict', { allocationId: address.allocationId, publicIp: address.publicIp, reason });
  };

  const attempt = async (address: AddressView): Promise<AttemptResult> => {
    try {
      const associationId = await ec2.associate({ allocationId: address.allocationId, networkInterfaceId: settings.target.networkInterfaceId, privateIp: settings.target.privateIp });
      report({ type: 'landed', claimed: { allocationId: address.allocationId, publicIp: address.publicIp, associationId, resumed: false } });
      return { associationId };
    } catch (error) {
      if (!isAgentError(error)) throw error; // a bug, not a fault
      report({ type: 'error', message: errorMessage(error) });
      switch (error.kind) {
        case 'conflict':
          lostRace(address, error.code);
          return 'conflict';
        case 'not-found':
          log.info('claim.vanished', { allocationId: address.allocationId, reason: error.code });
          return 'not-found';
        case 'throttled':
          log.warn('retry', { action: 'AssociateAddress', error: errorMessage(error) });
          return 'throttled';
        case 'transient':
        case 'malformed':
          // It may have been applied: the release must keep it in mind until a read says.
          report({ type: 'uncertain', allocationId: address.allocationId });
          log.warn('claim.uncertain', { allocationId: address.allocationId, error: errorMessage(error) });
          return 'uncertain';
        default:
          throw error; // auth, rejected, bad-input: asking again will not help
      }
    }
  };

  for (;;) {
    const step = decide(memory, settings, timing.random);
    if (step.do === 'done') {
      const { claimed } = step;
      log.info(claimed.resumed ? 'claim.resumed' : 'claim.associated', { ...claimed });
      report({ type: 'claimed', claimed });
      return claimed;
    }
    await run(step);
  }
}
