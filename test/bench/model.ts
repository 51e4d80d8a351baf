// In-process fleets on a fake clock: the shipped daemon over the World's ports, for
// designing the claim's pacing in seconds of real time (BENCHMARKS.md, "Pacing, designed").
import { runDaemon } from '../../agent/lifecycle/daemon.js';
import { rng } from '../fuzz/random.js';
import { FakeTime } from '../helpers/fake-time.js';
import { testConfig, worldDeps, type Built } from '../helpers/deps.js';
import { InProcessEc2, type InProcessCall, type InProcessFaults } from '../sim/world-ports.js';
import { World } from '../sim/world.js';
import { accountBuckets, type AccountLoad } from '../sim/throttle.js';
import { TRIO } from './scenarios.js';
import { callsUntilReady, summarize, type Summary } from './stats.js';

export interface ModelFleet {
  nodes: number;
  pool: number;
  seed: number;
  /** node i boots at i * spreadMs / nodes */
  spreadMs?: number;
  imdsLagMs?: number;
  faults?: Partial<InProcessFaults>;
  flags?: Record<string, unknown>;
  capMs?: number;
  /** a busy account: smaller buckets, a neighbour's share of each refill */
  load?: AccountLoad;
  /** every node's interface is unknown to EC2's API for its first this-many ms */
  unknownMs?: number;
  /** keep every call in the result (for tracing a rule) */
  trace?: boolean;
}

export interface ModelResult {
  ready: number;
  allReadyMs: number | undefined;
  readyMs: number[];
  calls: number[];
  mutating: number[];
  throttled: number;
  lostRaces: number;
  doubleClaims: number;
  /** `Action outcome` → calls a node on average until ready: where the calls go */
  byKind: Record<string, number>;
  /** every call, with the node's start and ready (ms since the storm began), when traced */
  trace?: { calls: InProcessCall[]; nodes: { id: string; start: number; readyAt: number | undefined }[]; t0: number };
}

export async function modelFleet(shape: ModelFleet): Promise<ModelResult> {
  const time = new FakeTime(shape.seed);
  const ids = rng(shape.seed ^ 0x5eed);
  const world = new World({ now: time.clock.now, imdsLagMs: shape.imdsLagMs ?? 500, random: () => ids.next() });
  world.addPool(shape.pool, { color: 'orange' });
  const ec2 = new InProcessEc2(world, time, { latencyMs: [50, 150], throttle: shape.load ? accountBuckets(shape.load) : true, ...shape.faults });
  const config = testConfig(shape.flags ?? {});
  const agents: { id: string; built: Built; start: number; done?: Promise<number> }[] = [];
  for (let i = 0; i < shape.nodes; i++) {
    const instance = world.addInstance();
    const start = ((shape.spreadMs ?? 0) * i) / shape.nodes;
    agents.push({ id: instance.instanceId, built: worldDeps(ec2, instance.instanceId, time, config, { logLevel: 'info' }), start });
  }
  // The pool existed long before the nodes boot: stale reads must not see it missing.
  await time.advance(60_000);
  const t0 = time.clock.now();
  const all = Promise.all(
    agents.map(async (a) => {
      await time.sleep(a.start);
      a.start = time.clock.now();
      if (shape.unknownMs) world.unknownFor(world.instances.get(a.id)!.enis[0]!.networkInterfaceId, shape.unknownMs);
      a.done = runDaemon(a.built.deps);
      a.done.catch(() => {});
    }),
  );
  const readyAt = (a: (typeof agents)[number]) => a.built.events('ready')[0]?.at;
  const capMs = shape.capMs ?? 600_000;
  await time.run(
    (async () => {
      await all;
      while (agents.some((a) => readyAt(a) === undefined) && time.clock.now() - t0 < capMs) await time.sleep(100);
    })(),
    capMs + 60_000,
  );
  const readyMs = agents.flatMap((a) => (readyAt(a) === undefined ? [] : [readyAt(a)! - a.start]));
  const lastReady = Math.max(...agents.map((a) => readyAt(a) ?? Infinity));
  const { all: calls, mutating } = callsUntilReady(ec2.calls, agents.map((a) => ({ caller: a.id, readyAt: readyAt(a) })));
  const byKind: Record<string, number> = {};
  const byId = new Map(agents.map((a) => [a.id, a]));
  for (const c of ec2.calls) {
    const a = byId.get(c.caller);
    const at = a && readyAt(a);
    if (!a || (at !== undefined && c.at > at)) continue;
    const kind = `${c.action} ${c.outcome}`;
    byKind[kind] = (byKind[kind] ?? 0) + 1 / agents.length;
  }
  let doubleClaims = 0;
  for (const [, held] of world.holdings({ color: 'orange' })) if (held.length > 1) doubleClaims += 1;
  for (const a of agents) a.built.signal('SIGTERM');
  return {
    ready: readyMs.length,
    allReadyMs: Number.isFinite(lastReady) ? lastReady - t0 : undefined,
    readyMs,
    calls,
    mutating,
    throttled: ec2.count({ outcome: 'RequestLimitExceeded' }),
    lostRaces: ec2.count({ outcome: 'Resource.AlreadyAssociated' }),
    doubleClaims,
    byKind,
    ...(shape.trace ? { trace: { calls: ec2.calls, nodes: agents.map((a) => ({ id: a.id, start: a.start, readyAt: readyAt(a) })), t0 } } : {}),
  };
}

export interface ModelTrioRow {
  seeds: number;
  allReadyS: Summary;
  calls: Summary;
  doubleClaims: number;
  /** seeds whose three nodes were not all ready within the cap */
  notReady: number[];
}

/**
 * The faulty trio (scenarios.ts, TRIO) in process: the same faults on a fake clock, so a seed is
 * a run — a slow one can be replayed, which over HTTP (where the arrival order of calls
 * decides which meets which fault) it cannot.
 */
export async function modelTrio(seeds: number): Promise<ModelTrioRow> {
  const times: number[] = [];
  const calls: number[] = [];
  const notReady: number[] = [];
  let doubleClaims = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const r = await modelFleet({ nodes: TRIO.nodes, pool: TRIO.pool, seed, imdsLagMs: TRIO.imdsLagMs, faults: TRIO.faults, capMs: 120_000 });
    if (r.allReadyMs === undefined) notReady.push(seed);
    else times.push(r.allReadyMs / 1000);
    calls.push(...r.calls);
    doubleClaims += r.doubleClaims;
  }
  return { seeds, allReadyS: summarize(times), calls: summarize(calls), doubleClaims, notReady };
}
