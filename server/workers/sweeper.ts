// The safety net under every fast path (DESIGN §1, §3). Every deadline lives in
// Postgres, so whatever Redis forgot, this finds: offers past `expires_at`, incidents
// past `deadline_at` (dispatch work lost, or no progress from the hero), heroes on an
// assignment who went silent, and available heroes whose position went stale. It also
// ends what must not grow forever: records of dispatch failures whose episode is over,
// and idempotency keys past their retention window; and it analyzes the hot tables
// while they grow fast, so prepared plans made on empty tables do not last.
// Runs as a BullMQ job scheduler: once per interval per cluster.
import { isPartialTeam, openSlots } from '../../machines/incident.team.ts';
import { isFinalState } from '../../shared/domain.ts';
import type { Tx } from '../db.ts';
import type { Alert } from '../../shared/types.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import { inTx, type ServiceContext } from '../services/context.ts';
import { failuresInWords } from '../services/dispatch.cause.ts';
import { DISPATCHABLE } from '../services/dispatch.service.ts';
import { failureQuietMs } from '../services/dispatch.watch.ts';
import { expireOffer } from '../services/offer.service.ts';
import { releaseHeroes } from '../services/release.service.ts';
import { sweepPublicAlerts } from '../services/public-alerts.service.ts';
import { enqueue, enqueueMany } from '../outbox/outbox.buffer.ts';
import { activeAssignments } from '../store/assignments.store.ts';
import { getFailure, markAlerted, purgeSettledFailures } from '../store/dispatch-failures.store.ts';
import { purgeIdempotencyKeys } from '../store/idempotency.store.ts';
import { analyzeGrownTables } from '../store/planner-stats.store.ts';
import { lockIncident, markTeamAlerted, overdueIncidentIds, setDeadline, type IncidentRow } from '../store/incidents.store.ts';
import { lastPendingExpiry, overdueOfferIds } from '../store/offers.store.ts';

export interface SweepReport {
  offersExpired: number;
  incidentsRedispatched: number;
  incidentsStuck: number;
  teamsIncomplete: number;
  heroesReleased: number;
  heroesStale: number;
  failuresCleared: number;
  idempotencyKeysPurged: number;
  /** Hot tables analyzed because they grew fast (server/store/planner-stats.store.ts). */
  tablesAnalyzed: number;
}

const BATCH = 500;
/** Idempotency keys deleted per statement, and statements per pass: bounded work. */
const PURGE_BATCH = 1_000;
const PURGE_BATCHES_PER_PASS = 5;

const alertRow = (alert: Alert) => ({ topic: 'alert' as const, payload: alert, incidentId: alert.incidentId ?? null });

async function expireOverdueOffers(ctx: ServiceContext, report: SweepReport): Promise<void> {
  for (const id of await overdueOfferIds(ctx.sql, BATCH)) if (await expireOffer(ctx, id)) report.offersExpired += 1;
}

/**
 * A team still incomplete at its dispatch deadline (PROTOCOL v1.1 "Teams"). Its members
 * are committed and stay: a partial team is never released automatically (a missed
 * dispatch is worse than a false one, and members on the way already help). Dispatchers
 * are told once per episode which slots are open, and filling goes on at the slower
 * pace: a round now and at every ESCALATED_RETRY_MS after (offers that expire or are
 * declined still ask for the next round at once).
 */
async function healIncompleteTeam(ctx: ServiceContext, tx: Tx, row: IncidentRow, now: number, report: SweepReport): Promise<void> {
  const { config } = ctx;
  const { slots } = row.snapshot.context;
  const open = openSlots(row.snapshot.context);
  enqueue(tx, 'dispatch', { incidentId: row.id, delayMs: 0, severity: row.severity }, row.id);
  await setDeadline(tx, row.id, new Date(now + config.ESCALATED_RETRY_MS + config.DISPATCH_DEADLINE_MS));
  if (row.team_alerted_at) return;
  await markTeamAlerted(tx, row.id);
  const names = open.map((slot) => `slot ${slot} (${slots[slot]?.skill ?? 'any hero'})`).join(', ');
  enqueue(tx, 'alert', {
    type: 'team_incomplete', incidentId: row.id, at: now,
    detail: `${row.severity} ${row.kind} incident: ${slots.length - open.length} of ${slots.length} members assigned at the dispatch deadline; open: ${names}. `
      + `Members already assigned stay on it; dispatch keeps filling every ${Math.round(config.ESCALATED_RETRY_MS / 1000)}s; assign by hand if someone fitting is near.`,
  }, row.id);
  report.teamsIncomplete += 1;
  ctx.log.warn({ incidentId: row.id, open }, 'team incomplete at its dispatch deadline; dispatchers alerted');
}

