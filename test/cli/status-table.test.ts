// `eip-agent status --format text`: the whole status, readable — including the end's notices and the gate.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusTable } from '../../agent/cli/commands/client.js';
import { applyFact, initialState } from '../../agent/core/status.js';

test('the text form shows the gate, the termination notice and the rebalance recommendation', () => {
  let s = initialState({ tagKey: 'color', tagValue: 'orange' }, '1.2.3', 'label');
  const closed = statusTable(s.status);
  assert.match(closed, /^gate\s+closed \(--gate label\)$/m);
  assert.match(closed, /^termination\s+-$/m);
  assert.match(closed, /^rebalance\s+-$/m);
  assert.match(closed, /^pool\s+color=orange \(\? of \? free\)$/m);
  s = applyFact(s, { type: 'pool', size: 3, free: 3 }, 0);
  s = applyFact(s, { type: 'claimed', claimed: { allocationId: 'eipalloc-1', publicIp: '198.51.100.1', associationId: 'eipassoc-1', resumed: false } }, 0);
  s = applyFact(s, { type: 'gate-open' }, 0);
  s = applyFact(s, { type: 'rebalance', notice: '2026-01-02T03:04:05Z' }, 0);
  s = applyFact(s, { type: 'termination', detail: 'spot terminate at 2026-01-02T03:06:05Z' }, 0);
  const table = statusTable(s.status);
  assert.match(table, /^gate\s+open \(--gate label\)$/m);
  assert.match(table, /^termination\s+spot terminate at 2026-01-02T03:06:05Z$/m);
  assert.match(table, /^rebalance\s+2026-01-02T03:04:05Z$/m);
  assert.match(table, /^pool\s+color=orange \(2 of 3 free\)$/m, 'the claim took one');
  assert.match(table, /^version\s+1\.2\.3$/m);
});
