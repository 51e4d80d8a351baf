// The one builder of the daemon's dependencies outside production, for the in-process
// tier, the benchmark and the soak. The configuration comes from readFlags + runConfig as
// in cli/main.ts; only the transport differs: straight over the World on a fake clock, or
// over HTTP to the simulator with each node's own clients.
import { Agent as HttpAgent } from 'node:http';
import { createEc2Client, createEc2Port } from '../../agent/adapters/ec2.js';
import { startHealthServer } from '../../agent/adapters/health.js';
import { createImdsClient } from '../../agent/adapters/imds-client.js';
import { createImdsPort } from '../../agent/adapters/imds.js';
import { createKubeClient } from '../../agent/adapters/kube.js';
import { loadKubeconfig } from '../../agent/adapters/kubeconfig.js';
import { readFlags, runConfig, type Env, type RunConfig } from '../../agent/cli/config.js';
import { liveCheckFor } from '../../agent/cli/wiring.js';
import type { DaemonDeps, HealthView } from '../../agent/lifecycle/daemon.js';
import { memoryLogger, type LoggedEvent, type LogLevel } from '../../agent/shared/log.js';
import type { RetryPolicy } from '../../agent/shared/pacing.js';
import type { Ec2CallRecord, Ec2Port, ImdsPort, KubePort } from '../../agent/shared/ports.js';
import { systemTiming, type Timing } from '../../agent/shared/time.js';
import { rng } from '../fuzz/random.js';
import type { Sim, SimNode } from '../sim/sim.js';
import { inProcessImds, type InProcessEc2 } from '../sim/world-ports.js';

export const POOL_FLAGS = { tagKey: 'color', tagValue: 'orange' };

/** A run configuration from command-line flags (camelCase keys) and environment, as main.ts builds it. */
export function testConfig(flags: Record<string, unknown>, env: Env = {}): RunConfig {
  const parsed = readFlags('run', { ...POOL_FLAGS, healthListen: '127.0.0.1:0', ...flags }, env);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const config = runConfig(parsed.value, env);
  if (!config.ok) throw new Error(config.errors.join('; '));
  return config.value;
}

export interface Built {
  deps: DaemonDeps;
  log: ReturnType<typeof memoryLogger>;
  /** as the process would get it */
  signal(name: 'SIGTERM' | 'SIGINT'): void;
  /** what `systemctl is-system-running` answers (G5a) */
  systemStopping: boolean;
  /** the view the daemon served (in-process tier: no HTTP server) */
  health(): HealthView | undefined;
  events(event?: LoggedEvent['event']): LoggedEvent[];
}

export interface BuildOptions {
  config: RunConfig;
  timing: Timing;
  imds: ImdsPort;
  ec2For: DaemonDeps['ec2For'];
  kube?: KubePort;
  /** serve the health endpoint over HTTP (port 0); default: only hand the view to the test */
  http?: boolean;
  reads?: RetryPolicy;
  intervals?: DaemonDeps['intervals'];
  logLevel?: LogLevel;
  identityBudgetMs?: number;
}

export function buildDeps(options: BuildOptions): Built {
  const log = memoryLogger({ now: options.timing.clock.now, level: options.logLevel ?? 'debug' });
  let handler: ((signal: string) => void) | undefined;
  let view: HealthView | undefined;
  const built: Built = {
    log,
    systemStopping: false,
    signal: (name) => handler?.(name),
    health: () => view,
    events: (event) => (event ? log.events.filter((e) => e.event === event) : log.events),
    deps: {
      config: options.config,
      version: '0.0.0-test',
      log,
      timing: options.timing,
      imds: options.imds,
      ec2For: options.ec2For,
      kube: async () => options.kube,
      liveCheck: liveCheckFor(options.config.liveCheck, options.imds, options.config.egressCheckUrl),
      notify: async () => {},
      signals: (h) => {
        handler = h;
        return () => (handler = undefined);
      },
      isSystemStopping: async () => built.systemStopping,
      serveHealth: async (v) => {
        view = v;
        if (options.http) return startHealthServer(options.config.health, v, options.config.controlSocket);
        return { listen: 'in-process', close: async () => {} };
      },
      ...(options.reads ? { reads: options.reads } : {}),
      ...(options.intervals ? { intervals: options.intervals } : {}),
      ...(options.identityBudgetMs ? { identityBudgetMs: options.identityBudgetMs } : {}),
    },
  };
  return built;
}

