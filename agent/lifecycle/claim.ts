// Claim one pool address for the target, optimistically: a short interpreter of the pure
// decisions in core/claim-decision.ts. Each step runs through a port; what it saw goes back
// into the decision. No lock service, no check-then-act: AssociateAddress with
// AllowReassociation=false is the compare-and-swap (G1).
import { decide, initialMemory, observe, type AttemptResult, type ClaimMemory, type ClaimObservation, type ClaimSettings, type Claimed, type ClaimStep } from '../core/claim-decision.js';
import { describePool } from '../core/pool.js';
import { AgentError, UNKNOWN_TARGET_CODES, authorizationHint, errorMessage, isAgentError, meaningOf } from '../shared/errors.js';
import { emptyPoolHint } from '../core/pool-report.js';
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

interface Context extends ClaimDeps {
  settings: ClaimSettings;
  signal: AbortSignal;
  pool: string;
  /** why the pool is empty (which values its tag key has), asked once a claim; '' when it says nothing */
  emptyHint?: string;
}

export async function claim(deps: ClaimDeps, settings: ClaimSettings, signal: AbortSignal): Promise<Claimed> {
  const ctx: Context = { ...deps, settings, signal, pool: describePool(settings.pool) };
  let memory = initialMemory();
  for (;;) {
    const step = decide(memory, settings, deps.timing.random);
    if (step.do === 'done') {
      const { claimed } = step;
      deps.log.info(claimed.resumed ? 'claim.resumed' : 'claim.associated', { ...claimed });
      deps.report({ type: 'claimed', claimed });
      return claimed;
    }
    if (step.do === 'fail') {
      deps.log.error('claim.target-unknown', { reason: step.reason });
      throw new AgentError('rejected', step.code, step.reason);
    }
    const seen = await perform(ctx, step, memory);
    memory = observe(memory, seen, settings);
    if (step.do === 'list') listed(ctx, memory);
    if (step.do === 'read') lostOnRead(ctx, step.address, seen, memory);
  }
}

/** Runs one step through the ports; what it saw, for the decision. */
async function perform(ctx: Context, step: Exclude<ClaimStep, { do: 'done' | 'fail' }>, memory: ClaimMemory): Promise<ClaimObservation> {
  const { ec2, imds, settings, timing, signal } = ctx;
  switch (step.do) {
    case 'list': {
      // A crowd met on the last listing is still there: start its retries where that one ended.
      const askedAt = timing.clock.now();
      const { value: addresses, throttled } = await read(ctx, 'DescribeAddresses', () => ec2.listPool(settings.pool), Math.min(3, Math.max(0, memory.listingThrottles - 1)), step.crowdMs);
      return { of: 'listed', addresses, throttled, at: timing.clock.now(), askedAt };
    }
    case 'look':
      return { of: 'looked', publicIps: await retrying(() => imds.publicIpsOn(settings.target, signal), { policy: IMDS_RETRY, timing, signal }) };
    case 'identify': {
      const { value: address } = await read(ctx, 'DescribeAddresses', () => ec2.describePublicIp(step.publicIp));
      return { of: 'identified', publicIp: step.publicIp, address };
    }
    case 'forget':
      return { of: 'forgot' };
    case 'wait':
      waiting(ctx, step.why === 'exhausted' && memory.listing?.size === 0 ? { ...step, reason: await emptyReason(ctx, step.reason) } : step, memory);
      await timing.sleep(step.ms, signal);
      return { of: 'waited', why: step.why, ms: step.ms };
    case 'attempt':
      ctx.report({ type: 'attempt' });
      ctx.log.info('claim.attempt', { allocationId: step.address.allocationId, publicIp: step.address.publicIp });
      const { result, code } = await attempt(ctx, step.address);
      return { of: 'attempted', address: step.address, result, ...(code ? { code } : {}) };
    case 'read': {
      const { value: seen } = await read(ctx, 'DescribeAddresses', () => ec2.describeAllocation(step.address.allocationId));
      return { of: 'read', address: step.address, seen };
    }
  }
}

/** An EC2 read through the one retry layer; `throttled` counts the throttled answers it met. */
async function read<T>(ctx: Context, action: string, fn: () => Promise<T>, skip = 0, crowdMs?: number): Promise<{ value: T; throttled: number }> {
  let throttled = 0;
  const policy = ctx.reads ?? EC2_READ_RETRY;
  const value = await retrying(fn, {
    policy,
    timing: ctx.timing,
    signal: ctx.signal,
    skip,
    crowdMs,
    onRetry: (error, attempt, delayMs) => {
      if (isAgentError(error, 'throttled')) throttled += 1;
      ctx.report({ type: 'error', message: errorMessage(error) });
      ctx.log.warn('retry', { action, attempt, delayMs, error: errorMessage(error) });
      // A refusal, or a fault that keeps coming, is the reason the node waits: /status says so.
      if (meaningOf(error) === 'refused' || attempt >= 3) {
        ctx.report({ type: 'claiming', reason: `${action}: ${errorMessage(error)}; asking again in ${(delayMs / 1000).toFixed(1)} s` });
      }
      if (meaningOf(error) === 'refused') refused(ctx, action, error as AgentError);
    },
  });
  return { value, throttled };
}

/** IAM refused, or an answer we do not know: logged with the command that decodes EC2's message. */
function refused(ctx: Context, action: string, error: AgentError): void {
  const decode = authorizationHint(error);
  ctx.log.error('claim.refused', { action, code: error.code, error: errorMessage(error), ...(decode ? { decode } : {}) });
}

