import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TerminationLatch, imdsTermination, signalTermination } from '../../agent/lifecycle/monitors.js';

test('imdsTermination: spot notices and ASG Terminated end the node; nothing else does', () => {
  const cases: [string | undefined, string | undefined, string | undefined][] = [
    [undefined, undefined, undefined],
    [undefined, 'InService', undefined],
    [undefined, 'Warmed:Stopped', undefined],
    [undefined, 'Terminated', 'asg'],
    [undefined, 'Terminated\n', 'asg'],
    [undefined, 'Warmed:Terminated', 'asg'],
    ['{"action":"terminate","time":"2026-11-23T12:00:00Z"}', 'InService', 'spot'],
    ['{"action":"stop","time":"2026-11-23T12:00:00Z"}', undefined, 'spot'],
    ['not json', undefined, 'spot'],
  ];
  for (const [spot, lifecycle, source] of cases) {
    const t = imdsTermination(spot, lifecycle);
    assert.equal(t?.source, source, JSON.stringify({ spot, lifecycle }));
    if (t) assert.equal(t.release, true);
  }
  assert.match(imdsTermination('{"action":"terminate","time":"T"}', undefined)!.detail, /terminate at T/);
});

test('signalTermination: G5a — under systemd only a stopping system releases', async () => {
  const cases: [boolean, boolean | 'throws', boolean][] = [
    // underSystemd, systemctl says stopping, release
    [false, false, true],
    [true, true, true],
    [true, false, false],
    [true, 'throws', false],
  ];
  for (const [underSystemd, stopping, release] of cases) {
    const t = await signalTermination('SIGTERM', {
      underSystemd,
      isSystemStopping: async () => {
        if (stopping === 'throws') throw new Error('no systemctl');
        return stopping;
      },
    }, false);
    assert.equal(t.release, release, JSON.stringify({ underSystemd, stopping }));
  }
  assert.equal((await signalTermination('SIGINT', { underSystemd: false, isSystemStopping: async () => false }, true)).force, true);
});

test('TerminationLatch: the first report wins; a later forced one escalates', async () => {
  const latch = new TerminationLatch();
  latch.report({ source: 'spot', detail: 'a', release: true, force: false });
  latch.report({ source: 'request', detail: 'b', release: true, force: false });
  assert.equal((await latch.first).source, 'spot');
  assert.equal(latch.forced.aborted, false);
  latch.report({ source: 'request', detail: 'c', release: true, force: true });
  assert.equal(latch.forced.aborted, true);

  const keep = new TerminationLatch();
  keep.report({ source: 'signal', detail: 'restart', release: false, force: false });
  keep.report({ source: 'signal', detail: 'again', release: false, force: true });
  assert.equal(keep.forced.aborted, false);
});
