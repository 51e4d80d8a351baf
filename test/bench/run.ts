// The benchmark as a function: options in, measured rows out, and the text rendering.
// `bench.ts` is the command line around it; `bench.test.ts` runs a tiny one.
import { cpus, release } from 'node:os';
import { footprint, renderFootprint, type FootprintRow } from './footprint.js';
import { bucketFloorS, fleet, oversubscribed, storm, trio, unknownEni, type FleetRow, type Strategy, type TrioRow } from './scenarios.js';
import { accountBuckets, type AccountLoad } from '../sim/throttle.js';
import { writeCharts } from './charts.js';
import { modelFleet, modelTrio, type ModelResult, type ModelTrioRow } from './model.js';
import { fmt, summarize, table } from './stats.js';

export type ModelRow = ModelResult & { nodes: number; seed: number; load?: AccountLoad };

export const SCENARIOS = ['storm', 'oversub', 'strategies', 'spread', 'trio', 'footprint', 'model', 'unknown'] as const;
export const STRATEGIES: Strategy[] = ['agent', 'first-free', 'random'];
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchOptions {
  scenarios: Scenario[];
  /** storm sizes (one storm row each) */
  nodes: number[];
  /** fleet size of the strategies comparison */
  strategyNodes: number;
  /** fleet size of the over-subscribed scenario (pool: half of it) */
  oversubNodes: number;
  handoffs: number;
  /** steady window of the over-subscribed scenario, s */
  windowS: number;
  /** give up on a fleet (the agent's or a baseline's) after this many s */
  capS: number;
  /** give up on a naive baseline after this many s */
  baselineCapS: number;
  reps: number;
  idleS: number;
  /** footprint: from the last start to the idle window (V8's memory reducer runs its post-start GCs) */
  settleS: number;
  /** the spread storm: this many nodes booting uniformly over spreadS */
  spreadNodes: number;
  spreadS: number;
  /** seeded runs of the faulty trio, for each strategy */
  trioRuns: number;
  /** fleet sizes of the in-process model (fake clock, no HTTP): large storms in seconds, for trying pacing rules */
  modelNodes: number[];
  modelSeeds: number;
  /** seeds of the faulty trio in the model */
  modelTrioSeeds: number;
  /** every bucket's size and refill times this, for the storms, strategies and model (1: published) */
  buckets: number;
  /** a neighbour's share of each bucket's refill while the storms boot (0: none) */
  neighbour: number;
  /** the unknown-interface scenario: this many nodes, each interface unknown to EC2 for unknownS */
  unknownNodes: number;
  unknownS: number;
  /** the strategies the strategies, spread and trio scenarios run (the agent's and the naive baselines) */
  strategies: Strategy[];
  /** write each storm's chart (nodes ready over time, by strategy, with the floor) as SVG here */
  chartsDir: string | undefined;
}

/** The account's load the options ask for; undefined: the published buckets. */
export function loadOf(options: Pick<BenchOptions, 'buckets' | 'neighbour'>): AccountLoad | undefined {
  if (options.buckets === 1 && options.neighbour === 0) return undefined;
  return { scale: options.buckets, neighbour: { describe: options.neighbour, mutating: options.neighbour } };
}

export const DEFAULTS: BenchOptions = {
  scenarios: [...SCENARIOS],
  nodes: [50],
  strategyNodes: 50,
  oversubNodes: 20,
  handoffs: 5,
  windowS: 10,
  capS: 600,
  baselineCapS: 30,
  reps: 5,
  idleS: 30,
  settleS: 30,
  spreadNodes: 50,
  spreadS: 15,
  trioRuns: 10,
  modelNodes: [200],
  modelSeeds: 3,
  modelTrioSeeds: 100,
  buckets: 1,
  neighbour: 0,
  strategies: STRATEGIES,
  unknownNodes: 5,
  unknownS: 6,
  chartsDir: undefined,
};

export interface BenchResult {
  machine: { nproc: number; cpu: string; node: string; kernel: string };
  options: BenchOptions;
  fleets: FleetRow[];
  trio: TrioRow[];
  model: ModelRow[];
  modelTrio: ModelTrioRow | undefined;
  footprint: FootprintRow | undefined;
  /** s the whole benchmark took */
  tookS: number;
}

