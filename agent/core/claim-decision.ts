// The claim's decisions, as data: from what the node has seen (its last pool listing, what
// IMDS shows on the target private IP, how its last attempt went), the next step. Pure:
// lifecycle/claim.ts runs the steps through the ports and feeds back what it observed.
//
// AssociateAddress(AllowReassociation=false) is the compare-and-swap (G1); a lost race is
// an input, not a failure. Contention (a throttled answer, a lost race) makes the node
// spread its next attempt over the time the account's mutating bucket needs for the
// crowd its listing suggests (shared/pacing.ts), then list again so that it attempts on a
// fresh listing. The window is sized by the mutating rate EC2 is seen to serve (the
// published refill at most), and no answer is ever asked again at once: every repeated
// outcome without a win lengthens the next wait (stallFloorMs).
import {
  EC2_BUCKETS,
  EC2_READ_RETRY,
  SMALL_CROWD_MS,
  UNKNOWN_TARGET_BUDGET_MS,
  UNKNOWN_TARGET_PACING,
  contentionSpreadMs,
  crowdSpreadMs,
  equalJitter,
  firstServedRate,
  fullJitter,
  learnServedRate,
  refusedDelay,
  relistDelay,
  stallFloorMs,
  type FreeSample,
  type RelistPolicy,
} from '../shared/pacing.js';
import type { AddressView, PoolSelector, Target } from '../shared/ports.js';
import { describePool, inPool, isOn, viewPool, type PoolView } from './pool.js';

export interface Claimed {
  allocationId: string;
  publicIp: string;
  associationId: string;
  /** the interface held it already (G3): no association was made */
  resumed: boolean;
}

export interface ClaimSettings {
  pool: PoolSelector;
  target: Target;
  relist: RelistPolicy;
  /**
   * The live check proves ownership (--live-check imds): AssociateAddress's association id
   * and IMDS showing the address on our private IP are the proof, so no DescribeAddresses
   * verification read follows a won association.
   */
  liveCheckProves: boolean;
  /** the region the claim goes to, for the message when EC2 never knows the target */
  region?: string;
}

export type WaitWhy = 'exhausted' | 'held-elsewhere' | 'foreign-eip' | 'contention' | 'verify-lag' | 'retry' | PauseWhy;

/** Waits before listing again after an answer that is neither a win nor contention. */
export type PauseWhy =
  /** the allocation vanished (released meanwhile): list again, paced when it repeats */
  | 'vanished'
  /** IAM refused, or an answer the agent does not know (errors.ts `refused`) */
  | 'refused'
  /** EC2 does not know our interface or instance yet (eventual consistency at boot) */
  | 'target-unknown';

export type ClaimStep =
  /** `crowdMs`: the spread a throttled listing's retries need, from the free count last seen (pacing.ts crowdSpreadMs); none: the policy's */
  | { do: 'list'; crowdMs?: number }
  /** read from IMDS the public IPs on the target private IP (G2a) */
  | { do: 'look' }
  /** DescribeAddresses by public IP: is this IP on our target an Elastic IP, and whose? */
  | { do: 'identify'; publicIp: string }
  | { do: 'wait'; ms: number; why: WaitWhy; reason: string }
  | { do: 'attempt'; address: AddressView }
  /** DescribeAddresses by allocation id: after an answer we cannot trust, or to verify a win */
  | { do: 'read'; address: AddressView; why: 'uncertain' | 'verify' }
  /** forget the lost addresses and list again: every free one listed was lost */
  | { do: 'forget' }
  /** the claim cannot succeed: one clear error (the target stayed unknown to EC2) */
  | { do: 'fail'; code: string; reason: string }
  | { do: 'done'; claimed: Claimed };

export type AttemptResult =
  | { associationId: string }
  /** Resource.AlreadyAssociated: someone else holds it */
  | 'conflict'
  /** the allocation no longer exists */
  | 'not-found'
  /** EC2 does not know our interface or instance (InvalidNetworkInterfaceID.NotFound, …) */
  | 'target-unknown'
  /** IAM refused (UnauthorizedOperation, AuthFailure), or an answer the agent does not know */
  | 'refused'
  /** RequestLimitExceeded: not applied */
  | 'throttled'
  /** a timeout, a 5xx or a malformed answer: it may or may not have been applied */
  | 'uncertain';

