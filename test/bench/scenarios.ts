// The fleet scenarios of the benchmark: storm, over-subscribed pool with hand-offs, and the
// agent's ordering side by side with two naive baselines.
import { setMaxListeners } from 'node:events';
import type { Sim } from '../sim/sim.js';
import { runBaselineNode, type Baseline } from './baselines.js';
import { countDoubleClaims, type DoubleClaims, type SeenAssociation } from './checks.js';
import { REALISTIC, TAGS, startAgent, startWorld, teardown, until, type AgentHandle } from './fleet.js';
import { summarize, type Summary } from './stats.js';

export type Strategy = 'agent' | Baseline;

export interface FleetRow {
  scenario: 'storm' | 'over-subscribed' | 'strategy';
  strategy: Strategy;
  nodes: number;
  pool: number;
  /** nodes that became ready */
  ready: number;
  /** EC2 HTTP requests per node (SDK retries included), from start until ready (or the end) */
  calls: Summary;
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

function measure(sim: Sim, scenario: FleetRow['scenario'], strategy: Strategy, pool: number, t0: number, capS: number, outcomes: Outcome[], seen: SeenAssociation[], failures: string[]): FleetRow {
  const calls = sim.ec2.calls;
  const perNode = outcomes.map((o) => calls.filter((c) => c.caller === o.caller && (o.readyAt === undefined || c.at <= o.readyAt)).length);
  const callsByAction: Record<string, number> = {};
  for (const c of calls) callsByAction[c.action] = (callsByAction[c.action] ?? 0) + 1;
  const readyAts = outcomes.flatMap((o) => (o.readyAt === undefined ? [] : [o.readyAt])).sort((a, b) => a - b);
  const filled = readyAts.length >= pool ? readyAts[pool - 1]! : undefined;
  return {
    scenario,
    strategy,
    nodes: outcomes.length,
    pool,
    ready: readyAts.length,
    calls: summarize(perNode),
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

async function startFleet(sim: Sim, seen: SeenAssociation[], failures: string[], kube = false): Promise<AgentHandle[]> {
  const agents = await Promise.all(sim.nodes.map((node) => startAgent(sim, node, seen, { kube })));
  for (const agent of agents) {
    void agent.done.then((result) => {
      if (result instanceof Error) failures.push(`${agent.node.instance.instanceId}: ${result.message}`);
    });
  }
  return agents;
}

const outcomeOf = (a: AgentHandle): Outcome => ({ caller: a.node.instance.instanceId, startedAt: a.startedAt, readyAt: a.readyAt() });

/** N nodes boot at once on N free addresses. */
export async function storm(nodes: number, strategy: Strategy, capS: number, scenario: FleetRow['scenario'] = 'storm'): Promise<FleetRow> {
  const sim = await startWorld({ nodes, pool: nodes, ...REALISTIC });
  const seen: SeenAssociation[] = [];
  const failures: string[] = [];
  const t0 = Date.now();
  if (strategy === 'agent') {
    const agents = await startFleet(sim, seen, failures);
    try {
      await until(() => agents.every((a) => a.readyAt() !== undefined) || failures.length > 0, capS * 1000);
      return measure(sim, scenario, strategy, nodes, t0, capS, agents.map(outcomeOf), seen, failures);
    } finally {
      await teardown(sim, agents);
    }
  }
  const cap = AbortSignal.timeout(capS * 1000);
  setMaxListeners(0, cap); // every node's sleeps listen on the one cap
  try {
    const runs = await Promise.all(
      sim.nodes.map((node) =>
        runBaselineNode(sim, node, strategy, seen, cap).catch((error: unknown) => {
          failures.push(`${node.instance.instanceId}: ${error instanceof Error ? error.message : String(error)}`);
          return { node, startedAt: t0, readyAt: undefined, conflicts: 0 };
        }),
      ),
    );
    return measure(sim, scenario, strategy, nodes, t0, capS, runs.map((r) => ({ caller: r.node.instance.instanceId, startedAt: r.startedAt, readyAt: r.readyAt })), seen, failures);
  } finally {
    await sim.close();
  }
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
  const agents = await startFleet(sim, seen, failures, true);
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
