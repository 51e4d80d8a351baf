// EC2's request throttling: a token bucket per account, region and action class. A call
// takes one token; an empty bucket answers RequestLimitExceeded. Buckets refill
// continuously at a fixed rate up to their capacity.

export interface BucketSize {
  capacity: number;
  refillPerSecond: number;
}

/** Published EC2 sizes: non-mutating (Describe*) 100 @ 20/s, mutating 50 @ 5/s. */
export const EC2_BUCKETS: { read: BucketSize; write: BucketSize } = {
  read: { capacity: 100, refillPerSecond: 20 },
  write: { capacity: 50, refillPerSecond: 5 },
};

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly size: BucketSize,
    now: number,
  ) {
    this.tokens = size.capacity;
    this.last = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.tokens = Math.min(this.size.capacity, this.tokens + elapsed * this.size.refillPerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