export type ClaimObservation =
  /** `throttled`: how many throttled answers the listing met before it got through */
  /** `at`: when it was answered (ms), for the rate EC2 serves the crowd */
  /** `askedAt`: when it was first asked, before any retry */
  | { of: 'listed'; addresses: readonly AddressView[]; throttled: number; at?: number; askedAt?: number }
  | { of: 'looked'; publicIps: readonly string[] }
  | { of: 'identified'; publicIp: string; address: AddressView | undefined }
  | { of: 'waited'; why: WaitWhy; ms: number }
  | { of: 'forgot' }
  /** `code`: the EC2 code of a failed attempt, for the reasons shown */
  | { of: 'attempted'; address: AddressView; result: AttemptResult; code?: string }
  | { of: 'read'; address: AddressView; seen: AddressView | undefined };

interface Pending {
  address: AddressView;
  why: 'uncertain' | 'verify';
  /** reads done so far */
  reads: number;
  /** the last read lagged: wait before the next one */
  lagging: boolean;
}

export interface ClaimMemory {
  /** undefined: list before anything else */
  readonly listing?: PoolView;
  /** public IPs of the pool as last listed */
  readonly pooledIps: ReadonlySet<string>;
  /** public IPs IMDS shows on the target since the last listing; undefined: look first */
  readonly onTarget?: readonly string[];
  /** public IP → the Elastic IP it is, or null when it is no Elastic IP (an auto-assigned IP) */
  readonly known: ReadonlyMap<string, AddressView | null>;
  /**
   * Allocations lost to someone else. Kept across listings, because a listing may lag the
   * association that beat us (reads are eventually consistent); forgotten once every free
   * address of a listing is among them.
   */
  readonly lost: ReadonlySet<string>;
  /**
   * Contention seen since the last spread wait, and what it says. `throttled`: an attempt
   * found the mutating bucket empty, right after a listing that may predate the burst that
   * emptied it. `listing`: the listing itself was throttled (it came after). `race`: one peer
   * took the address — the bucket may be fine, so the spread is short.
   */
  readonly contention: 'throttled' | 'listing' | 'race' | undefined;
  /** spread waits so far: the first may still count on the bucket's burst, later ones not */
  readonly spreads: number;
  readonly pending?: Pending;
  /** the listing is known to lag (a race was lost on it): list again after the spread */
  readonly stale: boolean;
  /** consecutive listings that needed retries (stretches the wait of a dry pool) */
  readonly troubles: number;
  /** throttled answers the last listing met: the next one's retries start one short of them */
  readonly listingThrottles: number;
  /** consecutive attempts that met a fault (5xx, timeout): a short backoff before the next */
  readonly faults: number;
  /** the backoff after the last fault was waited */
  readonly retried: boolean;
  /** AssociateAddress attempts in a row that won nothing: every wait before the next is at least stallFloorMs */
  readonly stalls: number;
  /** the mutating rate EC2 is seen to serve the crowd (per s): the published refill at most */
  readonly rate: number;
  /** free addresses in the last listing: at most that many peers list with this node */
  readonly seenFree?: number;
  /**
   * A listing showed the pool exhausted: nodes wait for it that the free count does not
   * bound, so the free count no longer sizes the crowd down.
   */
  readonly seenDry: boolean;
  /** the node's first listing: the rate is the free count's fall since, on average */
  readonly sample?: FreeSample;
  /**
   * An AssociateAddress was throttled: the mutating bucket was empty, so the crowd asks more
   * than EC2 serves, and the fall of the free count measures EC2 rather than the crowd.
   */
  readonly saturated: boolean;
  /** a wait owed before listing again, and how many of its kind came in a row */
  readonly pause?: { why: PauseWhy; code: string; n: number };
  /** ms waited so far on a target EC2 does not know */
  readonly unknownMs: number;
  /** the kind of the last pause, and how many of it came in a row (refusals double their wait) */
  readonly lastPause?: PauseWhy;
  readonly pauseRun: number;
  readonly won?: Claimed;
}

// Read-after-write: DescribeAddresses lags AssociateAddress by seconds at most.
export const VERIFY_READS = 12;
// After a spread wait this long the listing is stale: list again before attempting.
const STALE_AFTER_MS = 1000;
// A lost race alone says one peer wanted the same address, not that a crowd empties the
// bucket: a short breath, a fresh listing, and another address.
const RACE_SPREAD_MS = 1000;
// The served-rate estimate before anything is learned: the published refill, no empty bucket seen.
const UNLEARNED = { rate: EC2_BUCKETS.mutating.refillPerS, saturated: false } as const;

