// Retry as a wrapper around one AWS call: only throttling and transient faults are tried
// again (isRetryable), with full jitter and a time budget, so that a fleet's retries do
// not add up to a storm. It is the only retry layer: the EC2 client makes one attempt a call.
import pRetry from 'p-retry';
import { isRetryable } from './errors.js';

export interface RetryOptions {
  /** first delay; doubled per retry */
  minMs: number;
  /** ceiling of one delay */
  maxMs: number;
  /** give up after this long (Infinity: only the signal stops it) */
  budgetMs: number;
  signal?: AbortSignal;
  onRetry?: (error: unknown, attempt: number) => void;
}

// First retry after 1–2 s: EC2's buckets refill at 20/s (Describe) and 5/s (mutating) for a
// whole account, so a fleet retrying sooner only collects more RequestLimitExceeded.
export const AWS_RETRY: Omit<RetryOptions, 'signal' | 'onRetry'> = { minMs: 1000, maxMs: 20_000, budgetMs: Infinity };

export function retrying<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  return pRetry(fn, {
    retries: Number.POSITIVE_INFINITY,
    minTimeout: options.minMs,
    maxTimeout: options.maxMs,
    factor: 2,
    randomize: true,
    maxRetryTime: options.budgetMs,
    ...(options.signal ? { signal: options.signal } : {}),
    shouldRetry: ({ error }) => isRetryable(error),
    onFailedAttempt: ({ error, attemptNumber }) => {
      if (isRetryable(error)) options.onRetry?.(error, attemptNumber);
    },
  });
}
