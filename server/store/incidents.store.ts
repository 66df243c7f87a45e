// Incident rows: insert, lock, the guarded update with its audit event, and views.
import type { Db, Sql, Tx } from '../db.ts';
import { SEVERITY_RANK, type IncidentKind, type IncidentState, type MemberProgress, type Severity } from '../../shared/domain.ts';
import type { AssignmentView, IncidentEventView, IncidentView, LatLng, Need, SlotView } from '../../shared/types.ts';
import type { IncidentInput, PersistedIncident } from '../../machines/incident.machine.ts';
import { isPartialTeam, openSlots } from '../../machines/incident.team.ts';
import { eventHash, GENESIS, nowUs, usToTimestamp } from '../audit/audit.chain.ts';

export interface IncidentRow {
  id: string;
  kind: IncidentKind;
  severity: Severity;
  state: IncidentState;
  lat: number;
  lng: number;
  description: string;
  needs: Need[];
  reported_by: string;
  /** Civilians whose duplicate reports were linked to this incident. */
  co_reporters: string[];
  snapshot: PersistedIncident;
  version: number;
  deadline_at: Date | null;
  /** When dispatchers were told its team is incomplete; cleared once every slot is filled. */
  team_alerted_at: Date | null;
  /** The hash of its newest audit event (the chain's head); null before migration 007. */
  audit_head: string | null;
  created_at: Date;
  updated_at: Date;
}


export interface NewIncident {
  id: string; kind: IncidentKind; severity: Severity; location: LatLng; description: string; needs: Need[];
  reportedBy: string; snapshot: PersistedIncident; deadlineAt: Date;
  /** What the machine was started with: the REPORTED event's data, which replay starts from. */
  input: IncidentInput;
}

/**
 * Inserts the incidents with their first audit events: two statements for any number
 * (a batch of reports committed together). Returns the rows in the order given.
 */
export async function insertIncidents(tx: Tx, rows: NewIncident[]): Promise<IncidentRow[]> {
  if (rows.length === 0) return [];
  const records = rows.map((r) => {
    const actor = `civilian:${r.reportedBy}`;
    const atUs = nowUs();
    const hash = eventHash(GENESIS, {
      incidentId: r.id, seq: 1, type: 'REPORTED', from: null, to: r.snapshot.value, actor, atUs, data: r.input,
    });
    return {
      id: r.id, kind: r.kind, severity: r.severity, severity_rank: SEVERITY_RANK[r.severity], state: r.snapshot.value,
      lat: r.location.lat, lng: r.location.lng, description: r.description, needs: r.needs, reported_by: r.reportedBy,
      snapshot: r.snapshot, deadline_at: r.deadlineAt.toISOString(), actor, input: r.input,
      at: usToTimestamp(atUs), prev_hash: GENESIS, hash,
    };
  });
  const json = tx.json(records as never);
  // Sent together (postgres.js pipelines a transaction's queries), run in order.
  const [inserted] = await Promise.all([tx<IncidentRow[]>`
    insert into incidents (id, kind, severity, severity_rank, state, lat, lng, description, needs, reported_by,
                           snapshot, version, deadline_at, audit_head)
    select id, kind, severity, severity_rank, state, lat, lng, description, needs, reported_by, snapshot, 1, deadline_at, hash
      from jsonb_to_recordset(${json}) as r(id text, kind text, severity text, severity_rank smallint, state text,
           lat float8, lng float8, description text, needs jsonb, reported_by text, snapshot jsonb, deadline_at timestamptz,
           hash text)
    returning *`, tx`
    insert into incident_events (incident_id, seq, type, from_state, to_state, actor, data, at, prev_hash, hash)
    select id, 1, 'REPORTED', null, state, actor, input, at, prev_hash, hash
      from jsonb_to_recordset(${json}) as r(id text, state text, actor text, input jsonb, at timestamptz, prev_hash text, hash text)`]);
  const byId = new Map(inserted.map((r) => [r.id, r]));
  return rows.map((r) => byId.get(r.id)!);
}

export async function getIncident(db: Db, id: string): Promise<IncidentRow | null> {
  const [row] = await db<IncidentRow[]>`select * from incidents where id = ${id}`;
  return row ?? null;
}

export async function getIncidents(db: Db, ids: string[]): Promise<IncidentRow[]> {
  if (ids.length === 0) return [];
  return db<IncidentRow[]>`select * from incidents where id = any(${ids}::text[])`;
}

/** Locks the incident row: every change to one incident is serialised behind it. */
export async function lockIncident(tx: Tx, id: string): Promise<IncidentRow | null> {
  const [row] = await tx<IncidentRow[]>`select * from incidents where id = ${id} for update`;
  return row ?? null;
}

/**
 * The guarded update: writes the next snapshot only if nobody moved the incident
 * since `row` was read, and appends the audit event with seq = the new version.
 * The row's severity follows the snapshot's (a linked report may raise it; incidents
 * older than linked reports carry none and keep theirs). An incomplete team's alert
 * episode ends when it is no longer a partial team. Returns null when the guard fails.
 */