export function initialMemory(): ClaimMemory {
  return {
    pooledIps: new Set(),
    known: new Map(),
    lost: new Set(),
    contention: undefined,
    spreads: 0,
    stale: false,
    troubles: 0,
    listingThrottles: 0,
    faults: 0,
    retried: false,
    stalls: 0,
    ...UNLEARNED,
    seenDry: false,
    unknownMs: 0,
    pauseRun: 0,
  };
}

export function decide(memory: ClaimMemory, settings: ClaimSettings, random: () => number): ClaimStep {
  if (memory.won) return { do: 'done', claimed: memory.won };
  const pending = memory.pending;
  if (pending?.lagging) {
    // 200 ms, then doubling to 2 s, each with ±50 % jitter: reads catch up within seconds.
    const ms = Math.round(Math.min(2000, 200 * 2 ** Math.min(pending.reads - 1, 4)) * (0.5 + random()));
    return { do: 'wait', ms, why: 'verify-lag', reason: `waiting for DescribeAddresses to show ${pending.address.publicIp} on ${settings.target.networkInterfaceId}` };
  }
  if (pending) return { do: 'read', address: pending.address, why: pending.why };
  if (memory.pause) return paused(memory, memory.pause, settings, random);

  const view = memory.listing;
  if (!view) {
    // A crowd larger than the read policy's own spread serves: its throttled retries spread
    // wider; a handful's, by plain doubling (the policy's spread for fifty is only latency).
    const crowdMs = crowdSpreadMs(memory.seenFree ?? 0, memory.rate);
    return crowdMs > EC2_READ_RETRY.throttledSpreadMs || handful(memory.seenFree ?? 0, memory) ? { do: 'list', crowdMs } : { do: 'list' };
  }
  const relist = (why: WaitWhy, reason: string): ClaimStep => ({ do: 'wait', ms: relistDelay(settings.relist, memory.troubles, random), why, reason });
  if (view.held) {
    const { allocationId, publicIp, associationId } = view.held;
    return { do: 'done', claimed: { allocationId, publicIp, associationId: associationId!, resumed: true } };
  }
  const other = view.heldElsewhere[0];
  if (other) {
    return relist('held-elsewhere', `this instance already holds pool address ${other.publicIp} (${other.allocationId}) on ${other.networkInterfaceId} ${other.privateIp}; not claiming a second`);
  }
  if (!memory.onTarget) return { do: 'look' };
  const unknown = memory.onTarget.find((ip) => !memory.pooledIps.has(ip) && !memory.known.has(ip));
  if (unknown !== undefined) return { do: 'identify', publicIp: unknown };
  // G2a: an Elastic IP outside the pool on our private IP would be silently replaced.
  const foreign = memory.onTarget.map((ip) => memory.known.get(ip)).find((a) => a && !inPool(a, settings.pool));
  if (foreign) {
    return relist('foreign-eip', `Elastic IP ${foreign.publicIp} (${foreign.allocationId}) outside pool ${describePool(settings.pool)} sits on ${settings.target.privateIp}; refusing to replace it`);
  }
  if (view.free.length === 0) return relist('exhausted', `pool ${describePool(settings.pool)}: 0 of ${view.size} free`);
  if (memory.contention) {
    const spread = memory.contention === 'race' ? RACE_SPREAD_MS : contentionSpreadMs(view.free.length, memory.contention === 'throttled' && memory.spreads === 0, 500, memory.rate);
    const ms = Math.round(random() * Math.max(spread, stallFloorMs(memory.stalls)));
    return { do: 'wait', ms, why: 'contention', reason: `spreading the next attempt over the account's mutating bucket (${view.free.length} free)` };
  }
  const candidate = view.free.find((a) => !memory.lost.has(a.allocationId));
  if (!candidate) return { do: 'forget' }; // every free address listed was lost: the listing lags
  if (memory.faults > 0 && !memory.retried) {
    const ms = Math.max(fullJitter(memory.faults, 200, 5000, random), Math.round(random() * stallFloorMs(memory.stalls)));
    return { do: 'wait', ms, why: 'retry', reason: `AssociateAddress met a fault; trying ${candidate.publicIp} again` };
  }
  return { do: 'attempt', address: candidate };
}

/**
 * At most `free` peers claim with this node, so few that the first throttled retry's own
 * window serves them, and the pool was never seen dry (where nodes wait that the free count
 * does not bound): a throttle is the account's other callers, not this crowd (the faulty
 * trio). Such a node backs off by plain doubling and spreads nothing for its crowd.
 */