/** In-process: the World's ports on the test's clock. */
export function worldDeps(ec2: InProcessEc2, instanceId: string, time: Timing, config: RunConfig, extra: Partial<BuildOptions> = {}): Built {
  return buildDeps({
    config,
    timing: time,
    imds: inProcessImds(ec2.world, instanceId, time),
    ec2For: (_region, onCall) => ec2.portFor(instanceId, onCall),
    ...extra,
  });
}

export interface HttpDepsOptions {
  flags?: Record<string, unknown>;
  env?: Env;
  /** give the daemon a client of the simulated Kubernetes API (the node's kubeconfig) */
  kube?: boolean;
  /** IMDS timeout: one event loop serving hundreds of simulated hosts lags past the agent's 1 s */
  imdsTimeoutMs?: number;
  reads?: RetryPolicy;
  intervals?: DaemonDeps['intervals'];
  /** wraps the node's EC2 port (e.g. to watch what it is told) */
  wrapEc2?: (port: Ec2Port) => Ec2Port;
  logLevel?: LogLevel;
  /** seeds the agent's random source (jitter and spreads); default Math.random */
  seed?: number;
  identityBudgetMs?: number;
}

/**
 * The EC2 adapter's port for a simulated node over HTTP, with the node's role credentials and
 * the endpoint given explicitly: the SDK's default chain would read
 * AWS_EC2_METADATA_SERVICE_ENDPOINT from the one process.env that every in-process agent shares.
 */
export function nodeEc2Port(sim: Sim, node: SimNode, region: string, onCall?: (record: Ec2CallRecord) => void): Ec2Port {
  const { accessKeyId, secretAccessKey, sessionToken } = node.instance.credentials;
  const client = createEc2Client({ region, endpoint: sim.ec2.url, credentials: { accessKeyId, secretAccessKey, sessionToken } });
  return createEc2Port({ client, ...(onCall ? { onCall } : {}) });
}

/** The IMDS port of a simulated node over HTTP, on its own listener. */
export function nodeImdsPort(node: SimNode, timeoutMs?: number): ImdsPort {
  // Its own small pool: hundreds of simulated hosts in one process share one fd limit, and
  // eight sockets each to an IMDS that answers in a millisecond would exhaust it.
  return createImdsPort(createImdsClient({ endpoint: node.imds.url, agent: new HttpAgent({ keepAlive: true, maxSockets: 2 }), ...(timeoutMs ? { timeoutMs } : {}) }));
}

/**
 * Over HTTP to the simulator, with the node's own IMDS listener and clients. The EC2
 * client gets the node's role credentials and the endpoint explicitly: the SDK's default
 * chain would read AWS_EC2_METADATA_SERVICE_ENDPOINT from the one process.env that every
 * in-process agent shares.
 */
export async function httpDeps(sim: Sim, node: SimNode, options: HttpDepsOptions = {}): Promise<Built> {
  // Each simulated host has its own /run: its own control socket.
  const env = { AWS_EC2_METADATA_SERVICE_ENDPOINT: node.imds.url, EIP_AGENT_CONTROL_SOCKET: sim.env(node)['EIP_AGENT_CONTROL_SOCKET']!, ...options.env };
  const config = testConfig(options.flags ?? {}, env);
  const kubeTarget = options.kube ? await loadKubeconfig(node.kubeconfig) : undefined;
  const ec2For = (region: string, onCall: (record: Ec2CallRecord) => void): Ec2Port => {
    const port = nodeEc2Port(sim, node, region, onCall);
    return options.wrapEc2 ? options.wrapEc2(port) : port;
  };
  const seeded = options.seed === undefined ? undefined : rng(options.seed);
  return buildDeps({
    config,
    timing: seeded ? { ...systemTiming, random: () => seeded.next() } : systemTiming,
    imds: nodeImdsPort(node, options.imdsTimeoutMs),
    ec2For,
    ...(kubeTarget ? { kube: createKubeClient(kubeTarget) } : {}),
    http: true,
    ...(options.reads ? { reads: options.reads } : {}),
    ...(options.intervals ? { intervals: options.intervals } : {}),
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    ...(options.identityBudgetMs ? { identityBudgetMs: options.identityBudgetMs } : {}),
  });
}
