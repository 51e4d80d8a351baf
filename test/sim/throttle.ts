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

/** What a busy account leaves the fleet: smaller buckets, and a neighbour's share of each refill. */
export interface AccountLoad {
  /** every bucket's size and refill times this (0.4: buckets at 40 % of the published) */
  scale?: number;
  /**
   * A neighbour (the VPC CNI at boot, Karpenter, the operators' tooling) takes this share of
   * each bucket's refill while the fleet boots, first: it was there before and never backs
   * off. Modelled as the refill it leaves; the burst is whoever's comes first.
   */
  neighbour?: { describe?: number; mutating?: number };
}

/** The buckets the fleet meets under `load` (the published ones when none). */
export function accountBuckets(load: AccountLoad = {}): { read: BucketSize; write: BucketSize } {
  const scale = load.scale ?? 1;
  const left = (share: number | undefined) => 1 - Math.min(0.95, Math.max(0, share ?? 0));
  return {
    read: { capacity: Math.max(1, Math.round(EC2_BUCKETS.read.capacity * scale)), refillPerSecond: EC2_BUCKETS.read.refillPerSecond * scale * left(load.neighbour?.describe) },
    write: { capacity: Math.max(1, Math.round(EC2_BUCKETS.write.capacity * scale)), refillPerSecond: EC2_BUCKETS.write.refillPerSecond * scale * left(load.neighbour?.mutating) },
  };
}

/**
 * The least time these buckets need for `nodes` nodes on `pool` free addresses: each node
 * lists once and each address is associated once; what a burst cannot serve waits for its
 * refill. With the published buckets: max((N − 50) / 5, (N − 100) / 20).
 */
export function floorS(nodes: number, pool: number, buckets: { read: BucketSize; write: BucketSize } = EC2_BUCKETS): number {
  const associations = Math.min(nodes, pool);
  return Math.max(0, (associations - buckets.write.capacity) / buckets.write.refillPerSecond, (nodes - buckets.read.capacity) / buckets.read.refillPerSecond);
}
