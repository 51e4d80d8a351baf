// The second half of the agent's life, end to end: triggers, drain-wait, release, hand-off.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runToEnd } from '../helpers/agent.js';
import { startAgent, until } from '../helpers/fleet.js';
import { EXEC_PLUGIN, kubeconfigYaml, Sim, type SimNode } from '../sim/sim.js';

const POOL = { color: 'orange' };
const DRAIN = ['--drain-timeout', '30'];

function heldBy(sim: Sim, node: SimNode) {
  const eni = node.instance.enis[0]!;
  return sim.world.addressOn(eni.networkInterfaceId, eni.privateIps[0]!);
}

function addPods(sim: Sim, node: SimNode): void {
  sim.world.addPod({ nodeName: node.nodeName, name: 'web', ownerKind: 'ReplicaSet' });
  sim.world.addPod({ nodeName: node.nodeName, name: 'kube-proxy', namespace: 'kube-system', ownerKind: 'DaemonSet' });
  sim.world.addPod({ nodeName: node.nodeName, name: 'etcd-static', namespace: 'kube-system', mirror: true });
  sim.world.addPod({ nodeName: node.nodeName, name: 'job-done', phase: 'Succeeded', ownerKind: 'Job' });
}

describe('release', () => {
  let sim: Sim;
  let bin: string;
  before(async () => {
    sim = await Sim.start({ pool: 0 });
    // A stand-in for systemctl that answers is-system-running with $FAKE_SYSTEM_STATE.
    bin = mkdtempSync(join(tmpdir(), 'eip-bin-'));
    writeFileSync(join(bin, 'systemctl'), '#!/bin/sh\necho "$FAKE_SYSTEM_STATE"\n[ "$FAKE_SYSTEM_STATE" = running ]\n');
    chmodSync(join(bin, 'systemctl'), 0o755);
  });
  after(async () => {
    await sim.close();
    rmSync(bin, { recursive: true, force: true });
  });

  test('SIGTERM: the address stays until the workload pod is gone, then is released (G5)', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    addPods(sim, node);
    const { agent, get } = await startAgent(sim, node, DRAIN);
    await agent.waitFor('ready');
    const address = heldBy(sim, node)!;
    agent.proc.kill('SIGTERM');
    const waiting = await agent.waitFor('drain.waiting');
    assert.deepEqual(waiting['sample'], ['default/web'], 'DaemonSet, mirror and finished pods are not workload');
    assert.equal((await get('/status')).json().phase, 'draining');
    assert.ok(heldBy(sim, node), 'still associated while the workload pod runs');

    const gone = Date.now();
    sim.world.deletePod('default', 'web');
    await agent.waitFor('released');
    const { code } = await agent.exited;
    assert.equal(code, 0);
    assert.equal(heldBy(sim, node), undefined);
    assert.equal(sim.world.addresses.get(address.allocationId)?.association, undefined);
    console.log(`# last pod gone → disassociated: ${((Date.now() - gone) / 1000).toFixed(2)} s (drain poll 1 s)`);
  });

  test('only root releases: a local caller on the TCP endpoint is refused (403, address kept, logged); `eip-agent release` on the socket drains and releases', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    addPods(sim, node);
    const { agent, listen } = await startAgent(sim, node, DRAIN);
    await agent.waitFor('ready');
    // What any hostNetwork pod could send: curl -X POST 127.0.0.1:8099/release -d '{"force":true}'
    const refused = await fetch(`http://${await listen()}/release?force=true`, { method: 'POST', body: '{"force":true}' });
    assert.equal(refused.status, 403);
    const logged = await agent.waitFor('release.refused');
    assert.match(String(logged['peer']), /^(::ffff:)?127\.0\.0\.1:\d+$/);
    assert.ok(heldBy(sim, node), 'nothing changed');
    assert.equal((await fetch(`http://${await listen()}/readyz`)).status, 200, 'probes need no credential');

    const release = runToEnd(['release'], { EIP_AGENT_CONTROL_SOCKET: sim.env(node)['EIP_AGENT_CONTROL_SOCKET']! });
    await agent.waitFor('drain.waiting');
    assert.ok(heldBy(sim, node), 'the drain wait holds the address while the workload pod runs');
    assert.equal((await fetch(`http://${await listen()}/healthz`)).status, 200);
    sim.world.deletePod('default', 'web');
    const done = await release;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(JSON.parse(done.stdout).phase, 'released');
    assert.equal(heldBy(sim, node), undefined);
    assert.equal((await agent.exited).code, 0);
  });

  test('an exec-plugin kubeconfig (as on EKS) is used for the drain check', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    addPods(sim, node);
    sim.kube.addToken('exec-token-1', `system:node:${node.nodeName}`, ['system:nodes']);
    const kubeconfig = join(bin, 'exec.kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml({ server: sim.kube.url, caPem: sim.kube.caPem, exec: { command: process.execPath, args: [EXEC_PLUGIN], env: { FAKE_EXEC_TOKEN: 'exec-token-1' } } }));
    const { agent } = await startAgent(sim, node, [...DRAIN, '--kubeconfig', kubeconfig]);
    await agent.waitFor('ready');
    agent.proc.kill('SIGTERM');
    await agent.waitFor('drain.waiting', (e) => e['pods'] === 1);
    sim.world.deletePod('default', 'web');
    await agent.waitFor('released');
    assert.equal((await agent.exited).code, 0);
    assert.ok(sim.kube.requests.some((r) => r.user === `system:node:${node.nodeName}` && r.status === 200));
  });

  for (const trigger of ['spot', 'asg'] as const) {
    test(`${trigger === 'spot' ? 'a spot interruption notice' : 'ASG lifecycle Terminated'} releases with no signal`, async () => {
      sim.world.addPool(1, POOL);
      const node = await sim.addNode();
      const { agent } = await startAgent(sim, node, DRAIN);
      await agent.waitFor('ready');
      const instance = sim.world.instances.get(node.instance.instanceId)!;
      if (trigger === 'spot') instance.spotAction = { action: 'terminate', time: new Date(Date.now() + 120_000).toISOString() };
      else instance.lifecycleState = 'Terminated';
      const termination = await agent.waitFor('termination');
      assert.equal(termination['source'], trigger);
      await agent.waitFor('released');
      assert.equal((await agent.exited).code, 0);
      assert.equal(heldBy(sim, node), undefined);
    });
  }

  test('a rebalance recommendation is shown but does not release', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    const { agent, get } = await startAgent(sim, node, DRAIN);
    try {
      await agent.waitFor('ready');
      sim.world.instances.get(node.instance.instanceId)!.rebalanceNoticeTime = '2026-11-23T12:00:00Z';
      await agent.waitFor('rebalance', undefined, 45_000); // read every 30 s (monitors.ts)
      const status = (await get('/status')).json();
      assert.equal(status.phase, 'ready');
      assert.match(status.rebalanceNotice, /2026-11-23T12:00:00Z/);
      assert.ok(heldBy(sim, node));
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  test('drain timeout: released anyway, with a warning', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    addPods(sim, node);
    const { agent } = await startAgent(sim, node, ['--drain-timeout', '1']);
    await agent.waitFor('ready');
    agent.proc.kill('SIGTERM');
    const warning = await agent.waitFor('drain.timeout');
    assert.equal(warning.level, 'warn');
    await agent.waitFor('released');
    assert.equal((await agent.exited).code, 0);
    assert.equal(heldBy(sim, node), undefined);
  });

  test('G5a: under systemd, a restart keeps the address; a stopping system releases it', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    const env = { PATH: `${bin}:${process.env['PATH']}`, INVOCATION_ID: 'abc', FAKE_SYSTEM_STATE: 'running' };
    const first = await startAgent(sim, node, DRAIN, env);
    await first.agent.waitFor('ready');
    const address = heldBy(sim, node)!;
    first.agent.proc.kill('SIGTERM');
    await first.agent.waitFor('restart.keep');
    assert.equal((await first.agent.exited).code, 0);
    assert.equal(heldBy(sim, node)?.allocationId, address.allocationId, 'kept across the restart');

    const second = await startAgent(sim, node, DRAIN, { ...env, FAKE_SYSTEM_STATE: 'stopping' });
    await second.agent.waitFor('claim.resumed');
    await second.agent.waitFor('ready');
    second.agent.proc.kill('SIGTERM');
    await second.agent.waitFor('released');
    assert.equal((await second.agent.exited).code, 0);
    assert.equal(heldBy(sim, node), undefined);
  });

  // The reference calls DisassociateAddress idempotent; tools in the wild have met
  // InvalidAssociationID.NotFound for the repeat. A lost answer makes the agent ask again:
  // it must end released under either reading.
  for (const reading of ['ok', 'not-found'] as const) {
    test(`a disassociation whose answer was lost is asked again and reads as released (repeat answered ${reading})`, async () => {
      sim.world.addPool(1, POOL);
      const node = await sim.addNode();
      const { agent } = await startAgent(sim, node, DRAIN);
      await agent.waitFor('ready');
      const address = heldBy(sim, node)!;
      sim.ec2.faults.staleDisassociate = reading;
      sim.ec2.script('DisassociateAddress', { afterApply: 'reset' });
      // Reads lag: the read-back still shows the association, so the agent asks again.
      sim.ec2.faults.staleReadMs = 2_000;
      try {
        agent.proc.kill('SIGTERM');
        await agent.waitFor('released', undefined, 30_000);
        assert.equal((await agent.exited).code, 0);
      } finally {
        sim.ec2.faults.staleDisassociate = 'ok';
        sim.ec2.faults.staleReadMs = 0;
      }
      assert.equal(sim.world.addresses.get(address.allocationId)?.association, undefined);
      const outcomes = sim.ec2.calls.filter((c) => c.action === 'DisassociateAddress' && c.caller === node.instance.instanceId).map((c) => c.outcome);
      assert.equal(outcomes[0], 'reset');
      assert.ok(outcomes.includes(reading === 'ok' ? 'ok' : 'InvalidAssociationID.NotFound'), `the repeat was answered: ${outcomes.join(', ')}`);
    });
  }

  test('G2: never disassociates an association that is not its own', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    const { agent } = await startAgent(sim, node, DRAIN);
    await agent.waitFor('ready');
    const address = heldBy(sim, node)!;
    // An operator moves the address elsewhere behind the agent's back.
    sim.world.disassociate(address.association!.associationId);
    const foreign = sim.world.associateForeign(address.allocationId);
    agent.proc.kill('SIGTERM');
    const skipped = await agent.waitFor('release.skipped', undefined, 20_000);
    assert.equal(skipped['outcome'], 'not-ours');
    assert.equal((await agent.exited).code, 0);
    assert.equal(sim.world.addresses.get(address.allocationId)?.association?.associationId, foreign.associationId);
    assert.equal(sim.ec2.count({ action: 'DisassociateAddress', caller: node.instance.instanceId }), 0);
  });

  test('hand-off: 3 nodes on 2 addresses; the third is ready once one is released', async () => {
    const local = await Sim.start({ pool: 2, tags: POOL, instances: 3 });
    const agents = await Promise.all(local.nodes.map((n) => startAgent(local, n, DRAIN)));
    try {
      const has = (a: (typeof agents)[number], event: string) => a.agent.events.some((e) => e.event === event);
      await until(() => agents.filter((a) => has(a, 'ready')).length === 2 && agents.some((a) => has(a, 'pool.exhausted')), 30_000, 'two ready, one waiting');
      const readyOnes = agents.filter((a) => has(a, 'ready'));
      const waiter = agents.find((a) => !has(a, 'ready'));
      assert.ok(waiter && !readyOnes.includes(waiter));
      const leaving = readyOnes[0]!;
      const released = Date.now();
      // As root on the node: the control socket of that node's agent.
      const result = await runToEnd(['release', '--force'], { EIP_AGENT_CONTROL_SOCKET: local.env(local.nodes[agents.indexOf(leaving)]!)['EIP_AGENT_CONTROL_SOCKET']! });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout).phase, 'released');
      const ready = await waiter!.agent.waitFor('ready');
      console.log(`# release → waiting node ready: ${((Date.now() - released) / 1000).toFixed(2)} s (relist interval 0.2 s)`);
      assert.equal(ready['publicIp'], leaving.agent.events.find((e) => e.event === 'ready')!['publicIp']);
      assert.equal((await leaving.agent.exited).code, 0);
    } finally {
      await Promise.all(agents.map((a) => a.agent.stop('SIGKILL')));
      await local.close();
    }
  });

  test('no kubeconfig: the drain wait is skipped with a warning', async () => {
    sim.world.addPool(1, POOL);
    const node = await sim.addNode();
    addPods(sim, node);
    const { agent } = await startAgent(sim, node, [...DRAIN, '--kubeconfig', join(bin, 'missing')]);
    const warning = await agent.waitFor('drain.skipped');
    assert.equal(warning.level, 'warn');
    await agent.waitFor('ready');
    agent.proc.kill('SIGTERM');
    await agent.waitFor('released');
    assert.equal((await agent.exited).code, 0);
  });

  test('a malformed kubeconfig is reported at start, naming the file', async () => {
    const bad = join(bin, 'bad.kubeconfig');
    writeFileSync(bad, 'apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n');
    const node = sim.nodes[0]!;
    const associations = sim.ec2.count({ action: 'AssociateAddress' });
    const result = await runToEnd(['run', '--tag-key', 'color', '--kubeconfig', bad, '--health-listen', '127.0.0.1:0'], sim.env(node));
    assert.equal(result.code, 2);
    assert.match(result.stderr, new RegExp(`kubeconfig ${bad.replaceAll('.', '\\.')}`));
    // Read once the identity is known, and still before anything changes (G6).
    assert.equal(sim.ec2.count({ action: 'AssociateAddress' }), associations, 'no association made');
  });
});
