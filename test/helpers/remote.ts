// A TestServer-like view of one member of a real cluster (scripts/cluster.ts). The
// world/clients/invariants helpers only use url, token, prefix, app.sql, app.redis and
// app.config.SWEEP_INTERVAL_MS, so every member shares one Postgres client (on the
// cluster's schema) and one Redis client, and only the url differs.
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { createAuth } from '../../server/auth.ts';
import { loadConfig } from '../../server/config.ts';
import type { Role } from '../../shared/domain.ts';
import type { TestServer } from './server.ts';
import { startCluster, type Cluster } from '../../scripts/cluster.ts';

export interface Stores {
  schema: string;
  prefix: string;
  sql: postgres.Sql;
  redis: Redis;
  token(role: Role, id: string, ttlSeconds?: number): Promise<string>;
  /** Closes the clients, drops the schema and deletes every key under the prefix. */
  drop(): Promise<void>;
}

// The children inherit this environment, so the same URLs and JWT secret.
const base = loadConfig(process.env);

export function openStores(schema: string, prefix: string): Stores {
  const auth = createAuth(base);
  const sql = postgres(base.DATABASE_URL, { onnotice: () => {}, max: 4, connection: { search_path: schema } });
  const redis = new Redis(base.REDIS_URL, { maxRetriesPerRequest: 3 });
  return {
    schema, prefix, sql, redis,
    token: (role, id, ttl) => auth.sign({ role, sub: id }, ttl),
    async drop() {
      await sql.end({ timeout: 5 });
      const admin = postgres(base.DATABASE_URL, { onnotice: () => {}, max: 1 });
      await admin.unsafe(`drop schema if exists "${schema}" cascade`);
      await admin.end({ timeout: 5 });
      for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) {
        if ((keys as string[]).length) await redis.del(...(keys as string[]));
      }
      redis.disconnect();
    },
  };
}

/** One member seen through the shared stores; cast, since `app` is only partly there. */
export function remote(stores: Stores, url: string, sweepIntervalMs: number): TestServer {
  const app = { sql: stores.sql, redis: stores.redis, config: { SWEEP_INTERVAL_MS: sweepIntervalMs } };
  return {
    app, url, schema: stores.schema, prefix: stores.prefix, token: stores.token,
    stop: async () => { throw new Error('a cluster member is stopped through its Cluster'); },
  } as unknown as TestServer;
}

/**
 * A cluster of `n` real processes on the stores' schema and prefix, on a random base
 * port (retried: a port in the range may be taken). On the last failure the stores are
 * dropped and the error thrown.
 */
export async function startTestCluster(stores: Stores, n: number, env: Record<string, string>, label: string): Promise<Cluster> {
  for (let attempt = 1; ; attempt++) {
    const basePort = 20_000 + Math.floor(Math.random() * 30_000);
    try {
      return await startCluster(n, basePort, { DB_SCHEMA: stores.schema, REDIS_PREFIX: stores.prefix, ...env });
    } catch (e) {
      if (attempt >= 4) { await stores.drop(); throw e; }
      console.warn(`${label}: base port ${basePort} failed (${String(e).slice(0, 200)}); trying another`);
    }
  }
}
