// What every service needs, injected (no module-level singletons), so a test can run
// several servers side by side, each on its own schema and Redis prefix.
import type { Config } from '../config.ts';
import type { Sql, Tx } from '../db.ts';
import { isTransient, withDeadline } from '../db.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { AcceptGate } from './accept.gate.ts';
import { withOutbox } from '../outbox/outbox.buffer.ts';
import type { OutboxSink, Written } from '../outbox/outbox.sink.ts';

export interface ServiceContext {
  config: Config;
  sql: Sql;
  log: Logger;
  metrics: Metrics;
  /** This process's outbox relay: takes the rows each transaction committed and carries them out at once. */
  outbox: OutboxSink;
  /** This process's queue of accepts per incident and its memory of closed offers. */
  acceptGate: AcceptGate;
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure

/**
 * One transaction with a deadline, retried on deadlock. The outbox rows it wrote are
 * carried out by this process right after the commit; if this process dies first, the
 * relay pass of any process finds them (they are in Postgres either way).
 */
export async function inTx<T>(ctx: ServiceContext, what: string, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { value, written } = await withDeadline(
        ctx.sql.begin((tx) => withOutbox(tx, work)) as Promise<{ value: T; written: Written[] }>,
        ctx.config.DB_QUERY_TIMEOUT_MS * 2,
        what,
      );
      if (written.length) ctx.outbox.carry(written);
      return value;
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
