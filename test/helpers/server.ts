// Starts a real dispatch server for one test file: its own Postgres schema and Redis
// key prefix, port 0, real connections. `stop` drops what it created.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { createApp, type App } from '../../server/app.ts';
import { loadConfig, type Config } from '../../server/config.ts';
import type { Logger } from '../../server/log.ts';
import type { Role } from '../../shared/domain.ts';

export interface TestServer {
  app: App;
  url: string;
  schema: string;
  prefix: string;
  token(role: Role, id: string, ttlSeconds?: number): Promise<string>;
  stop(): Promise<void>;
}

export const uid = (p = '') => `${p}${randomBytes(5).toString('hex')}`;

/** `opts.log` replaces the server's logger (a suite may capture what the server logs). */
export async function startServer(overrides: Partial<Record<keyof Config, unknown>> = {}, opts: { log?: Logger } = {}): Promise<TestServer> {
  const schema = uid('t_');
  const prefix = uid('t');
  const config = loadConfig(process.env, {
    PORT: 0, HOST: '127.0.0.1', DB_SCHEMA: schema, REDIS_PREFIX: prefix,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', OUTBOX_POLL_MS: 200, ...overrides,
  });
  const app = createApp(config, opts.log ? { log: opts.log } : {});
  const port = await app.start();
  return {
    app, url: `http://127.0.0.1:${port}`, schema, prefix,
    token: (role, id, ttl) => app.auth.sign({ role, sub: id }, ttl),
    async stop() {
      await app.stop();
      const sql = postgres(config.DATABASE_URL, { onnotice: () => {}, max: 1 });
      await sql.unsafe(`drop schema if exists "${schema}" cascade`);
      await sql.end();
      const redis = new Redis(config.REDIS_URL);
      const stream = redis.scanStream({ match: `${prefix}:*`, count: 1000 });
      for await (const keys of stream) if ((keys as string[]).length) await redis.del(...(keys as string[]));
      redis.disconnect();
    },
  };
}
