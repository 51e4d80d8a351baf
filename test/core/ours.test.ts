// The one rule for "ours" (G3) as a table: where EC2 shows a pool address, relative to this node.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeWhere, whereIs, type Where } from '../../agent/core/ours.js';
import type { AddressView } from '../../agent/shared/ports.js';

const target = { instanceId: 'i-0aaa', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5', mac: '0a:00:00:00:00:01' };
const base: AddressView = { allocationId: 'eipalloc-1', publicIp: '198.51.100.1', tags: { color: 'orange' } };
const on = (networkInterfaceId: string, privateIp: string, instanceId?: string, associationId = 'eipassoc-x'): AddressView => ({
  ...base,
  associationId,
  networkInterfaceId,
  privateIp,
  ...(instanceId ? { instanceId } : {}),
});

test('whereIs: ours is our interface and private IP, whatever the association id', () => {
  const cases: [string, AddressView | undefined, Where, RegExp][] = [
    ['the association the node made', on('eni-0aaa', '10.0.0.5', 'i-0aaa', 'eipassoc-ours'), 'ours', /on this interface and private IP \(eipassoc-ours\)/],
    ['put back by hand under a new id', on('eni-0aaa', '10.0.0.5', 'i-0aaa', 'eipassoc-back'), 'ours', /eipassoc-back/],
    ['another private IP of our interface', on('eni-0aaa', '10.0.0.6', 'i-0aaa'), 'our-other-ip', /another private IP of this interface \(10\.0\.0\.6\): not ours .*put it back on 10\.0\.0\.5 or disassociate it/],
    ['another interface of our instance', on('eni-0bbb', '10.0.1.7', 'i-0aaa'), 'our-other-interface', /another interface of this instance \(eni-0bbb 10\.0\.1\.7\)/],
    ['another instance', on('eni-0ccc', '10.0.2.8', 'i-0ccc'), 'elsewhere', /^EC2 shows it on i-0ccc eni-0ccc 10\.0\.2\.8$/],
    ['an interface of no instance (a NAT gateway)', on('eni-0nat', '10.0.3.9'), 'elsewhere', /^EC2 shows it on eni-0nat 10\.0\.3\.9$/],
    ['not associated', base, 'free', /not associated/],
    ['the allocation released from the account', undefined, 'gone', /no longer knows its allocation/],
  ];
  for (const [name, seen, where, words] of cases) {
    assert.equal(whereIs(seen, target), where, name);
    assert.match(describeWhere(seen, target), words, name);
  }
});
