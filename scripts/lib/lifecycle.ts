// A private corner of the shared Postgres and Redis for one test file, benchmark or
// cluster: a schema and a key prefix named at random (so runs never meet), clients on
// them, and their removal afterwards. Tests and benchmarks share this one copy; test/
// may import scripts/, never the other way round.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { loadConfig } from '../../server/config.ts';

export type Sql = postgres.Sql;

/** A schema and a key prefix, what one server (or one cluster) keeps its state under. */
export interface Names { schema: string; prefix: string }

/** Where they live; the configured URLs unless a caller runs its own Redis (fault tests). */
export interface Where { databaseUrl?: string; redisUrl?: string }

// Child processes inherit this environment: the same URLs the servers use.
let config: ReturnType<typeof loadConfig> | undefined;
const urls = (where: Where = {}) => {
  config ??= loadConfig(process.env);
  return { databaseUrl: where.databaseUrl ?? config.DATABASE_URL, redisUrl: where.redisUrl ?? config.REDIS_URL };
};

/** `tag` + random hex: ids, schema names (`t_…`) and prefixes (`t…`) alike. */
export const uid = (tag = '', bytes = 5) => `${tag}${randomBytes(bytes).toString('hex')}`;

/** A client whose unqualified names resolve in `schema` (the database's default without one). */
export function pg(schema?: string, max = 4, where: Where = {}): Sql {
  return postgres(urls(where).databaseUrl, { max, onnotice: () => {}, ...(schema ? { connection: { search_path: schema } } : {}) });
}

/** One short-lived connection for schema DDL, always closed. */
async function admin<T>(where: Where, run: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = pg(undefined, 1, where);
  try { return await run(sql); } finally { await sql.end({ timeout: 5 }); }
}

/** Creates `schema` and runs `ddl` inside it (unqualified names land in the schema). */
export async function createSchema(schema: string, ddl = '', where: Where = {}): Promise<void> {
  await admin(where, (sql) => sql.unsafe(`create schema "${schema}"; set search_path to "${schema}"; ${ddl}`));
}

export async function dropSchemas(schemas: string[], where: Where = {}): Promise<void> {
  if (schemas.length === 0) return;
  await admin(where, async (sql) => { for (const s of schemas) await sql.unsafe(`drop schema if exists "${s}" cascade`); });
}

/** Deletes every key under `prefix:` (UNLINK, in SCAN batches: other keys are never touched). */
export async function deletePrefix(prefix: string, where: Where = {}): Promise<void> {
  // Bounded retries: a Redis a fault test already stopped must not hang the teardown.
  const redis = new Redis(urls(where).redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', () => {}); // failures surface as rejected commands
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) {
      if ((keys as string[]).length) await redis.unlink(...(keys as string[]));
    }
  } finally {
    redis.disconnect();
  }
}

/** Drops each schema and deletes each prefix's keys (either may be left out). */
export async function dropStores(list: Partial<Names>[], where: Where = {}): Promise<void> {
  await dropSchemas(list.flatMap((n) => (n.schema ? [n.schema] : [])), where);
  for (const n of list) if (n.prefix) await deletePrefix(n.prefix, where);
}

/** Clients on a schema and prefix someone else's processes serve (a cluster's, say). */
export interface Opened extends Names {
  sql: Sql;
  redis: Redis;
  /** Closes the clients, then drops the schema and the prefix's keys. */
  drop(): Promise<void>;
}

export function openStores(names: Names, max = 4, where: Where = {}): Opened {
  const sql = pg(names.schema, max, where);
  const redis = new Redis(urls(where).redisUrl, { maxRetriesPerRequest: 3 });
  return {
    ...names, sql, redis,
    async drop() {
      await sql.end({ timeout: 5 });
      redis.disconnect();
      await dropStores([names], where);
    },
  };
}
