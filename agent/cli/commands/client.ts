// `wait`, `status`, `release`: small clients of the daemon's health endpoint.
import type { ClientConfig, ControlConfig } from '../config.js';
import { AgentError, errorMessage } from '../../shared/errors.js';
import type { Status } from '../../core/status.js';
import type { Clock, Sleep } from '../../shared/time.js';
import { httpRequest } from '../../adapters/http.js';

export interface Out {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Where to reach the daemon: a wildcard listen is reached on loopback. */
export function baseUrl(config: ClientConfig): string {
  const { host, port } = config.health;
  const reach = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`;
}

/** `timeoutMs` bounds the whole exchange; 0: no bound. `socketPath`: over a Unix socket. */
async function call(url: string, method: 'GET' | 'POST', timeoutMs: number, socketPath?: string): Promise<{ status: number; body: string }> {
  try {
    const res = await httpRequest({ url, method, timeoutMs, ...(socketPath ? { socketPath } : {}) });
    return { status: res.status, body: res.body };
  } catch (error) {
    const where = socketPath ? `${socketPath} (--control-socket)` : url;
    const hint = (error as { code?: unknown }).code === 'EACCES' ? ': only root may ask for a release' : '';
    throw new AgentError('transient', 'daemon.unreachable', `no eip-agent daemon answers at ${where}: ${errorMessage(error)}${hint}`, { cause: error });
  }
}

export interface WaitDeps extends Out {
  clock: Clock;
  sleep: Sleep;
  intervalMs?: number;
}

/** The gate: 0 once /readyz says ready, 1 at the timeout. */
export async function waitCommand(config: ClientConfig, timeoutS: number, deps: WaitDeps): Promise<number> {
  const url = `${baseUrl(config)}/readyz`;
  const deadline = deps.clock.now() + timeoutS * 1000;
  let last = 'no answer yet';
  for (;;) {
    try {
      const res = await call(url, 'GET', 2000);
      if (res.status === 200) {
        deps.stderr(`eip-agent: ready\n`);
        return 0;
      }
      const readiness = JSON.parse(res.body) as { phase?: string; reason?: string; gateOpen?: boolean };
      last = `${readiness.phase ?? 'unknown'}${readiness.reason ? `: ${readiness.reason}` : ''}`;
      // --gate label: the daemon's wait for an address is over; kubelet starts without one.
      if (readiness.gateOpen === true) {
        deps.stderr(`eip-agent: no address yet (${last}); the gate opens anyway (--gate label)\n`);
        return 0;
      }
      // A daemon that failed or let go will not become ready: stop waiting at once.
      if (readiness.phase === 'failed' || readiness.phase === 'released') break;
    } catch (error) {
      last = errorMessage(error);
    }
    if (deps.clock.now() >= deadline) break;
    await deps.sleep(Math.min(deps.intervalMs ?? 1000, Math.max(0, deadline - deps.clock.now())));
  }
  deps.stderr(`eip-agent wait: not ready after ${timeoutS}s: ${last}\n`);
  return 1;
}

export async function statusCommand(config: ClientConfig, format: string, out: Out): Promise<number> {
  const res = await call(`${baseUrl(config)}/status`, 'GET', 5000);
  const status = JSON.parse(res.body) as Status;
  out.stdout(format === 'text' ? statusTable(status) : `${JSON.stringify(status, null, 2)}\n`);
  return 0;
}

export function statusTable(status: Status): string {
  const rows: [string, unknown][] = [
    ['phase', status.phase],
    ['reason', status.reason],
    ['instance', status.instanceId],
    ['node', status.nodeName],
    ['region', status.region],
    ['interface', status.networkInterfaceId],
    ['private IP', status.privateIp],
    ['public IP', status.publicIp],
    ['allocation', status.allocationId],
    ['association', status.associationId],
    ['pool', `${status.pool.tagKey}=${status.pool.tagValue ?? '*'} (${status.pool.free ?? '?'} of ${status.pool.size ?? '?'} free)`],
    ['ready since', status.readySince],
    // The gate: whether kubelet may start, and by which policy (--gate).
    ['gate', `${status.gate.open ? 'open' : 'closed'} (--gate ${status.gate.policy})`],
    ['termination', status.termination],
    ['rebalance', status.rebalanceNotice],
    ['attempts', status.attempts],
    ['conflicts', status.conflicts],
    ['last error', status.lastError],
    ['version', status.version],
    ...(status.warnings?.length ? status.warnings.map((w): [string, unknown] => ['warning', w]) : []),
  ];
  return `${rows.map(([k, v]) => `${k.padEnd(12)} ${v ?? '-'}`).join('\n')}\n`;
}

/** Asks the daemon, over its root-only socket, to drain-wait and release; answers once it has. */
export async function releaseCommand(config: ControlConfig, force: boolean, out: Out): Promise<number> {
  // The daemon answers only when released: the drain wait may take --drain-timeout.
  const res = await call(`http://localhost/release${force ? '?force=true' : ''}`, 'POST', 0, config.controlSocket);
  if (res.status !== 200) {
    out.stderr(`eip-agent release: the daemon refused (${res.status}): ${res.body.trim()}\n`);
    return 1;
  }
  const status = JSON.parse(res.body) as Status;
  out.stdout(`${JSON.stringify({ phase: status.phase, publicIp: status.publicIp, allocationId: status.allocationId, reason: status.reason })}\n`);
  return status.phase === 'released' ? 0 : 1;
}
