// The fleet scenarios of the benchmark: storm, over-subscribed pool with hand-offs, and the
// agent's ordering side by side with two naive baselines.
import { setMaxListeners } from 'node:events';
import type { Sim } from '../sim/sim.js';
import { runBaselineNode, type Baseline } from './baselines.js';
import { countDoubleClaims, type DoubleClaims, type SeenAssociation } from './checks.js';
import { REALISTIC, TAGS, startAgent, startWorld, teardown, until, type AgentHandle, type WorldShape } from './fleet.js';
import type { SimNode } from '../sim/sim.js';
import { callsUntilReady, summarize, type Summary } from './stats.js';
import { accountBuckets, floorS, type AccountLoad } from '../sim/throttle.js';

export type Strategy = 'agent' | Baseline;

export interface FleetRow {
  scenario: 'storm' | 'over-subscribed' | 'strategy' | 'spread' | 'trio' | 'unknown-eni';
  strategy: Strategy;
  nodes: number;
  pool: number;
  /** nodes that became ready */
  ready: number;
  /** EC2 HTTP requests per node (SDK retries included), from start until ready (or the end) */
  calls: Summary;
  /** AssociateAddress/DisassociateAddress requests per node until ready (throttled ones included) */
  mutating: Summary;
  /** s the account's buckets need at least for this fleet: the effective ones, under its load (floorS) */
  floorS: number;
  /** the account's load, when not the published buckets alone */
  load?: AccountLoad;
  /** s from the fleet's start to each ready node's ready, sorted (for the charts) */
  readyAtS: number[];
  callsByAction: Record<string, number>;
  throttled: number;
  lostRaces: number;
  /** s from the fleet's start until `pool` nodes were ready; undefined when the cap came first */
  allReadyS: number | undefined;
  capS: number;
  /** s from each node's start to its ready */
  readyS: Summary;
  doubleClaims: DoubleClaims;
  failures: string[];
  oversub?: OversubFigures;
}

export interface OversubFigures {
  waiting: number;
  windowS: number;
  /** DescribeAddresses per minute per waiting node during the steady window */
  describePerMinPerWaiter: number;
  /** all EC2 calls per minute per waiting node during the steady window */
  callsPerMinPerWaiter: number;
  /** s from the holder's DisassociateAddress answer to the next waiting node's ready */
  handoffS: Summary;
  /** s from the last workload pod gone to the holder's DisassociateAddress answer */
  podGoneToDisassociatedS: Summary;
}

interface Outcome {
  caller: string;
  startedAt: number;
  readyAt: number | undefined;
}

/**
 * The least time EC2's buckets need for `nodes` nodes on `pool` free addresses: each node
 * lists once (Describe: 100, +20/s) and each address is associated once (mutating: 50,
 * +5/s); whatever a bucket cannot serve from its burst waits for its refill.
 */
export function bucketFloorS(nodes: number, pool: number, load?: AccountLoad): number {
  return floorS(nodes, pool, accountBuckets(load));
}

function measure(sim: Sim, scenario: FleetRow['scenario'], strategy: Strategy, pool: number, t0: number, capS: number, outcomes: Outcome[], seen: SeenAssociation[], failures: string[], load?: AccountLoad): FleetRow {
  const calls = sim.ec2.calls;
  const perNode = callsUntilReady(calls, outcomes);
  const callsByAction: Record<string, number> = {};
  for (const c of calls) callsByAction[c.action] = (callsByAction[c.action] ?? 0) + 1;
  const readyAts = outcomes.flatMap((o) => (o.readyAt === undefined ? [] : [o.readyAt])).sort((a, b) => a - b);
  const need = Math.min(pool, outcomes.length);
  const filled = readyAts.length >= need ? readyAts[need - 1]! : undefined;
  return {
    scenario,
    strategy,
    nodes: outcomes.length,
    pool,
    ready: readyAts.length,
    calls: summarize(perNode.all),
    mutating: summarize(perNode.mutating),
    floorS: bucketFloorS(outcomes.length, pool, load),
    ...(load ? { load } : {}),
    readyAtS: readyAts.map((at) => (at - t0) / 1000),
    callsByAction,
    throttled: sim.ec2.count({ outcome: 'RequestLimitExceeded' }),
    lostRaces: sim.ec2.count({ outcome: 'Resource.AlreadyAssociated' }),
    allReadyS: filled === undefined ? undefined : (filled - t0) / 1000,
    capS,
    readyS: summarize(outcomes.flatMap((o) => (o.readyAt === undefined ? [] : [(o.readyAt - o.startedAt) / 1000]))),
    doubleClaims: countDoubleClaims(sim.ec2, sim.world, TAGS, seen),
    failures,
  };
}

