// `eip-agent run`: identity → claim or resume → prove live → ready → wait for the end of
// the node's life → drain-wait → release. Built from explicit dependencies; main.ts wires
// the production ones.
import { claim, type ClaimProgress, type Claimed } from './claim.js';
import { describeConfig, type RunConfig } from '../cli/config.js';
import { isOn, viewPool, type Target } from '../core/pool.js';
import { AgentError, errorMessage } from '../shared/errors.js';
import { startHealthServer } from '../adapters/health.js';
import { identify, imdsProbe, publicIpsOn } from './identify.js';
import { waitLive, watchLive, type LiveProbe } from './live.js';
import type { Logger } from '../shared/log.js';
import { Metrics } from '../shared/metrics.js';
import { TerminationLatch, signalTermination, watchImds, type Termination } from './monitors.js';
import type { Notify } from '../adapters/notify.js';
import type { Ec2CallRecord, Ec2Port, ImdsPort, KubePort } from '../shared/ports.js';
import { drainWait, releaseAddress, type Held } from './release.js';
import { AWS_RETRY, retrying, type RetryOptions } from '../shared/retry.js';
import { AgentState, type Status } from './state.js';
import type { Clock, Sleep } from '../shared/time.js';

export type SignalSource = (handler: (signal: string) => void) => () => void;

export interface DaemonDeps {
  config: RunConfig;
  log: Logger;
  clock: Clock;
  sleep: Sleep;
  random: () => number;
  imds: ImdsPort;
  ec2For: (region: string, onCall: (record: Ec2CallRecord) => void) => Ec2Port;
  /** undefined: no kubeconfig, the drain wait is skipped */
  kube: KubePort | undefined;
  egressProbe: LiveProbe;
  notify: Notify;
  signals: SignalSource;
  isSystemStopping: () => Promise<boolean>;
  retry?: Omit<RetryOptions, 'signal' | 'onRetry'>;
  /** poll intervals; tests shorten them */
  intervals?: { liveMs?: number; watchMs?: number; imdsMs?: number; drainMs?: number };
}

// Shutdown gets its own budget: the claim's signal is already aborted by then.
const RELEASE_BUDGET_MS = 120_000;

