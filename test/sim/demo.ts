// `npm run demo`: a small fleet of real agents (the built bundle, one process per node) on
// the simulated AWS. Four nodes boot together against a pool of three addresses; each ready
// node's kubelet registers and the agent labels its Node with its address; one node gets a
// spot interruption notice, waits for its workload pod to leave, takes its label off,
// releases its address, and the waiting node takes it. Ends with the nodes' labels (as
// `kubectl get nodes -L eip-agent.io/public-ip` shows them), the Events the agents recorded,
// and the pool as `eip-agent pool` shows it.
import { BUNDLE, runBundle, runToEnd, type AgentProcess, type LogLine } from '../helpers/agent.js';
import { until } from '../helpers/fleet.js';
import { Sim, type SimNode } from './sim.js';

const POOL = 3;
const LABEL = 'eip-agent.io/public-ip';
const NODES = 4;
const started = Date.now();
const clock = () => `+${((Date.now() - started) / 1000).toFixed(2).padStart(6)}s`;
const say = (who: string, what: string) => process.stdout.write(`${clock()}  ${who.padEnd(7)} ${what}\n`);

// What a person wants to read of each log event (the rest stays in the JSON log).
function narrate(e: LogLine): string | undefined {
  switch (e.event) {
    case 'identity':
      return `is ${String(e['instanceId'])}, interface ${String(e['networkInterfaceId'])} ${String(e['privateIp'])}`;
    case 'pool.listed':
      return `lists pool: ${String(e['free'])} of ${String(e['size'])} free`;
    case 'pool.exhausted':
      return `pool exhausted (0 of ${String(e['size'])} free): waiting`;
    case 'claim.conflict':
      return `lost the race for ${String(e['allocationId'])}, trying the next`;
    case 'claim.associated':
      return `associated ${String(e['publicIp'])} (${String(e['allocationId'])})`;
    case 'claim.resumed':
      return `resumed ${String(e['publicIp'])}`;
    case 'ready':
      return `READY with ${String(e['publicIp'])} after ${Number(e['secondsToReady']).toFixed(2)}s, ${String(e['ec2Calls'])} EC2 calls; kubelet may start`;
    case 'termination':
      return `end of life: ${String(e['detail'])}`;
    case 'drain.waiting':
      return `draining: waiting for ${String(e['pods'])} workload pod(s) ${JSON.stringify(e['sample'])}`;
    case 'drain.done':
      return 'drained: no workload pod left';
    case 'released':
      return `released ${String(e['publicIp'])}`;
    case 'cluster.labelled':
      return `labelled its Node ${LABEL}=${String(e['publicIp'])}`;
    case 'cluster.unlabelled':
      return `took the label off its Node`;
    case 'fatal':
      return `FAILED: ${String(e['error'])}`;
    default:
      return undefined;
  }
}

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
}