function handful(free: number, memory: ClaimMemory): boolean {
  return free > 0 && !memory.seenDry && crowdSpreadMs(free, memory.rate) <= SMALL_CROWD_MS;
}

/** The wait owed after a vanished allocation, a refusal or an unknown target; or the end of a target that stays unknown. */
function paused(memory: ClaimMemory, pause: NonNullable<ClaimMemory['pause']>, settings: ClaimSettings, random: () => number): ClaimStep {
  const { networkInterfaceId, instanceId } = settings.target;
  switch (pause.why) {
    case 'vanished':
      return { do: 'wait', ms: equalJitter(memory.stalls, 250, 30_000, random), why: 'vanished', reason: `an address vanished (${pause.code}): listing the pool again` };
    case 'refused': {
      const ms = refusedDelay(pause.n, random);
      return { do: 'wait', ms, why: 'refused', reason: `AssociateAddress refused (${pause.code}): asking again in ${Math.round(ms / 1000)} s` };
    }
    case 'target-unknown': {
      const where = `interface ${networkInterfaceId} of instance ${instanceId}${settings.region ? ` in ${settings.region}` : ''}`;
      if (memory.unknownMs >= UNKNOWN_TARGET_BUDGET_MS) {
        return {
          do: 'fail',
          code: 'claim.target-unknown',
          reason: `EC2 does not know ${where} (${pause.code} for ${Math.round(memory.unknownMs / 1000)} s): expected the instance's own interface in the instance's own region`,
        };
      }
      const { baseMs, capMs, lateAfterMs, lateCapMs } = UNKNOWN_TARGET_PACING;
      const ms = equalJitter(pause.n, baseMs, memory.unknownMs >= lateAfterMs ? lateCapMs : capMs, random);
      return { do: 'wait', ms, why: 'target-unknown', reason: `EC2 does not know ${where} yet (${pause.code}): waiting for it` };
    }
  }
}

export function observe(memory: ClaimMemory, seen: ClaimObservation, settings: ClaimSettings): ClaimMemory {
  switch (seen.of) {
    case 'listed': {
      const listing = viewPool(seen.addresses, settings.pool, settings.target);
      const now = seen.at === undefined ? undefined : { at: seen.at, free: listing.free.length };
      return {
        ...memory,
        listing,
        seenFree: listing.free.length,
        seenDry: memory.seenDry || listing.free.length === 0,
        // Averaged since the first listing: the burst at the start keeps the estimate high
        // until the sustained rate shows; a crowd spreading for a few seconds cannot pull it down.
        // A sample started again (after an unknown target) is no first listing: addresses may
        // have been taken before it was asked.
        ...(now && !memory.sample ? { sample: now, ...(seen.askedAt === undefined || memory.seenFree !== undefined ? {} : { rate: firstServedRate(memory.rate, listing.size, seen.askedAt, now) }) } : {}),
        ...(now && memory.saturated ? { rate: learnServedRate(memory.rate, memory.sample, now) } : {}),
        pooledIps: new Set(seen.addresses.filter((a) => inPool(a, settings.pool)).map((a) => a.publicIp)),
        onTarget: undefined,
        stale: false,
        troubles: seen.throttled > 0 ? memory.troubles + 1 : 0,
        listingThrottles: seen.throttled,
        // A throttled listing: a crowd lists, and its attempts will crowd the mutating bucket.
        // Not where only a handful can follow (see `handful`).
        contention: memory.contention ?? (seen.throttled > 0 && !handful(listing.free.length, memory) ? 'listing' : undefined),
      };
    }
    case 'looked':
      return { ...memory, onTarget: [...seen.publicIps] };
    case 'forgot':
      return { ...memory, lost: new Set(), listing: undefined };
    case 'identified':
      return { ...memory, known: new Map(memory.known).set(seen.publicIp, seen.address ?? null) };
    case 'waited':
      if (seen.why === 'verify-lag') return { ...memory, pending: memory.pending && { ...memory.pending, lagging: false } };
      if (seen.why === 'retry') return { ...memory, retried: true };
      if (seen.why === 'vanished' || seen.why === 'refused' || seen.why === 'target-unknown') {
        // Our target unknown says nothing about the pool: the same listing serves the next try
        // (a stale one costs a lost race, which lists again).
        if (seen.why === 'target-unknown') return { ...memory, pause: undefined, unknownMs: memory.unknownMs + seen.ms };
        return { ...memory, pause: undefined, listing: undefined };
      }
      if (seen.why === 'contention') {
        // The wait was the spread; a long one leaves the listing stale.
        const relist = memory.stale || seen.ms >= STALE_AFTER_MS;
        return { ...memory, contention: undefined, stale: false, spreads: memory.spreads + 1, ...(relist ? { listing: undefined } : {}) };
      }
      // A dry pool, a foreign or second address: look at the world again.
      return { ...memory, listing: undefined };
    case 'attempted': {
      const next = attempted(memory, seen.address, seen.result, settings, seen.code ?? String(seen.result));
      if (typeof seen.result === 'object') return { ...next, stalls: 0, unknownMs: 0 };
      return { ...next, stalls: memory.stalls + 1 };
    }
    case 'read':
      return read(memory, seen.address, seen.seen, settings);
  }
}

