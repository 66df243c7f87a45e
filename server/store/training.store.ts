// What `npm run train` learns from (issue 16): every decided offer that stored the
// inputs it was ranked on (offers.rank_input, migration 010), with its outcome, its
// answer time, its physics ETA, and for an accepted offer the assignment it made and
// when that hero reached the scene. Arrival is the audit event `ARRIVE` with
// data.heroId, which a single hero's `on_scene` progress and a team member's both write
// (server/services/hero.service.ts); the first one inside the assignment's lifetime
// counts. Read oldest first in batches, so a long history streams.
import type { Sql } from '../db.ts';

export interface TrainingOfferRow {
  id: string;
  hero_id: string;
  state: 'accepted' | 'declined' | 'expired';
  created_at: Date;
  decided_at: Date | null;
  /** The physics ETA the offer was made with (seconds). */
  eta_s: number | null;
  /** The RankInput (minus heroId) the round ranked the offer on; validated by the caller. */
  rank_input: unknown;
  /** For an accepted offer: when its assignment began… */
  assigned_at: Date | null;
  /** …and when the hero reached the scene (first ARRIVE of theirs during that assignment). */
  arrived_at: Date | null;
}

/** Whether this schema's offers keep their rank inputs (migration 010 applied). */
export async function hasRankInputs(sql: Sql): Promise<boolean> {
  const [row] = await sql<{ ok: boolean }[]>`
    select exists (select 1 from information_schema.columns
                    where table_schema = current_schema() and table_name = 'offers' and column_name = 'rank_input') as ok`;
  return row?.ok ?? false;
}

/** Decided offers with stored rank inputs: withdrawn and pending ones teach nothing about a hero's answer. */
export async function countTrainingOffers(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from offers where state in ('accepted', 'declined', 'expired') and rank_input is not null`;
  return row?.n ?? 0;
}

/** The same offers, oldest first (by offer time, then id), `batch` rows at a time. */
export async function* trainingOffers(sql: Sql, batch = 2_000): AsyncGenerator<TrainingOfferRow[]> {
  const cursor = sql<TrainingOfferRow[]>`
    select o.id, o.hero_id, o.state, o.created_at, o.decided_at, o.eta_s, o.rank_input, a.assigned_at,
           case when a.assigned_at is null then null else (
             select min(e.at) from incident_events e
              where e.incident_id = o.incident_id and e.type = 'ARRIVE' and e.data->>'heroId' = o.hero_id
                and e.at >= a.assigned_at and (a.ended_at is null or e.at <= a.ended_at)
           ) end as arrived_at
      from offers o
      left join (
        -- assignments has no index on offer_id: one pass over it, joined by hash.
        select distinct on (offer_id) offer_id, assigned_at, ended_at from assignments
         where offer_id is not null order by offer_id, id
      ) a on a.offer_id = o.id and o.state = 'accepted'
     where o.state in ('accepted', 'declined', 'expired') and o.rank_input is not null
     order by o.created_at, o.id`.cursor(batch);
  for await (const rows of cursor) yield rows;
}
