// The production dependencies of the daemon, built from the validated configuration.
import { execFile } from 'node:child_process';
import { createEc2Client, createEc2Port } from '../adapters/ec2.js';
import { egressProbe } from '../adapters/egress.js';
import { createImdsClient } from '../adapters/imds.js';
import { createKubeClient } from '../adapters/kube.js';
import { loadKubeconfig } from '../adapters/kubeconfig.js';
import type { RunConfig } from './config.js';
import type { DaemonDeps } from '../lifecycle/daemon.js';
import type { Logger } from '../shared/log.js';
import { systemdNotify } from '../adapters/notify.js';
import { sleep, systemClock } from '../shared/time.js';

export async function productionDeps(config: RunConfig, log: Logger): Promise<DaemonDeps> {
  // A malformed kubeconfig is reported now, at start, not at shutdown when it is too late.
  const kubeTarget = await loadKubeconfig(config.kubeconfig);
  if (!kubeTarget) log.warn('drain.skipped', { kubeconfig: config.kubeconfig, reason: 'file not found: the drain wait will be skipped' });
  return {
    config,
    log,
    clock: systemClock,
    sleep,
    random: Math.random,
    imds: createImdsClient({ endpoint: config.imdsEndpoint }),
    ec2For: (region, onCall) => createEc2Port({ client: createEc2Client({ region }), onCall }),
    kube: kubeTarget ? createKubeClient(kubeTarget) : undefined,
    egressProbe: egressProbe(config.egressCheckUrl),
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
  };
}
