// What every service needs, injected (no module-level singletons), so a test can run
// several servers side by side, each on its own schema and Redis prefix.
import type { Config } from '../config.ts';
import type { Sql, Tx } from '../db.ts';
import { isTransient, withDeadline } from '../db.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { AcceptGate } from './accept.gate.ts';
import type { PriorityLimiter } from '../concurrency/priority-limiter.ts';
import { withOutbox, type WrittenRows } from '../outbox/outbox.buffer.ts';
import { relayLimits } from '../outbox/outbox.relay.ts';
import type { OutboxSink } from '../outbox/outbox.sink.ts';

export interface ServiceContext {
  config: Config;
  sql: Sql;
  log: Logger;
  metrics: Metrics;
  /** This process's outbox relay: takes the rows each transaction committed and carries them out at once. */
  outbox: OutboxSink;
  /** This process's queue of accepts per incident and its memory of closed offers. */
  acceptGate: AcceptGate;
  /**
   * Transactions at once, urgent ones first: a critical round or report waiting for a
   * pooled connection overtakes low work waiting for one (postgres.js's own queue is
   * first come, first served). Sized below the pool, so relay claims and plain reads
   * always find a connection.
   */
  transactions: PriorityLimiter;
}

/**
 * Transactions at once: the pool less the relay's carries (each holds a claim
 * transaction's connection while its rows run) and two for plain reads and the relay
 * pass. DB_TX_CONCURRENCY overrides it.
 */
export function transactionSlots(config: Config): number {
  return config.DB_TX_CONCURRENCY || Math.max(1, config.DB_POOL_SIZE - relayLimits(config).carryConcurrency - 2);
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure

/**
 * How a transaction waits for a slot: `critical` work (a critical incident's report or
 * round) first, and it may take the slots held in reserve for it; `urgent` work (an
 * accept: a hero and every racer wait for it) next; the rest after.
 */
export type TxPriority = 'critical' | 'urgent' | 'normal';

const TX_RANK: Record<TxPriority, number> = { critical: 0, urgent: 1, normal: 2 };

/**
 * One transaction with a deadline, retried on deadlock, waiting for a slot by its
 * `priority`, for at most `slotWaitMs` if given: past it, nothing was written and the
 * caller is told to come back (`unavailable`, with a Retry-After), where a client
 * waiting on the answer would otherwise give up on a request still queued behind more
 * urgent work. The outbox rows it wrote are carried out by this process right after
 * the commit; if this process dies first, the relay pass of any process finds them
 * (they are in Postgres either way).
 */
export async function inTx<T>(ctx: ServiceContext, what: string, work: (tx: Tx) => Promise<T>, opts: { priority?: TxPriority; slotWaitMs?: number } = {}): Promise<T> {
  const { slotWaitMs } = opts;
  const wait = slotWaitMs === undefined ? undefined : {
    maxWaitMs: slotWaitMs,
    // Jittered ×[1, 2): the refused come back spread out, as from the report gate.
    refusal: () => new AppError('unavailable', `too busy to start the ${what} within ${slotWaitMs} ms; nothing was recorded, retry`, {
      retryAfterS: Math.max(1, Math.ceil((slotWaitMs / 1000) * (1 + Math.random()))),
    }),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const { value, written } = await ctx.transactions.run(TX_RANK[opts.priority ?? 'normal'], () => withDeadline(
        ctx.sql.begin((tx) => withOutbox(tx, work, (urgent) => ctx.outbox.carrier(urgent))) as Promise<{ value: T; written: WrittenRows }>,
        ctx.config.DB_QUERY_TIMEOUT_MS * 2,
        what,
      ), wait);
      // The outbox insert went out with the COMMIT; had it failed, the COMMIT rolled back.
      const rows = await written;
      if (!rows.ok) throw rows.error;
      if (rows.written.length) ctx.outbox.carry(rows.written);
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
