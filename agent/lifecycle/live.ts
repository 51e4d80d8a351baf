// G4: the address counts only once it is seen live on this node. Which check looks is
// chosen once, in the wiring (cli/wiring.ts), from --live-check.
import type { Claimed } from '../core/claim-decision.js';
import { describeWhere, whereIs } from '../core/ours.js';
import { isOn, viewPool } from '../core/pool.js';
import { errorMessage, isAgentError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { EC2_READ_RETRY } from '../shared/pacing.js';
import type { AddressView, EgressProbe, Ec2Port, ImdsPort, PoolSelector, Target } from '../shared/ports.js';
import { retrying } from '../shared/retry.js';
import type { Timing } from '../shared/time.js';
import type { Report } from './state.js';

export interface LiveCheck {
  /** what the check looks at, for the reasons /readyz gives */
  describe: string;
  /** is `publicIp` live on the target now? A typed error is a look without a verdict. */
  probe(publicIp: string, signal: AbortSignal): Promise<boolean>;
  /** local and cheap enough to keep asking once ready */
  watch: boolean;
  /** with AssociateAddress's answer it proves the claim: no DescribeAddresses verification read */
  proves: boolean;
  /** what the check sees instead, for /status when it keeps missing */
  sees?(signal: AbortSignal): Promise<string>;
}

/** --live-check imds: IMDS maps the public IP to our private IP on our interface. */
export function imdsLiveCheck(imds: ImdsPort, target: Target): LiveCheck {
  return {
    describe: 'IMDS',
    probe: (publicIp, signal) => imds.isLiveOn(target, publicIp, signal),
    watch: true,
    proves: true,
    sees: async (signal) => {
      const ips = await imds.publicIpsOn(target, signal);
      return ips.length ? ips.join(', ') : 'no public IPv4';
    },
  };
}

/** --live-check egress: the echo service sees our traffic leave from the address. */
export function egressLiveCheck(probe: EgressProbe, url: string): LiveCheck {
  // An echo service is not ours to poll every few seconds once ready.
  return { describe: url, probe, watch: false, proves: false };
}

/** --live-check none: the DescribeAddresses read that verified the claim is trusted. */
export const noLiveCheck: LiveCheck = { describe: 'none', probe: async () => true, watch: false, proves: false };

export interface LiveDeps {
  check: LiveCheck;
  /** to find out why, when the check keeps missing an address that it should show */
  ec2: Ec2Port;
  target: Target;
  report: Report;
  log: Logger;
  timing: Timing;
  /** poll interval; tests shorten it */
  intervalMs?: number;
  /** the pool: the watch lists it while the address is lost, to find any pool address on our target (G3) */
  pool?: PoolSelector;
}

// IMDS shows a new association within seconds: past this, read the allocation to find out
// why rather than wait blind, and again every EXPLAIN_EVERY_MS while it keeps missing.
const SUSPECT_AFTER_MS = 10_000;
const EXPLAIN_EVERY_MS = 30_000;

/**
 * Resolves `live` once the check shows the address, or `lost` when a read of the allocation
 * shows that it is no longer on our target (the claim must start again).
 */
export async function waitLive(deps: LiveDeps, claimed: Claimed, signal: AbortSignal): Promise<'live' | 'lost'> {
  const { check, report, log, timing } = deps;
  const interval = deps.intervalMs ?? 500;
  const started = timing.clock.now();
  let explainAt = started + SUSPECT_AFTER_MS;
  let reason = `waiting for ${check.describe} to show ${claimed.publicIp}`;
  for (let polls = 0; ; polls++) {
    try {
      if (await check.probe(claimed.publicIp, signal)) return 'live';
    } catch (error) {
      if (!isAgentError(error)) throw error;
      report({ type: 'error', message: errorMessage(error) });
    }
    if (check.proves && timing.clock.now() >= explainAt) {
      explainAt = timing.clock.now() + EXPLAIN_EVERY_MS;
      const seen = await retrying(() => deps.ec2.describeAllocation(claimed.allocationId), { policy: EC2_READ_RETRY, timing, signal });
      if (!seen || !isOn(seen, deps.target)) {
        log.warn('address.lost', { ...claimed, check: check.describe, ...seenFields(seen), where: describeWhere(seen, deps.target) });
        return 'lost';
      }
      const shows = await check.sees?.(signal).catch((error: unknown) => (isAgentError(error) ? errorMessage(error) : Promise.reject(error)));
      reason = `EC2 shows ${claimed.publicIp} on ${deps.target.networkInterfaceId} ${deps.target.privateIp}; ${check.describe} shows ${shows ?? 'something else'} there: waiting for it to catch up`;
      log.warn('live.waiting', { publicIp: claimed.publicIp, check: check.describe, shows, seconds: (timing.clock.now() - started) / 1000 });
    } else if (polls % 20 === 0) {
      log.info('live.waiting', { publicIp: claimed.publicIp, check: check.describe, polls });
    }
    report({ type: 'verifying', reason });
    await timing.sleep(interval, signal);
  }
}

// Once ready, IMDS is asked every 5 s (one read, at the notices' pace) so that /readyz stays
// truthful if the address is taken away behind the agent's back; two misses in a row, so
// that an IMDS hiccup is not taken for a loss. An idle agent wakes rarely (issue 22).
const WATCH_MS = 5000;
const LOST_AFTER = 2;

/**
 * Keeps /readyz truthful once ready: `lost` while the address is not live (the reason says
 * where EC2 shows it), `back` when it is live again — under the association id EC2 then shows
 * on our interface and private IP, which may be a new one put back by hand. One rule for
 * "ours" (G3): that association is adopted, and so is another pool address put on our
 * interface and private IP while ours was away (`deps.pool` given); the end releases it.
 */
export async function watchLive(deps: LiveDeps, claimed: Claimed, signal: AbortSignal): Promise<void> {
  const { check, report, log, timing } = deps;
  let held: Claimed = claimed;
  let misses = 0;
  let lost = false;
  // While lost, EC2 is read to say where the address is (every EXPLAIN_EVERY_MS), and when
  // IMDS shows it again, to learn its association; a read lagging IMDS is read again later,
  // the gap doubling.
  let explainAt = 0;
  let confirmAt = 0;
  let confirmGap = 0;
  /** Where EC2 shows our address, and (with the pool) which pool address is on our target. */
  const look = async (): Promise<{ seen: AddressView | undefined; onTarget: AddressView | undefined } | Error> => {
    try {
      if (!deps.pool) {
        const seen = await retrying(() => deps.ec2.describeAllocation(held.allocationId), { policy: EC2_READ_RETRY, timing, signal });
        return { seen, onTarget: seen && whereIs(seen, deps.target) === 'ours' ? seen : undefined };
      }
      const pool = deps.pool;
      const listing = await retrying(() => deps.ec2.listPool(pool), { policy: EC2_READ_RETRY, timing, signal });
      return { seen: listing.find((a) => a.allocationId === held.allocationId), onTarget: viewPool(listing, pool, deps.target).held };
    } catch (error) {
      if (signal.aborted || !isAgentError(error)) throw error;
      return error;
    }
  };
  const shows = (looked: Awaited<ReturnType<typeof look>>) => (looked instanceof Error ? `EC2 cannot say where it is: ${errorMessage(looked)}` : describeWhere(looked.seen, deps.target));
  const lostReason = (looked: Awaited<ReturnType<typeof look>>) => `${held.publicIp} is no longer live on this interface (${check.describe}); ${shows(looked)}`;
  /** Another pool address on our target while ours is away: ours now (G3). Watch it instead. */
  const adoptOther = (looked: Awaited<ReturnType<typeof look>>): boolean => {
    if (looked instanceof Error || !looked.onTarget || looked.onTarget.allocationId === held.allocationId) return false;
    const other = looked.onTarget;
    log.info('address.readopted', { allocationId: other.allocationId, publicIp: other.publicIp, associationId: other.associationId, previousAllocationId: held.allocationId, previousAssociationId: held.associationId, when: 'running' });
    held = { allocationId: other.allocationId, publicIp: other.publicIp, associationId: other.associationId!, resumed: true };
    report({ type: 'claimed', claimed: held });
    report({ type: 'verifying', reason: `pool address ${held.publicIp} was put on this interface and private IP while ours was away: ours now (G3); waiting for ${check.describe} to show it` });
    return true;
  };
  while (!signal.aborted) {
    try {
      await timing.sleep(deps.intervalMs ?? WATCH_MS, signal);
      let live: boolean;
      try {
        live = await check.probe(held.publicIp, signal);
      } catch (error) {
        if (signal.aborted || !isAgentError(error)) throw error;
        continue; // no verdict from a failed look
      }
      if (live) {
        misses = 0;
        if (!lost || timing.clock.now() < confirmAt) continue;
        // Live here again: under which association? EC2 says (reads may lag it by seconds).
        const looked = await look();
        const seen = looked instanceof Error ? undefined : looked.seen;
        if (!seen || whereIs(seen, deps.target) !== 'ours') {
          confirmGap = Math.min(EXPLAIN_EVERY_MS, Math.max(confirmGap * 2, WATCH_MS));
          confirmAt = timing.clock.now() + confirmGap;
          continue;
        }
        lost = false;
        if (seen.associationId !== held.associationId) {
          log.info('address.readopted', { allocationId: held.allocationId, publicIp: held.publicIp, associationId: seen.associationId, previousAssociationId: held.associationId, when: 'running' });
          held = { ...held, associationId: seen.associationId! };
        } else {
          log.info('address.back', { publicIp: held.publicIp, associationId: held.associationId });
        }
        report({ type: 'back', associationId: held.associationId });
      } else if (++misses === LOST_AFTER && !lost) {
        lost = true;
        const looked = await look();
        report({ type: 'lost', reason: lostReason(looked) });
        log.warn('address.lost', { publicIp: held.publicIp, check: check.describe, ...seenFields(looked instanceof Error ? looked : looked.seen) });
        explainAt = timing.clock.now() + EXPLAIN_EVERY_MS;
        confirmAt = 0;
        confirmGap = 0;
        adoptOther(looked);
      } else if (lost && timing.clock.now() >= explainAt) {
        // Still lost: where is it now? (moved on, put on another private IP of ours, …)
        const looked = await look();
        explainAt = timing.clock.now() + EXPLAIN_EVERY_MS;
        if (!adoptOther(looked)) report({ type: 'verifying', reason: lostReason(looked) });
      }
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
  }
}

function seenFields(seen: AddressView | undefined | Error): Record<string, unknown> {
  if (seen instanceof Error) return { error: errorMessage(seen) };
  return { seenAssociationId: seen?.associationId, seenInstanceId: seen?.instanceId, seenInterface: seen?.networkInterfaceId, seenPrivateIp: seen?.privateIp };
}
