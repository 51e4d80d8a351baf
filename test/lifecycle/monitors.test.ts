import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Fact } from '../../agent/core/status.js';
import { TerminationLatch, watchNotices, watchSignals } from '../../agent/lifecycle/monitors.js';
import { memoryLogger } from '../../agent/shared/log.js';
import type { ImdsPort, Notices } from '../../agent/shared/ports.js';
import { FakeTime } from '../helpers/fake-time.js';

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

test('watchNotices: spot and ASG every 5 s (the EC2 User Guide), the rebalance recommendation every 30 s until seen', async () => {
  const time = new FakeTime();
  const asked: { at: number; rebalance: boolean }[] = [];
  let rebalance: string | undefined;
  let spot: Notices['spot'];
  const imds: ImdsPort = {
    identity: async () => Promise.reject(new Error('not asked')),
    publicIpsOn: async () => [],
    isLiveOn: async () => false,
    notices: async (_signal, options) => {
      const wanted = options?.rebalance ?? true;
      asked.push({ at: time.elapsed, rebalance: wanted });
      return { ...(spot ? { spot } : {}), ...(wanted && rebalance ? { rebalance } : {}) };
    },
  };
  const latch = new TerminationLatch();
  const facts: Fact[] = [];
  const watching = watchNotices({ imds, latch, report: (f) => facts.push(f), log: memoryLogger({ now: time.clock.now, level: 'debug' }), timing: time }, new AbortController().signal);
  await time.advance(59_000);
  assert.deepEqual(asked.map((a) => a.at), [0, 5000, 10_000, 15_000, 20_000, 25_000, 30_000, 35_000, 40_000, 45_000, 50_000, 55_000]);
  assert.deepEqual(asked.filter((a) => a.rebalance).map((a) => a.at), [0, 30_000]);
  rebalance = '2026-11-23T12:00:00Z';
  await time.advance(31_000); // 60 s: asked, seen, shown once; never asked again
  assert.deepEqual(facts, [{ type: 'rebalance', notice: rebalance }]);
  await time.advance(60_000);
  assert.deepEqual(asked.filter((a) => a.rebalance).map((a) => a.at), [0, 30_000, 60_000]);
  spot = { action: 'terminate', time: '2026-11-27T12:05:00Z' };
  await time.advance(5_000);
  await time.run(watching);
  assert.equal((await latch.first).source, 'spot');
});