export async function runDaemon(deps: DaemonDeps): Promise<number> {
  const { config, log, clock } = deps;
  const started = clock.now();
  const metrics = new Metrics();
  const state = new AgentState(config.pool, metrics, log, clock);
  const latch = new TerminationLatch();
  const stop = new AbortController();
  const retry = deps.retry ?? AWS_RETRY;
  let released: ((status: Status) => void) | undefined;
  const releasedStatus = new Promise<Status>((resolve) => (released = resolve));

  log.info('config', describeConfig(config));
  const health = await startHealthServer(config.health, {
    state,
    metrics,
    release: (force) => {
      latch.report({ source: 'request', detail: 'eip-agent release', release: true, force });
      return releasedStatus;
    },
  });
  log.info('health.listening', { listen: `${config.health.host}:${health.port}` });
  if (!config.health.loopback) {
    log.warn('health.exposed', { listen: config.health.host, note: 'non-loopback listen asked for; /release still accepts loopback peers only' });
  }

  let signals = 0;
  const unsubscribe = deps.signals((signal) => {
    signals += 1;
    void signalTermination(signal, { underSystemd: config.underSystemd, isSystemStopping: deps.isSystemStopping }, signals > 1).then(
      (t) => latch.report(t),
    );
  });
  void latch.first.then((t) => {
    log.info('termination', { ...t });
    state.set({ termination: t.detail });
    stop.abort(t);
  });

  let target: Target | undefined;
  let ec2: Ec2Port | undefined;
  let claimed: Claimed | undefined;
  const progress: ClaimProgress = { uncertain: new Set() };
  try {
    const me = await identify(deps.imds, config, stop.signal);
    target = me.target;
    state.set({ instanceId: target.instanceId, region: me.region, nodeName: me.nodeName, networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp });
    log.info('identity', { ...target, region: me.region, availabilityZone: me.availabilityZone, nodeName: me.nodeName });
    ec2 = deps.ec2For(me.region, (record) => metrics.countEc2(record.action, record.outcome));
    void watchImds({ imds: deps.imds, latch, state, log, sleep: deps.sleep, intervalMs: deps.intervals?.imdsMs }, stop.signal);

    const claimSignal = config.claimTimeoutMs > 0 ? AbortSignal.any([stop.signal, AbortSignal.timeout(config.claimTimeoutMs)]) : stop.signal;
    try {
      claimed = await claim(
        {
          ec2,
          publicIpsOnTarget: () => publicIpsOn(deps.imds, me.mac, me.target.privateIp),
          state,
          log,
          sleep: deps.sleep,
          random: deps.random,
          retry,
        },
        { pool: config.pool, target, relist: { intervalMs: config.relistIntervalMs, maxMs: 30_000 }, signal: claimSignal, progress },
      );
      state.set({ allocationId: claimed.allocationId, publicIp: claimed.publicIp, associationId: claimed.associationId });
      state.move('verifying', `checking ${claimed.publicIp} is live`);
      const live = {
        probe: config.liveCheck === 'imds' ? imdsProbe(deps.imds, me.mac, target.privateIp) : config.liveCheck === 'egress' ? deps.egressProbe : async () => true,
        state,
        log,
        sleep: deps.sleep,
        describe: config.liveCheck === 'egress' ? config.egressCheckUrl : `IMDS (${config.liveCheck})`,
        intervalMs: deps.intervals?.liveMs,
      };
      await waitLive(live, claimed.publicIp, claimSignal);
      state.move('ready', null);
      metrics.secondsToReady = (clock.now() - started) / 1000;
      log.info('ready', { ...claimed, secondsToReady: metrics.secondsToReady, ec2Calls: metrics.ec2CallTotal() });
      await deps.notify(`READY=1\nSTATUS=ready: ${claimed.publicIp} on ${target.networkInterfaceId}`).then(
        () => log.debug('notify.sent', { state: 'READY=1' }),
        (error: unknown) => log.warn('notify.sent', { error: errorMessage(error) }),
      );
      // Only IMDS is local enough to ask every few seconds; an echo service is not ours to poll.
      if (config.liveCheck === 'imds') void watchLive({ ...live, intervalMs: deps.intervals?.watchMs }, claimed.publicIp, stop.signal);
    } catch (error) {
      if (!stop.signal.aborted) {
        if (claimSignal.aborted) {
          throw new AgentError('transient', 'claim.timeout', `--claim-timeout ${config.claimTimeoutMs / 1000}s expired: ${state.status().reason ?? 'no address claimed'}`);
        }
        throw error;
      }
    }

    const termination = await latch.first;
    return await end(termination);
  } catch (error) {
    state.set({ lastError: errorMessage(error) });
    state.move('failed', errorMessage(error));
    throw error;
  } finally {
    stop.abort();
    unsubscribe();
    await health.close();
  }

  async function end(termination: Termination): Promise<number> {
    if (!termination.release) {
      // G5a: a restart is not the end of the node; the next start resumes the address (G3).
      log.info('restart.keep', { detail: termination.detail, allocationId: claimed?.allocationId, publicIp: claimed?.publicIp });
      return 0;
    }
    // Cut short, the claim may hold an address that reads do not show yet: what a read shows
    // first, else the association whose 200 we saw.
    const held = claimed ?? (ec2 && target ? ((await heldNow(ec2, target, AbortSignal.timeout(RELEASE_BUDGET_MS))) ?? progress.landed) : undefined);
    state.move('draining', 'waiting for workload pods to leave');
    const drainStart = clock.now();
    const outcome = await drainWait(
      { kube: deps.kube, nodeName: state.status().nodeName ?? '', state, log, clock, sleep: deps.sleep, intervalMs: deps.intervals?.drainMs },
      config.drainTimeoutMs,
      latch.forced,
    );
    metrics.drainSeconds = (clock.now() - drainStart) / 1000;
    if (!held || !ec2 || !target) {
      log.info('release.skipped', { reason: 'no pool address held', drain: outcome });
      state.move('released', 'nothing to release');
    } else {
      // The release's own budget starts after the drain wait, which may take --drain-timeout.
      const budget = AbortSignal.timeout(RELEASE_BUDGET_MS);
      state.move('releasing', `disassociating ${held.publicIp}`);
      log.info('release.start', { ...held, drain: outcome });
      const result = await releaseAddress({ ec2, log, sleep: deps.sleep, retry }, held, target, budget);
      state.set({ associationId: null });
      state.move('released', result);
    }
    released?.(state.status());
    return 0;
  }

  async function heldNow(ec2: Ec2Port, target: Target, signal: AbortSignal): Promise<Held | undefined> {
    // The claim was cut short: an association may have landed without our knowing its id.
    const read = <T>(fn: () => Promise<T>) => retrying(fn, { ...retry, signal }).catch(() => undefined);
    const listing = (await read(() => ec2.listPool(config.pool))) ?? [];
    let held = viewPool(listing, config.pool, target).held;
    for (const allocationId of progress.uncertain) {
      if (held) break;
      const seen = await read(() => ec2.describeAllocation(allocationId));
      if (seen && isOn(seen, target)) held = seen;
    }
    return held ? { allocationId: held.allocationId, associationId: held.associationId!, publicIp: held.publicIp } : undefined;
  }
}
