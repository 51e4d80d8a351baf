// What the cluster sees (SPEC §4a), end to end: the built agent against the simulated API
// server over TLS with the kubelet's exec-plugin credentials, as on EKS. The label and
// annotations on the node's own Node, Events for each case, and the gate policy for a
// dry pool.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LOST_WAIT_MS, runToEnd } from '../helpers/agent.js';
import { startAgent, until, withSim } from '../helpers/fleet.js';
import { Sim, type SimNode } from '../sim/sim.js';

const POOL = { color: 'orange' };
const LABEL = 'eip-agent.io/public-ip';
const FAST = ['--drain-timeout', '2'];

type Json = Record<string, any>;
const labels = (sim: Sim, node: SimNode): Record<string, string> => (sim.world.node(node.nodeName) as Json | undefined)?.['metadata']?.['labels'] ?? {};
const annotations = (sim: Sim, node: SimNode): Record<string, string> => (sim.world.node(node.nodeName) as Json | undefined)?.['metadata']?.['annotations'] ?? {};
const reasons = (sim: Sim, node: SimNode) => sim.kube.events({ name: node.nodeName }).map((e) => (e as Json)['reason'] as string);
const heldBy = (sim: Sim, node: SimNode) => sim.world.addressOn(node.instance.enis[0]!.networkInterfaceId, node.instance.enis[0]!.privateIps[0]!);