async function startFleet(sim: Sim, seen: SeenAssociation[], failures: string[], options: { kube?: boolean; spreadMs?: number; seed?: number } = {}): Promise<AgentHandle[]> {
  const boot = (node: SimNode, i: number) => startAgent(sim, node, seen, { ...(options.kube ? { kube: true } : {}), ...(options.seed !== undefined ? { seed: options.seed * 1000 + i } : {}) });
  // Spread boots: node i starts i/N of the way through the window (as an Auto Scaling group
  // scaling out over a minute does).
  const spreadMs = options.spreadMs ?? 0;
  const agents = await Promise.all(
    sim.nodes.map(async (node, i) => {
      if (spreadMs > 0) await new Promise((r) => setTimeout(r, (spreadMs * i) / sim.nodes.length));
      return boot(node, i);
    }),
  );
  for (const agent of agents) {
    void agent.done.then((result) => {
      if (result instanceof Error) failures.push(`${agent.node.instance.instanceId}: ${result.message}`);
    });
  }
  return agents;
}

const outcomeOf = (a: AgentHandle): Outcome => ({ caller: a.node.instance.instanceId, startedAt: a.startedAt, readyAt: a.readyAt() });

export interface FleetShape {
  nodes: number;
  pool: number;
  /** boots spread uniformly over this many s (0: all at once) */
  spreadS?: number;
  /** the simulated account: defaults to REALISTIC */
  world?: Partial<Omit<WorldShape, 'nodes' | 'pool'>>;
  seed?: number;
}

/** A fleet boots on a pool: all at once, or spread over a window; the agent or a baseline. */
export async function fleet(shape: FleetShape, strategy: Strategy, capS: number, scenario: FleetRow['scenario'] = 'storm'): Promise<FleetRow> {
  const sim = await startWorld({ nodes: shape.nodes, pool: shape.pool, ...REALISTIC, ...shape.world, ...(shape.seed !== undefined ? { seed: shape.seed } : {}) });
  const seen: SeenAssociation[] = [];
  const failures: string[] = [];
  const t0 = Date.now();
  const spreadMs = (shape.spreadS ?? 0) * 1000;
  if (strategy === 'agent') {
    const agents = await startFleet(sim, seen, failures, { spreadMs, ...(shape.seed !== undefined ? { seed: shape.seed } : {}) });
    try {
      await until(() => agents.every((a) => a.readyAt() !== undefined) || failures.length > 0, capS * 1000);
      return measure(sim, scenario, strategy, shape.pool, t0, capS, agents.map(outcomeOf), seen, failures, shape.world?.load);
    } finally {
      await teardown(sim, agents);
    }
  }
  const cap = AbortSignal.timeout(capS * 1000);
  setMaxListeners(0, cap); // every node's sleeps listen on the one cap
  try {
    const runs = await Promise.all(
      sim.nodes.map(async (node, i) => {
        if (spreadMs > 0) await new Promise((r) => setTimeout(r, (spreadMs * i) / sim.nodes.length));
        return runBaselineNode(sim, node, strategy, seen, cap).catch((error: unknown) => {
          failures.push(`${node.instance.instanceId}: ${error instanceof Error ? error.message : String(error)}`);
          return { node, startedAt: t0, readyAt: undefined, conflicts: 0 };
        });
      }),
    );
    return measure(sim, scenario, strategy, shape.pool, t0, capS, runs.map((r) => ({ caller: r.node.instance.instanceId, startedAt: r.startedAt, readyAt: r.readyAt })), seen, failures, shape.world?.load);
  } finally {
    await sim.close();
  }
}

/** N nodes boot at once on N free addresses. */
export function storm(nodes: number, strategy: Strategy, capS: number, scenario: FleetRow['scenario'] = 'storm', load?: AccountLoad): Promise<FleetRow> {
  return fleet({ nodes, pool: nodes, ...(load ? { world: { load } } : {}) }, strategy, capS, scenario);
}

/**
 * Nodes whose interface EC2's API does not know for their first `unknownS` (eventual
 * consistency at boot): what it costs each node, and how soon it is ready once known.
 */
export function unknownEni(nodes: number, unknownS: number, capS: number): Promise<FleetRow> {
  return fleet({ nodes, pool: nodes, world: { unknownMs: unknownS * 1000 } }, 'agent', capS, 'unknown-eni');
}

export interface TrioRow {
  strategy: Strategy;
  runs: number;
  /** s to all ready, one value per seeded run (Infinity: not all ready within the cap) */
  allReadyS: Summary;
  calls: Summary;
  lostRaces: number;
  throttled: number;
  doubleClaims: number;
  failures: string[];
}

/** The faulty trio's account, over HTTP here and in process in model.ts. */
export const TRIO = {
  nodes: 3,
  pool: 4,
  imdsLagMs: 500,
  faults: { latencyMs: [50, 50] as [number, number], throttle: false, staleReadMs: 500, errorRate: { RequestLimitExceeded: 0.3, InternalError: 0.05 }, raceNext: 1 },
};

