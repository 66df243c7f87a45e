// Keys that stand for someone else's data on the configured Redis during a test run:
// a string, a hash, a geo set and a list under random names, with random values.
// Only these keys are written, read and finally deleted; nothing else is touched.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../server/config.ts';

type Snapshot = Record<string, unknown>;

export class Sentinel {
  readonly where: string;
  private readonly url: string;
  private readonly base = `sentinel:${randomBytes(6).toString('hex')}`;
  private readonly value = randomBytes(8).toString('hex');
  private expected: Snapshot = {};

  constructor(url = loadConfig(process.env).REDIS_URL) {
    this.url = url;
    const u = new URL(url);
    this.where = `${u.hostname}:${u.port || 6379}`;
  }

  get count(): number {
    return Object.keys(this.expected).length;
  }

  private connect(): Redis {
    const redis = new Redis(this.url, { maxRetriesPerRequest: 1, connectTimeout: 5_000, retryStrategy: (n) => (n > 3 ? null : 200) });
    redis.on('error', () => {}); // failures surface as rejected commands
    return redis;
  }

  private async read(redis: Redis): Promise<Snapshot> {
    const b = this.base;
    const [str, hash, geo, list] = await Promise.all([
      redis.get(`${b}:string`),
      redis.hgetall(`${b}:hash`),
      redis.zrange(`${b}:geo`, 0, -1, 'WITHSCORES'),
      redis.lrange(`${b}:list`, 0, -1),
    ]);
    return { [`${b}:string`]: str, [`${b}:hash`]: hash, [`${b}:geo`]: geo, [`${b}:list`]: list };
  }

  /** Writes the keys; returns why it could not (which fails the run), or null. */
  async plant(): Promise<string | null> {
    const redis = this.connect();
    const b = this.base;
    try {
      await redis.multi()
        .set(`${b}:string`, this.value)
        .hset(`${b}:hash`, { owner: 'someone else', value: this.value })
        .geoadd(`${b}:geo`, 2.3522, 48.8566, 'paris', -0.1276, 51.5072, 'london')
        .rpush(`${b}:list`, 'first', this.value)
        .exec();
      this.expected = await this.read(redis);
      return null;
    } catch (err) {
      return `could not write the sentinel keys: ${(err as Error).message}`;
    } finally {
      redis.disconnect();
    }
  }

  /** Compares the keys with what was written, then deletes them; returns what differs, or null. */
  async verifyAndRemove(): Promise<string | null> {
    const redis = this.connect();
    try {
      const now = await this.read(redis);
      const changed = Object.keys(this.expected).filter((k) => JSON.stringify(now[k]) !== JSON.stringify(this.expected[k]));
      await redis.del(...Object.keys(this.expected));
      return changed.length ? changed.map((k) => `${k} was ${JSON.stringify(this.expected[k])}, is ${JSON.stringify(now[k])}`).join('; ') : null;
    } catch (err) {
      return `could not read the sentinel keys back: ${(err as Error).message}`;
    } finally {
      redis.disconnect();
    }
  }
}