export async function runBench(options: BenchOptions, progress: (line: string) => void = () => {}): Promise<BenchResult> {
  const began = Date.now();
  const fleets: FleetRow[] = [];
  const say = (row: FleetRow) =>
    progress(`${row.scenario}/${row.strategy} N=${row.nodes}: ${row.ready} ready, all ready ${fmt(row.allReadyS, 2)} s, calls mean ${fmt(row.calls.mean, 2)}, double claims ${row.doubleClaims.total}`);
  const load = loadOf(options);
  if (options.scenarios.includes('storm')) {
    for (const n of options.nodes) {
      progress(`storm: ${n} nodes on ${n} addresses …`);
      fleets.push(await storm(n, 'agent', options.capS, 'storm', load));
      say(fleets.at(-1)!);
    }
  }
  if (options.scenarios.includes('oversub')) {
    progress(`over-subscribed: ${options.oversubNodes} nodes on ${Math.floor(options.oversubNodes / 2)} addresses …`);
    fleets.push(await oversubscribed({ nodes: options.oversubNodes, handoffs: options.handoffs, windowS: options.windowS, capS: options.capS }));
    say(fleets.at(-1)!);
  }
  if (options.scenarios.includes('strategies')) {
    for (const strategy of options.strategies) {
      progress(`strategies: ${strategy}, ${options.strategyNodes} nodes …`);
      // The agent's storm at this size was just measured: the same experiment, not run twice.
      const same = strategy === 'agent' ? fleets.find((r) => r.scenario === 'storm' && r.nodes === options.strategyNodes) : undefined;
      fleets.push(same ? { ...same, scenario: 'strategy' } : await storm(options.strategyNodes, strategy, strategy === 'first-free' ? options.baselineCapS : options.capS, 'strategy', load));
      say(fleets.at(-1)!);
    }
  }
  if (options.scenarios.includes('spread')) {
    for (const strategy of options.strategies) {
      progress(`spread: ${strategy}, ${options.spreadNodes} nodes booting over ${options.spreadS} s …`);
      fleets.push(await fleet({ nodes: options.spreadNodes, pool: options.spreadNodes, spreadS: options.spreadS }, strategy, options.spreadS + options.capS, 'spread'));
      say(fleets.at(-1)!);
    }
  }
  if (options.scenarios.includes('unknown')) {
    progress(`unknown interface: ${options.unknownNodes} nodes, each interface unknown to EC2 for ${options.unknownS} s …`);
    fleets.push(await unknownEni(options.unknownNodes, options.unknownS, options.capS));
    say(fleets.at(-1)!);
  }
  const trios: TrioRow[] = [];
  if (options.scenarios.includes('trio')) {
    for (const strategy of options.strategies) {
      progress(`trio: ${strategy}, ${options.trioRuns} seeded runs …`);
      trios.push(await trio(strategy, options.trioRuns, 60));
      const t = trios.at(-1)!;
      progress(`trio/${strategy}: all ready p50 ${fmt(t.allReadyS.p50, 2)} p95 ${fmt(t.allReadyS.p95, 2)} max ${fmt(t.allReadyS.max, 2)} s`);
    }
  }
  const model: ModelRow[] = [];
  if (options.scenarios.includes('model')) {
    for (const nodes of options.modelNodes) {
      for (let seed = 1; seed <= options.modelSeeds; seed++) {
        progress(`model: ${nodes} nodes at once, seed ${seed} (in process, fake clock) …`);
        model.push({ nodes, seed, ...(load ? { load } : {}), ...(await modelFleet({ nodes, pool: nodes, seed, ...(load ? { load } : {}) })) });
      }
    }
  }
  let trioInModel: ModelTrioRow | undefined;
  if (options.scenarios.includes('model') && options.modelTrioSeeds > 0) {
    progress(`model: faulty trio, ${options.modelTrioSeeds} seeds (in process, fake clock) …`);
    trioInModel = await modelTrio(options.modelTrioSeeds);
  }
  if (options.chartsDir) {
    for (const path of await writeCharts(fleets, options.chartsDir)) progress(`chart: ${path}`);
  }
  let fp: FootprintRow | undefined;
  if (options.scenarios.includes('footprint')) {
    progress(`footprint: ${options.reps} cold starts, ${options.settleS} s to settle, ${options.idleS} s idle …`);
    fp = await footprint({ reps: options.reps, idleS: options.idleS, settleS: options.settleS });
  }
  return {
    machine: { nproc: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, kernel: release() },
    options,
    fleets,
    trio: trios,
    model,
    modelTrio: trioInModel,
    footprint: fp,
    tookS: (Date.now() - began) / 1000,
  };
}