/**
 * The faulty trio (issue 11): three nodes on four addresses, 30 % RequestLimitExceeded, 5 %
 * InternalError, 50 ms latency, reads of EC2 and IMDS 500 ms behind, one lost race; many
 * seeded runs, because its tail is what a node booting in a bad minute meets.
 */
export async function trio(strategy: Strategy, runs: number, capS: number): Promise<TrioRow> {
  const times: number[] = [];
  const calls: number[] = [];
  const failures: string[] = [];
  let lostRaces = 0;
  let throttled = 0;
  let doubleClaims = 0;
  for (let seed = 1; seed <= runs; seed++) {
    const row = await fleet(
      { nodes: TRIO.nodes, pool: TRIO.pool, seed, world: { imdsLagMs: TRIO.imdsLagMs, ...TRIO.faults } },
      strategy,
      capS,
      'trio',
    );
    times.push(row.allReadyS ?? Infinity);
    calls.push(row.calls.mean);
    lostRaces += row.lostRaces;
    throttled += row.throttled;
    doubleClaims += row.doubleClaims.total;
    failures.push(...row.failures.map((f) => `seed ${seed}: ${f}`));
  }
  return { strategy, runs, allReadyS: summarize(times), calls: summarize(calls), lostRaces, throttled, doubleClaims, failures };
}

export interface OversubOptions {
  nodes: number;
  handoffs: number;
  windowS: number;
  capS: number;
}

/**
 * N nodes on N/2 addresses, each node running one workload pod. Once the pool is full and
 * the others wait, a steady window measures the waiting nodes' call rate; then holders end
 * one by one (a release as `eip-agent release` asks it; the pod leaves while they drain-wait).
 */
export async function oversubscribed(options: OversubOptions): Promise<FleetRow> {
  const pool = Math.floor(options.nodes / 2);
  const sim = await startWorld({ nodes: options.nodes, pool, ...REALISTIC });
  sim.nodes.forEach((node, i) => sim.world.addPod({ nodeName: node.nodeName, name: `web-${i}`, ownerKind: 'ReplicaSet' }));
  const seen: SeenAssociation[] = [];
  const failures: string[] = [];
  const t0 = Date.now();
  const agents = await startFleet(sim, seen, failures, { kube: true });
  try {
    const readyNow = () => agents.filter((a) => a.readyAt() !== undefined);
    if (!(await until(() => readyNow().length >= pool, options.capS * 1000))) throw new Error(`over-subscribed: only ${readyNow().length} of ${pool} ready within ${options.capS} s`);
    const holders = readyNow();
    const waiters = agents.filter((a) => !holders.includes(a));
    await until(() => waiters.every((a) => a.has('pool.exhausted')), 30_000);
    // Steady state: every waiting node has seen the pool exhausted at least once.
    await new Promise((r) => setTimeout(r, 1000));
    const from = Date.now();
    await new Promise((r) => setTimeout(r, options.windowS * 1000));
    const to = Date.now();
    const waiting = new Set(waiters.map((a) => a.node.instance.instanceId));
    const inWindow = sim.ec2.calls.filter((c) => c.caller !== undefined && waiting.has(c.caller) && c.at >= from && c.at < to);
    const perMin = (count: number) => count / waiters.length / ((to - from) / 60_000);

    const handoffs: number[] = [];
    const drains: number[] = [];
    const rounds = Math.min(options.handoffs, holders.length, waiters.length);
    for (let i = 0; i < rounds; i++) {
      const holder = holders[i]!;
      const readyBefore = new Set(readyNow());
      void holder.release().catch(() => {});
      if (!(await until(() => holder.has('drain.waiting'), 30_000))) throw new Error('holder never started its drain wait');
      const podGone = Date.now();
      const index = sim.nodes.indexOf(holder.node);
      sim.world.deletePod('default', `web-${index}`);
      if (!(await until(() => holder.has('released'), 30_000))) throw new Error('holder never released');
      const released = holder.log.events.find((e) => e.event === 'released')!.at;
      drains.push((released - podGone) / 1000);
      const next = () => readyNow().find((a) => !readyBefore.has(a));
      if (!(await until(() => next() !== undefined, 60_000))) throw new Error('no waiting node took the released address within 60 s');
      handoffs.push((next()!.readyAt()! - released) / 1000);
    }
    const row = measure(sim, 'over-subscribed', 'agent', pool, t0, options.capS, agents.map(outcomeOf), seen, failures);
    row.oversub = {
      waiting: waiters.length,
      windowS: (to - from) / 1000,
      describePerMinPerWaiter: perMin(inWindow.filter((c) => c.action === 'DescribeAddresses').length),
      callsPerMinPerWaiter: perMin(inWindow.length),
      handoffS: summarize(handoffs),
      podGoneToDisassociatedS: summarize(drains),
    };
    return row;
  } finally {
    await teardown(sim, agents);
  }
}
