// The first half of the agent's life, end to end: the built bundle as its own process
// against the simulated AWS over real HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sim } from '../sim/sim.js';
import { LOST_WAIT_MS, runToEnd } from '../helpers/agent.js';
import { associateCalls, startAgent, withSim } from '../helpers/fleet.js';

const POOL = { color: 'orange' };

describe('claim', () => {
  let sim: Sim;
  before(async () => {
    sim = await Sim.start({ pool: 0 });
  });
  after(() => sim.close());

  test('a single node claims, is live, and opens the gate with 2 EC2 calls (IMDS proves the association)', async () => {
    sim.world.addPool(3, POOL);
    const node = await sim.addNode();
    const { agent, get, listen } = await startAgent(sim, node);
    try {
      const ready = await agent.waitFor('ready');
      const held = sim.world.addressOn(node.instance.enis[0]!.networkInterfaceId, node.instance.enis[0]!.privateIps[0]!);
      assert.ok(held, 'an address is associated to the interface');
      assert.equal(ready['publicIp'], held.publicIp);
      assert.equal(held.tags['color'], 'orange');
      // Uncontended: list, associate; AssociateAddress's id and IMDS showing the address
      // on our private IP prove the claim, so no DescribeAddresses verification read.
      assert.deepEqual(
        // (DescribeInstances: the hop-limit read, once, after ready)
        sim.ec2.calls.filter((c) => c.caller === node.instance.instanceId && c.action !== 'DescribeInstances').map((c) => `${c.action}:${c.outcome}`),
        ['DescribeAddresses:ok', 'AssociateAddress:ok'],
      );
      const association = sim.ec2.calls.find((c) => c.action === 'AssociateAddress')!;
      // G1: present and exactly false. Left out, EC2 reassociates (takes the address).
      assert.equal(association.params['AllowReassociation'], 'false', 'G1: AllowReassociation must be sent as false');
      assert.equal(association.params['NetworkInterfaceId'], node.instance.enis[0]!.networkInterfaceId);

      const readyz = await get('/readyz');
      assert.equal(readyz.status, 200);
      assert.equal(readyz.json().phase, 'ready');
      const status = (await get('/status')).json();
      assert.equal(status.phase, 'ready');
      assert.equal(status.instanceId, node.instance.instanceId);
      assert.equal(status.publicIp, held.publicIp);
      assert.equal(status.associationId, held.association!.associationId);
      assert.deepEqual(status.pool, { tagKey: 'color', tagValue: 'orange', size: 3, free: 2 }, 'the claim took one of the 3 free addresses');
      assert.equal(status.attempts, 1);
      const metrics = (await get('/metrics')).body;
      assert.match(metrics, /eip_agent_ec2_calls_total\{action="AssociateAddress",outcome="ok"\} 1/);
      assert.match(metrics, /eip_agent_phase\{phase="ready"\} 1/);
      assert.match(metrics, /eip_agent_seconds_to_ready \d/);

      const wait = await runToEnd(['wait', '--health-listen', await listen(), '--timeout', '5'], {});
      assert.equal(wait.code, 0);
      const printed = await runToEnd(['status', '--health-listen', await listen()], {});
      assert.equal(printed.code, 0);
      assert.equal(JSON.parse(printed.stdout).publicIp, held.publicIp);
      const table = await runToEnd(['status', '--health-listen', await listen(), '--format', 'text'], {});
      assert.match(table.stdout, /^phase\s+ready$/m);
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  test('an address taken away while ready turns /readyz to 503, and back to 200 when it returns', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    const { agent, get } = await startAgent(sim, node);
    try {
      await agent.waitFor('ready');
      const eni = node.instance.enis[0]!;
      const held = sim.world.addressOn(eni.networkInterfaceId, eni.privateIps[0]!)!;
      sim.world.disassociate(held.association!.associationId);
      const lost = await agent.waitFor('address.lost', undefined, LOST_WAIT_MS);
      assert.equal(lost.level, 'warn');
      const readyz = await get('/readyz');
      assert.equal(readyz.status, 503);
      assert.match(readyz.json().reason, /is no longer live on this interface \(IMDS\); EC2 shows it not associated/);
      const back = sim.world.associate({ allocationId: held.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0]! });
      // Associated again: a new association id, adopted (G3) and named for what it is.
      const adopted = await agent.waitFor('address.readopted');
      assert.equal(adopted['associationId'], back.associationId);
      assert.equal((await get('/readyz')).status, 200);
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  test('a restart resumes the address with zero AssociateAddress (G3)', async () => {
    sim.world.addPool(2, POOL);
    const node = await sim.addNode();
    const first = await startAgent(sim, node);
    const claimed = await first.agent.waitFor('ready');
    await first.agent.stop('SIGKILL');
    assert.equal(associateCalls(sim, node), 1);

    const second = await startAgent(sim, node);
    try {
      const resumed = await second.agent.waitFor('ready');
      assert.equal(resumed['publicIp'], claimed['publicIp']);
      assert.ok(second.agent.events.some((e) => e.event === 'claim.resumed'));
      assert.equal(associateCalls(sim, node), 1, 'no second AssociateAddress');
      assert.equal(sim.world.holdings(POOL).get(`${node.instance.enis[0]!.networkInterfaceId}/${node.instance.enis[0]!.privateIps[0]}`)?.length, 1);
    } finally {
      await second.agent.stop('SIGKILL');
    }
  });

  test('exhausted pool: waits visibly, then takes an address freed by hand', async () => {
    await withSim({ pool: 1, tags: POOL }, async (local) => {
      const address = [...local.world.addresses.values()][0]!;
      const foreign = local.world.associateForeign(address.allocationId);
      const node = await local.addNode();
      const { agent, get, listen } = await startAgent(local, node);
      try {
        const exhausted = await agent.waitFor('pool.exhausted');
        assert.deepEqual([exhausted['pool'], exhausted['size'], exhausted['free']], ['color=orange', 1, 0], 'the log line carries the pool and its size');
        const readyz = await get('/readyz');
        assert.equal(readyz.status, 503);
        assert.equal(readyz.json().ready, false);
        assert.equal(readyz.json().reason, 'pool color=orange: 0 of 1 free');
        const wait = await runToEnd(['wait', '--health-listen', await listen(), '--timeout', '1'], {});
        assert.equal(wait.code, 1, 'the gate stays shut');
        assert.match(wait.stderr, /not ready after 1s: claiming: pool color=orange: 0 of 1 free/);

        local.world.disassociate(foreign.associationId);
        const ready = await agent.waitFor('ready');
        assert.equal(ready['publicIp'], address.publicIp);
      } finally {
        await agent.stop('SIGKILL');
      }
    });
  });

  test('`eip-agent claim`: one shot, exits 0 once live; `run` afterwards resumes with no AssociateAddress (G3)', async () => {
    await withSim({ pool: 2, tags: POOL }, async (local) => {
      const node = await local.addNode();
      const started = Date.now();
      const claimed = await runToEnd(['claim', '--tag-key', 'color', '--tag-value', 'orange'], local.env(node));
      console.log(`# claim: start to exit ${((Date.now() - started) / 1000).toFixed(2)} s`);
      assert.equal(claimed.code, 0, claimed.stderr);
      const eni = node.instance.enis[0]!;
      const held = local.world.addressOn(eni.networkInterfaceId, eni.privateIps[0]!);
      assert.ok(held, 'the address stays on the interface');
      assert.equal(associateCalls(local, node), 1);
      const { agent } = await startAgent(local, node);
      try {
        const ready = await agent.waitFor('ready');
        assert.equal(ready['publicIp'], held.publicIp);
        assert.equal(associateCalls(local, node), 1, 'resumed: no second AssociateAddress');
        assert.ok(agent.events.some((e) => e.event === 'claim.resumed'));
      } finally {
        await agent.stop('SIGKILL');
      }
      // A dry pool: one line at --claim-timeout, non-zero.
      for (const a of local.world.addresses.values()) if (!a.association) local.world.associateForeign(a.allocationId);
      const other = await local.addNode();
      const dry = await runToEnd(['claim', '--tag-key', 'color', '--tag-value', 'orange', '--claim-timeout', '1'], local.env(other));
      assert.equal(dry.code, 1);
      assert.match(dry.stderr, /^eip-agent: --claim-timeout 1s expired: pool color=orange: 0 of 2 free$/m);
    });
  });

  test('--live-check none: the association is verified by a DescribeAddresses read (3 EC2 calls)', async () => {
    await withSim({ pool: 2, tags: POOL }, async (local) => {
      const node = await local.addNode();
      const { agent } = await startAgent(local, node, ['--live-check', 'none']);
      try {
        await agent.waitFor('ready');
        assert.deepEqual(
          local.ec2.calls.filter((c) => c.caller === node.instance.instanceId && c.action !== 'DescribeInstances').map((c) => `${c.action}:${c.outcome}`),
          ['DescribeAddresses:ok', 'AssociateAddress:ok', 'DescribeAddresses:ok'],
        );
      } finally {
        await agent.stop('SIGKILL');
      }
    });
  });

  test('lost races list the pool again and take another address', async () => {
    await withSim({ pool: 4, tags: POOL }, async (local) => {
      local.ec2.faults.raceNext = 2;
      const node = await local.addNode();
      const { agent, get } = await startAgent(local, node);
      try {
        await agent.waitFor('ready');
        const status = (await get('/status')).json();
        assert.equal(status.conflicts, 2);
        assert.equal(status.attempts, 3);
        // A lost race means the listing is stale: three listings, and IMDS proves the win.
        assert.equal(local.ec2.count({ action: 'DescribeAddresses', caller: node.instance.instanceId }), 3);
        const tried = local.ec2.calls.filter((c) => c.action === 'AssociateAddress').map((c) => c.params['AllocationId']);
        assert.equal(new Set(tried).size, 3, 'never the same address twice');
        assert.match((await get('/metrics')).body, /eip_agent_claim_conflicts_total 2/);
      } finally {
        await agent.stop('SIGKILL');
      }
    });
  });

  test('throttling, 5xx and stale reads: the claim still completes', async () => {
    await withSim({ pool: 3, tags: POOL }, async (local) => {
      local.ec2.script('AssociateAddress', { error: 'RequestLimitExceeded' });
      local.ec2.script('DescribeAddresses', { error: 'InternalError' });
      local.ec2.faults.staleReadMs = 1500;
      const node = await local.addNode();
      const { agent, get } = await startAgent(local, node);
      try {
        const ready = await agent.waitFor('ready', undefined, 30_000);
        const held = local.world.addressOn(node.instance.enis[0]!.networkInterfaceId, node.instance.enis[0]!.privateIps[0]!);
        assert.equal(held?.publicIp, ready['publicIp']);
        const metrics = (await get('/metrics')).body;
        assert.match(metrics, /outcome="RequestLimitExceeded"\} 1/);
        assert.match(metrics, /outcome="InternalError"\} 1/);
        assert.match(metrics, /eip_agent_throttled_total 1/);
        // The stale window hides the young pool from the first listings (the agent lists again)
        // and its own association from reads right after it: neither makes it claim twice (G3).
        assert.equal(local.ec2.count({ action: 'AssociateAddress', outcome: 'ok' }), 1);
        assert.deepEqual(
          [...local.world.addresses.values()].filter((a) => a.association).map((a) => a.publicIp),
          [held!.publicIp],
        );
      } finally {
        await agent.stop('SIGKILL');
      }
    });
  });

  test('G2a: a foreign Elastic IP on the target private IP is reported, never replaced', async () => {
    await withSim({ pool: 2, tags: POOL }, async (local) => {
      const node = await local.addNode();
      const eni = node.instance.enis[0]!;
      const outsider = local.world.addAddress({ team: 'payments' });
      local.world.associate({ allocationId: outsider.allocationId, networkInterfaceId: eni.networkInterfaceId, privateIp: eni.privateIps[0]! });
      const { agent, get } = await startAgent(local, node);
      try {
        await agent.waitFor('claim.foreign-eip');
        const readyz = (await get('/readyz')).json();
        assert.equal(readyz.ready, false);
        assert.match(readyz.reason, new RegExp(`${outsider.publicIp.replaceAll('.', '\\.')} .* refusing to replace it`));
        assert.equal(associateCalls(local, node), 0);
        assert.equal(local.world.addressOn(eni.networkInterfaceId, eni.privateIps[0]!)?.allocationId, outsider.allocationId);
      } finally {
        await agent.stop('SIGKILL');
      }
    });
  });

  test('an auto-assigned public IP on the target is replaced (it is not an Elastic IP)', async () => {
    await withSim({ pool: 1, tags: POOL }, async (local) => {
      const node = await local.addNode({ autoPublicIp: true });
      const { agent } = await startAgent(local, node);
      try {
        const ready = await agent.waitFor('ready');
        assert.equal(ready['publicIp'], [...local.world.addresses.values()][0]!.publicIp);
      } finally {
        await agent.stop('SIGKILL');
      }
    });
  });
});
