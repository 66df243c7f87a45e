// The outbox table's SQL. What the rows mean, how a transaction buffers them and how
// they are carried out lives in server/outbox/.
import type { Sql, Tx } from '../db.ts';
import type { OutboxEntry, OutboxRow } from '../outbox/outbox.topics.ts';

/** Inserts in the entries' order; returns the new ids in that order. */
export async function insertOutbox(tx: Tx, entries: OutboxEntry[]): Promise<string[]> {
  if (entries.length === 0) return [];
  const rows = await tx<{ id: string }[]>`
    insert into outbox (topic, incident_id, payload)
    select e->>'topic', e->>'incidentId', e->'payload'
      from jsonb_array_elements(${tx.json(entries as never)}) with ordinality as t(e, n)
     order by n
    returning id`;
  // Ids are drawn in insert order, which is the entries' order: sorted, they pair up.
  return rows.map((r) => BigInt(r.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
}

/** Claims due rows; rows another relay holds are skipped, not waited for. */
export async function claimOutbox(tx: Tx, limit: number): Promise<OutboxRow[]> {
  return tx<OutboxRow[]>`select id, topic, incident_id, payload from outbox order by id limit ${limit} for update skip locked`;
}

/** Claims these rows if still there and nobody else holds them (the committing process's fast path). */
export async function claimOutboxIds(tx: Tx, ids: string[]): Promise<OutboxRow[]> {
  return tx<OutboxRow[]>`select id, topic, incident_id, payload from outbox where id = any(${ids}::bigint[]) order by id for update skip locked`;
}

export async function deleteOutbox(tx: Tx, ids: string[]): Promise<void> {
  if (ids.length) await tx`delete from outbox where id = any(${ids}::bigint[])`;
}

export async function outboxLag(sql: Sql): Promise<{ rows: number; oldestMs: number }> {
  const [r] = await sql<{ rows: number; oldest_ms: number | null }[]>`
    select count(*)::int as rows, (extract(epoch from now() - min(created_at)) * 1000)::float8 as oldest_ms from outbox`;
  return { rows: r?.rows ?? 0, oldestMs: r?.oldest_ms ?? 0 };
}
