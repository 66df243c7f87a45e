// The Postgres client. Every unit of work runs through `sql.begin` and a deadline of
// our own, because a half-open TCP connection can hang a query forever (DESIGN §4).
import postgres from 'postgres';
import type { Config } from './config.ts';
import { AppError } from './errors.ts';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;
/** Either the pool or a transaction: store functions accept both. */
export type Db = Sql | Tx;

/**
 * The pool. `held` gives one connection that is never closed for being idle: the outbox
 * carrier lock lives as long as its session. `onStatement` hears of every statement sent.
 */
export function createSql(config: Config, opts: { held?: boolean; onStatement?: (transaction: boolean) => void } = {}): Sql {
  const { onStatement } = opts;
  return postgres(config.DATABASE_URL, {
    max: opts.held ? 1 : config.DB_POOL_SIZE,
    onnotice: () => {},
    // Called as each statement is sent: a count, nothing logged. Unpatched, postgres.js
    // also takes a stack trace for every query once `debug` is set (about 6% of the
    // server's thread in a burst) and makes a failed query's text and parameters
    // enumerable on its error, so the logs would carry what civilians wrote; the
    // patch in scripts/patches keeps both for `debug: true` only.
    ...(onStatement ? { debug: (_conn: number, query: string) => onStatement(query.startsWith('begin')) } : {}),
    idle_timeout: opts.held ? 0 : 60,
    // Postgres keeps one generic plan per prepared statement and connection, made after
    // its first five executions. On a new server's small tables that plan is a seq
    // scan, kept while the tables grow: over a 3-minute simulated city the statements
    // read 696M rows by seq scan, Postgres used 214 s of CPU, and 84 reports were left
    // undispatched at the end. A connection that ends takes its plans with it: 143M
    // rows, 131 s, none left (README "Performance", issue 14). Planning every execution
    // (plan_cache_mode force_custom_plan) read 8.8M rows but cost 141 s.
    max_lifetime: opts.held ? null : config.DB_CONN_LIFETIME_S * (1 + Math.random() / 2),
    connect_timeout: 5,
    connection: {
      search_path: config.DB_SCHEMA,
      application_name: 'superhero-dispatch',
      statement_timeout: config.DB_QUERY_TIMEOUT_MS,
      idle_in_transaction_session_timeout: config.DB_QUERY_TIMEOUT_MS * 2,
    },
  });
}

/** Rejects with `unavailable` when the work outlives its deadline. */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError('unavailable', `${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

const TRANSIENT = new Set([
  'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE',
  '57P01', '57P02', '57P03', // admin_shutdown, crash_shutdown, cannot_connect_now
  '08000', '08003', '08006', // connection exceptions
  '57014', // query_canceled: statement_timeout (a lock held too long); the transaction did not commit
]);

/** A lost or refused connection: the request may simply be retried. */
export function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && TRANSIENT.has(code);
}

/** Postgres error code of a unique violation, and the constraint it names. */
export function uniqueViolation(e: unknown): string | null {
  const err = e as { code?: string; constraint_name?: string };
  return err?.code === '23505' ? (err.constraint_name ?? '') : null;
}