export async function saveStep(tx: Tx, row: IncidentRow, step: {
  next: PersistedIncident; eventType: string; eventData: Record<string, unknown>; actor: string; deadlineAt?: Date | null;
}): Promise<IncidentRow | null> {
  const deadline = step.deadlineAt === undefined ? row.deadline_at : step.deadlineAt;
  const severity = step.next.context.severity ?? row.severity;
  // Chained to the head as of `row`: the version guard makes sure it is still the head.
  const prev = row.audit_head ?? GENESIS;
  const atUs = nowUs();
  const hash = eventHash(prev, {
    incidentId: row.id, seq: row.version + 1, type: step.eventType, from: row.state, to: step.next.value,
    actor: step.actor, atUs, data: step.eventData,
  });
  // One statement: the audit event is written only if the guard matched. The time goes
  // as text: a timestamptz parameter would pass through a Date and lose its microseconds.
  // updated_at moves forward by at least a millisecond per version: clients order an
  // incident's pushes by it (`at`), and now() is the transaction's start, the same for
  // two versions written by one transaction (a report and its first round).
  const [saved] = await tx<IncidentRow[]>`
    with saved as (
      update incidents
         set state = ${step.next.value}, snapshot = ${tx.json(step.next as never)}, version = version + 1,
             severity = ${severity}, severity_rank = ${SEVERITY_RANK[severity]},
             deadline_at = ${deadline}, updated_at = greatest(now(), updated_at + interval '1 millisecond'), audit_head = ${hash},
             team_alerted_at = ${isPartialTeam(step.next.context) ? tx`team_alerted_at` : null}
       where id = ${row.id} and version = ${row.version}
      returning *
    ), audited as (
      insert into incident_events (incident_id, seq, type, from_state, to_state, actor, data, at, prev_hash, hash)
      select id, version, ${step.eventType}, ${row.state}, state, ${step.actor}, ${tx.json(step.eventData as never)},
             ${usToTimestamp(atUs)}::text::timestamptz, ${prev}, ${hash} from saved
    )
    select * from saved`;
  return saved ?? null;
}

/** The reporter, or a civilian whose report was linked to it. */
export async function isReporter(db: Db, id: string, civilianId: string): Promise<boolean> {
  const [row] = await db`select 1 from incidents where id = ${id} and (reported_by = ${civilianId} or ${civilianId} = any(co_reporters))`;
  return row !== undefined;
}

export async function addCoReporter(tx: Tx, id: string, civilianId: string): Promise<void> {
  await tx`update incidents set co_reporters = array_append(co_reporters, ${civilianId})
            where id = ${id} and reported_by <> ${civilianId} and not (${civilianId} = any(co_reporters))`;
}

export async function setDeadline(db: Db, id: string, deadlineAt: Date | null): Promise<void> {
  await db`update incidents set deadline_at = ${deadlineAt} where id = ${id}`;
}

/** Open incidents past their deadline, most overdue first (the sweeper heals them). */
export async function overdueIncidentIds(db: Db, limit: number): Promise<string[]> {
  const rows = await db<{ id: string }[]>`
    select id from incidents where state not in ('resolved', 'cancelled') and deadline_at <= now()
     order by deadline_at limit ${limit}`;
  return rows.map((r) => r.id);
}

/** Records that dispatchers were told this team is incomplete (one alert per episode). */
export async function markTeamAlerted(db: Db, id: string): Promise<void> {
  await db`update incidents set team_alerted_at = now() where id = ${id}`;
}

/** An assignment as views read it: `etaAt` is when the member was expected on scene. */
export type AssignmentOf = AssignmentView & { etaAt: number | null };

interface AssignmentRow {
  incident_id: string; hero_id: string; skill: string | null; state: AssignmentView['state']; assigned_at: Date;
  slot: number; progress: MemberProgress; eta_s: number | null; name: string | null;
}

export async function assignmentsOf(db: Db, incidentIds: string[]): Promise<Map<string, AssignmentOf[]>> {
  const byIncident = new Map<string, AssignmentOf[]>();
  if (incidentIds.length === 0) return byIncident;
  const rows = await db<AssignmentRow[]>`
    select a.incident_id, a.hero_id, a.skill, a.state, a.assigned_at, a.slot, a.progress, a.eta_s, h.name
      from assignments a left join heroes h on h.id = a.hero_id
     where a.incident_id = any(${incidentIds}) order by a.id`;
  for (const r of rows) {
    const list = byIncident.get(r.incident_id) ?? [];
    const assignedAt = r.assigned_at.getTime();
    list.push({
      heroId: r.hero_id, ...(r.name !== null ? { name: r.name } : {}), skill: r.skill, state: r.state, assignedAt, slot: r.slot,
      progress: r.state === 'completed' ? 'resolved' : r.progress,
      etaAt: r.eta_s === null ? null : assignedAt + r.eta_s * 1000,
    });
    byIncident.set(r.incident_id, list);
  }
  return byIncident;
}

/** Reports standing on it; an incident older than linked reports counts its reporter and co-reporters. */
const reportCount = (row: IncidentRow): number => row.snapshot.context.reports?.length ?? 1 + row.co_reporters.length;

