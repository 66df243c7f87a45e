// Heroes' answer history for ranking (issue 16): hourly buckets of offer outcomes and
// arrivals, written by the outbox after the transaction that decided an offer or saw a
// hero arrive, and read by a dispatch round before its transaction (never counted from
// the offers table on the hot path). See migration 010_ranking.sql.
import type { Db, Sql } from '../db.ts';
import type { HeroHistory } from '../ranking/features.ts';

/** How an offer was decided: `expired` is an ignore (no answer within the window). */
export type OfferOutcome = 'accepted' | 'declined' | 'expired';

export interface OfferOutcomeFact { heroId: string; at: number; outcome: OfferOutcome; answerMs: number | null }
export interface ArrivalFact { heroId: string; at: number; ratio: number }

// Each change is one statement that also records, when given, the outbox row it comes
// from (`once`): a row carried out again finds its id in hero_stats_applied and changes
// nothing. One autocommitted statement instead of a transaction of two: 2 round trips
// where there were 4, about twice per incident (issue 14).

/** Adds one decided offer to its hero's bucket (the hour of `at`, UTC). False: `once` was applied before. */
export async function addOfferOutcome(db: Db, f: OfferOutcomeFact, once: string | null = null): Promise<boolean> {
  const answered = f.outcome !== 'expired';
  const answerMs = answered ? Math.max(0, Math.round(f.answerMs ?? 0)) : 0;
  const rows = await db`
    with fresh as (
      insert into hero_stats_applied (outbox_id) select ${once}::bigint where ${once}::bigint is not null
      on conflict do nothing returning outbox_id)
    insert into hero_offer_stats as s (hero_id, hour, offers, accepts, declines, ignores, answer_ms_sum)
    select ${f.heroId}, date_trunc('hour', ${new Date(f.at)}::timestamptz, 'UTC'), 1,
           ${f.outcome === 'accepted' ? 1 : 0}, ${f.outcome === 'declined' ? 1 : 0}, ${answered ? 0 : 1}, ${answerMs}
     where ${once}::bigint is null or exists (select 1 from fresh)
    on conflict (hero_id, hour) do update set
      offers = s.offers + 1,
      accepts = s.accepts + excluded.accepts,
      declines = s.declines + excluded.declines,
      ignores = s.ignores + excluded.ignores,
      answer_ms_sum = s.answer_ms_sum + excluded.answer_ms_sum
    returning 1 as applied`;
  return rows.length > 0;
}

/** Adds one arrival: actual assign → on_scene seconds over the offer's physics ETA. False: `once` was applied before. */
export async function addArrival(db: Db, f: ArrivalFact, once: string | null = null): Promise<boolean> {
  const rows = await db`
    with fresh as (
      insert into hero_stats_applied (outbox_id) select ${once}::bigint where ${once}::bigint is not null
      on conflict do nothing returning outbox_id)
    insert into hero_offer_stats as s (hero_id, hour, eta_ratio_sum, arrivals)
    select ${f.heroId}, date_trunc('hour', ${new Date(f.at)}::timestamptz, 'UTC'), ${f.ratio}, 1
     where ${once}::bigint is null or exists (select 1 from fresh)
    on conflict (hero_id, hour) do update set
      eta_ratio_sum = s.eta_ratio_sum + excluded.eta_ratio_sum,
      arrivals = s.arrivals + 1
    returning 1 as applied`;
  return rows.length > 0;
}

export type StatsFact = ({ kind: 'offer' } & OfferOutcomeFact) | ({ kind: 'arrival' } & ArrivalFact);

/**
 * Applies a fact carried by outbox row `outboxId` exactly once: the row's id is recorded
 * in the same transaction as the change, and a row carried out again (the outbox is at
 * least once) finds it and changes nothing. Returns whether this call applied it.
 */
export async function applyStatsOnce(sql: Sql, outboxId: string, fact: StatsFact): Promise<boolean> {
  return fact.kind === 'offer' ? addOfferOutcome(sql, fact, outboxId) : addArrival(sql, fact, outboxId);
}

interface HistoryRow {
  hero_id: string; offers: number; accepts: number; declines: number; ignores: number;
  answer_ms_sum: number; eta_ratio_sum: number; arrivals: number;
}

/**
 * Each hero's history over the buckets from the hour of `sinceMs` (epoch ms) on. Heroes
 * with no bucket in the window are absent: a new hero, whom ranking gives the priors.
 */
export async function historiesOf(db: Db, heroIds: string[], sinceMs: number): Promise<Map<string, HeroHistory>> {
  if (heroIds.length === 0) return new Map();
  const rows = await db<HistoryRow[]>`
    select hero_id, sum(offers)::int as offers, sum(accepts)::int as accepts, sum(declines)::int as declines,
           sum(ignores)::int as ignores, sum(answer_ms_sum)::float8 as answer_ms_sum,
           sum(eta_ratio_sum)::float8 as eta_ratio_sum, sum(arrivals)::int as arrivals
      from hero_offer_stats
     where hero_id = any(${heroIds}::text[]) and hour >= date_trunc('hour', ${new Date(sinceMs)}::timestamptz, 'UTC')
     group by hero_id`;
  return new Map(rows.map((r) => [r.hero_id, {
    offers: r.offers, accepts: r.accepts, declines: r.declines, ignores: r.ignores,
    answerMsSum: r.answer_ms_sum, etaRatioSum: r.eta_ratio_sum, arrivals: r.arrivals,
  }]));
}

/** Offers each hero received since `sinceMs` (epoch ms); heroes with none are absent. */
export async function recentOfferCounts(db: Db, heroIds: string[], sinceMs: number): Promise<Map<string, number>> {
  if (heroIds.length === 0) return new Map();
  const rows = await db<{ hero_id: string; n: number }[]>`
    select hero_id, count(*)::int as n from offers
     where hero_id = any(${heroIds}::text[]) and created_at >= ${new Date(sinceMs)}
     group by hero_id`;
  return new Map(rows.map((r) => [r.hero_id, r.n]));
}

/**
 * Drops buckets older than `before`, and the markers of outbox rows that are gone (a
 * deleted outbox row is never carried out again, so its marker has done its work).
 */
export async function pruneHeroStats(db: Db, before: Date): Promise<{ buckets: number; markers: number }> {
  const buckets = await db`delete from hero_offer_stats where hour < ${before}`;
  const markers = await db`
    delete from hero_stats_applied a where not exists (select 1 from outbox o where o.id = a.outbox_id)`;
  return { buckets: buckets.count, markers: markers.count };
}
