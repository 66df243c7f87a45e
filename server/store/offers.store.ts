// Offers: created in batches by a dispatch round, closed by accept, decline, expiry
// or withdrawal. A hero holds at most one pending offer (partial unique index).
import type { Db, Sql, Tx } from '../db.ts';
import type { OfferState } from '../../shared/domain.ts';
import type { StoredRankInput } from '../ranking/features.ts';

export interface OfferRow {
  id: string;
  incident_id: string;
  hero_id: string;
  slot: number;
  round: number;
  state: OfferState;
  reason: string | null;
  distance_km: number;
  /** Estimated seconds to the scene when offered (distance and the hero's mode). */
  eta_s: number | null;
  created_at: Date;
  expires_at: Date;
  decided_at: Date | null;
  /** What the round ranked the offer on (issue 16, see OfferRanking); null on older offers. */
  rank_input: StoredRankInput | null;
  model_version: string | null;
  score: OfferScore | null;
  rank: number | null;
  explored: boolean | null;
  why: string[] | null;
}

/**
 * Hero `h` may be offered this incident: on duty, no active assignment, no pending
 * offer, and not already tried on it (declined, released, or expired unless
 * `retryExpired`). One fragment, so every way of picking heroes applies the same rules.
 * Each rule is its own probe of one index (a hero's active assignment or pending offer:
 * the one-per-hero indexes; this incident's: the incident's), with no OR for the
 * planner to turn into a scan: a hero's whole offer history is never read, and a
 * prepared plan stays an index lookup however the tables grow.
 */
function freeFor(db: Db, incidentId: string, retryExpired: boolean) {
  return db`h.on_duty
    and not exists (select 1 from assignments a where a.hero_id = h.id and a.state = 'active')
    and not exists (select 1 from assignments a where a.incident_id = ${incidentId} and a.hero_id = h.id)
    and not exists (select 1 from offers o where o.hero_id = h.id and o.state = 'pending')
    and not exists (select 1 from offers o where o.incident_id = ${incidentId} and o.hero_id = h.id
                     and ${retryExpired ? db`o.state = 'declined'` : db`o.state in ('declined', 'expired')`})`;
}

/** The model's score of an offer (issue 16, server/ranking/model.ts Score; the contributions are kept as words in `why`). */
export interface OfferScore { pAccept: number; etaS: number; expectedS: number }

/**
 * What a round ranked an offer on, stored with it so that it explains itself and becomes
 * training data: the inputs (server/ranking/features.ts RankInput but its heroId), the
 * model's version and score (null when today's ETA order ranked), the hero's rank among
 * the round's candidates, whether it was the round's exploration pick, and the reasons
 * in words.
 */
export interface OfferRanking {
  input: StoredRankInput;
  modelVersion: string | null;
  score: OfferScore | null;
  rank: number;
  explored: boolean;
  why: string[];
}

export interface Candidate { heroId: string; distanceKm: number; etaS: number; ranking?: OfferRanking }

/** The candidates' rankings as one text array for unnest (`::jsonb` per row; null without one). */
const rankings = (cs: Candidate[]): (string | null)[] => cs.map((c) => (c.ranking ? JSON.stringify(c.ranking) : null));
// The values of the offer's ranking columns from a candidate's ranking `r` (all null without one).
const rankingValues = (db: Db) =>
  db`r->'input', r->>'modelVersion', nullif(r->'score', 'null'::jsonb), (r->>'rank')::int, (r->>'explored')::boolean, r->'why'`;

/** Stores what offers were ranked on, for offers inserted without it (ranking.service.ts completeRankings). */
export async function setOfferRankings(tx: Tx, rankings: { offerId: string; ranking: OfferRanking }[]): Promise<void> {
  if (rankings.length === 0) return;
  await tx`
    update offers o set rank_input = r->'input', model_version = r->>'modelVersion', score = nullif(r->'score', 'null'::jsonb),
                        rank = (r->>'rank')::int, explored = (r->>'explored')::boolean, why = r->'why'
      from unnest(${rankings.map((x) => x.offerId)}::text[], ${rankings.map((x) => JSON.stringify(x.ranking))}::text[]) as u(id, ranking),
           lateral (select u.ranking::jsonb as r) j
     where o.id = u.id`;
}

/** A hero chosen for a slot (dispatch of several slots at once). */
export interface SlotPick extends Candidate { slot: number; skill: string | null }

/**
 * Inserts offers for the best `batch` candidates that Postgres agrees are free:
 * on duty, skilled, no active assignment, no pending offer, and not already tried
 * on this incident (declined, released, or expired unless `retryExpired`).
 * Candidates arrive ranked; rank order is kept. The chosen heroes' rows are locked
 * with SKIP LOCKED: concurrent rounds nearby take the next free hero instead of all
 * queueing on the nearest one and then finding it taken. An offer is stamped with the
 * clock, not the transaction's start: a report's first round runs in the report's own
 * transaction, and its offers must not read as made before the report was.
 */
