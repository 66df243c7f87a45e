// Reads for the audit verifier and the archive (issue 15): incidents' heads in id
// order, and their trails with the chain's fields, times in microseconds as hashed.
import type { Db } from '../db.ts';
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
