// `eip-agent run` and `eip-agent claim`: the node's life as a short sequence of phases —
// identify → claim and prove live → ready → (the end) → drain-wait → release — each taking
// the previous one's result. Built from explicit dependencies; cli/wiring.ts builds the
// production ones, tests build theirs over the simulator.
import type { Claimed } from '../core/claim-decision.js';
import { isOn, viewPool } from '../core/pool.js';
import type { GatePolicy, Status } from '../core/status.js';
import { AgentError, errorMessage, isAgentError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { EC2_READ_RETRY, offPathReadWindowMs, type RetryPolicy } from '../shared/pacing.js';
import type { Ec2CallRecord, Ec2Port, ImdsPort, KubePort, ListenAddress, Notify, PoolSelector, Target } from '../shared/ports.js';
import { retrying } from '../shared/retry.js';
import type { Timing } from '../shared/time.js';
import { claim } from './claim.js';
import { kubeCluster, noCluster, type Cluster } from './cluster.js';
import { identify, type IdentifyOptions, type Me } from './identify.js';
import { waitLive, watchLive, type LiveCheck } from './live.js';
import { Metrics } from './metrics.js';
import { Ending, TerminationLatch, watchNotices, watchSignals, type SignalSource, type Termination } from './monitors.js';
import { drainWait, releaseAddress, type Held } from './release.js';
import { AgentStore, type Report } from './state.js';

export interface DaemonConfig extends IdentifyOptions {
  pool: PoolSelector;
  health: ListenAddress;
  claimTimeoutMs: number;
  gate: GatePolicy;
  gateTimeoutMs: number;
  relistIntervalMs: number;
  drainTimeoutMs: number;
  /** systemd's INVOCATION_ID is set (G5a) */
  underSystemd: boolean;
}

/** What the health endpoint shows, and the release it may ask for. */
export interface HealthView {
  readiness(): { ready: boolean };
  status(): Status;
  metrics(): string;
  release(force: boolean): Promise<Status>;
  /** a release asked for without the credential (not on the control socket): who asked */
  refused(peer: string): void;
}

export interface HealthServer {
  /** host:port it listens on */
  listen: string;
  close(): Promise<void>;
}

export interface DaemonDeps {
  config: DaemonConfig;
  version: string;
  log: Logger;
  timing: Timing;
  imds: ImdsPort;
  ec2For: (region: string, onCall: (record: Ec2CallRecord) => void) => Ec2Port;
  /**
   * The Kubernetes client, read from the kubeconfig once the identity is known (its code and
   * YAML load only then, issue 22) and before anything changes: a malformed kubeconfig
   * rejects, bad input (G6). Undefined: no kubeconfig, the drain wait is skipped.
   */
  kube: () => Promise<KubePort | undefined>;
  /** the live check chosen from --live-check, for the target once known */
  liveCheck: (target: Target) => LiveCheck;
  notify: Notify;
  signals: SignalSource;
  isSystemStopping: () => Promise<boolean>;
  serveHealth: (view: HealthView) => Promise<HealthServer>;
  /**
   * called once the identity is read and the Kubernetes client loaded (with it, the executable's
   * vendor script: compiled from its code cache while V8's flags are as at start), before any
   * EC2 call and anything running hot: what the agent's life needs no more of is let go
   * (production: wiring.ts)
   */
  settle?: () => void;
  /** retry policy of EC2 reads; the soak shortens it */
  reads?: RetryPolicy;
  /** poll intervals; tests shorten them */
  intervals?: { liveMs?: number; watchMs?: number; noticesMs?: number; drainMs?: number; clusterMs?: number };
  /** how long IMDS may take to tell the identity; the bench's hundreds of hosts in one process need longer */
  identityBudgetMs?: number;
}

// Shutdown gets its own budget: the claim's signal is already aborted by then.
const RELEASE_BUDGET_MS = 120_000;
// The label and the last events get a few seconds at the end; the release never waits longer for them.
const CLUSTER_BUDGET_MS = 5_000;

/** What the first half of the node's life got to before its end came (or the claim finished). */
interface Life {
  me?: Me;
  kube?: KubePort;
  ec2?: Ec2Port;
  claimed?: Claimed;
}

interface Agent {
  deps: DaemonDeps;
  store: AgentStore;
  metrics: Metrics;
  latch: TerminationLatch;
  /** aborted (with an Ending) when the node's life ends, or when the daemon stops */
  stop: AbortController;
  /** aborted only when the daemon stops: what must outlive the end of the node (labels, events) */
  lifetime: AbortController;
  /** the label and the events on this node's Node; set once the node's name is known */
  cluster: Cluster;
  report: Report;
  started: number;
  /** a background task that fails with anything but a typed error stops the daemon, loudly */
  background(task: Promise<void>): void;
  /** rejects with the first such failure */
  crashed: Promise<never>;
}

function createAgent(deps: DaemonDeps): Agent {
  const metrics = new Metrics(deps.version, poolName(deps.config.pool));
  const store = new AgentStore(deps.config.pool, deps.version, metrics, deps.log, deps.timing.clock, deps.config.gate);
  let crash!: (error: unknown) => void;
  const crashed = new Promise<never>((_, reject) => (crash = reject));
  crashed.catch(() => {}); // observed through Promise.race only
  const agent: Agent = {
    deps,
    store,
    metrics,
    latch: new TerminationLatch(),
    stop: new AbortController(),
    lifetime: new AbortController(),
    cluster: noCluster,
    // The one writer: facts change the state, and the cluster's view follows them.
    report: (fact) => {
      store.apply(fact);
      agent.cluster.observe(fact);
    },
    started: deps.timing.clock.now(),
    background: (task) => void task.catch(crash),
    crashed,
  };
  return agent;
}

const poolName = (pool: PoolSelector) => `${pool.tagKey}=${pool.tagValue ?? '*'}`;

/** --gate label: after --gate-timeout without a live address, kubelet may start without one. */
async function openGateLater(agent: Agent): Promise<void> {
  const { deps, store } = agent;
  try {
    await deps.timing.sleep(deps.config.gateTimeoutMs, agent.stop.signal);
  } catch (error) {
    if (agent.stop.signal.aborted) return;
    throw error;
  }
  if (store.readiness().gateOpen) return;
  agent.report({ type: 'gate-open' });
  deps.log.warn('gate.open', { gate: 'label', reason: store.status().reason, note: 'kubelet may start without an address; the node gets its label when it wins one' });
  await deps.notify(`READY=1\nSTATUS=no address yet, kubelet may start (--gate label): ${store.status().reason ?? ''}`).catch((error: unknown) => deps.log.warn('notify.failed', { error: errorMessage(error) }));
}

/** An AbortSignal that also aborts after `ms` on the injected clock (0: never); cancel() frees its timer. */
function deadline(timing: Timing, ms: number, parent: AbortSignal, reason: () => Error): { signal: AbortSignal; cancel: () => void } {
  const controller = new AbortController();
  const cancelled = new AbortController();
  const follow = () => controller.abort(parent.reason);
  if (parent.aborted) follow();
  else parent.addEventListener('abort', follow, { once: true });
  if (ms > 0) timing.sleep(ms, AbortSignal.any([controller.signal, cancelled.signal])).then(() => controller.abort(reason()), () => {});
  return {
    signal: controller.signal,
    cancel: () => {
      parent.removeEventListener('abort', follow);
      cancelled.abort(new Error('deadline no longer needed'));
    },
  };
}

class ClaimTimeout extends Error {
  override readonly name = 'ClaimTimeout';
}

/** Runs `phase` until it ends, the node's life ends (its Ending is thrown), or a background task crashes. */
function guarded<T>(agent: Agent, phase: Promise<T>): Promise<T> {
  return Promise.race([phase, agent.crashed]);
}

export async function runDaemon(deps: DaemonDeps): Promise<number> {
  const agent = createAgent(deps);
  const { log, config } = deps;
  let markReleased!: (status: Status) => void;
  const released = new Promise<Status>((resolve) => (markReleased = resolve));
  // The endpoint starts listening while IMDS is read (issue 22: the first IMDS request as soon
  // as it can go); the claim waits for it, so a port in use fails before any change (G6).
  const serving = deps.serveHealth({
    readiness: () => agent.store.readiness(),
    status: () => agent.store.status(),
    metrics: () => agent.metrics.render(),
    release: (force) => {
      agent.latch.report({ source: 'request', detail: 'eip-agent release', release: true, force });
      return released;
    },
    refused: (peer) => log.warn('release.refused', { peer, reason: 'POST /release on the TCP endpoint: releases are taken on the control socket only (root)' }),
  });
  const listening = serving.then((health) => log.info('health.listening', { listen: health.listen }));
  if (!config.health.loopback) log.warn('health.exposed', { listen: config.health.host, note: 'non-loopback listen asked for; it serves read-only health (releases are taken on the control socket only)' });
  if (config.gate === 'label') agent.background(openGateLater(agent));
  const unsubscribe = watchSignals(deps.signals, { underSystemd: config.underSystemd, isSystemStopping: deps.isSystemStopping }, agent.latch);
  void agent.latch.first.then((termination) => {
    log.info('termination', { ...termination });
    agent.report({ type: 'termination', detail: termination.detail });
    agent.stop.abort(new Ending(termination));
  });
  try {
    // A port in use ends the daemon at once, whatever the identity is waiting for.
    const [life] = await guarded(agent, Promise.all([untilTheEnd(agent, listening), listening]));
    const termination = await guarded(agent, agent.latch.first);
    const code = await guarded(agent, endOfLife(agent, life, termination));
    markReleased(agent.store.status());
    return code;
  } catch (error) {
    agent.report({ type: 'failed', reason: errorMessage(error) });
    throw error;
  } finally {
    agent.stop.abort(new Error('the daemon stops'));
    agent.lifetime.abort(new Error('the daemon stops'));
    unsubscribe();
    await serving.then((health) => health.close(), () => undefined);
  }
}

/**
 * `eip-agent claim`: identify, claim or resume, wait until live, and exit — the address stays
 * on the interface, and the daemon started later resumes it (G3). No health endpoint, no
 * release: a signal ends it before it is live, with a non-zero exit.
 */
export async function claimOnce(deps: DaemonDeps): Promise<number> {
  const agent = createAgent(deps);
  const unsubscribe = deps.signals((signal) => {
    agent.latch.report({ source: 'signal', detail: signal, release: false, force: false });
    agent.stop.abort(new Ending({ source: 'signal', detail: signal, release: false, force: false }));
  });
  try {
    // --gate label: the node may boot on without an address after --gate-timeout; the
    // daemon started after us keeps claiming.
    const gate = deps.config.gate === 'label' ? deps.timing.sleep(deps.config.gateTimeoutMs, agent.stop.signal).then(() => 'open' as const, () => 'stopped' as const) : new Promise<never>(() => {});
    const life = await guarded(agent, Promise.race([untilTheEnd(agent, Promise.resolve()), gate]));
    if (life === 'open') {
      deps.log.warn('gate.open', { gate: 'label', reason: agent.store.status().reason, note: 'no address yet; the node boots on, and the daemon keeps claiming' });
      return 0;
    }
    if (life === 'stopped' || !life.claimed) throw new AgentError('transient', 'claim.cut-short', `ended by ${agent.latch.reported?.detail ?? 'a signal'} before an address was live`);
    return 0;
  } finally {
    agent.stop.abort(new Error('the claim is over'));
    unsubscribe();
  }
}

/** identify → claim and prove live → ready; returns early, with what it has, when the end comes first. */
async function untilTheEnd(agent: Agent, listening: Promise<void>): Promise<Life> {
  const { deps, report, stop } = agent;
  const { config, log } = deps;
  const life: Life = {};
  try {
    const me = await identify(deps.imds, deps.timing, config, stop.signal, deps.identityBudgetMs);
    life.me = me;
    const { target } = me;
    report({ type: 'identified', instanceId: target.instanceId, region: me.region, nodeName: me.nodeName, networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp });
    log.info('identity', { ...target, region: me.region, availabilityZone: me.availabilityZone, nodeName: me.nodeName });
    if (me.regionMismatch) {
      log.warn('region.mismatch', { region: me.region, note: me.regionMismatch });
      report({ type: 'warning', message: `region.mismatch: ${me.regionMismatch}` });
    }
    // Nothing changes until the health endpoint listens: a port in use fails here (G6).
    await listening;
    const kube = await deps.kube();
    if (kube) life.kube = kube;
    deps.settle?.();
    const ec2 = deps.ec2For(me.region, (record) => agent.metrics.countEc2(record));
    life.ec2 = ec2;
    if (kube) {
      agent.cluster = kubeCluster({ kube, nodeName: me.nodeName, pool: poolName(config.pool), log, timing: deps.timing, intervalMs: deps.intervals?.clusterMs });
      agent.background(agent.cluster.run(agent.lifetime.signal));
    }
    agent.background(watchNotices({ imds: deps.imds, latch: agent.latch, report, log, timing: deps.timing, intervalMs: deps.intervals?.noticesMs }, stop.signal));
    const check = deps.liveCheck(target);
    life.claimed = await claimLive(agent, me, ec2, check);
    await ready(agent, me, ec2, check, life.claimed);
  } catch (error) {
    if (!(error instanceof Ending) || !stop.signal.aborted) throw error;
    // The end came first: end() releases what the claim may hold.
  }
  return life;
}

/** Claims, then waits until the live check shows the address; claims again if it was lost meanwhile. */
async function claimLive(agent: Agent, me: Me, ec2: Ec2Port, check: LiveCheck): Promise<Claimed> {
  const { deps, report, stop } = agent;
  const { config, log, timing } = deps;
  const timeout = deadline(timing, config.claimTimeoutMs, stop.signal, () => new ClaimTimeout());
  try {
    for (;;) {
      report({ type: 'claiming', reason: `claiming an address of pool ${config.pool.tagKey}=${config.pool.tagValue ?? '*'}` });
      const claimed = await claim(
        { ec2, imds: deps.imds, report, log, timing, ...(deps.reads ? { reads: deps.reads } : {}) },
        { pool: config.pool, target: me.target, region: me.region, relist: { intervalMs: config.relistIntervalMs, maxMs: 30_000 }, liveCheckProves: check.proves },
        timeout.signal,
      );
      report({ type: 'verifying', reason: `checking ${claimed.publicIp} is live` });
      const seen = await waitLive({ check, ec2, target: me.target, report, log, timing, intervalMs: deps.intervals?.liveMs }, claimed, timeout.signal);
      if (seen === 'live') return claimed;
      report({ type: 'unlanded' });
      report({ type: 'claiming', reason: `${claimed.publicIp} is no longer on ${me.target.networkInterfaceId}: claiming again` });
    }
  } catch (error) {
    if (error instanceof ClaimTimeout) {
      throw new AgentError('transient', 'claim.timeout', `--claim-timeout ${config.claimTimeoutMs / 1000}s expired: ${agent.store.status().reason ?? 'no address claimed'}`);
    }
    throw error;
  } finally {
    timeout.cancel();
  }
}

async function ready(agent: Agent, me: Me, ec2: Ec2Port, check: LiveCheck, claimed: Claimed): Promise<void> {
  const { deps, report, metrics, stop } = agent;
  const { log, timing } = deps;
  report({ type: 'ready' });
  metrics.secondsToReady = (timing.clock.now() - agent.started) / 1000;
  log.info('ready', { ...claimed, secondsToReady: metrics.secondsToReady, ec2Calls: metrics.ec2CallTotal() });
  agent.cluster.event({
    type: 'Normal',
    reason: 'AddressClaimed',
    message: `${claimed.resumed ? 'resumed' : 'claimed'} ${claimed.publicIp} (${claimed.allocationId}) on ${me.target.networkInterfaceId}: ready in ${metrics.secondsToReady.toFixed(1)} s with ${metrics.ec2CallTotal()} EC2 calls`,
  });
  await deps.notify(`READY=1\nSTATUS=ready: ${claimed.publicIp} on ${me.target.networkInterfaceId}`).then(
    () => log.debug('notify.sent', { state: 'READY=1' }),
    (error: unknown) => log.warn('notify.failed', { error: errorMessage(error) }),
  );
  agent.background(checkHopLimit(agent, me, ec2));
  if (check.watch) {
    agent.background(watchLive({ check, ec2, target: me.target, report, log, timing, intervalMs: deps.intervals?.watchMs, pool: deps.config.pool }, claimed, stop.signal));
  }
}

/**
 * Pods in their own network namespace reach IMDS, and so the node role, when the hop limit
 * is above 1 (README, "IAM"). Read once, after ready (one Describe call, off the claim's
 * path, spread so that peers still claiming keep the Describe bucket): a warning when it
 * is above 1; nothing but a note when the role may not read it.
 */
async function checkHopLimit(agent: Agent, me: Me, ec2: Ec2Port): Promise<void> {
  const { deps } = agent;
  let options;
  try {
    await deps.timing.sleep(Math.round(deps.timing.random() * offPathReadWindowMs(agent.metrics.poolSize ?? 1)), agent.stop.signal);
    // A refusal (the policy lacks DescribeInstances) is a note, not worth a minute of waits.
    options = await retrying(() => ec2.metadataOptions(me.target.instanceId), { policy: { ...(deps.reads ?? EC2_READ_RETRY), attempts: 3, refused: undefined }, timing: deps.timing, signal: agent.stop.signal });
  } catch (error) {
    if (agent.stop.signal.aborted) return;
    if (!isAgentError(error)) throw error;
    deps.log.info('imds.hop-limit', { instanceId: me.target.instanceId, note: `cannot read the IMDS hop limit: ${errorMessage(error)}` });
    return;
  }
  const hopLimit = options?.hopLimit;
  if (hopLimit !== undefined && hopLimit > 1) {
    deps.log.warn('imds.hop-limit', { instanceId: me.target.instanceId, hopLimit, note: 'pods in their own network namespace can reach IMDS and borrow the node role, which can move pool addresses; set the hop limit to 1 (README, IAM)' });
  } else {
    deps.log.debug('imds.hop-limit', { instanceId: me.target.instanceId, hopLimit, httpTokens: options?.httpTokens });
  }
}

async function endOfLife(agent: Agent, life: Life, termination: Termination): Promise<number> {
  const { deps, report, metrics } = agent;
  const { config, log, timing } = deps;
  if (!termination.release) {
    // G5a: a restart is not the end of the node; the next start resumes the address (G3).
    const kept = life.claimed && heldNow(agent.store.status(), life.claimed);
    log.info('restart.keep', { detail: termination.detail, allocationId: kept?.allocationId, publicIp: kept?.publicIp, associationId: kept?.associationId });
    return 0;
  }
  const { me, ec2 } = life;
  // Cut short, the claim may hold an address that reads do not show yet. Claimed, it is held
  // under the association /status shows: one put back by hand was adopted meanwhile (G3).
  const held = life.claimed ? heldNow(agent.store.status(), life.claimed) : me && ec2 ? await heldAfterCutShort(agent, ec2, me.target) : undefined;
  if (!held || !ec2 || !me) {
    // No address: nothing for the next node to wait for, so no drain wait either.
    log.info('release.skipped', { reason: 'no pool address held' });
    report({ type: 'released', reason: 'nothing to release' });
    return 0;
  }
  report({ type: 'draining', reason: 'waiting for workload pods to leave' });
  const drainStart = timing.clock.now();
  const drain = await drainWait({ kube: life.kube, nodeName: me.nodeName, report, log, timing, intervalMs: deps.intervals?.drainMs }, config.drainTimeoutMs, agent.latch.forced);
  metrics.drainSeconds = (timing.clock.now() - drainStart) / 1000;
  if (drain === 'timeout') {
    agent.cluster.event({ type: 'Warning', reason: 'DrainTimedOut', message: `workload pods still on ${me.nodeName} after ${config.drainTimeoutMs / 1000} s; releasing ${held.publicIp} anyway: the instance is going away` });
  }
  // The release's own budget starts after the drain wait, which may take --drain-timeout.
  const budget = deadline(timing, RELEASE_BUDGET_MS, new AbortController().signal, () => new AgentError('transient', 'release.timeout', `the release did not finish within ${RELEASE_BUDGET_MS / 1000} s`));
  try {
    // The label goes first: IP-bound workloads must not be placed on a node losing its IP.
    await agent.cluster.withdraw(AbortSignal.any([budget.signal, deadline(timing, CLUSTER_BUDGET_MS, budget.signal, () => new Error('unlabel took too long')).signal]));
    report({ type: 'releasing', reason: `disassociating ${held.publicIp}` });
    log.info('release.start', { ...held, drain });
    const releaseDeps = { ec2, log, timing, ...(deps.reads ? { reads: deps.reads } : {}) };
    let given = held;
    let outcome = await releaseAddress(releaseDeps, held, me.target, budget.signal);
    if (outcome === 'not-ours') {
      // Ours is whatever pool address sits on our interface and private IP (G3): another one
      // put there by hand while ours was away is what a restarted agent would resume — and release.
      const other = await poolAddressOnTarget(agent, ec2, me.target, budget.signal);
      if (other && other.allocationId !== held.allocationId) {
        log.info('address.readopted', { ...other, previousAllocationId: held.allocationId, previousAssociationId: held.associationId, when: 'release' });
        given = other;
        outcome = await releaseAddress(releaseDeps, other, me.target, budget.signal);
      }
    }
    report({ type: 'released', reason: outcome });
    agent.cluster.event({ type: 'Normal', reason: 'AddressReleased', message: `${given.publicIp} (${given.allocationId}) ${outcome} after the drain (${drain})` });
    await agent.cluster.flush(deadline(timing, CLUSTER_BUDGET_MS, budget.signal, () => new Error('events took too long')).signal);
    return 0;
  } finally {
    budget.cancel();
  }
}

/** What the node holds as /status shows it: the live watch adopts what is put back on our target (G3). */
function heldNow(status: Status, claimed: Claimed): Held {
  const { allocationId, publicIp, associationId } = status;
  return allocationId && publicIp && associationId ? { allocationId, publicIp, associationId } : claimed;
}

/** The pool address on our interface and private IP now, by one listing; undefined when none (or the listing fails). */
async function poolAddressOnTarget(agent: Agent, ec2: Ec2Port, target: Target, signal: AbortSignal): Promise<Held | undefined> {
  const { deps } = agent;
  const listing = await retrying(() => ec2.listPool(deps.config.pool), { policy: deps.reads ?? EC2_READ_RETRY, timing: deps.timing, signal }).catch((error: unknown) =>
    isAgentError(error) || signal.aborted ? undefined : Promise.reject(error),
  );
  const held = listing && viewPool(listing, deps.config.pool, target).held;
  return held && { allocationId: held.allocationId, associationId: held.associationId!, publicIp: held.publicIp };
}

/** The claim was cut short: an association may have landed without our knowing its id. */
async function heldAfterCutShort(agent: Agent, ec2: Ec2Port, target: Target): Promise<Held | undefined> {
  const { deps } = agent;
  const budget = deadline(deps.timing, RELEASE_BUDGET_MS, new AbortController().signal, () => new Error('reading what the claim left'));
  const read = <T>(fn: () => Promise<T>) =>
    retrying(fn, { policy: deps.reads ?? EC2_READ_RETRY, timing: deps.timing, signal: budget.signal }).catch((error: unknown) =>
      isAgentError(error) || budget.signal.aborted ? undefined : Promise.reject(error),
    );
  try {
    const trail = agent.store.trail();
    const listing = (await read(() => ec2.listPool(deps.config.pool))) ?? [];
    let held = viewPool(listing, deps.config.pool, target).held;
    for (const allocationId of trail.uncertain) {
      if (held) break;
      const seen = await read(() => ec2.describeAllocation(allocationId));
      if (seen && isOn(seen, target)) held = seen;
    }
    if (held) return { allocationId: held.allocationId, associationId: held.associationId!, publicIp: held.publicIp };
    // Reads may still lag the association whose 200 we saw.
    return trail.landed;
  } finally {
    budget.cancel();
  }
}