export async function insertOffers(tx: Tx, args: {
  incidentId: string; slot: number; round: number; skill: string | null; candidates: Candidate[];
  batch: number; expiresAt: Date; retryExpired: boolean;
}): Promise<OfferRow[]> {
  if (args.candidates.length === 0) return [];
  const ids = args.candidates.map((c) => c.heroId);
  const dists = args.candidates.map((c) => c.distanceKm);
  const etas = args.candidates.map((c) => Math.round(c.etaS));
  return tx<OfferRow[]>`
    with picked as (
      select h.id as hero_id, c.distance_km, c.eta_s, c.ranking, c.rank
        from unnest(${ids}::text[], ${dists}::float8[], ${etas}::int[], ${rankings(args.candidates)}::text[])
             with ordinality as c(hero_id, distance_km, eta_s, ranking, rank)
        join heroes h on h.id = c.hero_id
       where ${freeFor(tx, args.incidentId, args.retryExpired)}
         ${args.skill === null ? tx`` : tx`and ${args.skill}::text = any(h.skills)`}
       order by c.rank
       limit ${args.batch}
         for update of h skip locked
    )
    insert into offers (id, incident_id, hero_id, slot, round, distance_km, eta_s, expires_at, created_at, rank_input, model_version, score, rank, explored, why)
    select gen_random_uuid()::text, ${args.incidentId}, hero_id, ${args.slot}, ${args.round}, distance_km, eta_s, ${args.expiresAt}, clock_timestamp(), ${rankingValues(tx)}
      from picked cross join lateral (select ranking::jsonb as r) j order by picked.rank
    on conflict (hero_id) where state = 'pending' do nothing
    returning *`;
}

/**
 * The candidates Postgres agrees are free for this incident (the same rules as
 * insertOffers, without locks), with their skills: what a team is chosen from.
 */
export async function freeCandidates(db: Db, args: { incidentId: string; heroIds: string[]; retryExpired: boolean }): Promise<{ id: string; skills: string[] }[]> {
  if (args.heroIds.length === 0) return [];
  return db<{ id: string; skills: string[] }[]>`
    select h.id, h.skills from heroes h
     where h.id = any(${args.heroIds}) and ${freeFor(db, args.incidentId, args.retryExpired)}`;
}

/**
 * Offers for several slots at once, each pick to its own slot. The rules and the SKIP
 * LOCKED of insertOffers apply to every pick: a hero another round holds, or who took
 * an offer or an assignment since the team was chosen, is left out (their slot waits for
 * the next round). The pending-offer index keeps a hero to one slot.
 */
export async function insertSlotOffers(tx: Tx, args: {
  incidentId: string; round: number; picks: SlotPick[]; expiresAt: Date; retryExpired: boolean;
}): Promise<OfferRow[]> {
  if (args.picks.length === 0) return [];
  const p = args.picks;
  return tx<OfferRow[]>`
    with picked as (
      select h.id as hero_id, c.distance_km, c.eta_s, c.slot, c.ranking, c.rank
        from unnest(${p.map((c) => c.heroId)}::text[], ${p.map((c) => c.distanceKm)}::float8[], ${p.map((c) => Math.round(c.etaS))}::int[],
                    ${p.map((c) => c.slot)}::int[], ${p.map((c) => c.skill)}::text[], ${rankings(p)}::text[])
             with ordinality as c(hero_id, distance_km, eta_s, slot, skill, ranking, rank)
        join heroes h on h.id = c.hero_id
       where (c.skill is null or c.skill = any(h.skills))
         and ${freeFor(tx, args.incidentId, args.retryExpired)}
       order by c.rank
         for update of h skip locked
    )
    insert into offers (id, incident_id, hero_id, slot, round, distance_km, eta_s, expires_at, created_at, rank_input, model_version, score, rank, explored, why)
    select gen_random_uuid()::text, ${args.incidentId}, hero_id, slot, ${args.round}, distance_km, eta_s, ${args.expiresAt}, clock_timestamp(), ${rankingValues(tx)}
      from picked cross join lateral (select ranking::jsonb as r) j order by picked.rank
    on conflict (hero_id) where state = 'pending' do nothing
    returning *`;
}

export async function getOffer(db: Db, id: string): Promise<OfferRow | null> {
  const [row] = await db<OfferRow[]>`select * from offers where id = ${id}`;
  return row ?? null;
}

export async function lockOffer(tx: Tx, id: string): Promise<OfferRow | null> {
  const [row] = await tx<OfferRow[]>`select * from offers where id = ${id} for update`;
  return row ?? null;
}

export async function countPending(db: Db, incidentId: string): Promise<number> {
  const [r] = await db<{ n: number }[]>`select count(*)::int as n from offers where incident_id = ${incidentId} and state = 'pending'`;
  return r?.n ?? 0;
}

