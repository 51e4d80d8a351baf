import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inPool, isFree, rank, viewPool } from '../../agent/core/pool.js';
import type { AddressView } from '../../agent/shared/ports.js';

const target = { instanceId: 'i-0aaa', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5', mac: '0a:00:00:00:00:01' };

function address(id: string, extra: Partial<AddressView> = {}): AddressView {
  return { allocationId: `eipalloc-${id}`, publicIp: `198.51.100.${id.length}`, tags: { color: 'orange' }, ...extra };
}

test('inPool: key and value, key only, missing key', () => {
  const cases: [Record<string, string>, { tagKey: string; tagValue?: string }, boolean][] = [
    [{ color: 'orange' }, { tagKey: 'color', tagValue: 'orange' }, true],
    [{ color: 'blue' }, { tagKey: 'color', tagValue: 'orange' }, false],
    [{ color: 'blue' }, { tagKey: 'color' }, true],
    [{ Color: 'orange' }, { tagKey: 'color' }, false],
    [{}, { tagKey: 'color' }, false],
    [{ color: '' }, { tagKey: 'color', tagValue: '' }, true],
  ];
  for (const [tags, pool, expected] of cases) {
    assert.equal(inPool(address('1', { tags }), pool), expected, JSON.stringify({ tags, pool }));
  }
});

test('isFree: only an address with no association is free', () => {
  assert.equal(isFree(address('1')), true);
  // On a NAT gateway or a bare interface: no instance id, but associated.
  assert.equal(isFree(address('1', { associationId: 'eipassoc-1', networkInterfaceId: 'eni-nat' })), false);
});

test('viewPool: resumes the address already on the target (G3)', () => {
  const mine = address('mine', { associationId: 'eipassoc-1', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5', instanceId: 'i-0aaa' });
  const view = viewPool([address('a'), mine, address('b')], { tagKey: 'color', tagValue: 'orange' }, target);
  assert.equal(view.held, mine);
  assert.equal(view.free.length, 2);
  assert.equal(view.size, 3);
  assert.deepEqual(view.heldElsewhere, []);
});

test('viewPool: a pool address on another private IP of this instance is held elsewhere', () => {
  const other = address('other', { associationId: 'eipassoc-2', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.6' });
  const onSecondEni = address('second', { associationId: 'eipassoc-3', networkInterfaceId: 'eni-0bbb', privateIp: '10.0.1.1', instanceId: 'i-0aaa' });
  const someoneElse = address('else', { associationId: 'eipassoc-4', networkInterfaceId: 'eni-0ccc', privateIp: '10.0.0.9', instanceId: 'i-0ccc' });
  const view = viewPool([other, onSecondEni, someoneElse], { tagKey: 'color' }, target);
  assert.equal(view.held, undefined);
  assert.deepEqual(view.heldElsewhere, [other, onSecondEni]);
  assert.deepEqual(view.free, []);
});

test('viewPool: never offers an address outside the pool even if the listing has one (G2)', () => {
  const foreign = address('foreign', { tags: { color: 'blue' } });
  const view = viewPool([foreign, address('a')], { tagKey: 'color', tagValue: 'orange' }, target);
  assert.deepEqual(view.free.map((a) => a.allocationId), ['eipalloc-a']);
  assert.equal(view.size, 1);
});

test('rank: stable per node, different across nodes, a permutation', () => {
  const free = Array.from({ length: 20 }, (_, i) => address(`${i}`.padStart(3, '0')));
  const first = rank('i-0aaa', free).map((a) => a.allocationId);
  assert.deepEqual(rank('i-0aaa', [...free].reverse()).map((a) => a.allocationId), first);
  assert.deepEqual([...first].sort(), free.map((a) => a.allocationId).sort());
  // 50 nodes: their first choices spread over many addresses instead of all on one.
  const firstChoices = new Set(Array.from({ length: 50 }, (_, n) => rank(`i-${n}`, free)[0]!.allocationId));
  assert.ok(firstChoices.size >= 10, `first choices spread over ${firstChoices.size} addresses`);
});