async function healOverdueIncident(ctx: ServiceContext, id: string, report: SweepReport): Promise<void> {
  const { config } = ctx;
  await inTx(ctx, 'heal incident', async (tx) => {
    const row = await lockIncident(tx, id);
    const now = Date.now();
    if (!row || isFinalState(row.state) || !row.deadline_at || row.deadline_at.getTime() > now) return;
    const overdueS = Math.round((now - row.deadline_at.getTime()) / 1000);
    if (DISPATCHABLE.has(row.state) && isPartialTeam(row.snapshot.context)) {
      await healIncompleteTeam(ctx, tx, row, now, report);
    } else if (DISPATCHABLE.has(row.state)) {
      const last = await lastPendingExpiry(tx, id);
      if (last && last.getTime() > now) {
        // Offers are still out: their expiry will ask for the next round.
        await setDeadline(tx, id, new Date(last.getTime() + config.DISPATCH_DEADLINE_MS));
        return;
      }
      // Rounds for this incident have been failing: retry at the slower pace, and tell
      // dispatchers once per episode (the watcher may have told them already).
      const failure = await getFailure(tx, id);
      enqueue(tx, 'dispatch', { incidentId: id, delayMs: 0, severity: row.severity }, id);
      await setDeadline(tx, id, new Date(now + (failure ? config.ESCALATED_RETRY_MS : 0) + config.DISPATCH_DEADLINE_MS));
      report.incidentsRedispatched += 1;
      ctx.metrics.incidentsStuck.inc({ state: row.state });
      if (failure?.alerted_at) {
        ctx.log.warn({ incidentId: id, state: row.state, overdueS, failures: failure.failures }, 'dispatch work re-created for a failing incident (dispatchers already alerted)');
        return;
      }
      if (failure) await markAlerted(tx, id);
      const why = failure ? ` Before that, ${failuresInWords(failure)}.` : '';
      enqueue(tx, 'alert', {
        type: 'incident_stuck', incidentId: id, at: now,
        detail: `${row.severity} ${row.kind} incident was ${row.state} with no dispatch work ${overdueS}s past its deadline; dispatch re-created.${why}`,
      }, id);
      ctx.log.warn({ incidentId: id, state: row.state, overdueS, cause: failure?.cause }, 'dispatch work re-created by the sweeper');
    } else {
      // assigned, en_route or on_scene: the hero has not moved it on for too long.
      await setDeadline(tx, id, new Date(now + config.PROGRESS_DEADLINE_MS));
      enqueue(tx, 'alert', {
        type: 'incident_stuck', incidentId: id, at: now,
        detail: `${row.severity} ${row.kind} incident has been ${row.state} without progress for ${Math.round(config.PROGRESS_DEADLINE_MS / 60_000)} min.`,
      }, id);
      report.incidentsStuck += 1;
      ctx.metrics.incidentsStuck.inc({ state: row.state });
      ctx.log.warn({ incidentId: id, state: row.state }, 'incident stuck without progress');
    }
  });
}

async function healOverdueIncidents(ctx: ServiceContext, report: SweepReport): Promise<void> {
  for (const id of await overdueIncidentIds(ctx.sql, BATCH)) await healOverdueIncident(ctx, id, report);
}

