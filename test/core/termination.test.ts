// What ends the node, as whole decisions: source, detail, release and force, every field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noticeTermination, signalTermination, type Termination } from '../../agent/core/termination.js';
import type { Notices } from '../../agent/shared/ports.js';

test('noticeTermination: spot notices and ASG Terminated end the node, waiting for the drain; nothing else does', () => {
  const asg = (state: string): Termination => ({ source: 'asg', detail: `auto scaling target lifecycle state ${state}`, release: true, force: false });
  const cases: [Notices, Termination | undefined][] = [
    [{}, undefined],
    [{ lifecycle: 'InService' }, undefined],
    [{ lifecycle: 'Warmed:Stopped' }, undefined],
    [{ lifecycle: 'Pending:Wait' }, undefined],
    [{ lifecycle: 'NotTerminated' }, undefined],
    [{ lifecycle: 'Terminated:Wait' }, undefined],
    [{ lifecycle: 'Terminated' }, asg('Terminated')],
    [{ lifecycle: ' Terminated\n' }, asg('Terminated')],
    [{ lifecycle: 'Warmed:Terminated' }, asg('Warmed:Terminated')],
    [{ spot: { action: 'terminate', time: '2026-11-23T12:00:00Z' }, lifecycle: 'InService' }, { source: 'spot', detail: 'spot interruption: terminate at 2026-11-23T12:00:00Z', release: true, force: false }],
    [{ spot: { action: 'stop', time: 'T' }, lifecycle: 'Terminated' }, { source: 'spot', detail: 'spot interruption: stop at T', release: true, force: false }],
    [{ spot: 'unreadable' }, { source: 'spot', detail: 'spot interruption: unknown', release: true, force: false }],
    [{ rebalance: '2026-11-23T12:00:00Z' }, undefined],
  ];
  for (const [notices, expected] of cases) assert.deepEqual(noticeTermination(notices), expected, JSON.stringify(notices));
});

test('signalTermination: G5a — under systemd only a stopping system releases; a repeat forces', () => {
  const cases: [boolean, boolean | undefined, boolean, Termination][] = [
    // underSystemd, stopping, repeat → the whole decision
    [false, undefined, false, { source: 'signal', detail: 'SIGTERM', release: true, force: false }],
    [false, false, true, { source: 'signal', detail: 'SIGTERM', release: true, force: true }],
    [true, true, false, { source: 'signal', detail: 'SIGTERM (system stopping)', release: true, force: false }],
    [true, true, true, { source: 'signal', detail: 'SIGTERM (system stopping)', release: true, force: true }],
    [true, false, true, { source: 'signal', detail: 'SIGTERM', release: false, force: false }],
    [true, false, false, { source: 'signal', detail: 'SIGTERM', release: false, force: false }],
    // systemctl could not tell: keep the address
    [true, undefined, true, { source: 'signal', detail: 'SIGTERM', release: false, force: false }],
  ];
  for (const [underSystemd, stopping, repeat, expected] of cases) {
    assert.deepEqual(signalTermination('SIGTERM', underSystemd, stopping, repeat), expected, JSON.stringify({ underSystemd, stopping, repeat }));
  }
  assert.equal(signalTermination('SIGINT', false, undefined, false).detail, 'SIGINT');
});
