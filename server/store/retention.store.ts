// Retention (issue 15): finished incidents old enough to leave Postgres, everything
// an archive keeps of them, and their removal. Called by server/workers/retention.ts.
import type { ArchivedIncident } from '../audit/audit.archive.ts';
import { ARCHIVE_FORMAT } from '../audit/audit.archive.ts';
import type { Db, Tx } from '../db.ts';
import { trailsOf } from './audit.store.ts';

/**
 * Finished incidents last changed before `before`, oldest first, locked for this
 * transaction (another pass skips them). One with outbox work still queued is left for
 * a later pass: its side effects have not all been carried out.
 */
export async function lockExpiredIncidents(tx: Tx, before: Date, limit: number): Promise<string[]> {
  const rows = await tx<{ id: string }[]>`
    select id from incidents i
     where state in ('resolved', 'cancelled') and updated_at < ${before}
       and not exists (select 1 from outbox o where o.incident_id = i.id)
     order by updated_at limit ${limit}
       for update skip locked`;
  return rows.map((r) => r.id);
}

/** What an archive keeps of each incident: the row, its chained trail, offers, assignments and breadcrumbs. */
export async function archiveRecords(db: Db, ids: string[]): Promise<ArchivedIncident[]> {
  if (ids.length === 0) return [];
  const [incidents, trails, offers, assignments, crumbs] = await Promise.all([
    db<Record<string, unknown>[]>`select * from incidents where id = any(${ids}::text[])`,
    trailsOf(db, ids),
    db<Record<string, unknown>[]>`select * from offers where incident_id = any(${ids}::text[]) order by created_at`,
    db<Record<string, unknown>[]>`select * from assignments where incident_id = any(${ids}::text[]) order by id`,
    // Each involved hero's positions from their first offer to the incident's last change.
    db<(Record<string, unknown> & { incident_id: string })[]>`
      select w.incident_id, b.hero_id, b.at, b.lat, b.lng
        from (select o.incident_id, o.hero_id, min(o.created_at) as from_at, max(i.updated_at) as to_at
                from offers o join incidents i on i.id = o.incident_id
               where o.incident_id = any(${ids}::text[]) group by 1, 2) w
        join breadcrumbs b on b.hero_id = w.hero_id and b.at between w.from_at and w.to_at
       order by w.incident_id, b.hero_id, b.at`,
  ]);
  const archivedAt = new Date().toISOString();
  const of = <T extends Record<string, unknown>>(rows: T[], id: string) => rows.filter((r) => r.incident_id === id);
  return incidents.map((row) => {
    const id = row.id as string;
    return {
      format: ARCHIVE_FORMAT, archivedAt,
      head: { id, version: row.version as number, auditHead: row.audit_head as string | null, state: row.state as string, snapshot: row.snapshot },
      incident: row, events: trails.get(id) ?? [], offers: of(offers, id), assignments: of(assignments, id),
      breadcrumbs: of(crumbs, id).map(({ incident_id: _, ...b }) => b),
    };
  });
}

/** Removes the incidents and every row that names them. Returns how many incidents went. */
export async function deleteIncidents(tx: Tx, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  await tx`delete from incident_events where incident_id = any(${ids}::text[])`;
  await tx`delete from assignments where incident_id = any(${ids}::text[])`; // before offers: it names its offer
  await tx`delete from offers where incident_id = any(${ids}::text[])`;
  await tx`delete from idempotency_keys where incident_id = any(${ids}::text[])`;
  const gone = await tx`delete from incidents where id = any(${ids}::text[])`;
  return gone.count;
}
