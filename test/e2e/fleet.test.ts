// Nodes booting together: 20 agents, 20 addresses, no lock service.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Sim } from '../sim/sim.js';
import { startAgent } from '../helpers/fleet.js';

test('20 agents against 20 addresses: all ready, all distinct, nothing taken twice', async () => {
  const sim = await Sim.start({ pool: 20, tags: { color: 'orange' }, instances: 20, ec2: { faults: { latencyMs: [20, 60] } } });
  const started = await Promise.all(sim.nodes.map((node) => startAgent(sim, node)));
  try {
    const ready = await Promise.all(started.map(({ agent }) => agent.waitFor('ready', undefined, 60_000)));
    const addresses = ready.map((e) => e['publicIp']);
    assert.equal(new Set(addresses).size, 20, 'every node has its own address');
    const holdings = sim.world.holdings({ color: 'orange' });
    assert.equal(holdings.size, 20);
    for (const held of holdings.values()) assert.equal(held.length, 1, 'at most one pool address per interface (G3)');
    for (const [i, node] of sim.nodes.entries()) {
      const eni = node.instance.enis[0]!;
      assert.equal(sim.world.addressOn(eni.networkInterfaceId, eni.privateIps[0]!)?.publicIp, addresses[i]);
    }
    const perNode = sim.nodes.map((n) => sim.ec2.count({ caller: n.instance.instanceId }));
    const mean = perNode.reduce((a, b) => a + b, 0) / perNode.length;
    // Reported, not asserted as a goal: the benchmark owns the numbers.
    console.log(`# EC2 calls per node: mean ${mean.toFixed(2)}, max ${Math.max(...perNode)}; conflicts ${sim.ec2.count({ outcome: 'Resource.AlreadyAssociated' })}`);
    assert.equal(sim.ec2.count({ action: 'AssociateAddress', outcome: 'ok' }), 20, 'exactly one successful association per node');
  } finally {
    await Promise.all(started.map(({ agent }) => agent.stop('SIGKILL')));
    await sim.close();
  }
});