/** One AssociateAddress; its failure typed into what the decision needs, with EC2's code. */
async function attempt(ctx: Context, address: AddressView): Promise<{ result: AttemptResult; code?: string }> {
  const { target } = ctx.settings;
  try {
    const associationId = await ctx.ec2.associate({ allocationId: address.allocationId, networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp });
    ctx.report({ type: 'landed', claimed: { allocationId: address.allocationId, publicIp: address.publicIp, associationId, resumed: false } });
    return { result: { associationId } };
  } catch (error) {
    if (!isAgentError(error)) throw error; // a bug, not a fault
    ctx.report({ type: 'error', message: errorMessage(error) });
    switch (error.kind) {
      case 'conflict':
        lostRace(ctx, address, error.code);
        return { result: 'conflict', code: error.code };
      case 'not-found':
        if (UNKNOWN_TARGET_CODES.has(error.code)) {
          const { networkInterfaceId, instanceId } = ctx.settings.target;
          ctx.log.warn('claim.target-unknown', { networkInterfaceId, instanceId, region: ctx.settings.region, reason: error.code });
          return { result: 'target-unknown', code: error.code };
        }
        ctx.log.info('claim.vanished', { allocationId: address.allocationId, reason: error.code });
        return { result: 'not-found', code: error.code };
      case 'throttled':
        ctx.log.warn('retry', { action: 'AssociateAddress', error: errorMessage(error) });
        return { result: 'throttled', code: error.code };
      case 'transient':
      case 'malformed':
        // It may have been applied: the release must keep it in mind until a read says.
        ctx.report({ type: 'uncertain', allocationId: address.allocationId });
        ctx.log.warn('claim.uncertain', { allocationId: address.allocationId, error: errorMessage(error) });
        return { result: 'uncertain', code: error.code };
      case 'auth':
      case 'rejected': {
        // Paced by the decision (seconds, doubling to a minute), and shown until it passes.
        refused(ctx, 'AssociateAddress', error);
        const decode = authorizationHint(error);
        ctx.report({ type: 'claiming', reason: `AssociateAddress refused: ${errorMessage(error)}${decode ? `; decode it with: ${decode}` : ''}` });
        return { result: 'refused', code: error.code };
      }
      case 'bad-input':
        throw error; // the operator's input: asking again will not help
    }
  }
}

function listed(ctx: Context, memory: ClaimMemory): void {
  const view = memory.listing!;
  ctx.report({ type: 'pool', size: view.size, free: view.free.length });
  ctx.log.info('pool.listed', { pool: ctx.pool, size: view.size, free: view.free.length });
}

/** An empty pool names its cause: the tag key exists nowhere, or only with other values (one tag-key listing). */
async function emptyReason(ctx: Context, reason: string): Promise<string> {
  if (ctx.emptyHint === undefined) {
    const { pool } = ctx.settings;
    // Without a value the pool listing was the tag-key listing already: nothing carries the key.
    const carrying = pool.tagValue === undefined ? [] : (await read(ctx, 'DescribeAddresses', () => ctx.ec2.listPool({ tagKey: pool.tagKey }))).value;
    ctx.emptyHint = emptyPoolHint(pool, carrying) ?? '';
  }
  return ctx.emptyHint ? `${reason}: ${ctx.emptyHint}` : reason;
}

/** A wait the operator should see (a dry pool, an address in the way) changes /status. */
function waiting(ctx: Context, step: Extract<ClaimStep, { do: 'wait' }>, memory: ClaimMemory): void {
  if (step.why === 'target-unknown') {
    // The attempt logged it; /status says what the node waits for.
    ctx.report({ type: 'claiming', reason: step.reason });
    return;
  }
  if (step.why !== 'exhausted' && step.why !== 'foreign-eip' && step.why !== 'held-elsewhere') {
    ctx.log.debug('claim.wait', { why: step.why, waitMs: step.ms, reason: step.reason });
    return;
  }
  ctx.report({ type: 'claiming', reason: step.reason });
  if (step.why === 'exhausted') {
    const size = memory.listing?.size ?? 0;
    ctx.report({ type: 'exhausted', size });
    ctx.log.warn('pool.exhausted', { pool: ctx.pool, size, free: 0, reason: step.reason, waitMs: step.ms });
  } else if (step.why === 'foreign-eip') {
    ctx.report({ type: 'foreign', reason: step.reason });
    ctx.log.error('claim.foreign-eip', { pool: ctx.pool, reason: step.reason, waitMs: step.ms });
  } else {
    ctx.report({ type: 'held-elsewhere', reason: step.reason });
    ctx.log.error('claim.held-elsewhere', { pool: ctx.pool, reason: step.reason, waitMs: step.ms });
  }
}

/** A read after an attempt showed our association gone: moved elsewhere, or never confirmed. */
function lostOnRead(ctx: Context, address: AddressView, seen: ClaimObservation, memory: ClaimMemory): void {
  if (seen.of !== 'read' || !memory.lost.has(address.allocationId) || memory.won) return;
  ctx.report({ type: 'unlanded' });
  if (seen.seen?.associationId) lostRace(ctx, address, `now associated as ${seen.seen.associationId}`);
  else ctx.log.warn('claim.unconfirmed', { allocationId: address.allocationId, reason: 'never confirmed by DescribeAddresses' });
}

function lostRace(ctx: Context, address: AddressView, reason: string): void {
  ctx.report({ type: 'conflict' });
  ctx.log.info('claim.conflict', { allocationId: address.allocationId, publicIp: address.publicIp, reason });
}
