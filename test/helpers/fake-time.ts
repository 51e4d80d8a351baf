// A fake clock for the in-process tier: sleeps are queued and time jumps to the next one
// whenever nothing else can run, so that minutes of claim, backoff and drain run in
// milliseconds, the same way for the same seed.
import { rng } from '../fuzz/random.js';
import type { Timing } from '../../agent/shared/time.js';

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
}

// Epoch ms of the fake clock's start: a plausible date, so that ISO times look real.
const START = Date.UTC(2026, 10, 27, 12, 0, 0);

export class FakeTime implements Timing {
  private current = START;
  private seq = 0;
  private timers: Timer[] = [];
  readonly random: () => number;

  constructor(seed = 1) {
    const source = rng(seed);
    this.random = () => source.next();
  }

  readonly clock = { now: () => this.current };

  /** ms since the fake clock started */
  get elapsed(): number {
    return this.current - START;
  }

  /** sleeps waiting for the clock */
  get pending(): number {
    return this.timers.length;
  }

  readonly sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer: Timer = {
        at: this.current + Math.max(0, ms),
        seq: this.seq++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.timers = this.timers.filter((t) => t !== timer);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
    });

  /**
   * Runs until `work` settles: lets every ready callback run, then moves the clock to the
   * earliest sleep and wakes it. Fails when nothing is scheduled while `work` is pending (a
   * deadlock), or past `limitMs` of fake time.
   */
  async run<T>(work: Promise<T>, limitMs = 24 * 3600_000): Promise<T> {
    let settled = false;
    work.then(
      () => (settled = true),
      () => (settled = true),
    );
    const deadline = this.current + limitMs;
    for (;;) {
      await settle();
      if (settled) return work;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (!next) throw new Error(`fake time: nothing scheduled at +${this.elapsed} ms and the work is still pending`);
      if (next.at > deadline) throw new Error(`fake time: still pending after ${limitMs} ms of fake time`);
      this.current = Math.max(this.current, next.at);
      next.fire();
    }
  }

  /** Moves the clock forward by `ms`, waking every sleep that ends on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    for (;;) {
      await settle();
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.current = Math.max(this.current, next.at);
      next.fire();
    }
    this.current = until;
    await settle();
  }
}

/** Lets every callback that is ready run: promise jobs and I/O callbacks already due. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}
