// A TestServer-like view of one member of a real cluster (scripts/cluster.ts). The
// world/clients/invariants helpers only use url, token, prefix, app.sql, app.redis and
// app.config.SWEEP_INTERVAL_MS, so every member shares one Postgres client (on the
// cluster's schema) and one Redis client, and only the url differs.
import { createAuth } from '../../server/auth.ts';
import { loadConfig } from '../../server/config.ts';
import type { Role } from '../../shared/domain.ts';
import type { TestServer } from './server.ts';
import { startClusterAnyPort, type Cluster } from '../../scripts/cluster.ts';
import { openStores as open, type Opened } from '../../scripts/lib/lifecycle.ts';

export interface Stores extends Opened {
  token(role: Role, id: string, ttlSeconds?: number): Promise<string>;
}

// The children inherit this environment, so the same URLs and JWT secret.
const auth = createAuth(loadConfig(process.env));

export function openStores(schema: string, prefix: string): Stores {
  return { ...open({ schema, prefix }), token: (role, id, ttl) => auth.sign({ role, sub: id }, ttl) };
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
 * port (retried: a port in the range may be taken). If it cannot start, the stores are
 * dropped and the error thrown.
 */
export async function startTestCluster(stores: Stores, n: number, env: Record<string, string>, label: string): Promise<Cluster> {
  try {
    return await startClusterAnyPort(n, { DB_SCHEMA: stores.schema, REDIS_PREFIX: stores.prefix, ...env }, {
      onRetry: (port, e) => console.warn(`${label}: base port ${port} failed (${String(e).slice(0, 200)}); trying another`),
    });
  } catch (e) {
    await stores.drop();
    throw e;
  }
}
