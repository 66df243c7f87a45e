// A real dispatch server inside this process, on port 0, with its own schema and key
// prefix (scripts/lib/lifecycle.ts); `stop` closes it and drops both. For tests: one
// process, real connections, and the app's own clients at hand for checks.
import { createApp, type App } from '../../server/app.ts';
import { loadConfig, type Config } from '../../server/config.ts';
import type { Logger } from '../../server/log.ts';
import { dropStores, uid, type Names } from './lifecycle.ts';

export interface InProcessServer extends Names {
  app: App;
  url: string;
  stop(): Promise<void>;
}

export interface InProcessOptions {
  /** Replaces the server's logger (a suite may capture what the server logs). */
  log?: Logger;
}

export async function startInProcess(overrides: Partial<Record<keyof Config, unknown>> = {}, opts: InProcessOptions = {}): Promise<InProcessServer> {
  const schema = uid('t_');
  const prefix = uid('t');
  const config = loadConfig(process.env, { PORT: 0, HOST: '127.0.0.1', DB_SCHEMA: schema, REDIS_PREFIX: prefix, ...overrides });
  const app = createApp(config, opts.log ? { log: opts.log } : {});
  const port = await app.start();
  return {
    app, url: `http://127.0.0.1:${port}`, schema, prefix,
    async stop() {
      await app.stop();
      // The server's own URLs: a fault suite points REDIS_URL at a private Redis.
      await dropStores([{ schema, prefix }], { databaseUrl: config.DATABASE_URL, redisUrl: config.REDIS_URL });
    },
  };
}