const allReady = (row: FleetRow) => (row.allReadyS === undefined ? `>${row.capS} (${row.ready}/${row.pool})` : fmt(row.allReadyS, 2));

export function render(result: BenchResult): string {
  const out: string[] = [];
  const { machine } = result;
  out.push(`eip-agent bench — ${machine.nproc} cores (${machine.cpu}), node ${machine.node}, kernel ${machine.kernel}, took ${fmt(result.tookS, 0)} s`);
  const buckets = accountBuckets(loadOf(result.options));
  const neighbour = result.options.neighbour > 0 ? ` (a neighbour takes ${Math.round(result.options.neighbour * 100)} % of each refill)` : '';
  out.push(
    `EC2 sim: latency 50–150 ms per call, token buckets Describe ${buckets.read.capacity} @ ${fmt(buckets.read.refillPerSecond, 1)}/s, mutating ${buckets.write.capacity} @ ${fmt(buckets.write.refillPerSecond, 1)}/s${neighbour}; IMDS shows a new association 500 ms late`,
  );
  if (result.fleets.length) {
    out.push('', 'Fleets (calls = EC2 HTTP requests per node until ready, throttled ones included; mutating = AssociateAddress; floor = what the buckets need at least; times in s)');
    const header = ['scenario', 'strategy', 'nodes', 'pool', 'ready', 'calls mean', 'p50', 'p99', 'max', 'mutating mean', 'throttled', 'lost races', 'floor', 'all ready', '× floor', 'ready p50', 'ready p99', 'double claims'];
    out.push(
      table(
        header,
        result.fleets.map((r) => [
          r.scenario,
          r.strategy,
          String(r.nodes),
          String(r.pool),
          String(r.ready),
          fmt(r.calls.mean, 2),
          fmt(r.calls.p50, 0),
          fmt(r.calls.p99, 0),
          fmt(r.calls.max, 0),
          fmt(r.mutating.mean, 2),
          String(r.throttled),
          String(r.lostRaces),
          fmt(r.floorS, 0),
          allReady(r),
          r.scenario === 'spread' || r.allReadyS === undefined || r.floorS === 0 ? '-' : fmt(r.allReadyS / r.floorS, 2),
          fmt(r.readyS.p50, 2),
          fmt(r.readyS.p99, 2),
          String(r.doubleClaims.total),
        ]),
      ),
    );
  }
  const strategies = result.fleets.filter((r) => r.scenario === 'strategy');
  const agent = strategies.find((r) => r.strategy === 'agent');
  if (agent && strategies.length > 1) {
    out.push('', `Strategies, ${agent.nodes} nodes (ratio = baseline / agent; ">" where the baseline hit its cap)`);
    out.push(
      table(
        ['strategy', 'all ready', 'time ratio', 'calls total', 'calls ratio', 'mutating calls'],
        strategies.map((r) => {
          const total = Object.values(r.callsByAction).reduce((s, n) => s + n, 0);
          const agentTotal = Object.values(agent.callsByAction).reduce((s, n) => s + n, 0);
          const time = r.allReadyS ?? r.capS;
          return [
            r.strategy,
            allReady(r),
            `${r.allReadyS === undefined ? '>' : ''}${fmt(time / (agent.allReadyS ?? agent.capS), 1)}×`,
            String(total),
            `${r.allReadyS === undefined ? '>' : ''}${fmt(total / agentTotal, 1)}×`,
            String((r.callsByAction['AssociateAddress'] ?? 0) + (r.callsByAction['DisassociateAddress'] ?? 0)),
          ];
        }),
      ),
    );
  }
  for (const r of result.fleets) {
    if (!r.oversub) continue;
    const o = r.oversub;
    out.push('', `Over-subscribed: ${r.nodes} nodes, ${r.pool} addresses; ${o.waiting} waiting nodes over a ${fmt(o.windowS, 0)} s steady window; ${o.handoffS.n} hand-offs`);
    out.push(
      table(
        ['Describe/min/waiting node', 'EC2 calls/min/waiting node', 'hand-off p50', 'hand-off max', 'pod gone→disassociated p50', 'max'],
        [[fmt(o.describePerMinPerWaiter, 1), fmt(o.callsPerMinPerWaiter, 1), fmt(o.handoffS.p50, 2), fmt(o.handoffS.max, 2), fmt(o.podGoneToDisassociatedS.p50, 2), fmt(o.podGoneToDisassociatedS.max, 2)]],
      ),
    );
  }
  if (result.trio.length) {
    const runs = result.trio[0]!.runs;
    out.push('', `Faulty trio: 3 nodes, 4 addresses, 30 % RequestLimitExceeded, 5 % InternalError, 50 ms latency, EC2 and IMDS reads 500 ms late, one lost race; ${runs} seeded runs (s from boot to all three ready)`);
    out.push(
      table(
        ['strategy', 'runs', 'all ready p50', 'p95', 'max', 'calls/node mean', 'lost races', 'throttled', 'double claims', 'failures'],
        result.trio.map((t) => [t.strategy, String(t.runs), fmt(t.allReadyS.p50, 2), fmt(t.allReadyS.p95, 2), fmt(t.allReadyS.max, 2), fmt(t.calls.mean, 2), String(t.lostRaces), String(t.throttled), String(t.doubleClaims), String(t.failures.length)]),
      ),
    );
  }
  if (result.model.length) {
    out.push('', 'In-process model: the shipped daemon over the simulated world\'s ports on a fake clock (same buckets and latency, every IMDS answering in 1 ms; no HTTP)');
    out.push(
      table(
        ['nodes', 'seed', 'ready', 'calls mean', 'max', 'mutating mean', 'throttled', 'lost races', 'floor', 'all ready', '× floor', 'ready p99', 'double claims'],
        result.model.map((m) => {
          const ready = summarize(m.readyMs.map((ms) => ms / 1000));
          const floor = bucketFloorS(m.nodes, m.nodes, m.load);
          const all = m.allReadyMs === undefined ? undefined : m.allReadyMs / 1000;
          return [String(m.nodes), String(m.seed), String(m.ready), fmt(summarize(m.calls).mean, 2), String(Math.max(...m.calls)), fmt(summarize(m.mutating).mean, 2), String(m.throttled), String(m.lostRaces), fmt(floor, 0), fmt(all, 1), all === undefined ? '-' : fmt(all / floor, 2), fmt(ready.p99, 2), String(m.doubleClaims)];
        }),
      ),
    );
  }
  if (result.model.length) {
    // Where each node's calls until ready go, by action and answer (a node's mean).
    const kinds = [...new Set(result.model.flatMap((m) => Object.keys(m.byKind)))].sort();
    out.push('', 'In-process model: calls a node until ready, by action and answer (mean)');
    out.push(table(['nodes', 'seed', ...kinds], result.model.map((m) => [String(m.nodes), String(m.seed), ...kinds.map((k) => fmt(m.byKind[k] ?? 0, 2))])));
  }
  const mt = result.modelTrio;
  if (mt) {
    out.push('', `In-process faulty trio: the same 3 nodes, 4 addresses and faults on a fake clock (a seed replays a run); ${mt.seeds} seeds (s from boot to all three ready)`);
    out.push(
      table(
        ['seeds', 'all ready p50', 'p95', 'p99', 'max', 'calls/node mean', 'double claims', 'not ready'],
        [[String(mt.seeds), fmt(mt.allReadyS.p50, 2), fmt(mt.allReadyS.p95, 2), fmt(mt.allReadyS.p99, 2), fmt(mt.allReadyS.max, 2), fmt(mt.calls.mean, 2), String(mt.doubleClaims), mt.notReady.length ? mt.notReady.join(',') : '0']],
      ),
    );
  }
  if (result.footprint) out.push('', ...renderFootprint(result.footprint));
  const failures = [...result.fleets.flatMap((r) => r.failures.map((f) => `${r.scenario}/${r.strategy}: ${f}`)), ...result.trio.flatMap((t) => t.failures.map((f) => `trio/${t.strategy}: ${f}`))];
  if (failures.length) out.push('', 'Failures:', ...failures.slice(0, 20));
  return `${out.join('\n')}\n`;
}