describe('the cluster sees the address', () => {
  let sim: Sim;
  before(async () => {
    sim = await Sim.start({ pool: 0 });
  });
  after(() => sim.close());

  test('labelled once kubelet registers the Node after ready; unlabelled before the disassociation', async () => {
    sim.world.addPool(2, POOL);
    const node = await sim.addNode();
    const { agent } = await startAgent(sim, node, FAST);
    try {
      const ready = await agent.waitFor('ready');
      // The gate opened: kubelet starts and registers the Node.
      const registered = Date.now();
      sim.registerNode(node);
      await until(() => labels(sim, node)[LABEL] === ready['publicIp'], 15_000, 'the label');
      console.log(`# registration → labelled: ${((Date.now() - registered) / 1000).toFixed(2)} s`);
      const held = heldBy(sim, node)!;
      assert.deepEqual(
        {
          allocation: annotations(sim, node)['eip-agent.io/allocation-id'],
          association: annotations(sim, node)['eip-agent.io/association-id'],
          pool: annotations(sim, node)['eip-agent.io/pool'],
        },
        { allocation: held.allocationId, association: held.association!.associationId, pool: 'color=orange' },
      );
      await until(() => reasons(sim, node).includes('AddressClaimed'), 15_000, 'the AddressClaimed event');

      // At the moment EC2 applies the disassociation, the Node must carry no label any more.
      const disassociate = sim.world.disassociate.bind(sim.world);
      let labelAtDisassociation: string | undefined = 'not called';
      sim.world.disassociate = (id) => {
        labelAtDisassociation = labels(sim, node)[LABEL];
        return disassociate(id);
      };
      agent.proc.kill('SIGTERM');
      await agent.waitFor('released');
      assert.equal(labelAtDisassociation, undefined, 'the label went away before the disassociation');
      assert.equal(annotations(sim, node)['eip-agent.io/allocation-id'], undefined);
      assert.equal((await agent.exited).code, 0);
      assert.ok(reasons(sim, node).includes('AddressReleased'), `events: ${reasons(sim, node).join(', ')}`);
      sim.world.disassociate = disassociate;
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  test('an address taken away behind the agent: label removed (address.lost), restored when it is back (address.readopted, AddressReadopted)', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode({ register: true });
    const { agent } = await startAgent(sim, node, FAST);
    try {
      const ready = await agent.waitFor('ready');
      await until(() => labels(sim, node)[LABEL] === ready['publicIp'], 15_000, 'the label');
      const held = heldBy(sim, node)!;
      sim.world.disassociate(held.association!.associationId);
      await agent.waitFor('address.lost', undefined, LOST_WAIT_MS);
      await until(() => labels(sim, node)[LABEL] === undefined, 15_000, 'the label removed');
      const eni = node.instance.enis[0]!;
      const back = sim.world.associate({ allocationId: held.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0]!, allowReassociation: false });
      await agent.waitFor('address.readopted', undefined, 15_000);
      await until(() => labels(sim, node)[LABEL] === ready['publicIp'], 15_000, 'the label back');
      await until(() => annotations(sim, node)['eip-agent.io/association-id'] === back.associationId, 15_000, 'the annotation names the new association');
      await until(() => reasons(sim, node).includes('AddressReadopted'), 15_000, 'the AddressReadopted event');
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  test('events: pool exhausted, a foreign Elastic IP refused (G2a), the drain timed out', async () => {
    await withSim({ pool: 1, tags: POOL }, async (local) => {
      const holder = await local.addNode({ register: true });
      local.world.addPod({ nodeName: holder.nodeName, name: 'web', ownerKind: 'ReplicaSet' });
      const waiting = await local.addNode({ register: true });
      const foreign = await local.addNode({ register: true });
      const team = local.world.addAddress({ team: 'x' });
      const eni = foreign.instance.enis[0]!;
      local.world.associate({ allocationId: team.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0]!, allowReassociation: false });
      const a = await startAgent(local, holder, FAST);
      await a.agent.waitFor('ready');
      const b = await startAgent(local, waiting, FAST);
      const c = await startAgent(local, foreign, FAST);
      try {
        await until(() => reasons(local, waiting).includes('PoolExhausted'), 20_000, 'PoolExhausted');
        await until(() => reasons(local, foreign).includes('ForeignElasticIP'), 20_000, 'ForeignElasticIP');
        const exhausted = local.kube.events({ name: waiting.nodeName, reason: 'PoolExhausted' });
        assert.equal(exhausted.length, 1, 'rate-limited: one per minute however often the pool is listed');
        assert.equal((exhausted[0] as Json)['type'], 'Warning');
        assert.match((exhausted[0] as Json)['message'], /pool color=orange: 0 of 1 addresses free/);
        a.agent.proc.kill('SIGTERM');
        await a.agent.waitFor('released', undefined, 30_000);
        await a.agent.exited; // the last events go out as the daemon ends
        assert.ok(reasons(local, holder).includes('DrainTimedOut'), `events: ${reasons(local, holder).join(', ')}`);
      } finally {
        await Promise.all([a, b, c].map((s) => s.agent.stop('SIGKILL')));
      }
    });
  });

  test('the API server down costs a warning, nothing more: the claim and the release go on', async () => {
    await withSim({ pool: 1, tags: POOL }, async (local) => {
      const node = await local.addNode({ register: true });
      local.kube.faults.hang = true;
      const { agent } = await startAgent(local, node, ['--drain-timeout', '1']);
      try {
        await agent.waitFor('ready');
        const warning = await agent.waitFor('cluster.unreachable', undefined, 20_000);
        assert.equal(warning.level, 'warn');
        agent.proc.kill('SIGTERM');
        await agent.waitFor('released', undefined, 30_000);
        assert.equal((await agent.exited).code, 0);
        assert.equal(heldBy(local, node), undefined);
      } finally {
        await agent.stop('SIGKILL');
      }
    });
  });

  test('--gate label on a dry pool: the gate opens after its bound, the node joins unlabelled, and is labelled once it wins an address', async () => {
    await withSim({ pool: 1, tags: POOL }, async (local) => {
      const holder = await local.addNode({ register: true });
      const a = await startAgent(local, holder, FAST);
      await a.agent.waitFor('ready');
      const node = await local.addNode();
      const { agent, listen } = await startAgent(local, node, [...FAST, '--gate', 'label', '--gate-timeout', '1']);
      try {
        await agent.waitFor('pool.exhausted');
        const gate = await runToEnd(['wait', '--health-listen', await listen(), '--timeout', '30'], {});
        assert.equal(gate.code, 0, gate.stderr);
        assert.match(gate.stderr, /the gate opens anyway \(--gate label\)/);
        await agent.waitFor('gate.open');
        // kubelet starts and registers the Node: without the label.
        local.registerNode(node);
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(labels(local, node)[LABEL], undefined);
        // An address frees: within a re-list interval the node wins it and gets its label.
        a.agent.proc.kill('SIGTERM');
        const freed = await a.agent.waitFor('released');
        const ready = await agent.waitFor('ready', undefined, 20_000);
        assert.equal(ready['publicIp'], freed['publicIp']);
        await until(() => labels(local, node)[LABEL] === ready['publicIp'], 15_000, 'the label');
      } finally {
        await Promise.all([agent.stop('SIGKILL'), a.agent.stop('SIGKILL')]);
      }
    });
  });
});
