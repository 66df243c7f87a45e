// Token buckets keyed by user or by address, in memory, per process. Memory is
// bounded: a bucket left alone long enough to refill is the same as no bucket and is
// dropped, and past `maxKeys` the least recently used key is dropped (it starts over
// with a full bucket, which only ever errs on the side of letting someone through).
interface Bucket { tokens: number; last: number }

export class KeyedBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(readonly capacity: number, readonly perMs: number, private readonly maxKeys = 100_000) {}

  /** Takes one token from `key`'s bucket; false when it is empty. */
  take(key: string, now = Date.now()): boolean {
    const bucket = this.refill(key, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Seconds until `key` has a token again (at least 1), for Retry-After. */
  retryAfterS(key: string, now = Date.now()): number {
    const tokens = this.refill(key, now).tokens;
    return Math.max(1, Math.ceil(((1 - tokens) * this.perMs) / this.capacity / 1000));
  }

  get size(): number {
    return this.buckets.size;
  }

  private refill(key: string, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (bucket) {
      // Re-inserted below, so the map stays in least-recently-used order.
      this.buckets.delete(key);
      bucket.tokens = Math.min(this.capacity, bucket.tokens + (Math.max(0, now - bucket.last) * this.capacity) / this.perMs);
      bucket.last = now;
    } else {
      bucket = { tokens: this.capacity, last: now };
    }
    this.buckets.set(key, bucket);
    this.prune(now);
    return bucket;
  }

  /** Oldest first; stops at the first bucket that may still be short of tokens. Amortised O(1). */
  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      const refilled = now - bucket.last >= this.perMs;
      if (!refilled && this.buckets.size <= this.maxKeys) return;
      this.buckets.delete(key);
    }
  }
}
