// The soak: many agents racing for few addresses for a bounded time, with faults on, nodes
// ending (spot notices, ASG Terminated, eip-agent release), agents restarting (G5a) and new
// nodes joining. The shipped IAM policy is enforced throughout. It checks, at every
// association EC2 applies and every second on the whole world, that no address is taken
// from an interface that holds it (G1), that no interface holds two pool addresses (G3),
// that every AssociateAddress carried AllowReassociation=false (G1: left out, EC2
// reassociates), that no agent disassociates an association of another interface (G2),
// and that nothing was refused by IAM; at the end, once every agent has released, that no
// pool address is left on a node that ended.
//
// `npm run soak` (default 60 s) or `node .build/test/soak/soak.js --seconds N [--agents N]
// [--pool N] [--seed N]`. Exits 1 on any violation. Agents run in this process: the shipped
// runDaemon with the shipped adapters over real HTTP to the simulator, one simulated host
// each (as test/bench/fleet.ts does). Deviations from production settings, to keep the churn
// fast: poll intervals (IMDS 300 ms, live check 100 ms, drain 200 ms), EC2 read retries
// (100 ms … 2 s), --relist-interval 1 and --drain-timeout 2.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { runDaemon } from '../../agent/lifecycle/daemon.js';
import type { LoggedEvent, LogEvent } from '../../agent/shared/log.js';
import { EC2_READ_RETRY } from '../../agent/shared/pacing.js';
import { sleep } from '../../agent/shared/time.js';
import { rng } from '../fuzz/random.js';
import { httpDeps } from '../helpers/deps.js';
import { enforcePolicy } from '../sim/iam.js';
import { Sim, type SimNode } from '../sim/sim.js';
import type { AssociateInput, Association } from '../sim/world.js';

export interface SoakOptions {
  /** how long nodes keep joining and ending; then every node ends and the soak waits for the releases */
  seconds: number;
  /** nodes alive at once */
  agents: number;
  /** pool addresses (fewer than agents: they race) */
  pool: number;
  seed: number;
  /** progress lines; default: none */
  progress?: (line: string) => void;
}

export interface SoakSummary {
  seconds: number;
  nodes: number;
  agentsRun: number;
  claims: number;
  resumes: number;
  releases: number;
  restarts: number;
  endings: Record<string, number>;
  conflicts: number;
  throttles: number;
  ec2Errors: number;
  wireFaults: number;
  racesInjected: number;
  unauthorized: number;
  agentFailures: string[];
  violations: string[];
  leaked: string[];
}

const TAGS = { color: 'orange' };
const POLICY = JSON.parse(readFileSync('scripts/iam-policy.json', 'utf8')) as unknown;

interface AgentRun {
  node: SimNode;
  events: LoggedEvent[];
  done: Promise<number | Error>;
  finished: boolean;
  /** AssociateAddress requests sent and not answered yet */
  inFlight: number;
  signal(signal: 'SIGTERM'): void;
  /** what `eip-agent release [--force]` asks on the control socket; undefined before the daemon serves */
  release(force: boolean): Promise<unknown> | undefined;
  has(event: LogEvent): boolean;
}

interface NodeLife {
  node: SimNode;
  agent: AgentRun;
  startedAt: number;
  /** undefined: some seconds after the agent is ready */
  endAt: number | undefined;
  ending: boolean;
  ended: boolean;
  restarts: number;
}

