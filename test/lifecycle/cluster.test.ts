// The cluster loop on a fake clock: it asks for the Node until kubelet registers it, applies
// the label, and once in line with the facts asks the API server nothing until a fact comes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Claimed } from '../../agent/core/claim-decision.js';
import { kubeCluster, NODE_LABEL } from '../../agent/lifecycle/cluster.js';
import { AgentError } from '../../agent/shared/errors.js';
import { memoryLogger } from '../../agent/shared/log.js';
import type { KubePort, NodeMetadataPatch, NodeView } from '../../agent/shared/ports.js';
import { FakeTime } from '../helpers/fake-time.js';

const CLAIMED: Claimed = { allocationId: 'eipalloc-1', publicIp: '198.51.100.1', associationId: 'eipassoc-1', resumed: false };

function fakeKube(): { kube: KubePort; calls: string[]; register(): void } {
  const calls: string[] = [];
  let node: NodeView | undefined;
  const kube: KubePort = {
    listPodsOnNode: async () => [],
    getNode: async (name) => (calls.push(`get ${name}`), node),
    patchNode: async (_name, patch: NodeMetadataPatch) => {
      calls.push(`patch ${patch.labels?.[NODE_LABEL] ?? 'unlabel'}`);
      return node!;
    },
    recordEvent: async (_node, event) => void calls.push(`event ${event.reason}`),
  };
  return { kube, calls, register: () => (node = { name: 'n1', uid: 'u1', labels: {} } as NodeView) };
}

/** The loop running, told that this node claimed CLAIMED and is ready. */
function startReady(time: FakeTime, kube: KubePort) {
  const cluster = kubeCluster({ kube, nodeName: 'n1', pool: 'color=orange', log: memoryLogger({ now: time.clock.now, level: 'debug' }), timing: time });
  const stop = new AbortController();
  const loop = cluster.run(stop.signal);
  cluster.observe({ type: 'claimed', claimed: CLAIMED });
  cluster.observe({ type: 'ready' });
  return { cluster, stop, loop };
}

test('asks for the Node each second until registered, labels it, then waits for a fact without asking', async () => {
  const time = new FakeTime();
  const { kube, calls, register } = fakeKube();
  const { cluster, stop, loop } = startReady(time, kube);
  await time.advance(2_500);
  assert.deepEqual(calls, ['get n1', 'get n1', 'get n1'], 'every second while kubelet has not registered it');
  register();
  await time.advance(1_000);
  assert.deepEqual(calls.slice(3), ['get n1', 'patch 198.51.100.1']);
  await time.advance(600_000);
  assert.equal(calls.length, 5, `idle and in line: no request in 10 minutes, got ${calls.slice(5).join(', ')}`);
  assert.equal(time.pending, 0, 'and no timer: the loop sleeps until a fact wakes it');
  // A fact wakes it at once: the label comes off while the address is lost, and an event goes out.
  cluster.observe({ type: 'lost', reason: 'gone' });
  cluster.event({ type: 'Warning', reason: 'Test', message: 'm' });
  await time.advance(0);
  assert.deepEqual(calls.slice(5), ['patch unlabel', 'event Test']);
  stop.abort(new Error('end'));
  await time.run(loop);
});

test('an API server that fails is asked again after the interval, not left idle', async () => {
  const time = new FakeTime();
  const { kube, calls, register } = fakeKube();
  register();
  let failing = true;
  const patch = kube.patchNode;
  kube.patchNode = async (name, p, signal) => {
    if (failing) {
      calls.push('patch failed');
      throw new AgentError('transient', 'kube.network', 'no answer');
    }
    return patch(name, p, signal);
  };
  const { stop, loop } = startReady(time, kube);
  await time.advance(2_500);
  assert.deepEqual(calls, ['get n1', 'patch failed', 'patch failed', 'patch failed']);
  failing = false;
  await time.advance(1_000);
  assert.equal(calls.at(-1), 'patch 198.51.100.1');
  stop.abort(new Error('end'));
  await time.run(loop);
});
