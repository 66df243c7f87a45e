// Redis connections and the names of every key we own. All Redis data is derived:
// losing it costs speed, never correctness (DESIGN §1).
import { Redis } from 'ioredis';
import type { Config } from './config.ts';

export { Redis };

export function createRedis(config: Config, purpose: string, opts: { blocking?: boolean } = {}): Redis {
  return new Redis(config.REDIS_URL, {
    connectionName: `sd-${purpose}`,
    // BullMQ workers need blocking commands to wait forever; everything else fails fast.
    maxRetriesPerRequest: opts.blocking ? null : 3,
    // No auto-pipelining: tried for issue 14, a failed pipelined script killed the
    // process ('results[i] is not iterable', ioredis #1931; crash.test.ts caught it).
    enableReadyCheck: true,
    lazyConnect: false,
  });
}

export function redisKeys(prefix: string) {
  return {
    /** GEO set of every on-duty hero's last position (dispatcher map, re-adds). */
    positions: `${prefix}:heroes:pos`,
    /** GEO set of heroes that may be offered work right now. */
    available: `${prefix}:heroes:avail`,
    /** Hash heroId -> last ping (epoch ms). */
    lastSeen: `${prefix}:heroes:seen`,
    /** Hash heroId -> "status:version", the derived copy of heroes.status. */
    status: `${prefix}:heroes:status`,
    rate: (bucket: string, who: string) => `${prefix}:rate:${bucket}:${who}`,
    bullPrefix: `${prefix}:bull`,
    socketAdapter: `${prefix}:sio`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;