async function startAgent(sim: Sim, node: SimNode, seed: number): Promise<AgentRun> {
  let inFlight = 0;
  // Under systemd, so that a SIGTERM is a restart that keeps the address (G5a).
  const built = await httpDeps(sim, node, {
    flags: { relistInterval: '1', drainTimeout: '2' },
    env: { INVOCATION_ID: 'soak' },
    kube: true,
    imdsTimeoutMs: 5_000,
    reads: { ...EC2_READ_RETRY, baseMs: 100, throttledBaseMs: 100, throttledSpreadMs: 1000, capMs: 2_000 },
    intervals: { liveMs: 100, noticesMs: 300, drainMs: 200 },
    logLevel: 'info',
    // The agent's jitter comes from the soak's seed too, so that --seed replays a run's choices.
    seed,
    wrapEc2: (port) => ({
      ...port,
      async associate(request) {
        inFlight += 1;
        try {
          return await port.associate(request);
        } finally {
          inFlight -= 1;
        }
      },
    }),
  });
  const events = built.log.events;
  const run: AgentRun = {
    node,
    events,
    done: Promise.resolve(0),
    finished: false,
    get inFlight() {
      return inFlight;
    },
    signal: (signal) => built.signal(signal),
    release: (force) => built.health()?.release(force),
    has: (event) => events.some((e) => e.event === event),
  };
  run.done = runDaemon(built.deps).then(
    (code) => code,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  void run.done.then(() => (run.finished = true));
  return run;
}

export async function runSoak(options: SoakOptions): Promise<SoakSummary> {
  const r = rng(options.seed);
  const simRandom = rng(options.seed ^ 0x9e3779b9);
  const progress = options.progress ?? (() => {});
  const sim = await Sim.start({
    pool: options.pool,
    tags: TAGS,
    ec2: {
      random: () => simRandom.next(),
      faults: {
        latencyMs: [5, 60],
        throttle: true,
        errorRate: { RequestLimitExceeded: 0.1, InternalError: 0.03, Unavailable: 0.01 },
        raceProbability: 0.05,
      },
    },
  });
  const { world } = sim;
  const violations: string[] = [];
  const violation = (text: string) => {
    if (violations.length < 200) violations.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${text}`);
  };
  const agentFailures: string[] = [];
  const lives: NodeLife[] = [];
  const agents: AgentRun[] = [];
  const endings: Record<string, number> = {};
  let racesInjected = 0;
  let restarts = 0;
  const started = Date.now();
  const poolMember = (allocationId: string) => world.addresses.get(allocationId)?.tags['color'] === 'orange';
  const eniOwner = new Map<string, string>(); // interface → instance, for every node ever started
  const instanceOf = (eniId: string) => eniOwner.get(eniId);

  // ---- checks at the moment EC2 applies an association -------------------------------
  const associate = world.associate.bind(world);
  world.associate = (input: AssociateInput): Association => {
    const address = input.allocationId ? world.addresses.get(input.allocationId) : undefined;
    const before = address?.association ? { ...address.association } : undefined;
    const eniId = input.networkInterfaceId ?? (input.instanceId ? world.instances.get(input.instanceId)?.enis[0]?.networkInterfaceId : undefined);
    const eni = eniId ? world.findEni(eniId) : undefined;
    const onTarget = eni ? world.addressOn(eni.networkInterfaceId, input.privateIp ?? eni.privateIps[0]!) : undefined;
    const result = associate(input);
    if (!instanceOf(result.networkInterfaceId)) racesInjected += 1;
    if (before && (before.networkInterfaceId !== result.networkInterfaceId || before.privateIp !== result.privateIp)) {
      violation(`G1: ${input.allocationId} taken from ${before.networkInterfaceId} by ${result.networkInterfaceId}`);
    }
    if (onTarget && onTarget.allocationId !== input.allocationId && poolMember(onTarget.allocationId) && address && poolMember(address.allocationId)) {
      violation(`G3: ${result.networkInterfaceId} got ${input.allocationId} while holding pool address ${onTarget.allocationId} (EC2 swapped it silently)`);
    }
    return result;
  };

  // ---- checks on every call that reaches EC2's action code, then IAM ---------------------
  sim.ec2.faults.deny = (action, params, caller) => {
    if (action === 'DisassociateAddress' && caller) {
      const held = [...world.addresses.values()].find((a) => a.association?.associationId === params['AssociationId']);
      if (held?.association && instanceOf(held.association.networkInterfaceId) !== caller) {
        violation(`G2: ${caller} disassociated ${params['AssociationId']} of ${held.association.networkInterfaceId} (${held.allocationId})`);
      }
    }
    if (action === 'AssociateAddress' && caller && params['NetworkInterfaceId'] && instanceOf(params['NetworkInterfaceId']) !== caller) {
      violation(`G2: ${caller} associated ${params['AllocationId']} to ${params['NetworkInterfaceId']}, not its own interface`);
    }
    return false;
  };
  const iam = enforcePolicy(sim.ec2, world, POLICY);

  // ---- checks every second on the whole world --------------------------------------
  let logChecked = 0;
  const checkWorld = () => {
    const perEni = new Map<string, string[]>();
    for (const address of world.addresses.values()) {
      if (!poolMember(address.allocationId) || !address.association) continue;
      const list = perEni.get(address.association.networkInterfaceId) ?? [];
      list.push(address.allocationId);
      perEni.set(address.association.networkInterfaceId, list);
    }
    for (const [eni, held] of perEni) if (held.length > 1) violation(`G3: ${eni} holds ${held.length} pool addresses: ${held.join(', ')}`);
    for (; logChecked < sim.ec2.calls.length; logChecked++) {
      const call = sim.ec2.calls[logChecked]!;
      if (call.action !== 'AssociateAddress') continue;
      const value = call.params['AllowReassociation'];
      // Left out, EC2 reassociates: only an explicit false is the compare-and-swap.
      if (value !== 'false') violation(`G1: AssociateAddress by ${call.caller} with AllowReassociation=${value ?? '(left out)'}`);
    }
  };
  const ticker = setInterval(checkWorld, 1000);

  // ---- the world around the agents: faults that come and go, an operator -------------
  const weather = setInterval(() => {
    sim.ec2.faults.staleReadMs = r.chance(0.5) ? 0 : r.int(1500);
    world.imdsLagMs = r.chance(0.5) ? 0 : r.int(800);
    const action = r.pick(['AssociateAddress', 'DescribeAddresses', 'DisassociateAddress']);
    const fault = r.pick(['reset', 'malformed', 'truncated', 'empty', { afterApply: 'reset' }, { error: 'InternalError' }, { afterApply: { error: 'InternalError' } }] as const);
    if (r.chance(0.5)) sim.ec2.script(action, fault);
    // The operator gives back what foreign parties took (the injected races), after a while.
    for (const address of world.addresses.values()) {
      const a = address.association;
      if (a && !instanceOf(a.networkInterfaceId) && Date.now() - a.at > 2000) world.disassociate(a.associationId);
    }
  }, 700);

  // ---- nodes: join, live, end --------------------------------------------------------------
  const begin = async (life: Omit<NodeLife, 'agent'> & { agent?: AgentRun }): Promise<NodeLife> => {
    life.agent = await startAgent(sim, life.node, r.int(2 ** 31));
    agents.push(life.agent);
    void life.agent.done.then((result) => {
      if (result instanceof Error) agentFailures.push(`${life.node.instance.instanceId}: ${result.message}`);
    });
    return life as NodeLife;
  };
  const join = async () => {
    const node = await sim.addNode();
    eniOwner.set(node.instance.enis[0]!.networkInterfaceId, node.instance.instanceId);
    if (r.chance(0.5)) world.addPod({ nodeName: node.nodeName, name: `web-${node.instance.instanceId}`, ownerKind: 'ReplicaSet' });
    // A quarter of the nodes end at a random moment, often mid-claim; the others a while after ready.
    const endAt = r.chance(0.25) ? Date.now() + 200 + r.int(3000) : undefined;
    lives.push(await begin({ node, startedAt: Date.now(), endAt, ending: false, ended: false, restarts: 0 }));
  };
  const end = (life: NodeLife, how: string) => {
    life.ending = true;
    endings[how] = (endings[how] ?? 0) + 1;
    const instance = world.instances.get(life.node.instance.instanceId)!;
    // The workload leaves a moment after the end begins (kubelet evicting it).
    const pod = `web-${life.node.instance.instanceId}`;
    setTimeout(() => world.deletePod('default', pod), r.int(1500));
    if (how === 'spot') instance.spotAction = { action: 'terminate', time: new Date(Date.now() + 120_000).toISOString() };
    else if (how === 'asg') instance.lifecycleState = 'Terminated';
    else {
      const asked = life.agent.release(how === 'release --force');
      if (asked === undefined) instance.spotAction = { action: 'terminate', time: new Date().toISOString() };
      else void asked.catch(() => {});
    }
    void life.agent.done.then(() => {
      life.ended = true;
      // The agent said it is done: nothing of the pool may stay on this node.
      const eni = life.node.instance.enis[0]!;
      const left = [...world.addresses.values()].filter((a) => poolMember(a.allocationId) && a.association?.networkInterfaceId === eni.networkInterfaceId);
      for (const a of left) {
        leakedAtEnd.push(`${life.node.instance.instanceId} ended (${how}) still holding ${a.allocationId} (${a.publicIp})`);
        if (process.env['SOAK_DEBUG']) {
          const calls = sim.ec2.calls.filter((c) => c.caller === life.node.instance.instanceId).map((c) => `${c.at - started} ${c.action} ${c.params['AllocationId'] ?? c.params['AssociationId'] ?? ''} ${c.outcome}${c.applied ? ' applied' : ''}`);
          progress([`events of ${life.node.instance.instanceId}:`, ...life.agent.events.map((e) => `${e.at - started} ${e.event} ${JSON.stringify(e.fields)}`), 'calls:', ...calls].join('\n'));
        }
      }
    });
  };
  const restart = async (life: NodeLife) => {
    life.restarts += 1;
    restarts += 1;
    const old = life.agent;
    const heldBefore = old.has('claim.associated') || old.has('claim.resumed');
    old.signal('SIGTERM'); // under systemd, not stopping: exit, keep the address (G5a)
    await old.done;
    // systemd starts the next one once the process is gone, with nothing of it in flight.
    while (old.inFlight > 0) await sleep(20);
    const eni = life.node.instance.enis[0]!;
    const holds = world.addressOn(eni.networkInterfaceId, eni.privateIps[0]!);
    const after = Date.now();
    await begin(life);
    if (heldBefore && holds && poolMember(holds.allocationId)) expectResume.push({ life, allocationId: holds.allocationId, after });
  };
  const leakedAtEnd: string[] = [];
  const expectResume: { life: NodeLife; allocationId: string; after: number }[] = [];

  const deadline = started + options.seconds * 1000;
  let lastProgress = started;
  while (Date.now() < deadline) {
    const alive = lives.filter((l) => !l.ending);
    for (let i = alive.length; i < options.agents; i++) await join();
    for (const life of alive) {
      const readyAt = life.agent.events.find((e) => e.event === 'ready')?.at;
      if (life.endAt === undefined && readyAt !== undefined) life.endAt = readyAt + 500 + r.int(3000);
      // A node that waits too long for an address ends anyway (a scale-in).
      if (life.endAt === undefined && Date.now() - life.startedAt > 15_000) life.endAt = Date.now();
      if (life.endAt !== undefined && Date.now() >= life.endAt) end(life, r.pick(['spot', 'spot', 'asg', 'release', 'release --force']));
      else if (life.agent.finished && !life.ending) {
        // An agent that stopped by itself on a live node (a failure): systemd would restart it.
        await begin(life);
      } else if (r.chance(0.01) && life.restarts < 2) await restart(life);
    }
    if (Date.now() - lastProgress >= 10_000) {
      lastProgress = Date.now();
      progress(`soak: ${((lastProgress - started) / 1000).toFixed(0)}s, ${lives.length} nodes, ${agents.length} agents, ${sim.ec2.count({ action: 'AssociateAddress', outcome: 'ok' })} associations, ${violations.length} violations`);
    }
    await sleep(100);
  }

  // Every node ends; wait (bounded) for every agent to finish.
  for (const life of lives) if (!life.ending) end(life, r.pick(['spot', 'asg', 'release']));
  const all = Promise.all(agents.map((a) => a.done));
  let timer: NodeJS.Timeout | undefined;
  const bounded = await Promise.race([all.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 90_000)))]);
  clearTimeout(timer);
  if (!bounded) agentFailures.push(`${agents.filter((a) => !a.finished).length} agents still running 90 s after their node ended`);
  clearInterval(weather);
  clearInterval(ticker);
  checkWorld();

  // After a restart the next agent takes up the address the interface holds: resumed, or
  // (when its listing lags) associated again, which EC2 answers with the same association.
  for (const { life, allocationId, after } of expectResume) {
    const next = agents.filter((a) => a.node === life.node && a.events.some((e) => e.at >= after));
    const claims = next.flatMap((a) => a.events.filter((e) => e.event === 'claim.resumed' || e.event === 'claim.associated'));
    const first = claims[0];
    if (first && first.fields['allocationId'] !== allocationId) {
      violation(`G3: after a restart, ${life.node.instance.instanceId} took ${String(first.fields['allocationId'])} instead of resuming ${allocationId}`);
    }
  }
  const leaked = [...leakedAtEnd];
  for (const address of world.addresses.values()) {
    const owner = address.association ? instanceOf(address.association.networkInterfaceId) : undefined;
    if (poolMember(address.allocationId) && owner && !leaked.some((l) => l.includes(address.allocationId))) leaked.push(`${owner} ended, still holding ${address.allocationId} (${address.publicIp})`);
  }
  const outcome = (o: string) => sim.ec2.count({ outcome: o });
  const summary: SoakSummary = {
    seconds: Math.round((Date.now() - started) / 1000),
    nodes: lives.length,
    agentsRun: agents.length,
    claims: agents.reduce((n, a) => n + a.events.filter((e) => e.event === 'claim.associated').length, 0),
    resumes: agents.reduce((n, a) => n + a.events.filter((e) => e.event === 'claim.resumed').length, 0),
    releases: agents.reduce((n, a) => n + a.events.filter((e) => e.event === 'released').length, 0),
    restarts,
    endings,
    conflicts: outcome('Resource.AlreadyAssociated'),
    throttles: outcome('RequestLimitExceeded'),
    ec2Errors: outcome('InternalError') + outcome('Unavailable'),
    wireFaults: ['reset', 'malformed', 'truncated', 'empty'].reduce((n, o) => n + outcome(o), 0),
    racesInjected,
    unauthorized: iam.denied().length,
    agentFailures,
    violations,
    leaked,
  };
  if (summary.unauthorized > 0) violations.push(`IAM: ${summary.unauthorized} calls refused by the shipped policy, e.g. ${JSON.stringify(iam.denied()[0])}`);
  await sim.close();
  return summary;
}

export function problems(summary: SoakSummary): number {
  return summary.violations.length + summary.leaked.length + summary.agentFailures.length;
}

export function formatSummary(s: SoakSummary): string {
  const lines = [
    `soak: ${s.seconds}s, ${s.nodes} nodes, ${s.agentsRun} agents run (${s.restarts} restarts)`,
    `  claims ${s.claims}, resumes ${s.resumes}, releases ${s.releases}; endings ${JSON.stringify(s.endings)}`,
    `  EC2: conflicts ${s.conflicts}, throttles ${s.throttles}, 5xx ${s.ec2Errors}, wire faults ${s.wireFaults}, races injected ${s.racesInjected}, refused by IAM ${s.unauthorized}`,
    `  violations ${s.violations.length}, leaked ${s.leaked.length}, agent failures ${s.agentFailures.length}`,
    ...s.violations.slice(0, 20).map((v) => `  violation: ${v}`),
    ...s.leaked.slice(0, 20).map((v) => `  leaked: ${v}`),
    ...s.agentFailures.slice(0, 20).map((v) => `  agent failure: ${v}`),
  ];
  return lines.join('\n');
}

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`soak: --${name}: expected a positive number, got ${JSON.stringify(process.argv[i + 1])}\n`);
    process.exit(2);
  }
  return value;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  const summary = await runSoak({
    seconds: argument('seconds', 60),
    agents: argument('agents', 16),
    pool: argument('pool', 6),
    seed: argument('seed', 20261123),
    progress: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`${formatSummary(summary)}\n`);
  process.exit(problems(summary) > 0 ? 1 : 0);
}