function won(memory: ClaimMemory, address: AddressView, associationId: string, settings: ClaimSettings): ClaimMemory {
  const claimed: Claimed = { allocationId: address.allocationId, publicIp: address.publicIp, associationId, resumed: false };
  if (settings.liveCheckProves) return { ...memory, pending: undefined, won: claimed };
  return { ...memory, pending: { address: { ...address, associationId }, why: 'verify', reads: 0, lagging: false } };
}

function lost(memory: ClaimMemory, address: AddressView): ClaimMemory {
  // Someone was faster: the listing is stale. Its free count still sizes the spread; then
  // list again.
  return { ...memory, pending: undefined, stale: true, lost: new Set(memory.lost).add(address.allocationId), contention: memory.contention ?? 'race' };
}

/** How many pauses of this kind came in a row (a different outcome in between starts again). */
function streak(memory: ClaimMemory, why: PauseWhy, code: string): ClaimMemory['pause'] {
  return { why, code, n: memory.lastPause === why ? memory.pauseRun + 1 : 1 };
}

function attempted(memory: ClaimMemory, address: AddressView, result: AttemptResult, settings: ClaimSettings, code: string): ClaimMemory {
  if (typeof result === 'object') return { ...won(memory, address, result.associationId, settings), lastPause: undefined, pauseRun: 0 };
  const pause = (why: PauseWhy): ClaimMemory => {
    const next = streak(memory, why, code)!;
    return { ...memory, pause: next, lastPause: why, pauseRun: next.n };
  };
  switch (result) {
    case 'conflict':
      return lost(memory, address);
    case 'not-found':
      return pause('vanished'); // released meanwhile: look at the pool again, paced when it repeats
    case 'target-unknown':
      // While EC2 does not know our interface, the peers booting with us likely cannot claim
      // either: the free count stands still, and would read as EC2 serving nothing. What was
      // learned is forgotten; the estimate starts again from the next listing.
      return { ...pause('target-unknown'), ...UNLEARNED, sample: undefined };
    case 'refused':
      return pause('refused');
    case 'throttled':
      return { ...memory, contention: 'throttled', saturated: true };
    case 'uncertain':
      // It may have been applied: read before trying anything else (STYLE 6).
      return { ...memory, faults: memory.faults + 1, retried: false, pending: { address, why: 'uncertain', reads: 0, lagging: false } };
  }
}

function read(memory: ClaimMemory, address: AddressView, seen: AddressView | undefined, settings: ClaimSettings): ClaimMemory {
  const pending = memory.pending;
  const reads = (pending?.reads ?? 0) + 1;
  if (seen && isOn(seen, settings.target)) {
    // A read showing it on our target proves it (the association id is the one EC2 holds).
    return { ...memory, pending: undefined, faults: 0, won: { allocationId: seen.allocationId, publicIp: seen.publicIp, associationId: seen.associationId!, resumed: false } };
  }
  if (pending?.why === 'uncertain') {
    if (!seen) return { ...memory, pending: undefined, listing: undefined };
    if (seen.associationId) return lost(memory, address);
    return { ...memory, pending: undefined }; // not applied: attempt again after a short wait
  }
  // Verifying a won association: a lagging read shows it free or absent.
  if (seen?.associationId && seen.associationId !== address.associationId) return lost(memory, address);
  if (reads >= VERIFY_READS) {
    // Never confirmed: it may still stand (the release keeps it in mind); the listing decides.
    return { ...memory, pending: undefined, listing: undefined, lost: new Set(memory.lost).add(address.allocationId) };
  }
  return { ...memory, pending: { ...pending!, reads, lagging: true } };
}
