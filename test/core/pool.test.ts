import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { describePool, inPool, isFree, isOn, rank, viewPool } from '../../agent/core/pool.js';
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

test('isOn: the association, the interface and the private IP must all match the target (G2/G3)', () => {
  const on = { associationId: 'eipassoc-1', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5' };
  const cases: [string, Partial<AddressView>, boolean][] = [
    ['on the target', on, true],
    ['the same private IP on another interface', { ...on, networkInterfaceId: 'eni-0bbb' }, false],
    ['another private IP of the target interface', { ...on, privateIp: '10.0.0.6' }, false],
    ['a lagging read: interface and IP, no association', { networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5' }, false],
    ['free', {}, false],
  ];
  for (const [name, extra, expected] of cases) assert.equal(isOn(address('1', extra), target), expected, name);
});

test('viewPool: what counts as held elsewhere, and what is free', () => {
  const pool = { tagKey: 'color' };
  const cases: [string, Partial<AddressView>, 'held' | 'elsewhere' | 'free' | 'none'][] = [
    ['on the target', { associationId: 'a', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5', instanceId: 'i-0aaa' }, 'held'],
    ['another private IP of the target interface', { associationId: 'a', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.6' }, 'elsewhere'],
    ['another interface of this instance', { associationId: 'a', networkInterfaceId: 'eni-0bbb', privateIp: '10.0.1.1', instanceId: 'i-0aaa' }, 'elsewhere'],
    ['another instance', { associationId: 'a', networkInterfaceId: 'eni-0ccc', privateIp: '10.0.0.5', instanceId: 'i-0ccc' }, 'none'],
    ['a NAT gateway (no instance)', { associationId: 'a', networkInterfaceId: 'eni-0nat', privateIp: '10.0.0.5' }, 'none'],
    ['free', {}, 'free'],
  ];
  for (const [name, extra, where] of cases) {
    const a = address('x', extra);
    const view = viewPool([a], pool, target);
    assert.deepEqual(
      [view.held, view.heldElsewhere, view.free, view.size],
      [where === 'held' ? a : undefined, where === 'elsewhere' ? [a] : [], where === 'free' ? [a] : [], 1],
      name,
    );
  }
});

test('rank: highest random weight first — sha256 of instance id and allocation id, first 8 bytes', () => {
  const free = Array.from({ length: 12 }, (_, i) => address(`${i}`.padStart(2, '0')));
  const weight = (id: string, a: AddressView) => createHash('sha256').update(`${id}\0${a.allocationId}`).digest().readBigUInt64BE(0);
  for (const id of ['i-0aaa', 'i-0bbb', 'i-0123456789abcdef0']) {
    const ranked = rank(id, free);
    const weights = ranked.map((a) => weight(id, a));
    for (let i = 1; i < weights.length; i++) assert.ok(weights[i - 1]! > weights[i]!, `${id}: position ${i} outweighs the one before`);
  }
  // The same order, written out: a node's order must survive a change of code (restarts
  // across an upgrade land on the same first choice).
  assert.deepEqual(rank('i-0aaa', free.slice(0, 5)).map((a) => a.allocationId), RANKED_0AAA);
  assert.deepEqual(rank('i-0aaa', []), []);
});

test('describePool: the selector as operators write it', () => {
  assert.equal(describePool({ tagKey: 'color', tagValue: 'orange' }), 'color=orange');
  assert.equal(describePool({ tagKey: 'color' }), 'color=*');
  assert.equal(describePool({ tagKey: 'color', tagValue: '' }), 'color=');
});

const RANKED_0AAA = ['eipalloc-04', 'eipalloc-02', 'eipalloc-03', 'eipalloc-01', 'eipalloc-00'];