/** Pending offers per slot (slots without any are absent). */
export async function pendingBySlot(db: Db, incidentId: string): Promise<Map<number, number>> {
  const rows = await db<{ slot: number; n: number }[]>`
    select slot, count(*)::int as n from offers where incident_id = ${incidentId} and state = 'pending' group by slot`;
  return new Map(rows.map((r) => [r.slot, r.n]));
}

/** Closes one pending offer; returns it if this call closed it. */
export async function closeOffer(tx: Tx, id: string, state: Exclude<OfferState, 'pending'>, reason: string | null, opts: { onlyIfDue?: boolean } = {}): Promise<OfferRow | null> {
  const [row] = await tx<OfferRow[]>`
    update offers set state = ${state}, reason = ${reason}, decided_at = now()
     where id = ${id} and state = 'pending' ${opts.onlyIfDue ? tx`and expires_at <= now()` : tx``}
    returning *`;
  return row ?? null;
}

export async function withdrawPending(tx: Tx, where: { incidentId?: string; heroId?: string; slot?: number }, reason: string): Promise<OfferRow[]> {
  return tx<OfferRow[]>`
    update offers set state = 'withdrawn', reason = ${reason}, decided_at = now()
     where state = 'pending'
       ${where.incidentId !== undefined ? tx`and incident_id = ${where.incidentId}` : tx``}
       ${where.slot !== undefined ? tx`and slot = ${where.slot}` : tx``}
       ${where.heroId !== undefined ? tx`and hero_id = ${where.heroId}` : tx``}
    returning *`;
}

export async function pendingOffersOf(db: Db, heroId: string): Promise<OfferRow[]> {
  return db<OfferRow[]>`select * from offers where hero_id = ${heroId} and state = 'pending' and expires_at > now()`;
}

/** Pending offers past their expiry, oldest first (the sweeper expires them). */
export async function overdueOfferIds(db: Db, limit: number): Promise<string[]> {
  const rows = await db<{ id: string }[]>`
    select id from offers where state = 'pending' and expires_at <= now() order by expires_at limit ${limit}`;
  return rows.map((r) => r.id);
}

/** When the incident's last pending offer expires, or null when none is pending. */
export async function lastPendingExpiry(db: Db, incidentId: string): Promise<Date | null> {
  const [r] = await db<{ last: Date | null }[]>`
    select max(expires_at) as last from offers where incident_id = ${incidentId} and state = 'pending'`;
  return r?.last ?? null;
}

/**
 * The heroes' apps acknowledged these offers: one statement for a turn's acks. On the
 * pool: each statement is its own transaction.
 */
export async function markOffersSeen(db: Sql, offerIds: string[]): Promise<void> {
  // One statement for the batch, over the rows no transaction holds. A statement that
  // locks some of the batch and then waits for a row an accept holds deadlocks with that
  // accept as it withdraws the round's other offers (Postgres's log showed it in the
  // burst: one of the two aborted after deadlock_timeout, the other stalled a second).
  const marked = await db<{ id: string }[]>`
    with free as (select id from offers where id = any(${offerIds}::text[]) and seen_at is null for update skip locked)
    update offers o set seen_at = now() from free where o.id = free.id returning o.id`;
  if (marked.length === offerIds.length) return;
  // The rest (held, or seen already): one row each, which holds nothing while it waits.
  const done = new Set(marked.map((r) => r.id));
  await Promise.all(offerIds.filter((id) => !done.has(id))
    .map((id) => db`update offers set seen_at = now() where id = ${id} and seen_at is null`));
}

export interface OfferWakeState { state: string; seen: boolean; critical: boolean }

/** What decides whether a hero is still worth waking about each offer; unknown ids are absent. */
export async function offerWakeStates(db: Db, offerIds: string[]): Promise<Map<string, OfferWakeState>> {
  const rows = await db<(OfferWakeState & { id: string })[]>`
    select o.id, o.state, o.seen_at is not null as seen, i.severity = 'critical' as critical
      from offers o join incidents i on i.id = o.incident_id where o.id = any(${offerIds}::text[])`;
  return new Map(rows.map(({ id, ...wake }) => [id, wake]));
}

/** An offer with its hero's name, as the explanation of an incident's offers shows it. */
export type ExplainedOfferRow = OfferRow & { hero_name: string | null };

/**
 * An incident's offers with what they were ranked on (GET /v1/incidents/:id/offers):
 * round by round, each round best-ranked first; at most `limit` (one more is read, to
 * tell whether any were left out).
 */
export async function offersExplained(db: Db, incidentId: string, limit: number): Promise<{ rows: ExplainedOfferRow[]; truncated: boolean }> {
  const rows = await db<ExplainedOfferRow[]>`
    select o.*, h.name as hero_name from offers o left join heroes h on h.id = o.hero_id
     where o.incident_id = ${incidentId}
     order by o.round, o.slot, o.rank nulls last, o.created_at, o.id
     limit ${limit + 1}`;
  return { rows: rows.slice(0, limit), truncated: rows.length > limit };
}