async function releaseLostHeroes(ctx: ServiceContext, positions: HeroPositions, report: SweepReport): Promise<void> {
  const active = await activeAssignments(ctx.sql);
  if (active.length === 0) return;
  const now = Date.now();
  // If Redis cannot answer this throws, and nobody is released on missing data.
  const seen = await positions.lastSeenOrNow(active.map((a) => a.hero_id), now);
  for (const a of active) {
    const last = Math.max(seen.get(a.hero_id) ?? now, a.assigned_at.getTime());
    const silentMs = now - last;
    if (silentMs <= ctx.config.HERO_LOST_AFTER_MS) continue;
    await inTx(ctx, 'release lost hero', async (tx) => {
      const row = await lockIncident(tx, a.incident_id);
      if (!row || isFinalState(row.state)) return;
      const { released } = await releaseHeroes(ctx, tx, row, { heroIds: [a.hero_id], reason: 'hero_unreachable', actor: 'system:sweeper' });
      if (released.length === 0) return;
      enqueue(tx, 'alert', {
        type: 'hero_unreachable', incidentId: a.incident_id, heroId: a.hero_id, at: now,
        detail: `Hero silent for ${Math.round(silentMs / 1000)}s while ${row.state}; released, incident back to dispatch.`,
      }, a.incident_id);
      report.heroesReleased += 1;
      ctx.log.warn({ incidentId: a.incident_id, heroId: a.hero_id, silentMs }, 'lost hero released');
    });
  }
}

async function dropStaleHeroes(ctx: ServiceContext, positions: HeroPositions, report: SweepReport): Promise<void> {
  const now = Date.now();
  const stale = await positions.dropStale(now - ctx.config.LOCATION_FRESH_MS);
  if (stale.length === 0) return;
  report.heroesStale += stale.length;
  await inTx(ctx, 'stale alerts', async (tx) => enqueueMany(tx, stale.map((h) => alertRow({
    type: 'location_stale', heroId: h.heroId, at: now,
    detail: h.lastSeenAt ? `No location for ${Math.round((now - h.lastSeenAt) / 1000)}s; out of matching until the next ping.` : 'No location known; out of matching until the next ping.',
  }))));
}

async function clearSettledFailures(ctx: ServiceContext, report: SweepReport): Promise<void> {
  report.failuresCleared += await purgeSettledFailures(ctx.sql, { dispatchable: [...DISPATCHABLE], quietMs: failureQuietMs(ctx.config), limit: BATCH });
}

/**
 * Keys older than the retention window go, oldest first, a bounded amount per pass
 * (a backlog after downtime drains over a few passes instead of one long statement).
 */
async function purgeOldIdempotencyKeys(ctx: ServiceContext, report: SweepReport): Promise<void> {
  for (let i = 0; i < PURGE_BATCHES_PER_PASS; i++) {
    const purged = await purgeIdempotencyKeys(ctx.sql, ctx.config.IDEMPOTENCY_RETENTION_MS, PURGE_BATCH);
    report.idempotencyKeysPurged += purged;
    if (purged < PURGE_BATCH) return;
  }
}

/** Rows a hot table must have changed by before the sweep analyzes it (besides half its size). */
const ANALYZE_FLOOR = 500;

async function refreshPlannerStats(ctx: ServiceContext, report: SweepReport): Promise<void> {
  report.tablesAnalyzed += (await analyzeGrownTables(ctx.sql, ANALYZE_FLOOR)).length;
}

/** One pass. Each part runs even if another failed (Redis down must not stop offer expiry). */
export async function sweep(ctx: ServiceContext, positions: HeroPositions): Promise<SweepReport> {
  const report: SweepReport = {
    offersExpired: 0, incidentsRedispatched: 0, incidentsStuck: 0, teamsIncomplete: 0, heroesReleased: 0, heroesStale: 0, failuresCleared: 0, idempotencyKeysPurged: 0, tablesAnalyzed: 0,
  };
  const parts: [string, () => Promise<void>][] = [
    ['offers', () => expireOverdueOffers(ctx, report)],
    ['incidents', () => healOverdueIncidents(ctx, report)],
    ['lost heroes', () => releaseLostHeroes(ctx, positions, report)],
    ['stale heroes', () => dropStaleHeroes(ctx, positions, report)],
    ['dispatch failures', () => clearSettledFailures(ctx, report)],
    ['idempotency keys', () => purgeOldIdempotencyKeys(ctx, report)],
    ['public alerts', () => sweepPublicAlerts(ctx)],
    ['planner statistics', () => refreshPlannerStats(ctx, report)],
  ];
  for (const [part, run] of parts) {
    try { await run(); } catch (err) { ctx.log.error({ err, part }, 'sweep part failed'); }
  }
  if (Object.values(report).some((n) => n > 0)) ctx.log.info({ sweep: report }, 'sweep acted');
  return report;
}
