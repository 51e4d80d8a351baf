import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noticeTermination, signalTermination } from '../../agent/core/termination.js';
import type { Notices } from '../../agent/shared/ports.js';

test('noticeTermination: spot notices and ASG Terminated end the node; nothing else does', () => {
  const cases: [Notices, string | undefined][] = [
    [{}, undefined],
    [{ lifecycle: 'InService' }, undefined],
    [{ lifecycle: 'Warmed:Stopped' }, undefined],
    [{ lifecycle: 'Terminated' }, 'asg'],
    [{ lifecycle: 'Terminated\n' }, 'asg'],
    [{ lifecycle: 'Warmed:Terminated' }, 'asg'],
    [{ spot: { action: 'terminate', time: '2026-11-23T12:00:00Z' }, lifecycle: 'InService' }, 'spot'],
    [{ spot: { action: 'stop', time: '2026-11-23T12:00:00Z' } }, 'spot'],
    [{ spot: 'unreadable' }, 'spot'],
    [{ rebalance: '2026-11-23T12:00:00Z' }, undefined],
  ];
  for (const [notices, source] of cases) {
    const t = noticeTermination(notices);
    assert.equal(t?.source, source, JSON.stringify(notices));
    if (t) assert.equal(t.release, true);
  }
  assert.match(noticeTermination({ spot: { action: 'terminate', time: 'T' } })!.detail, /terminate at T/);
});

test('signalTermination: G5a — under systemd only a stopping system releases', () => {
  const cases: [boolean, boolean | undefined, boolean, boolean, boolean][] = [
    // underSystemd, stopping, repeat, release, force
    [false, undefined, false, true, false],
    [false, undefined, true, true, true],
    [true, true, false, true, false],
    [true, true, true, true, true],
    [true, false, true, false, false],
    [true, undefined, false, false, false], // systemctl could not tell: keep the address
  ];
  for (const [underSystemd, stopping, repeat, release, force] of cases) {
    const t = signalTermination('SIGTERM', underSystemd, stopping, repeat);
    assert.deepEqual([t.release, t.force], [release, force], JSON.stringify({ underSystemd, stopping, repeat }));
  }
});
