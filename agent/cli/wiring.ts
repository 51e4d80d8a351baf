// The production dependencies of the daemon, built from the validated configuration: the
// one place that picks adapters (and the live check) for the lifecycle.
import { execFile } from 'node:child_process';
import { egressProbe } from '../adapters/egress.js';
import { startHealthServer } from '../adapters/health.js';
import { createImdsClient } from '../adapters/imds-client.js';
import { createImdsPort } from '../adapters/imds.js';
import { systemdNotify } from '../adapters/notify.js';
import type { DaemonDeps } from '../lifecycle/daemon.js';
import { egressLiveCheck, imdsLiveCheck, noLiveCheck, type LiveCheck } from '../lifecycle/live.js';
import type { Logger } from '../shared/log.js';
import type { Ec2CallRecord, Ec2Port, ImdsPort, KubePort, Target } from '../shared/ports.js';
import { systemTiming } from '../shared/time.js';
import type { LiveCheck as LiveCheckName, RunConfig } from './config.js';
import { VERSION } from './embedded.js';

/** --live-check, chosen once. */
export function liveCheckFor(name: LiveCheckName, imds: ImdsPort, egressUrl: string): (target: Target) => LiveCheck {
  const checks: Record<LiveCheckName, (target: Target) => LiveCheck> = {
    imds: (target) => imdsLiveCheck(imds, target),
    egress: () => egressLiveCheck(egressProbe(egressUrl), egressUrl),
    none: () => noLiveCheck,
  };
  return checks[name];
}

/**
 * The EC2 port, with the AWS SDK (the bulk of the bundle) loaded when the region is known,
 * after the first IMDS answers, not before the agent's first request.
 */
export function lazyEc2Port(region: string, onCall: (record: Ec2CallRecord) => void): Ec2Port {
  const port = import('../adapters/ec2.js').then(({ createEc2Client, createEc2Port }) => createEc2Port({ client: createEc2Client({ region }), onCall }));
  // Surfaced by the first call that awaits it, not as an unhandled rejection meanwhile.
  port.catch(() => undefined);
  return {
    listPool: async (pool) => (await port).listPool(pool),
    describeAllocation: async (id) => (await port).describeAllocation(id),
    describePublicIp: async (ip) => (await port).describePublicIp(ip),
    associate: async (request) => (await port).associate(request),
    disassociate: async (id) => (await port).disassociate(id),
    metadataOptions: async (id) => (await port).metadataOptions(id),
  };
}

/**
 * The Kubernetes client: its code and YAML load when the daemon asks, after the identity (the
 * node's name is in it), and a malformed kubeconfig is reported then, before any change (G6),
 * not at shutdown when it is too late.
 */
export async function kubeFromConfig(path: string, log: Logger): Promise<KubePort | undefined> {
  const [{ loadKubeconfig }, { createKubeClient }] = await Promise.all([import('../adapters/kubeconfig.js'), import('../adapters/kube.js')]);
  const target = await loadKubeconfig(path);
  if (!target) log.warn('drain.skipped', { kubeconfig: path, reason: 'file not found: the drain wait will be skipped' });
  return target && createKubeClient(target);
}

export async function productionDeps(config: RunConfig, log: Logger): Promise<DaemonDeps> {
  const imds = createImdsPort(createImdsClient({ endpoint: config.imdsEndpoint }));
  return {
    config,
    version: VERSION,
    log,
    timing: systemTiming,
    imds,
    ec2For: lazyEc2Port,
    kube: () => kubeFromConfig(config.kubeconfig, log),
    liveCheck: liveCheckFor(config.liveCheck, imds, config.egressCheckUrl),
    notify: systemdNotify(config.notifySocket),
    signals: (handler) => {
      const on = (signal: NodeJS.Signals) => handler(signal);
      process.on('SIGTERM', on);
      process.on('SIGINT', on);
      return () => {
        process.off('SIGTERM', on);
        process.off('SIGINT', on);
      };
    },
    isSystemStopping: () =>
      new Promise((resolve) => {
        // is-system-running exits non-zero for every state but `running`: read its output.
        execFile('systemctl', ['is-system-running'], { timeout: 5000 }, (_error, stdout) => resolve(String(stdout).trim() === 'stopping'));
      }),
    serveHealth: (view) => startHealthServer(config.health, view, config.controlSocket),
    settle: withoutOptimisingCompilers,
  };
}

/**
 * The agent's CPU is a few IMDS reads a minute once ready, which interpreted and baseline code
 * serve; left on, TurboFan and Maglev compile the start's busiest code and those polls, and page
 * in +5 MB of their own machine code (issue 22, smaps). Off once the identity is read and the
 * code loaded, not as flags at start: V8 checks every code cache against its flags, and a flag
 * at start costs every built-in module its cache, +20 ms before the first request (build.mjs).
 */
function withoutOptimisingCompilers(): void {
  const v8 = process.getBuiltinModule('node:v8');
  v8.setFlagsFromString('--no-opt');
  v8.setFlagsFromString('--no-maglev');
}
