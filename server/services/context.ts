// What every service needs, injected (no module-level singletons), so a test can run
// several servers side by side, each on its own schema and Redis prefix.
import type { Config } from '../config.ts';
import type { Sql, Tx } from '../db.ts';
import { isTransient, withDeadline } from '../db.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';

export interface ServiceContext {
  config: Config;
  sql: Sql;
  log: Logger;
  metrics: Metrics;
  /** Postgres NOTIFY channel the outbox relays of this cluster listen on. */
  outboxChannel: string;
  /** Wakes this process's relay at once after a commit (others wake on NOTIFY). */
  kickRelay: () => void;
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure

/**
 * One transaction with a deadline, retried on deadlock. Commits wake the outbox
 * relays: NOTIFY is delivered by Postgres only if the transaction commits.
 */
export async function inTx<T>(ctx: ServiceContext, what: string, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await withDeadline(
        ctx.sql.begin(async (tx) => {
          const value = await work(tx);
          await tx`select pg_notify(${ctx.outboxChannel}, '')`;
          return value;
        }) as Promise<T>,
        ctx.config.DB_QUERY_TIMEOUT_MS * 2,
        what,
      );
      ctx.kickRelay();
      return result;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code && RETRYABLE.has(code) && attempt < 4) {
        ctx.log.warn({ what, code, attempt }, 'transaction retried');
        continue;
      }
      // The transaction did not commit (or its outcome is unknown and it is idempotent
      // to retry): tell the client to come back, rather than report a server fault.
      if (isTransient(e)) throw new AppError('unavailable', 'the database connection dropped; retry', { retryAfterS: 1, cause: e });
      throw e;
    }
  }
}
