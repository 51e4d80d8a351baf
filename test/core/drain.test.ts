import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDrained, isWorkload, workloadPods } from '../../agent/core/drain.js';
import type { PodView } from '../../agent/shared/ports.js';

function pod(overrides: Partial<PodView> = {}): PodView {
  return { namespace: 'default', name: 'web-1', phase: 'Running', ownerKinds: ['ReplicaSet'], mirror: false, ...overrides };
}

describe('isWorkload', () => {
  const table: [string, PodView, boolean][] = [
    ['running ReplicaSet pod', pod(), true],
    ['pending pod', pod({ phase: 'Pending' }), true],
    ['pod in Unknown phase (node lost contact)', pod({ phase: 'Unknown' }), true],
    ['bare pod without owner', pod({ ownerKinds: [] }), true],
    ['StatefulSet pod', pod({ ownerKinds: ['StatefulSet'] }), true],
    ['running Job pod', pod({ ownerKinds: ['Job'] }), true],
    ['DaemonSet pod', pod({ ownerKinds: ['DaemonSet'] }), false],
    ['DaemonSet among several owners', pod({ ownerKinds: ['Foo', 'DaemonSet'] }), false],
    ['mirror (static) pod', pod({ mirror: true, ownerKinds: ['Node'] }), false],
    ['mirror pod without owner reference', pod({ mirror: true, ownerKinds: [] }), false],
    ['succeeded Job pod', pod({ phase: 'Succeeded', ownerKinds: ['Job'] }), false],
    ['failed pod', pod({ phase: 'Failed' }), false],
    ['kind is case-sensitive, as in the API', pod({ ownerKinds: ['daemonset'] }), true],
  ];
  for (const [name, input, expected] of table) {
    it(`${name} → ${expected}`, () => assert.equal(isWorkload(input), expected));
  }
});

describe('workloadPods and isDrained', () => {
  it('an empty node is drained', () => {
    assert.deepEqual(workloadPods([]), []);
    assert.equal(isDrained([]), true);
  });

  it('only DaemonSet, mirror and finished pods left: drained', () => {
    const pods = [pod({ ownerKinds: ['DaemonSet'] }), pod({ mirror: true }), pod({ phase: 'Succeeded' })];
    assert.deepEqual(workloadPods(pods), []);
    assert.equal(isDrained(pods), true);
  });

  it('one workload pod left: not drained, and it is the one reported', () => {
    const web = pod({ name: 'web-2' });
    const pods = [pod({ ownerKinds: ['DaemonSet'] }), web, pod({ phase: 'Failed' })];
    assert.deepEqual(workloadPods(pods), [web]);
    assert.equal(isDrained(pods), false);
  });
});