/** Each slot with its member (active or completed), from the snapshot. */
function slotViews(row: IncidentRow): SlotView[] {
  const { slots, filled, members } = row.snapshot.context;
  return slots.map((s, slot) => ({
    slot, skill: s.skill,
    heroId: (members ? members[slot]?.heroId : filled.find((f) => f.slot === slot)?.heroId) ?? null,
  }));
}

/**
 * When the whole team should be on scene: the latest of its members' ETAs, once every
 * slot is filled. Unknown (null) while a slot is open or a member's ETA is unknown.
 */
function teamEtaAt(row: IncidentRow, assignments: AssignmentOf[]): number | null {
  if (openSlots(row.snapshot.context).length > 0) return null;
  const members = assignments.filter((a) => a.state !== 'released');
  if (members.length === 0 || members.some((a) => a.etaAt === null)) return null;
  return Math.max(...members.map((a) => a.etaAt!));
}

/** Incidents from before teams move as a whole: an active member is as far as the incident. */
function memberProgress(row: IncidentRow, a: AssignmentOf): MemberProgress {
  if (row.snapshot.context.members || a.state !== 'active') return a.progress;
  return row.state === 'en_route' || row.state === 'on_scene' ? row.state : a.progress;
}

export function toIncidentView(row: IncidentRow, assignments: AssignmentOf[]): IncidentView {
  return {
    id: row.id, kind: row.kind, severity: row.severity, state: row.state,
    location: { lat: row.lat, lng: row.lng }, description: row.description, needs: row.needs,
    reportedBy: row.reported_by,
    assignments: assignments.map((a) => ({
      heroId: a.heroId, skill: a.skill, state: a.state, assignedAt: a.assignedAt, slot: a.slot, progress: memberProgress(row, a),
    })),
    slots: slotViews(row), teamEtaAt: teamEtaAt(row, assignments),
    reports: reportCount(row), version: row.version,
    createdAt: row.created_at.getTime(), updatedAt: row.updated_at.getTime(),
  };
}

export async function incidentViews(db: Db, rows: IncidentRow[]): Promise<IncidentView[]> {
  const assignments = await assignmentsOf(db, rows.map((r) => r.id));
  return rows.map((r) => toIncidentView(r, assignments.get(r.id) ?? []));
}

export async function incidentView(db: Db, id: string): Promise<IncidentView | null> {
  const row = await getIncident(db, id);
  return row ? (await incidentViews(db, [row]))[0]! : null;
}

export async function listIncidents(db: Db, filter: { states?: IncidentState[]; reportedBy?: string; openOnly?: boolean; before?: string; limit?: number }): Promise<IncidentRow[]> {
  const limit = filter.limit ?? 500;
  // Newest first; id breaks ties in created_at, so `before` (an incident id) pages exactly.
  return db<IncidentRow[]>`
    select * from incidents
     where true
       ${filter.states ? db`and state = any(${filter.states})` : db``}
       ${filter.reportedBy !== undefined ? db`and (reported_by = ${filter.reportedBy} or ${filter.reportedBy} = any(co_reporters))` : db``}
       ${filter.openOnly ? db`and state not in ('resolved', 'cancelled')` : db``}
       ${filter.before !== undefined ? db`and (created_at, id) < (select created_at, id from incidents where id = ${filter.before})` : db``}
     order by created_at desc, id desc limit ${limit}`;
}

/**
 * One page of the dispatcher's list, newest first, read in one snapshot (the incidents
 * and their assignments agree): incidents older than `before` (the id that ended the
 * previous page), at most `limit`. Null when `before` names no incident.
 */
export async function incidentPage(sql: Sql, q: { states?: IncidentState[]; before?: string; limit: number }): Promise<{ items: IncidentView[]; next?: string } | null> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    if (q.before !== undefined && (await tx`select 1 from incidents where id = ${q.before}`).length === 0) return null;
    // One row past the page tells whether more remain.
    const rows = await listIncidents(tx, { ...q, limit: q.limit + 1 });
    const items = await incidentViews(tx, rows.slice(0, q.limit));
    return rows.length > q.limit ? { items, next: items[items.length - 1]!.id } : { items };
  }) as Promise<{ items: IncidentView[]; next?: string } | null>;
}

interface EventRow { seq: number; type: string; from_state: IncidentState | null; to_state: IncidentState; actor: string; at: Date; data: Record<string, unknown> }

/** One page of the audit trail, oldest first: events after `after`, at most `limit`. */
export async function incidentEvents(db: Db, id: string, page: { after: number; limit: number }): Promise<{ items: IncidentEventView[]; next?: number }> {
  // One row past the page tells whether more remain.
  const rows = await db<EventRow[]>`
    select * from incident_events where incident_id = ${id} and seq > ${page.after} order by seq limit ${page.limit + 1}`;
  const items = rows.slice(0, page.limit)
    .map((r) => ({ seq: r.seq, type: r.type, from: r.from_state, to: r.to_state, actor: r.actor, at: r.at.getTime(), data: r.data }));
  return rows.length > page.limit ? { items, next: items[items.length - 1]!.seq } : { items };
}
