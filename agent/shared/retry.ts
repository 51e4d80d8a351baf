// The one retry layer of every EC2 and IMDS call: p-retry runs the attempts (never
// retrying a TypeError, honouring the signal), and the waits are ours — computed by
// pacing.ts and slept on the injected clock — so that tests drive retries without real
// time. Throttled, transient and malformed answers are asked again after a backoff; refused
// ones (auth, rejected) only where the policy paces them, after a long wait (errors.ts, Meaning).
import pRetry from 'p-retry';
import { isAgentError, meaningOf } from './errors.js';
import { refusedDelay, retryDelay, type RetryPolicy } from './pacing.js';
import type { Timing } from './time.js';

export interface RetryOptions {
  policy: RetryPolicy;
  timing: Timing;
  /** aborts the waits (and the next attempt) at once */
  signal?: AbortSignal;
  /**
   * Retries already known to be needed: the waits start this far up the policy's doubling
   * (a listing after one that met a crowd of throttles starts where that one ended).
   */
  skip?: number;
  /** the spread the caller's crowd needs (pacing.ts crowdSpreadMs), in place of the policy's throttled spread */
  crowdMs?: number;
  /** told of each failed attempt that will be retried, with the wait before the next */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

export function retrying<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { policy, timing, signal } = options;
  const started = timing.clock.now();
  let giveUp = false;
  let refusals = 0;
  const asked = (error: unknown): boolean => {
    const meaning = meaningOf(error);
    return meaning === 'retry' || (meaning === 'refused' && policy.refused !== undefined);
  };
  return pRetry(() => fn(), {
    retries: Number.isFinite(policy.attempts) ? Math.max(0, policy.attempts - 1) : Number.POSITIVE_INFINITY,
    // p-retry's own timer stays at zero: the wait happens in onFailedAttempt, on our clock.
    minTimeout: 0,
    maxTimeout: 0,
    randomize: false,
    ...(signal ? { signal } : {}),
    onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
      if (!asked(error)) return;
      const refused = meaningOf(error) === 'refused';
      if (refused) refusals += 1;
      const delay = refused ? refusedDelay(refusals, timing.random, policy.refused) : retryDelay(policy, attemptNumber + (options.skip ?? 0), isAgentError(error, 'throttled'), timing.random, options.crowdMs);
      if (retriesLeft <= 0 || timing.clock.now() - started + delay > policy.budgetMs) {
        giveUp = true;
        return;
      }
      options.onRetry?.(error, attemptNumber, delay);
      await timing.sleep(delay, signal);
    },
    shouldRetry: ({ error }) => asked(error) && !giveUp,
  });
}
