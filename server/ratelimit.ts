// The report budget: a fixed window in Redis so it holds cluster-wide (socket and
// per-address budgets are in-memory, server/security/buckets.ts);
// if Redis is down or slower than the caller's deadline we let reports through: an
// emergency is never refused, nor delayed, because a counter is unavailable.
import type { Redis } from 'ioredis';

/** INCR, and the window's expiry when the key is new: one round trip, one command (was MULTI/INCR/EXPIRE/EXEC). */
const COUNT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n`;

type Counting = Redis & { budgetCount(key: string, ttlS: number): Promise<number> };
const defined = new WeakSet<Redis>();

/** The script as a command of this client (ioredis sends EVALSHA, and EVAL if Redis lost it). */
function counting(redis: Redis): Counting {
  if (!defined.has(redis)) {
    redis.defineCommand('budgetCount', { numberOfKeys: 1, lua: COUNT });
    defined.add(redis);
  }
  return redis as Counting;
}

/** Why a budget check let the request through unchecked. */
export type BudgetMiss = 'slow' | 'error';

export interface FixedWindowOptions {
  /**
   * How long the caller may wait on Redis. Past it the request passes unchecked; the
   * command itself stays in flight (ioredis cannot recall it) and counts when it lands.
   */
  deadlineMs: number;
  /** Told when the check was skipped (Redis too slow, or failing). */
  onMiss?: (why: BudgetMiss) => void;
}

/**
 * Returns 0 when allowed (or when Redis cannot say in time), otherwise the seconds to
 * wait. Never throws, and never takes longer than `deadlineMs`.
 */
export async function fixedWindow(redis: Redis, key: string, limit: number, windowS: number, opts: FixedWindowOptions): Promise<number> {
  const window = Math.floor(Date.now() / 1000 / windowS);
  const k = `${key}:${window}`;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), opts.deadlineMs); });
  try {
    const counted = counting(redis).budgetCount(k, windowS * 2);
    counted.catch(() => {}); // answered late or never: nobody is waiting any more
    const count = await Promise.race([counted, late]);
    if (count === 'late') { opts.onMiss?.('slow'); return 0; }
    if (typeof count !== 'number') { opts.onMiss?.('error'); return 0; }
    if (count <= limit) return 0;
    return Math.max(1, (window + 1) * windowS - Math.floor(Date.now() / 1000));
  } catch {
    opts.onMiss?.('error');
    return 0;
  } finally {
    clearTimeout(timer);
  }
}
