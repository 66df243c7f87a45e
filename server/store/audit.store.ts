// Reads for the audit verifier and the archive (issue 15): incidents' heads in id
// order, and their trails with the chain's fields, times in microseconds as hashed;
// and the daily anchors over them.
import type { Db } from '../db.ts';
import type { Anchor } from '../audit/audit.anchor.ts';
import type { TrailEvent, TrailHead } from '../audit/audit.verifier.ts';

interface HeadRow { id: string; version: number; audit_head: string | null; state: string; snapshot: unknown }
interface EventRow {
  incident_id: string; seq: number; type: string; from_state: string | null; to_state: string; actor: string;
  at_us: string; data: unknown; prev_hash: string | null; hash: string | null;
}

export async function countIncidents(db: Db, only?: string): Promise<number> {
  const [row] = await db<{ n: number }[]>`select count(*)::int as n from incidents ${only ? db`where id = ${only}` : db``}`;
  return row?.n ?? 0;
}

/** The next `limit` incidents after `afterId`, in id order (keyset paging). */
export async function headsAfter(db: Db, afterId: string, limit: number, only?: string): Promise<TrailHead[]> {
  const rows = await db<HeadRow[]>`
    select id, version, audit_head, state, snapshot from incidents
     where id > ${afterId} ${only ? db`and id = ${only}` : db``}
     order by id limit ${limit}`;
  return rows.map((r) => ({ id: r.id, version: r.version, auditHead: r.audit_head, state: r.state, snapshot: r.snapshot }));
}

/** The trails of these incidents, each in seq order. */
export async function trailsOf(db: Db, ids: string[]): Promise<Map<string, TrailEvent[]>> {
  const out = new Map<string, TrailEvent[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return out;
  const rows = await db<EventRow[]>`
    select incident_id, seq, type, from_state, to_state, actor, (extract(epoch from at) * 1000000)::bigint::text as at_us,
           data, prev_hash, hash
      from incident_events where incident_id = any(${ids}::text[]) order by incident_id, seq`;
  for (const r of rows) {
    out.get(r.incident_id)?.push({
      seq: r.seq, type: r.type, from: r.from_state, to: r.to_state, actor: r.actor, atUs: Number(r.at_us), data: r.data,
      prevHash: r.prev_hash, hash: r.hash,
    });
  }
  return out;
}

// ---- daily anchors (server/audit/audit.anchor.ts) ----

interface AnchorRow { day: string; prev_anchor: string; digest: string; incidents: number; events: number; anchor: string }
const toAnchor = (r: AnchorRow): Anchor => ({ day: r.day, prevAnchor: r.prev_anchor, digest: r.digest, incidents: r.incidents, events: r.events, anchor: r.anchor });

/** Every event of one UTC day: its incident, seq and hash. */
export async function eventsBetween(db: Db, from: Date, to: Date): Promise<{ incidentId: string; seq: number; hash: string | null }[]> {
  const rows = await db<{ incident_id: string; seq: number; hash: string | null }[]>`
    select incident_id, seq, hash from incident_events where at >= ${from} and at < ${to}`;
  return rows.map((r) => ({ incidentId: r.incident_id, seq: r.seq, hash: r.hash }));
}

export async function firstEventAt(db: Db): Promise<Date | null> {
  const [row] = await db<{ at: Date | null }[]>`select min(at) as at from incident_events`;
  return row?.at ?? null;
}

export async function anchors(db: Db): Promise<Anchor[]> {
  const rows = await db<AnchorRow[]>`
    select to_char(day, 'YYYY-MM-DD') as day, prev_anchor, digest, incidents, events, anchor from audit_anchors order by day`;
  return rows.map(toAnchor);
}

export async function lastAnchor(db: Db): Promise<Anchor | null> {
  const [row] = await db<AnchorRow[]>`
    select to_char(day, 'YYYY-MM-DD') as day, prev_anchor, digest, incidents, events, anchor from audit_anchors order by day desc limit 1`;
  return row ? toAnchor(row) : null;
}

/** Written once per day: a second writer (another process's job) changes nothing. */
export async function insertAnchor(db: Db, a: Anchor): Promise<boolean> {
  const rows = await db`
    insert into audit_anchors (day, prev_anchor, digest, incidents, events, anchor)
    values (${a.day}::date, ${a.prevAnchor}, ${a.digest}, ${a.incidents}, ${a.events}, ${a.anchor})
    on conflict (day) do nothing returning day`;
  return rows.length > 0;
}
