// Report intake for a batch of reports committed together (group commit): each
// statement here serves every report of the batch at once, so a batch of thirty costs
// the round trips of one report. The per-report rules are the service's
// (services/report.commit.ts); this file is only the multi-row SQL.
import type { Tx } from '../db.ts';
import type { IncidentRow } from './incidents.store.ts';

export interface KeyClaim { actor: string; key: string; requestHash: string; incidentId: string }
export interface PriorClaim { actor: string; key: string; request_hash: string; incident_id: string }

/** `actor` and `key` as one map key. */
export const claimKey = (actor: string, key: string): string => `${actor}\u0000${key}`;

/**
 * Claims every key not claimed before; returns the claimed ones (as `claimKey`). The
 * caller passes each (actor, key) once, sorted, so two batches claiming the same keys
 * lock them in the same order and wait for each other instead of deadlocking.
 */
export async function claimKeys(tx: Tx, claims: KeyClaim[]): Promise<Set<string>> {
  if (claims.length === 0) return new Set();
  const rows = await tx<{ actor: string; key: string }[]>`
    insert into idempotency_keys (actor, key, request_hash, incident_id)
    select * from unnest(${claims.map((c) => c.actor)}::text[], ${claims.map((c) => c.key)}::text[],
                         ${claims.map((c) => c.requestHash)}::text[], ${claims.map((c) => c.incidentId)}::text[])
    on conflict do nothing returning actor, key`.execute(); // sent now: ahead of what the caller sends beside it
  return new Set(rows.map((r) => claimKey(r.actor, r.key)));
}

/** The claims earlier requests made with these keys. */
export async function priorClaims(tx: Tx, keys: { actor: string; key: string }[]): Promise<Map<string, PriorClaim>> {
  if (keys.length === 0) return new Map();
  const rows = await tx<PriorClaim[]>`
    select k.actor, k.key, k.request_hash, k.incident_id
      from idempotency_keys k
      join unnest(${keys.map((c) => c.actor)}::text[], ${keys.map((c) => c.key)}::text[]) as q(actor, key)
        on k.actor = q.actor and k.key = q.key`;
  return new Map(rows.map((r) => [claimKey(r.actor, r.key), r]));
}

/**
 * Serialises reports of one kind in one ~1 km cell until the transaction ends, so two
 * reports at once cannot both miss each other. The cells are locked in the order
 * given (the caller sorts them, so batches never deadlock on each other). Sent at
 * once (`execute`), so a query called after it runs after it.
 */
export function lockDedupeCells(tx: Tx, cells: string[]): Promise<unknown> {
  return tx`
    select pg_advisory_xact_lock(hashtext(c))
      from unnest(${cells}::text[]) with ordinality as t(c, n) order by n`.execute();
}

export interface DuplicateQuery { kind: string; lat: number; lng: number }

/**
 * For each query, the oldest open incident of the same kind within `radiusM` reported
 * in the last `windowMs`: the same emergency reported again. Locked, so a link is made
 * against its truth. One row per query that found one (by its index).
 */
export async function findDuplicates(tx: Tx, qs: DuplicateQuery[], o: { radiusM: number; windowMs: number }): Promise<Map<number, IncidentRow>> {
  if (qs.length === 0) return new Map();
  const dLat = o.radiusM / 111_320;
  const rows = await tx<(IncidentRow & { q: string })[]>`
    select q.n as q, i.*
      from unnest(${qs.map((q) => q.kind)}::text[], ${qs.map((q) => q.lat)}::float8[], ${qs.map((q) => q.lng)}::float8[])
           with ordinality as q(kind, lat, lng, n)
      cross join lateral (
        select * from incidents
         where kind = q.kind and state not in ('resolved', 'cancelled')
           and created_at > now() - make_interval(secs => ${o.windowMs / 1000})
           and lat between q.lat - ${dLat} and q.lat + ${dLat}
           and lng between q.lng - ${dLat} / greatest(0.01, cos(radians(greatest(abs(q.lat), 1e-100))))
                       and q.lng + ${dLat} / greatest(0.01, cos(radians(greatest(abs(q.lat), 1e-100))))
           -- Haversine. Every angle is taken as at least 1e-100 degrees (distances off by
           -- ~1e-94 m): Postgres raises an error where a float8 product underflows to zero,
           -- as the squares of tiny angles, or radians() of a subnormal latitude, would.
           and 2 * 6371000 * asin(sqrt(
                 power(sin(radians(greatest(abs(lat - q.lat), 1e-100)) / 2), 2)
                 + cos(radians(greatest(abs(q.lat), 1e-100))) * cos(radians(greatest(abs(lat), 1e-100)))
                   * power(sin(radians(greatest(abs(lng - q.lng), 1e-100)) / 2), 2))) <= ${o.radiusM}
         order by created_at limit 1
           for update) i`;
  const found = new Map<number, IncidentRow>();
  for (const { q, ...row } of rows) found.set(Number(q) - 1, row as IncidentRow);
  return found;
}
