// A dispatch round that cannot fail in silence (DESIGN I7). Whatever makes a round
// throw (an unindexable location, a damaged or absent Redis, a database hiccup), the
// failure is counted in Postgres with its cause and the round is retried by the outbox:
// at DISPATCH_RETRY_MS at first, then, from DISPATCH_FAILURES_ALERT failures in a row,
// at ESCALATED_RETRY_MS with one `incident_stuck` alert naming the cause. One alert per
// episode: a new one only after a round succeeded and failures began again.
import type { Config } from '../config.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import { enqueue } from '../outbox/outbox.buffer.ts';
import { clearFailure, markAlerted, recordFailure } from '../store/dispatch-failures.store.ts';
import { lockIncident, setDeadline } from '../store/incidents.store.ts';
import { inTx, type ServiceContext } from './context.ts';
import { classifyFailure, failuresInWords, rawError } from './dispatch.cause.ts';
import { DISPATCHABLE, runDispatchRound, type RoundOutcome } from './dispatch.service.ts';

const HINT_MAX = 10_000;

/** `failed`: the round threw; the failure is recorded and the retry is queued. */
export type WatchedOutcome = RoundOutcome | 'failed';

/**
 * This process's dispatch rounds, watched. One per process (createApp), shared by the
 * outbox's inline rounds and the BullMQ dispatch worker, so a round that succeeds
 * either way ends the failure episode this process recorded.
 */
export interface DispatchRounds {
  run(incidentId: string): Promise<WatchedOutcome>;
}

/**
 * How long without a failure before a failing episode counts as over. A failing
 * incident is retried at least every ESCALATED_RETRY_MS (the sweeper re-creates lost
 * retries within a deadline and a sweep), so twice that span means a round succeeded.
 */
export function failureQuietMs(config: Config): number {
  return 2 * (config.ESCALATED_RETRY_MS + config.DISPATCH_DEADLINE_MS + config.SWEEP_INTERVAL_MS);
}

export function watchedRounds(ctx: ServiceContext, positions: HeroPositions, round = runDispatchRound): DispatchRounds {
  const { config, log } = ctx;
  // Incidents this process recorded a failure for: a healthy round (the benchmarked hot
  // path) costs no query. Records this process does not know of (written by another
  // process, or before a restart) are removed by the sweeper once the episode is over.
  const failing = new Set<string>();

  const recovered = async (incidentId: string): Promise<void> => {
    if (!failing.has(incidentId)) return;
    try {
      await clearFailure(ctx.sql, incidentId);
      failing.delete(incidentId);
    } catch (err) {
      log.warn({ err, incidentId }, 'could not clear the dispatch failure record; the sweeper will');
    }
  };

  const failed = async (incidentId: string, err: unknown): Promise<WatchedOutcome> => {
    const cause = classifyFailure(err);
    const error = rawError(err);
    const done = await inTx(ctx, 'dispatch failure', async (tx) => {
      const row = await lockIncident(tx, incidentId);
      if (!row || !DISPATCHABLE.has(row.state)) return null; // nothing left to dispatch
      const rec = await recordFailure(tx, { incidentId, cause, error, quietMs: failureQuietMs(config) });
      const stuck = rec.failures >= config.DISPATCH_FAILURES_ALERT;
      // The retry goes through the outbox like any round (BullMQ holds it delayed); the
      // deadline lets the sweeper re-create it if Redis loses it.
      const delayMs = stuck ? config.ESCALATED_RETRY_MS : config.DISPATCH_RETRY_MS;
      enqueue(tx, 'dispatch', { incidentId, delayMs, severity: row.severity }, incidentId);
      await setDeadline(tx, incidentId, new Date(Date.now() + delayMs + config.DISPATCH_DEADLINE_MS));
      const alert = stuck && !rec.alerted_at;
      if (alert) {
        await markAlerted(tx, incidentId);
        enqueue(tx, 'alert', {
          type: 'incident_stuck', incidentId, at: Date.now(),
          detail: `${row.severity} ${row.kind} incident: ${failuresInWords(rec)}. Dispatch keeps retrying every ${Math.round(delayMs / 1000)}s; assign a hero by hand if one is near.`,
        }, incidentId);
      }
      return { failures: rec.failures, alert, delayMs };
    });
    if (!done) return 'gone';
    // Bounded: entries whose success ran elsewhere would otherwise stay; past the bound
    // the sweeper alone clears records, which it does anyway.
    if (failing.size >= HINT_MAX) failing.clear();
    failing.add(incidentId);
    log.warn({ err, incidentId, cause, ...done }, done.alert ? 'dispatch keeps failing; dispatchers alerted' : 'dispatch round failed; retry queued');
    return 'failed';
  };

  const run = async (incidentId: string): Promise<WatchedOutcome> => {
    let outcome: RoundOutcome;
    try {
      outcome = await round(ctx, positions, incidentId);
    } catch (err) {
      try {
        return await failed(incidentId, err);
      } catch (recordErr) {
        // Postgres itself is away: the caller's own retry (BullMQ attempts, the carry
        // hand-off) and the sweeper's deadline take over.
        log.warn({ err, recordErr, incidentId }, 'dispatch round failed and the failure could not be recorded');
        throw err;
      }
    }
    await recovered(incidentId);
    return outcome;
  };
  return { run };
}
