// Faults of EC2 and IMDS: claims still complete, nothing is double-claimed, and no secret
// of the simulator ever reaches the logs or /status.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAgent } from '../helpers/fleet.js';
import { Sim } from '../sim/sim.js';

const POOL = { color: 'orange' };

describe('faults', () => {
  let sim: Sim;
  before(async () => {
    sim = await Sim.start({ pool: 0 });
  });
  after(() => sim.close());

  test('30% RequestLimitExceeded and 5% InternalError: a fleet of 5 still gets 5 distinct addresses', async () => {
    const local = await Sim.start({ pool: 5, tags: POOL, instances: 5, ec2: { faults: { errorRate: { RequestLimitExceeded: 0.3, InternalError: 0.05 }, latencyMs: [10, 40] } } });
    // Ten-odd calls at 30 % can all pass (about 2 % of runs): scripted throttles make sure
    // every run meets a throttled listing and a throttled association; the rates add the rest.
    local.ec2.script('DescribeAddresses', { error: 'RequestLimitExceeded' });
    local.ec2.script('AssociateAddress', { error: 'RequestLimitExceeded' });
    const agents = await Promise.all(local.nodes.map((n) => startAgent(local, n)));
    try {
      const ready = await Promise.all(agents.map((a) => a.agent.waitFor('ready', undefined, 90_000)));
      assert.equal(new Set(ready.map((e) => e['publicIp'])).size, 5);
      for (const held of local.world.holdings(POOL).values()) assert.equal(held.length, 1);
      assert.equal(local.world.holdings(POOL).size, 5);
      for (const action of ['DescribeAddresses', 'AssociateAddress']) {
        assert.ok(local.ec2.calls.some((c) => c.action === action && c.outcome === 'RequestLimitExceeded'), `a throttled ${action} was answered`);
      }
    } finally {
      await Promise.all(agents.map((a) => a.agent.stop('SIGKILL')));
      await local.close();
    }
  });

  for (const fault of ['malformed', 'empty', 'truncated', 'reset'] as const) {
    test(`a ${fault} answer to the listing and to the association: the claim completes`, async () => {
      sim.world.addPool(1, POOL);
      const node = await sim.addNode();
      sim.ec2.script('DescribeAddresses', fault);
      sim.ec2.script('AssociateAddress', fault);
      const { agent } = await startAgent(sim, node);
      try {
        const ready = await agent.waitFor('ready', undefined, 30_000);
        const eni = node.instance.enis[0]!;
        assert.equal(sim.world.addressOn(eni.networkInterfaceId, eni.privateIps[0]!)?.publicIp, ready['publicIp']);
        assert.ok(sim.ec2.calls.some((c) => c.caller === node.instance.instanceId && c.outcome === fault));
      } finally {
        await agent.stop('SIGKILL');
      }
    });
  }

  test('IMDS throttling at start, token expiry mid-run, and a lagging public-ipv4', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    node.imds.faults.failNext(4, 503);
    sim.world.imdsLagMs = 1500;
    const { agent } = await startAgent(sim, node, ['--drain-timeout', '5']);
    try {
      await agent.waitFor('live.waiting');
      const ready = await agent.waitFor('ready');
      const associated = sim.ec2.calls.find((c) => c.caller === node.instance.instanceId && c.action === 'AssociateAddress' && c.outcome === 'ok')!;
      assert.ok(Date.parse(ready.time) - associated.at >= 1400, 'ready only once IMDS shows the address (G4)');
      // Every token the agent holds becomes invalid; it must notice the spot notice anyway.
      node.imds.expireTokens();
      sim.world.instances.get(node.instance.instanceId)!.spotAction = { action: 'terminate', time: '2026-11-23T12:00:00Z' };
      await agent.waitFor('released');
      assert.equal((await agent.exited).code, 0);
      assert.ok(node.imds.requests.some((r) => r.status === 401), 'a stale token was refused and replaced');
    } finally {
      sim.world.imdsLagMs = 0;
      await agent.stop('SIGKILL');
    }
  });

  test('no secret (role keys, session token, kube token) appears in logs, /status or /metrics', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    sim.world.addPod({ nodeName: node.nodeName, name: 'web', ownerKind: 'ReplicaSet' });
    const { agent, get } = await startAgent(sim, node, ['--log-level', 'debug', '--drain-timeout', '1']);
    await agent.waitFor('ready');
    const seen = [(await get('/status')).body, (await get('/metrics')).body];
    agent.proc.kill('SIGTERM');
    await agent.waitFor('released');
    await agent.exited;
    const output = [...seen, ...agent.plain, ...agent.stdout, ...agent.events.map((e) => JSON.stringify(e))].join('\n');
    const { credentials } = node.instance;
    const secrets = { secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken, accessKeyId: credentials.accessKeyId, kubeToken: `node-token-${node.instance.instanceId}` };
    assert.ok(output.length > 1000 && output.includes('drain.timeout'), 'the whole life was logged');
    for (const [name, secret] of Object.entries(secrets)) assert.equal(output.includes(secret), false, `${name} leaked`);
  });
});
