// Per-user budgets. Pings use an in-memory token bucket per socket (hot path, no
// round trip). Reports use a fixed window in Redis so the budget holds cluster-wide;
// if Redis is down we let reports through: an emergency is never refused because a
// counter is unavailable.
import type { Redis } from 'ioredis';

export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly capacity: number, private readonly perMs: number) {
    this.tokens = capacity;
  }

  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.capacity) / this.perMs);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Returns 0 when allowed, otherwise the seconds to wait. */
export async function fixedWindow(redis: Redis, key: string, limit: number, windowS: number): Promise<number> {
  const window = Math.floor(Date.now() / 1000 / windowS);
  const k = `${key}:${window}`;
  try {
    const [[, count]] = (await redis.multi().incr(k).expire(k, windowS * 2).exec()) as [[Error | null, number]];
    if (count <= limit) return 0;
    return Math.max(1, (window + 1) * windowS - Math.floor(Date.now() / 1000));
  } catch {
    return 0;
  }
}
