// The outbox table's SQL. What the rows mean, how a transaction buffers them and how
// they are carried out lives in server/outbox/.
import type { Db, Sql, Tx } from '../db.ts';
import type { OutboxRow } from '../outbox/outbox.topics.ts';

/** The advisory lock namespace (first key) whose second key is a process's carrier key. */
export const CARRIER_LOCKS = 0x0d15_7a7c;

/** Who carries the rows out itself, and until when at the latest. */
export interface Carrier { key: number; forMs: number }

/**
 * Inserts `entries` (OutboxEntry[] as JSON, serialised once by the caller, who keeps
 * what Postgres stores) in their order, naming `carrier` for those not marked
 * `own: false`; returns the new ids in that order.
 */
export async function insertOutbox(tx: Tx, entries: string, carrier: Carrier | null = null): Promise<string[]> {
  const until = carrier ? tx`now() + ${carrier.forMs}::integer * interval '1 millisecond'` : tx`null::timestamptz`;
  // `::text::jsonb`: a parameter typed jsonb would be JSON-encoded again by postgres.js.
  // An entry with `own: false` is left for any relay pass (no carrier).
  const rows = await tx<{ id: string }[]>`
    insert into outbox (topic, incident_id, payload, carrier, carrier_until)
    select e->>'topic', e->>'incidentId', e->'payload',
           case when coalesce((e->>'own')::boolean, true) then ${carrier?.key ?? null}::integer end,
           case when coalesce((e->>'own')::boolean, true) then ${until} end
      from jsonb_array_elements(${entries}::text::jsonb) with ordinality as t(e, n)
     order by n
    returning id`;
  // Ids are drawn in insert order, which is the entries' order: sorted, they pair up.
  return rows.map((r) => BigInt(r.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
}

/**
 * Claims due rows: those no live process carries out itself (no carrier, a carrier
 * whose lock is gone with its process, or past `carrier_until`). Rows another relay
 * holds are skipped, not waited for.
 */
export async function claimOutbox(tx: Tx, limit: number): Promise<OutboxRow[]> {
  // A carrier is gone when its lock can be taken: tried once per carrier named, not
  // per row, and never by reading pg_locks (which stalls every lock taken meanwhile,
  // and passes run back to back in a burst). The lock taken ends with this transaction.
  return tx<OutboxRow[]>`
    with gone as materialized (
      select c.carrier from (select distinct carrier from outbox where carrier is not null and carrier_until >= now()) c
       where pg_try_advisory_xact_lock(${CARRIER_LOCKS}, c.carrier)
    )
    select o.id, o.topic, o.incident_id, o.payload from outbox o
     where o.carrier is null or o.carrier_until < now() or o.carrier in (select carrier from gone)
     order by o.id limit ${limit} for update of o skip locked`;
}

/**
 * Takes this process's carrier lock on `db` (a connection of its own, held for the
 * process's life): true if held now. Asked again, it answers from the lock it holds.
 */
export async function holdCarrierLock(db: Sql, key: number): Promise<boolean> {
  const [r] = await db<{ held: boolean }[]>`
    select case when exists (select 1 from pg_locks l
                              where l.pid = pg_backend_pid() and l.locktype = 'advisory' and l.objsubid = 2
                                and l.classid::bigint = ${CARRIER_LOCKS} and l.objid::bigint = ${key})
                then true else pg_try_advisory_lock(${CARRIER_LOCKS}, ${key}) end as held`;
  return r?.held === true;
}

/** Rows this process will not carry out after all (an effect failed): the next pass takes them. */
export async function releaseOutbox(db: Db, ids: string[]): Promise<void> {
  if (ids.length) await db`update outbox set carrier = null, carrier_until = null where id = any(${ids}::bigint[])`;
}

/** Claims these rows if still there and nobody else holds them (the committing process's fast path). */
export async function claimOutboxIds(tx: Tx, ids: string[]): Promise<OutboxRow[]> {
  return tx<OutboxRow[]>`select id, topic, incident_id, payload from outbox where id = any(${ids}::bigint[]) order by id for update skip locked`;
}

export async function deleteOutbox(db: Db, ids: string[]): Promise<void> {
  if (ids.length) await db`delete from outbox where id = any(${ids}::bigint[])`;
}

export async function outboxLag(sql: Sql): Promise<{ rows: number; oldestMs: number }> {
  const [r] = await sql<{ rows: number; oldest_ms: number | null }[]>`
    select count(*)::int as rows, (extract(epoch from now() - min(created_at)) * 1000)::float8 as oldest_ms from outbox`;
  return { rows: r?.rows ?? 0, oldestMs: r?.oldest_ms ?? 0 };
}
