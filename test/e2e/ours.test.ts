// One rule for "ours" (G3), end to end: an association of a pool address with this node's
// interface and private IP is ours — at start, while running and at the end. An address
// moved away and put back by hand under a new association id is adopted, reported and
// released; one put back on another private IP of the instance is not ours.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LOST_WAIT_MS } from '../helpers/agent.js';
import { startAgent } from '../helpers/fleet.js';
import { Sim, type SimNode } from '../sim/sim.js';

const POOL = { color: 'orange' };

function target(node: SimNode) {
  const eni = node.instance.enis[0]!;
  return { networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0]! };
}

describe('ours', () => {
  let sim: Sim;
  before(async () => {
    sim = await Sim.start({ pool: 0 });
  });
  after(() => sim.close());

  test('moved away, put back under a new association id, SIGTERM: adopted and released (DisassociateAddress by the new id)', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    const other = await sim.addNode();
    const { agent, get } = await startAgent(sim, node);
    try {
      await agent.waitFor('ready');
      const first = sim.world.addressOn(target(node).networkInterfaceId, target(node).privateIp)!;
      const firstId = first.association!.associationId;
      // An operator moves it to another instance (reassociation allowed, as the console does).
      sim.world.associate({ allocationId: first.allocationId, ...target(other), allowReassociation: true });
      const lost = await agent.waitFor('address.lost', undefined, LOST_WAIT_MS);
      assert.equal(lost['seenInstanceId'], other.instance.instanceId);
      const readyz = await get('/readyz');
      assert.equal(readyz.status, 503);
      assert.match(readyz.json().reason, new RegExp(`EC2 shows it on ${other.instance.instanceId} ${target(other).networkInterfaceId} ${target(other).privateIp}`));
      // ... and puts it back on this node's interface and private IP: a new association id.
      const back = sim.world.associate({ allocationId: first.allocationId, ...target(node), allowReassociation: true });
      assert.notEqual(back.associationId, firstId);
      const adopted = await agent.waitFor('address.readopted');
      assert.equal(adopted['associationId'], back.associationId);
      assert.equal(adopted['previousAssociationId'], firstId);
      const status = (await get('/status')).json();
      assert.equal(status.phase, 'ready');
      assert.equal(status.associationId, back.associationId, '/status shows the association the agent now holds');

      agent.proc.kill('SIGTERM');
      await agent.waitFor('released');
      assert.equal((await agent.exited).code, 0);
      const disassociations = sim.ec2.calls.filter((c) => c.action === 'DisassociateAddress' && c.caller === node.instance.instanceId);
      assert.deepEqual(disassociations.map((c) => c.params['AssociationId']), [back.associationId]);
      assert.equal(sim.world.addresses.get(first.allocationId)?.association, undefined, 'the address is free for the next node');
      assert.ok(!agent.events.some((e) => e.event === 'release.skipped'), 'no release.skipped');
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  test('another pool address put on our interface and private IP while ours was away: released at the end, ours left where it is', async () => {
    const [, spare] = sim.world.addPool(2, POOL);
    const node = await sim.addNode();
    const other = await sim.addNode();
    const { agent } = await startAgent(sim, node);
    try {
      const ready = await agent.waitFor('ready');
      const first = sim.world.addresses.get(String(ready['allocationId']))!;
      const second = first.allocationId === spare!.allocationId ? [...sim.world.addresses.values()].find((a) => a !== first && a.tags['color'] === 'orange' && !a.association)! : spare!;
      sim.world.associate({ allocationId: first.allocationId, ...target(other), allowReassociation: true });
      await agent.waitFor('address.lost', undefined, LOST_WAIT_MS);
      const put = sim.world.associate({ allocationId: second.allocationId, ...target(node), allowReassociation: false });

      agent.proc.kill('SIGTERM');
      const adopted = await agent.waitFor('address.readopted');
      assert.deepEqual([adopted['allocationId'], adopted['associationId'], adopted['previousAllocationId'], adopted['when']], [second.allocationId, put.associationId, first.allocationId, 'release']);
      await agent.waitFor('released');
      assert.equal((await agent.exited).code, 0);
      const disassociations = sim.ec2.calls.filter((c) => c.action === 'DisassociateAddress' && c.caller === node.instance.instanceId);
      assert.deepEqual(disassociations.map((c) => c.params['AssociationId']), [put.associationId]);
      assert.equal(sim.world.addresses.get(second.allocationId)?.association, undefined, 'the one on our target is free for the next node');
      assert.equal(sim.world.addresses.get(first.allocationId)?.association?.networkInterfaceId, target(other).networkInterfaceId, 'G2: the one moved away stays where the operator put it');
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  test('another pool address put on our interface and private IP as ours was moved away: adopted while running (ready, /status), released at the end', async () => {
    sim.world.addPool(2, POOL);
    const node = await sim.addNode();
    const other = await sim.addNode();
    const { agent, get } = await startAgent(sim, node);
    try {
      const ready = await agent.waitFor('ready');
      const first = sim.world.addresses.get(String(ready['allocationId']))!;
      const second = [...sim.world.addresses.values()].find((a) => a !== first && a.tags['color'] === 'orange' && !a.association)!;
      // Within one watch interval: the node finds the other pool address on its target at the loss.
      sim.world.associate({ allocationId: first.allocationId, ...target(other), allowReassociation: true });
      const put = sim.world.associate({ allocationId: second.allocationId, ...target(node), allowReassociation: false });
      const adopted = await agent.waitFor('address.readopted');
      assert.deepEqual([adopted['allocationId'], adopted['associationId'], adopted['previousAllocationId'], adopted['when']], [second.allocationId, put.associationId, first.allocationId, 'running']);
      // IMDS shows it, EC2 confirms the association: ready again (address.back, the association it adopted).
      const back = await agent.waitFor('address.back', undefined, LOST_WAIT_MS);
      assert.deepEqual([back['publicIp'], back['associationId']], [second.publicIp, put.associationId]);
      const status = (await get('/status')).json();
      assert.deepEqual([status.phase, status.allocationId, status.publicIp, status.associationId], ['ready', second.allocationId, second.publicIp, put.associationId]);
      assert.equal((await get('/readyz')).status, 200);

      agent.proc.kill('SIGTERM');
      await agent.waitFor('released');
      assert.equal((await agent.exited).code, 0);
      const disassociations = sim.ec2.calls.filter((c) => c.action === 'DisassociateAddress' && c.caller === node.instance.instanceId);
      assert.deepEqual(disassociations.map((c) => c.params['AssociationId']), [put.associationId]);
      assert.ok(!agent.events.some((e) => e.event === 'release.skipped'), 'released straight away: the held address was the one on our target');
      assert.equal(sim.world.addresses.get(first.allocationId)?.association?.networkInterfaceId, target(other).networkInterfaceId, 'G2: the one moved away stays where the operator put it');
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  test('put back on another private IP of this interface: not ours (503 naming where it is), kept at SIGTERM', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    const secondary = sim.world.addPrivateIp(target(node).networkInterfaceId);
    const { agent, get } = await startAgent(sim, node);
    try {
      await agent.waitFor('ready');
      const held = sim.world.addressOn(target(node).networkInterfaceId, target(node).privateIp)!;
      const moved = sim.world.associate({ allocationId: held.allocationId, networkInterfaceId: target(node).networkInterfaceId, privateIp: secondary, allowReassociation: true });
      const lost = await agent.waitFor('address.lost', undefined, LOST_WAIT_MS);
      assert.equal(lost['seenPrivateIp'], secondary);
      const readyz = await get('/readyz');
      assert.equal(readyz.status, 503);
      assert.match(readyz.json().reason, new RegExp(`another private IP of this interface \\(${secondary.replaceAll('.', '\\.')}\\)`));

      agent.proc.kill('SIGTERM');
      const skipped = await agent.waitFor('release.skipped');
      assert.equal(skipped['outcome'], 'not-ours');
      assert.equal((await agent.exited).code, 0);
      assert.equal(sim.ec2.count({ action: 'DisassociateAddress', caller: node.instance.instanceId }), 0, 'G2: nobody asked the agent to move it there');
      assert.equal(sim.world.addresses.get(held.allocationId)?.association?.associationId, moved.associationId);
    } finally {
      await agent.stop('SIGKILL');
    }
  });
});
