// The pool as an operator sees it (`eip-agent pool`, the doctor, the daemon's empty-pool
// reason): from the addresses carrying the tag key, which are in the pool, who holds them,
// and — when the pool is empty — which values of the key exist. Pure.
import type { AddressView, PoolSelector } from '../shared/ports.js';
import { describePool, inPool, isFree } from './pool.js';

export interface PoolRow {
  publicIp: string;
  allocationId: string;
  /** holder fields: absent when the address is free */
  associationId?: string;
  instanceId?: string;
  networkInterfaceId?: string;
  privateIp?: string;
  /** the holder's node name, where it can be known (its instance's private DNS name) */
  nodeName?: string;
}

export interface PoolReport {
  pool: string;
  size: number;
  free: number;
  addresses: PoolRow[];
  /** only when the pool is empty: the values the tag key has on other addresses, with their counts */
  otherValues?: Record<string, number>;
}

/** How many addresses carry each value of the key (an address with the key but no value counts as ""). */
export function tagValues(carrying: readonly AddressView[], tagKey: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const address of carrying) {
    const value = address.tags[tagKey];
    if (value !== undefined) counts[value] = (counts[value] ?? 0) + 1;
  }
  return Object.fromEntries(Object.keys(counts).sort().map((value) => [value, counts[value]!]));
}

/**
 * Why a pool is empty, from the addresses carrying its tag key (a `tag-key` listing): the key
 * exists nowhere, or only with other values (named). Undefined when the pool is not empty.
 */
export function emptyPoolHint(pool: PoolSelector, carrying: readonly AddressView[]): string | undefined {
  if (carrying.some((a) => inPool(a, pool))) return undefined;
  const values = tagValues(carrying, pool.tagKey);
  const names = Object.keys(values);
  if (names.length === 0) return `no Elastic IP in this region carries the tag key ${JSON.stringify(pool.tagKey)} (check --tag-key, its case, and --region)`;
  const listed = names.map((v) => `${JSON.stringify(v)} (${values[v]})`).join(', ');
  // The pool has a value here: without one, every address carrying the key is in the pool.
  return `no Elastic IP has ${pool.tagKey}=${JSON.stringify(pool.tagValue)}; the key ${JSON.stringify(pool.tagKey)} exists with ${names.length === 1 ? 'the value' : 'the values'} ${listed} (check --tag-value)`;
}

const byIp = (a: PoolRow, b: PoolRow): number => {
  const n = (ip: string) => ip.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
  return n(a.publicIp) - n(b.publicIp);
};

/** The pool from a `tag-key` listing; `names`: instance id → node name, where known (a free address has no instance id: no name). */
export function poolReport(pool: PoolSelector, carrying: readonly AddressView[], names: ReadonlyMap<string | undefined, string> = new Map()): PoolReport {
  const members = carrying.filter((a) => inPool(a, pool));
  const addresses = members
    .map((a): PoolRow => {
      const name = names.get(a.instanceId);
      return {
        publicIp: a.publicIp,
        allocationId: a.allocationId,
        ...(a.associationId !== undefined ? { associationId: a.associationId } : {}),
        ...(a.instanceId !== undefined ? { instanceId: a.instanceId } : {}),
        ...(a.networkInterfaceId !== undefined ? { networkInterfaceId: a.networkInterfaceId } : {}),
        ...(a.privateIp !== undefined ? { privateIp: a.privateIp } : {}),
        ...(name !== undefined ? { nodeName: name } : {}),
      };
    })
    .sort(byIp);
  return {
    pool: describePool(pool),
    size: members.length,
    free: members.filter(isFree).length,
    addresses,
    ...(members.length === 0 ? { otherValues: tagValues(carrying, pool.tagKey) } : {}),
  };
}

/** The holder column: what holds an associated address that is not an instance's (a NAT gateway, a load balancer). */
function holder(row: PoolRow): string {
  if (row.associationId === undefined) return 'free';
  if (row.instanceId === undefined) return `held by ${row.networkInterfaceId ?? 'something'} (no instance: not an agent)`;
  return `${row.instanceId} ${row.networkInterfaceId ?? '-'} ${row.privateIp ?? '-'}${row.nodeName ? ` (${row.nodeName})` : ''}`;
}

export function poolTable(report: PoolReport, hint?: string): string {
  const rows = report.addresses.map((r) => [r.publicIp, r.allocationId, holder(r)]);
  const header = ['PUBLIC IP', 'ALLOCATION', 'HOLDER (instance interface private-ip (node))'];
  const widths = [0, 1].map((i) => Math.max(...[header, ...rows].map((r) => r[i]!.length)));
  const line = (cells: string[]) => `${cells[0]!.padEnd(widths[0]!)}  ${cells[1]!.padEnd(widths[1]!)}  ${cells[2]}`;
  const body = rows.length ? [header, ...rows].map(line) : [];
  const counts = `pool ${report.pool}: ${report.size} address${report.size === 1 ? '' : 'es'}, ${report.free} free, ${report.size - report.free} held`;
  return `${[...body, counts, ...(hint ? [hint] : [])].join('\n')}\n`;
}
