import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyPoolHint, poolReport, poolTable, tagValues } from '../../agent/core/pool-report.js';
import type { AddressView } from '../../agent/shared/ports.js';

function address(n: number, tags: Record<string, string>, holder: Partial<AddressView> = {}): AddressView {
  return { allocationId: `eipalloc-${n}`, publicIp: `198.51.100.${n}`, tags, ...holder };
}

const ORANGE = { color: 'orange' };

test('tagValues: each value of the key with its count, sorted; an empty value counts', () => {
  const cases: [AddressView[], Record<string, number>][] = [
    [[], {}],
    [[address(1, ORANGE), address(2, { color: 'blue' }), address(3, ORANGE)], { blue: 1, orange: 2 }],
    [[address(1, { color: '' }), address(2, { other: 'x' })], { '': 1 }],
    [[address(1, { color: 'red' }), address(2, { color: 'Red' }), address(3, { color: 'blue' }), address(4, { color: 'red' })], { Red: 1, blue: 1, red: 2 }],
  ];
  // entries, not the object: the order is what the hint and the JSON print
  for (const [carrying, expected] of cases) assert.deepEqual(Object.entries(tagValues(carrying, 'color')), Object.entries(expected));
});

test('emptyPoolHint: nothing when the pool has members; else the key missing, or its other values', () => {
  const cases: [{ tagKey: string; tagValue?: string }, AddressView[], RegExp | undefined][] = [
    [{ tagKey: 'color', tagValue: 'orange' }, [address(1, ORANGE)], undefined],
    [{ tagKey: 'color' }, [address(1, { color: 'blue' })], undefined],
    [{ tagKey: 'color', tagValue: 'purple' }, [], /no Elastic IP in this region carries the tag key "color"/],
    [{ tagKey: 'color' }, [], /carries the tag key "color" \(check --tag-key/],
    [{ tagKey: 'color', tagValue: 'purple' }, [address(1, ORANGE)], /no Elastic IP has color="purple"; the key "color" exists with the value "orange" \(1\) \(check --tag-value\)/],
    [{ tagKey: 'color', tagValue: 'Orange' }, [address(1, ORANGE), address(2, { color: 'blue' })], /with the values "blue" \(1\), "orange" \(1\)/],
  ];
  for (const [pool, carrying, expected] of cases) {
    const hint = emptyPoolHint(pool, carrying);
    if (expected === undefined) assert.equal(hint, undefined, JSON.stringify(pool));
    else assert.match(hint ?? '', expected, JSON.stringify(pool));
  }
});

test('poolReport: exactly the pool, sorted by IP, holder fields only when held, counts', () => {
  const carrying = [
    address(10, ORANGE),
    address(2, ORANGE, { associationId: 'eipassoc-2', instanceId: 'i-2', networkInterfaceId: 'eni-2', privateIp: '10.0.0.2' }),
    address(3, { color: 'blue' }),
    address(4, ORANGE, { associationId: 'eipassoc-4', networkInterfaceId: 'eni-nat', privateIp: '10.0.0.4' }),
  ];
  const report = poolReport({ tagKey: 'color', tagValue: 'orange' }, carrying, new Map([['i-2', 'ip-10-0-0-2.ec2.internal']]));
  assert.deepEqual(report, {
    pool: 'color=orange',
    size: 3,
    free: 1,
    addresses: [
      { publicIp: '198.51.100.2', allocationId: 'eipalloc-2', associationId: 'eipassoc-2', instanceId: 'i-2', networkInterfaceId: 'eni-2', privateIp: '10.0.0.2', nodeName: 'ip-10-0-0-2.ec2.internal' },
      { publicIp: '198.51.100.4', allocationId: 'eipalloc-4', associationId: 'eipassoc-4', networkInterfaceId: 'eni-nat', privateIp: '10.0.0.4' },
      { publicIp: '198.51.100.10', allocationId: 'eipalloc-10' },
    ],
  });
  const text = poolTable(report);
  assert.match(text, /^198\.51\.100\.2 +eipalloc-2 +i-2 eni-2 10\.0\.0\.2 \(ip-10-0-0-2\.ec2\.internal\)$/m);
  assert.match(text, /^198\.51\.100\.4 +eipalloc-4 +held by eni-nat \(no instance: not an agent\)$/m);
  assert.match(text, /^198\.51\.100\.10 +eipalloc-10 +free$/m);
  assert.match(text, /^pool color=orange: 3 addresses, 1 free, 2 held$/m);
});

test('poolReport: an empty pool carries the other values of its key', () => {
  const report = poolReport({ tagKey: 'color', tagValue: 'purple' }, [address(1, ORANGE)]);
  assert.deepEqual(report, { pool: 'color=purple', size: 0, free: 0, addresses: [], otherValues: { orange: 1 } });
  assert.equal(poolTable(report, 'empty: why'), 'pool color=purple: 0 addresses, 0 free, 0 held\nempty: why\n');
});

test('poolReport: sorted by the whole address, octet by octet, not by its last number', () => {
  const at = (publicIp: string, n: number): AddressView => ({ ...address(n, ORANGE), publicIp });
  const carrying = [at('203.0.113.1', 1), at('10.0.1.0', 2), at('10.0.0.200', 3), at('9.255.255.255', 4), at('198.51.100.7', 5)];
  const report = poolReport({ tagKey: 'color', tagValue: 'orange' }, carrying);
  assert.deepEqual(
    report.addresses.map((r) => r.publicIp),
    ['9.255.255.255', '10.0.0.200', '10.0.1.0', '198.51.100.7', '203.0.113.1'],
  );
});

test('poolTable: the whole table an operator reads, columns as wide as their widest cell or header', () => {
  const report = poolReport({ tagKey: 'color' }, [
    { allocationId: 'eipalloc-0123456789abcdef0', publicIp: '1.2.3.4', tags: { color: 'a' } },
    address(7, ORANGE, { associationId: 'eipassoc-7', instanceId: 'i-7', networkInterfaceId: 'eni-7', privateIp: '10.0.0.7' }), // no node name known
    address(8, ORANGE, { associationId: 'eipassoc-8', instanceId: 'i-8' }), // an instance without its interface in the answer
    address(9, ORANGE, { associationId: 'eipassoc-9' }), // an association and nothing else
  ]);
  assert.equal(
    poolTable(report),
    [
      'PUBLIC IP     ALLOCATION                  HOLDER (instance interface private-ip (node))',
      '1.2.3.4       eipalloc-0123456789abcdef0  free',
      '198.51.100.7  eipalloc-7                  i-7 eni-7 10.0.0.7',
      '198.51.100.8  eipalloc-8                  i-8 - -',
      '198.51.100.9  eipalloc-9                  held by something (no instance: not an agent)',
      'pool color=*: 4 addresses, 1 free, 3 held',
      '',
    ].join('\n'),
  );
  const one = poolReport({ tagKey: 'color', tagValue: 'orange' }, [address(1, ORANGE)]);
  assert.equal(poolTable(one), ['PUBLIC IP     ALLOCATION  HOLDER (instance interface private-ip (node))', '198.51.100.1  eipalloc-1  free', 'pool color=orange: 1 address, 1 free, 0 held', ''].join('\n'));
});
