// In-process agents for the benchmark: one simulated instance each, with its own IMDS
// listener, IMDS client, EC2 client and health port, talking real HTTP to the simulator.
// The daemon is the shipped `runDaemon` (agent/lifecycle/daemon.ts) with the shipped claim
// code, built by test/helpers/deps.ts; only the wiring differs from agent/cli/wiring.ts, where
// a process-wide setting would be shared by every agent of this one process (BENCHMARKS.md).
import { runDaemon } from '../../agent/lifecycle/daemon.js';
import type { LoggedEvent, LogEvent } from '../../agent/shared/log.js';
import type { Ec2Port } from '../../agent/shared/ports.js';
import { rng } from '../fuzz/random.js';
import { httpDeps, type Built } from '../helpers/deps.js';
import { Sim, type SimNode, type SimOptions } from '../sim/sim.js';
import { accountBuckets, type AccountLoad } from '../sim/throttle.js';
import type { SeenAssociation } from './checks.js';

export const TAGS = { color: 'orange' };
/**
 * The one deviation from production settings: IMDS is local to each host and answers in
 * milliseconds, so the agent gives up on it after 1 s; here one event loop serves hundreds
 * of IMDS listeners, agents and the EC2 simulator: it lags past 1 s at N = 200 and past 5 s
 * at N = 500 (and identity reads get 300 s instead of 20 s).
 */
export const IMDS_TIMEOUT_MS = 15_000;
export const POOL = { tagKey: 'color', tagValue: 'orange' };

/** The simulated account for a scenario: throttle and latency as in AWS-NOTES, faults on request. */
export interface WorldShape {
  nodes: number;
  pool: number;
  /** EC2 latency per call, uniform in [min, max] ms */
  latencyMs: [number, number];
  throttle: boolean;
  /** EC2 → IMDS propagation of a new association */
  imdsLagMs: number;
  /** per-call probability of each EC2 error */
  errorRate?: { RequestLimitExceeded?: number; InternalError?: number };
  /** DescribeAddresses answers from the state this many ms ago */
  staleReadMs?: number;
  /** the first this-many AssociateAddress calls on a free address lose to a foreign one */
  raceNext?: number;
  /** seeds the simulator's faults and latency (and the agents' random, in the runs that take it) */
  seed?: number;
  /** a busy account: smaller buckets, a neighbour's share of the refill (throttle must be on) */
  load?: AccountLoad;
  /** every node's interface is unknown to EC2's API for its first this-many ms */
  unknownMs?: number;
}

export const REALISTIC: Omit<WorldShape, 'nodes' | 'pool'> = { latencyMs: [50, 150], throttle: true, imdsLagMs: 500 };

export async function startWorld(shape: WorldShape): Promise<Sim> {
  const faults = rng((shape.seed ?? 1) ^ 0x51a);
  const options: SimOptions = {
    pool: shape.pool,
    tags: TAGS,
    instances: shape.nodes,
    imdsLagMs: shape.imdsLagMs,
    ec2: {
      ...(shape.seed !== undefined ? { random: () => faults.next() } : {}),
      faults: { latencyMs: shape.latencyMs, throttle: shape.throttle && shape.load ? accountBuckets(shape.load) : shape.throttle, errorRate: shape.errorRate ?? {}, staleReadMs: shape.staleReadMs ?? 0, raceNext: shape.raceNext ?? 0 },
    },
  };
  const sim = await Sim.start(options);
  if (shape.unknownMs) for (const node of sim.nodes) sim.world.unknownFor(node.instance.enis[0]!.networkInterfaceId, shape.unknownMs);
  // The pool was made long before: stale reads must not see it missing.
  if (shape.staleReadMs) await new Promise((r) => setTimeout(r, shape.staleReadMs));
  return sim;
}

/** Records the association ids an Ec2Port gets back (for the double-claim replay); changes nothing. */
export function observed(port: Ec2Port, seen: SeenAssociation[]): Ec2Port {
  return {
    ...port,
    async associate(request) {
      const associationId = await port.associate(request);
      seen.push({ associationId, allocationId: request.allocationId, networkInterfaceId: request.networkInterfaceId });
      return associationId;
    },
  };
}


export interface AgentHandle {
  node: SimNode;
  log: Built['log'];
  startedAt: number;
  /** resolves with runDaemon's exit code, or the error it threw */
  done: Promise<number | Error>;
  /** the shipped daemon's own `ready` event */
  readyAt(): number | undefined;
  has(event: LogEvent): boolean;
  /** a SIGTERM as systemd sends it on a restart: the daemon exits and keeps its address (G5a) */
  stop(): void;
  /** what `eip-agent release` asks on the control socket: drain-wait, then release */
  release(): Promise<unknown>;
}

export interface AgentOptions {
  /** give the daemon a Kubernetes client for the drain wait (the node's sim kubeconfig) */
  kube?: boolean;
  /** extra flags, e.g. { relistInterval: 5 } (camelCase names, as args.ts passes them) */
  flags?: Record<string, unknown>;
  /** seeds the agent's random (jitter, spreads) */
  seed?: number;
}

/** Starts the shipped daemon for one simulated node, in this process (test/helpers/deps.ts wires it). */
export async function startAgent(sim: Sim, node: SimNode, seen: SeenAssociation[], options: AgentOptions = {}): Promise<AgentHandle> {
  // INVOCATION_ID makes a SIGTERM a restart (keep the address), so teardown costs no EC2 calls.
  const built = await httpDeps(sim, node, {
    flags: options.flags ?? {},
    env: { INVOCATION_ID: 'eip-agent-bench' },
    ...(options.kube ? { kube: true } : {}),
    imdsTimeoutMs: IMDS_TIMEOUT_MS,
    wrapEc2: (port) => observed(port, seen),
    logLevel: 'info',
    // Hundreds of simulated hosts share one event loop: their IMDS is slower than a host's.
    identityBudgetMs: 300_000,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
  const startedAt = Date.now();
  const done = runDaemon(built.deps).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  const find = (event: LogEvent): LoggedEvent | undefined => built.log.events.find((e) => e.event === event);
  return {
    node,
    log: built.log,
    startedAt,
    done,
    readyAt: () => find('ready')?.at,
    has: (event) => find(event) !== undefined,
    stop: () => built.signal('SIGTERM'),
    release: async () => built.health()?.release(false),
  };
}

/** Polls a condition every 50 ms until it holds or `timeoutMs` passes; says whether it held. */
export async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Stops every daemon and waits for them (bounded), then closes the simulator. */
export async function teardown(sim: Sim, agents: readonly AgentHandle[]): Promise<void> {
  for (const agent of agents) agent.stop();
  await Promise.race([Promise.all(agents.map((a) => a.done)), new Promise((r) => setTimeout(r, 10_000))]);
  await sim.close();
}