async function main(): Promise<void> {
  process.stdout.write(`eip-agent demo: ${NODES} nodes, a pool of ${POOL} Elastic IPs tagged color=orange, simulated AWS on 127.0.0.1\n`);
  process.stdout.write(`agent: ${BUNDLE}\n\n`);
  const sim = await Sim.start({ pool: POOL, tags: { color: 'orange' }, instances: NODES, imdsLagMs: 300, ec2: { faults: { latencyMs: [20, 80] } } });
  const agents: { name: string; node: SimNode; agent: AgentProcess }[] = [];
  const nodeJson = (node: SimNode) => sim.world.node(node.nodeName) as { metadata?: { labels?: Record<string, string> } } | undefined;
  try {
    for (const [i, node] of sim.nodes.entries()) {
      const name = `node-${i + 1}`;
      sim.world.addPod({ nodeName: node.nodeName, name: `web-${i + 1}`, ownerKind: 'ReplicaSet' });
      sim.world.addPod({ nodeName: node.nodeName, name: `kube-proxy-${i + 1}`, namespace: 'kube-system', ownerKind: 'DaemonSet' });
      const agent = runBundle(
        ['run', '--tag-key', 'color', '--tag-value', 'orange', '--relist-interval', '1', '--drain-timeout', '30', '--health-listen', '127.0.0.1:0'],
        sim.env(node),
      );
      let seen = 0;
      agent.proc.stderr!.on('data', () => {
        for (; seen < agent.events.length; seen++) {
          const event = agent.events[seen]!;
          const text = narrate(event);
          if (text) say(name, text);
          // The gate opened: kubelet starts and registers the Node (as on a real node).
          if (event.event === 'ready' && !sim.world.node(node.nodeName)) {
            sim.registerNode(node);
            say('k8s', `kubelet on ${name} registers Node ${node.nodeName}`);
          }
        }
      });
      agents.push({ name, node, agent });
    }

    const has = (a: (typeof agents)[number], event: string) => a.agent.events.some((e) => e.event === event);
    await until(() => agents.filter((a) => has(a, 'ready')).length === POOL && agents.some((a) => has(a, 'pool.exhausted')), 60_000, 'three nodes ready and one waiting');
    const waiter = agents.find((a) => !has(a, 'ready'))!;
    const ending = agents.find((a) => has(a, 'ready'))!;
    say('aws', `spot interruption notice for ${ending.name} (${ending.node.instance.instanceId})`);
    sim.world.instances.get(ending.node.instance.instanceId)!.spotAction = { action: 'terminate', time: new Date(Date.now() + 120_000).toISOString() };
    await ending.agent.waitFor('drain.waiting', undefined, 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    const web = sim.world.podsOn(ending.node.nodeName).find((p) => p.name.startsWith('web-'))!;
    say('k8s', `pod ${web.namespace}/${web.name} on ${ending.name} is evicted and leaves`);
    sim.world.deletePod(web.namespace, web.name);
    await ending.agent.exited;
    say(ending.name, `agent exited ${ending.agent.proc.exitCode}`);
    await waiter.agent.waitFor('ready', undefined, 30_000);

    process.stdout.write('\n');
    const rows = agents.map(({ name, node, agent }) => {
      const ready = agent.events.find((e) => e.event === 'ready');
      const phase = agent.proc.exitCode === null ? 'ready' : 'released';
      return [
        name,
        node.instance.instanceId,
        String(ready?.['publicIp'] ?? '-'),
        String(sim.ec2.count({ caller: node.instance.instanceId })),
        ready ? Number(ready['secondsToReady']).toFixed(2) : '-',
        phase,
      ];
    });
    table(['node', 'instance', 'address', 'EC2 calls', 's to ready', 'now'], rows);
    const holdings = [...sim.world.holdings({ color: 'orange' }).values()];
    process.stdout.write(`\npool now: ${holdings.length} of ${POOL} addresses held, none by two interfaces: ${holdings.every((h) => h.length === 1)}\n`);

    await until(() => agents.filter((a) => a.agent.proc.exitCode === null).every((a) => (nodeJson(a.node)?.metadata?.labels ?? {})[LABEL] !== undefined), 15_000, 'the labels');
    process.stdout.write(`\n$ kubectl get nodes -L ${LABEL}\n`);
    table(
      ['NAME', 'STATUS', LABEL.toUpperCase()],
      agents.filter((a) => nodeJson(a.node)).map(({ node }) => [node.nodeName, 'Ready', (nodeJson(node)?.metadata?.labels ?? {})[LABEL] ?? '']),
    );
    process.stdout.write('\n$ kubectl get events --field-selector involvedObject.kind=Node\n');
    table(
      ['TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
      sim.kube.events({ kind: 'Node' }).map((e) => {
        const event = e as { type: string; reason: string; involvedObject: { name: string }; message: string };
        return [event.type, event.reason, `node/${event.involvedObject.name}`, event.message];
      }),
    );
    // The operator's view of the pool, from any node (or a laptop with --region).
    process.stdout.write('\n$ eip-agent pool --tag-key color --tag-value orange\n');
    const pool = await runToEnd(['pool', '--tag-key', 'color', '--tag-value', 'orange'], sim.env(waiter.node));
    if (pool.code !== 0) throw new Error(`eip-agent pool exited ${pool.code}: ${pool.stderr}`);
    process.stdout.write(`${pool.stdout}\n`);
  } finally {
    say('demo', 'the other nodes end too (pods gone, SIGTERM): each releases its address');
    for (const { node } of agents) for (const pod of sim.world.podsOn(node.nodeName)) sim.world.deletePod(pod.namespace, pod.name);
    await Promise.all(agents.map(({ agent }) => agent.stop('SIGTERM')));
    const after = await runToEnd(['pool', '--tag-key', 'color', '--tag-value', 'orange'], sim.env(sim.nodes[0]!));
    process.stdout.write(`\n$ eip-agent pool --tag-key color --tag-value orange   # every address back in the pool\n${after.stdout}\n`);
    await sim.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
