// Offers: created in batches by a dispatch round, closed by accept, decline, expiry
// or withdrawal. A hero holds at most one pending offer (partial unique index).
import type { Db, Tx } from '../db.ts';
import type { OfferState } from '../../shared/domain.ts';

export interface OfferRow {
  id: string;
  incident_id: string;
  hero_id: string;
  slot: number;
  round: number;
  state: OfferState;
  reason: string | null;
  distance_km: number;
  created_at: Date;
  expires_at: Date;
  decided_at: Date | null;
}

export interface Candidate { heroId: string; distanceKm: number }

/**
 * Inserts offers for the best `batch` candidates that Postgres agrees are free:
 * on duty, skilled, no active assignment, no pending offer, and not already tried
 * on this incident (declined, released, or expired unless `retryExpired`).
 * Candidates arrive ranked; rank order is kept. The chosen heroes' rows are locked
 * with SKIP LOCKED: concurrent rounds nearby take the next free hero instead of all
 * queueing on the nearest one and then finding it taken.
 */
export async function insertOffers(tx: Tx, args: {
  incidentId: string; slot: number; round: number; skill: string | null; candidates: Candidate[];
  batch: number; expiresAt: Date; retryExpired: boolean;
}): Promise<OfferRow[]> {
  if (args.candidates.length === 0) return [];
  const ids = args.candidates.map((c) => c.heroId);
  const dists = args.candidates.map((c) => c.distanceKm);
  return tx<OfferRow[]>`
    with picked as (
      select h.id as hero_id, c.distance_km, c.rank
        from unnest(${ids}::text[], ${dists}::float8[]) with ordinality as c(hero_id, distance_km, rank)
        join heroes h on h.id = c.hero_id
       where h.on_duty
         and (${args.skill}::text is null or ${args.skill}::text = any(h.skills))
         and not exists (select 1 from assignments a where a.hero_id = c.hero_id
                          and (a.state = 'active' or a.incident_id = ${args.incidentId}))
         and not exists (select 1 from offers o where o.hero_id = c.hero_id
                          and (o.state = 'pending'
                               or (o.incident_id = ${args.incidentId}
                                   and (o.state = 'declined' or (o.state = 'expired' and not ${args.retryExpired})))))
       order by c.rank
       limit ${args.batch}
         for update of h skip locked
    )
    insert into offers (id, incident_id, hero_id, slot, round, distance_km, expires_at)
    select gen_random_uuid()::text, ${args.incidentId}, hero_id, ${args.slot}, ${args.round}, distance_km, ${args.expiresAt}
      from picked order by rank
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

/** Closes one pending offer; returns it if this call closed it. */
export async function closeOffer(tx: Tx, id: string, state: Exclude<OfferState, 'pending'>, reason: string | null, opts: { onlyIfDue?: boolean } = {}): Promise<OfferRow | null> {
  const [row] = await tx<OfferRow[]>`
    update offers set state = ${state}, reason = ${reason}, decided_at = now()
     where id = ${id} and state = 'pending' ${opts.onlyIfDue ? tx`and expires_at <= now()` : tx``}
    returning *`;
  return row ?? null;
}

export async function withdrawPending(tx: Tx, where: { incidentId?: string; heroId?: string }, reason: string): Promise<OfferRow[]> {
  return tx<OfferRow[]>`
    update offers set state = 'withdrawn', reason = ${reason}, decided_at = now()
     where state = 'pending'
       ${where.incidentId !== undefined ? tx`and incident_id = ${where.incidentId}` : tx``}
       ${where.heroId !== undefined ? tx`and hero_id = ${where.heroId}` : tx``}
    returning *`;
}

export async function pendingOffersOf(db: Db, heroId: string): Promise<OfferRow[]> {
  return db<OfferRow[]>`select * from offers where hero_id = ${heroId} and state = 'pending' and expires_at > now()`;
}
