import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TerminationLatch, watchSignals } from '../../agent/lifecycle/monitors.js';

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
  // Abort reasons are Errors (never a plain object in a message).
  assert.ok(latch.forced.reason instanceof Error);
});

test('watchSignals: G5a under systemd asks whether the system is stopping; a second signal forces', async () => {
  const cases: [boolean, boolean | 'throws', boolean][] = [
    // underSystemd, systemctl says stopping, release
    [false, false, true],
    [true, true, true],
    [true, false, false],
    [true, 'throws', false],
  ];
  for (const [underSystemd, stopping, release] of cases) {
    const latch = new TerminationLatch();
    let send!: (signal: string) => void;
    watchSignals((handler) => ((send = handler), () => {}), {
      underSystemd,
      isSystemStopping: async () => {
        if (stopping === 'throws') throw new Error('no systemctl');
        return stopping;
      },
    }, latch);
    send('SIGTERM');
    send('SIGTERM');
    assert.equal((await latch.first).release, release, JSON.stringify({ underSystemd, stopping }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(latch.forced.aborted, release, 'a second signal skips the drain wait only when it releases');
  }
});
