// Claim one pool address for the target interface, optimistically: AssociateAddress with
// AllowReassociation=false is the compare-and-swap. No lock service, no check-then-act.
//
// A lost race lists the pool again rather than trying the next address of the old listing:
// in a boot storm most of that listing is already taken, and each stale try spends a token
// of the account's mutating bucket (50, +5/s) that the whole fleet shares, while a listing
// spends one of the Describe bucket (100, +20/s). Measured (BENCHMARKS.md): 3× faster to
// all-ready and less than half the AssociateAddress calls at N = 200.
import { jitteredBackoff, relistDelay, retryDelay, type RelistPolicy } from '../core/backoff.js';
import { describePool, inPool, isOn, viewPool, type Target } from '../core/pool.js';
import { errorMessage, isAgentError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { AddressView, Ec2Port, PoolSelector } from '../shared/ports.js';
import { retrying, type RetryOptions } from '../shared/retry.js';
import type { AgentState } from './state.js';
import type { Sleep } from '../shared/time.js';

export interface ClaimDeps {
  ec2: Ec2Port;
  /** public IPs IMDS shows on the target private IP (G2a: a foreign EIP may sit there) */
  publicIpsOnTarget: () => Promise<string[]>;
  state: AgentState;
  log: Logger;
  sleep: Sleep;
  random: () => number;
  retry: Omit<RetryOptions, 'signal' | 'onRetry'>;
}

export interface ClaimOptions {
  pool: PoolSelector;
  target: Target;
  relist: RelistPolicy;
  /** aborted at shutdown or when --claim-timeout expires */
  signal: AbortSignal;
  /** what the claim did so far, for a release that cuts it short */
  progress: ClaimProgress;
}

/**
 * A claim cut short by the end of the node may already hold an address that no listing
 * shows yet (reads lag writes): the release must find it from here.
 */
export interface ClaimProgress {
  /** AssociateAddress answered: this association exists unless a later read proved it lost */
  landed?: Claimed;
  /** allocations whose AssociateAddress answer was lost: they may be ours */
  uncertain: Set<string>;
}

export interface Claimed {
  allocationId: string;
  publicIp: string;
  associationId: string;
  resumed: boolean;
}

type Attempt = { won: Claimed } | { lost: 'conflict' | 'vanished' };

// Read-after-write: DescribeAddresses lags AssociateAddress by seconds at most.
const VERIFY_READS = 12;

export async function claim(deps: ClaimDeps, options: ClaimOptions): Promise<Claimed> {
  const { ec2, state, log, sleep, random } = deps;
  const { pool, target, signal } = options;
  const poolName = describePool(pool);
  const notEip = new Set<string>();
  let troubles = 0;

  let retried = false;
  const call = <T>(action: string, fn: () => Promise<T>): Promise<T> =>
    retrying(fn, {
      ...deps.retry,
      signal,
      onRetry: (error, attempt) => {
        retried = true;
        state.set({ lastError: errorMessage(error) });
        log.warn('retry', { action, attempt, error: errorMessage(error) });
      },
    });

  const wait = async (reason: string) => {
    state.move('claiming', reason);
    await sleep(relistDelay(options.relist, troubles, random), signal);
  };

  /** G2a: an Elastic IP outside the pool on our private IP would be silently replaced. */
  const foreignEip = async (listing: AddressView[]): Promise<AddressView | undefined> => {
    const pooled = new Set(listing.map((a) => a.publicIp));
    for (const ip of await call('IMDS ipv4-associations', deps.publicIpsOnTarget)) {
      if (pooled.has(ip) || notEip.has(ip)) continue;
      const address = await call('DescribeAddresses', () => ec2.describePublicIp(ip));
      if (address && !inPool(address, pool)) return address;
      notEip.add(ip); // an auto-assigned public IP: replacing it is what the operator wants
    }
    return undefined;
  };

  const confirm = async (candidate: AddressView, associationId: string): Promise<Attempt> => {
    let seen: AddressView | undefined;
    for (let read = 0; read < VERIFY_READS; read++) {
      // A read that lags our write shows the address free, or not at all if it is new.
      seen = await call('DescribeAddresses', () => ec2.describeAllocation(candidate.allocationId));
      if (seen && isOn(seen, target)) {
        return { won: { allocationId: seen.allocationId, publicIp: seen.publicIp, associationId: seen.associationId!, resumed: false } };
      }
      log.debug('verify.waiting', { allocationId: candidate.allocationId, associationId, read });
      await sleep(200 + jitteredBackoff(read, 200, 2000, random), signal);
    }
    if (seen?.associationId) {
      // Moved to another interface since our association: ours is gone.
      delete options.progress.landed;
      log.warn('claim.vanished', { allocationId: candidate.allocationId, associationId, reason: `now associated as ${seen.associationId}` });
      return { lost: 'conflict' };
    }
    // The association answered 200 but reads never showed it. It may still stand (the
    // release keeps it in mind); list again and let the listing decide.
    log.warn('claim.vanished', { allocationId: candidate.allocationId, associationId, reason: 'never confirmed by DescribeAddresses' });
    return { lost: 'vanished' };
  };

  /** After an answer we cannot trust (timeout, 5xx), look before trying again. */
  const readBack = async (candidate: AddressView): Promise<Attempt | 'free'> => {
    const now = await call('DescribeAddresses', () => ec2.describeAllocation(candidate.allocationId));
    if (!now) return { lost: 'vanished' };
    if (isOn(now, target)) return confirm(candidate, now.associationId!);
    return now.associationId ? { lost: 'conflict' } : 'free';
  };

  const attempt = async (candidate: AddressView): Promise<Attempt> => {
    let uncertain = false;
    for (let retry = 0; ; retry++) {
      state.countAttempt();
      log.info('claim.attempt', { allocationId: candidate.allocationId, publicIp: candidate.publicIp, retry });
      try {
        const associationId = await ec2.associate({
          allocationId: candidate.allocationId,
          networkInterfaceId: target.networkInterfaceId,
          privateIp: target.privateIp,
        });
        options.progress.landed = { allocationId: candidate.allocationId, publicIp: candidate.publicIp, associationId, resumed: false };
        return await confirm(candidate, associationId);
      } catch (error) {
        if (isAgentError(error, 'not-found')) return { lost: 'vanished' };
        if (isAgentError(error, 'conflict') && !uncertain) return { lost: 'conflict' };
        if (!isAgentError(error, 'conflict', 'throttled', 'transient')) throw error;
        state.set({ lastError: errorMessage(error) });
        // Throttled means not applied; anything else may have been: read before retrying.
        if (isAgentError(error, 'transient', 'conflict')) {
          uncertain = true;
          options.progress.uncertain.add(candidate.allocationId);
          log.warn('claim.uncertain', { allocationId: candidate.allocationId, error: errorMessage(error) });
          const seen = await readBack(candidate);
          if (seen !== 'free') return seen;
        }
        await sleep(retryDelay(retry, deps.retry.minMs, deps.retry.maxMs, random), signal);
      }
    }
  };

  for (;;) {
    // Keep the last reason (e.g. "0 of 12 free") visible while listing again.
    if (state.phase !== 'claiming') state.move('claiming', `listing pool ${poolName}`);
    retried = false;
    const listing = await call('DescribeAddresses', () => ec2.listPool(pool));
    // Consecutive listings that needed retries stretch the wait between listings.
    troubles = retried ? troubles + 1 : 0;
    const view = viewPool(listing, pool, target);
    state.setPool(view.size, view.free.length);
    log.info('pool.listed', { pool: poolName, size: view.size, free: view.free.length });

    if (view.held) {
      // G3: a restart or reboot resumes what the interface already holds.
      const held = view.held;
      log.info('claim.resumed', { allocationId: held.allocationId, publicIp: held.publicIp, associationId: held.associationId });
      return { allocationId: held.allocationId, publicIp: held.publicIp, associationId: held.associationId!, resumed: true };
    }
    if (view.heldElsewhere.length > 0) {
      const other = view.heldElsewhere[0]!;
      const reason = `this instance already holds pool address ${other.publicIp} (${other.allocationId}) on ${other.networkInterfaceId} ${other.privateIp}; not claiming a second`;
      log.error('claim.foreign-eip', { reason });
      await wait(reason);
      continue;
    }
    const foreign = await foreignEip(listing);
    if (foreign) {
      const reason = `Elastic IP ${foreign.publicIp} (${foreign.allocationId}) outside pool ${poolName} sits on ${target.privateIp}; refusing to replace it`;
      log.error('claim.foreign-eip', { allocationId: foreign.allocationId, publicIp: foreign.publicIp, privateIp: target.privateIp });
      await wait(reason);
      continue;
    }
    if (view.free.length === 0) {
      const reason = `pool ${poolName}: 0 of ${view.size} free`;
      log.warn('pool.exhausted', { pool: poolName, size: view.size, free: 0 });
      await wait(reason);
      continue;
    }
    const candidate = view.free[0]!;
    const result = await attempt(candidate);
    if ('won' in result) {
      log.info('claim.associated', { ...result.won });
      return result.won;
    }
    if (result.lost === 'conflict') state.countConflict();
    log.info(result.lost === 'conflict' ? 'claim.conflict' : 'claim.vanished', { allocationId: candidate.allocationId });
    // Someone was faster: the listing is stale. List again after a breath of jitter.
    await sleep(Math.round(500 * random()), signal);
  }
}
