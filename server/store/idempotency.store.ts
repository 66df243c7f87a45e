// Idempotency keys: one row per (civilian, Idempotency-Key), claimed in the report's
// own transaction, pointing at the incident the report created or joined. A key is
// kept IDEMPOTENCY_RETENTION_MS (7 days by default), far beyond any client's retry
// horizon; after that the sweeper purges it, and the same key from the same civilian
// is a new report.
import type { Db, Sql, Tx } from '../db.ts';

export async function idempotencyKeyExists(db: Db, actor: string, key: string): Promise<boolean> {
  const [row] = await db`select 1 from idempotency_keys where actor = ${actor} and key = ${key}`;
  return row !== undefined;
}

/** Points the key at the incident the report was linked to instead. */
export async function pointKeyAt(tx: Tx, actor: string, key: string, incidentId: string): Promise<void> {
  await tx`update idempotency_keys set incident_id = ${incidentId} where actor = ${actor} and key = ${key}`;
}

/**
 * Deletes up to `limit` keys older than `olderThanMs`, oldest first. Rows a report
 * transaction holds are skipped (the next pass takes them), never waited for.
 */
export async function purgeIdempotencyKeys(sql: Sql, olderThanMs: number, limit: number): Promise<number> {
  const rows = await sql`
    delete from idempotency_keys k using (
      select actor, key from idempotency_keys
       where created_at < now() - make_interval(secs => ${olderThanMs / 1000})
       order by created_at limit ${limit}
         for update skip locked) old
     where k.actor = old.actor and k.key = old.key
    returning k.key`;
  return rows.length;
}
