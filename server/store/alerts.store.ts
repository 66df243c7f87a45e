// Public alerts (OASIS CAP 1.2; migration 009): the alerts, the incidents a burst
// counts, and every message as sent. Writers hold one advisory lock per schema, so the
// sweeper in several processes and dispatchers marking incidents see each other's
// writes in order; the unique indexes stand behind it.
import type { IncidentKind, IncidentState, Severity } from '../../shared/domain.ts';
import type { Db, Sql, Tx } from '../db.ts';
import type { CapInfo, CapMsgType } from '../standards/cap.builder.ts';
import type { BurstIncident, BurstSummary } from '../standards/cap.burst.ts';
import type { AlertTrigger } from '../standards/cap.mapping.ts';

/** Any constant shared by every process; the second key is the schema's. */
const LOCK_KEY = 7_042_015;

/** What a message said, kept beside its XML. */
export interface MessageContent {
  info: CapInfo;
  /** A burst's summary, compared with the next one. */
  summary?: BurstSummary;
  /** Who sent a warning or its cancel (a dispatcher), or `system:sweeper`. */
  by: string;
}

export interface LiveAlertRow {
  id: string;
  trigger: AlertTrigger;
  incident_id: string;
  anchor_lat: number;
  anchor_lng: number;
  messages: number;
  first_identifier: string;
  first_sender: string;
  first_sent_at: Date;
  last_identifier: string;
  last_sender: string;
  last_sent_at: Date;
  last_content: MessageContent;
}

export interface AlertRow {
  id: string;
  trigger: AlertTrigger;
  incident_id: string;
  state: 'active' | 'cancelled';
  messages: number;
  last_identifier: string;
  msg_type: CapMsgType;
  sent_at: Date;
  content: MessageContent;
}

export interface NewMessage {
  identifier: string;
  alertId: string;
  seq: number;
  msgType: CapMsgType;
  sender: string;
  sent: Date;
  content: MessageContent;
  document: string;
}

/** Serialises every writer of public alerts in this schema until the transaction ends. */
export async function lockPublicAlerts(tx: Tx): Promise<void> {
  await tx`select pg_advisory_xact_lock(${LOCK_KEY}, hashtext(current_schema()))`;
}

/**
 * Whether the sweeper has anything to look at: live alerts, or enough recent open
 * critical incidents not yet in a burst to make one. One cheap read, no lock.
 */
export async function alertWork(sql: Sql, q: { windowMs: number }): Promise<{ live: number; candidates: number }> {
  const [row] = await sql<{ live: number; candidates: number }[]>`
    select (select count(*)::int from public_alerts where state = 'active') as live,
           (select count(*)::int from incidents i
             where i.severity = 'critical' and i.state not in ('resolved', 'cancelled')
               and i.created_at > now() - make_interval(secs => ${q.windowMs / 1000})
               and not exists (select 1 from public_alert_members m where m.incident_id = i.id)) as candidates`;
  return row!;
}

/** Open critical incidents reported in the window and in no burst yet, newest `limit`. */
export async function burstCandidates(db: Db, q: { windowMs: number; limit: number }): Promise<BurstIncident[]> {
  const rows = await db<{ id: string; kind: IncidentKind; lat: number; lng: number; created_at: Date }[]>`
    select i.id, i.kind, i.lat, i.lng, i.created_at from incidents i
     where i.severity = 'critical' and i.state not in ('resolved', 'cancelled')
       and i.created_at > now() - make_interval(secs => ${q.windowMs / 1000})
       and not exists (select 1 from public_alert_members m where m.incident_id = i.id)
     order by i.created_at desc, i.id limit ${q.limit}`;
  return rows.map((r) => ({ id: r.id, kind: r.kind, lat: r.lat, lng: r.lng, createdAt: r.created_at.getTime() }));
}

const LIVE_COLUMNS = (db: Db) => db`
  a.id, a.trigger, a.incident_id, a.anchor_lat, a.anchor_lng, a.messages,
  f.identifier as first_identifier, f.sender as first_sender, f.sent_at as first_sent_at,
  l.identifier as last_identifier, l.sender as last_sender, l.sent_at as last_sent_at, l.content as last_content`;

/** Every live alert with its first and latest message, oldest first. */
export async function liveAlerts(db: Db): Promise<LiveAlertRow[]> {
  return db<LiveAlertRow[]>`
    select ${LIVE_COLUMNS(db)} from public_alerts a
      join public_alert_messages f on f.alert_id = a.id and f.seq = 1
      join public_alert_messages l on l.identifier = a.last_identifier
     where a.state = 'active' order by a.created_at, a.id`;
}

export async function liveAlertFor(db: Db, trigger: AlertTrigger, incidentId: string): Promise<LiveAlertRow | null> {
  const [row] = await db<LiveAlertRow[]>`
    select ${LIVE_COLUMNS(db)} from public_alerts a
      join public_alert_messages f on f.alert_id = a.id and f.seq = 1
      join public_alert_messages l on l.identifier = a.last_identifier
     where a.state = 'active' and a.trigger = ${trigger} and a.incident_id = ${incidentId}`;
  return row ?? null;
}

export interface MemberRow { alert_id: string; incident_id: string; kind: IncidentKind; lat: number; lng: number; open: boolean }

/** The members of these bursts, each with whether it is still open (a pruned incident is not). */
export async function burstMembers(db: Db, alertIds: string[]): Promise<MemberRow[]> {
  if (alertIds.length === 0) return [];
  return db<MemberRow[]>`
    select m.alert_id, m.incident_id, i.kind, i.lat, i.lng,
           coalesce(i.state not in ('resolved', 'cancelled'), false) as open
      from public_alert_members m left join incidents i on i.id = m.incident_id
     where m.alert_id = any(${alertIds}::text[])`;
}

/** The current state of each incident that still exists. */
export async function incidentStates(db: Db, ids: string[]): Promise<Map<string, IncidentState>> {
  if (ids.length === 0) return new Map();
  const rows = await db<{ id: string; state: IncidentState }[]>`select id, state from incidents where id = any(${ids}::text[])`;
  return new Map(rows.map((r) => [r.id, r.state]));
}

export interface WarnableIncident { id: string; kind: IncidentKind; severity: Severity; state: IncidentState; lat: number; lng: number }

export async function warnableIncident(db: Db, id: string): Promise<WarnableIncident | null> {
  const [row] = await db<WarnableIncident[]>`select id, kind, severity, state, lat, lng from incidents where id = ${id}`;
  return row ?? null;
}

export async function insertAlert(tx: Tx, a: { id: string; trigger: AlertTrigger; incidentId: string; anchorLat: number; anchorLng: number; firstIdentifier: string }): Promise<void> {
  await tx`
    insert into public_alerts (id, trigger, incident_id, anchor_lat, anchor_lng, last_identifier, messages)
    values (${a.id}, ${a.trigger}, ${a.incidentId}, ${a.anchorLat}, ${a.anchorLng}, ${a.firstIdentifier}, 0)`;
}

/** Counts incidents in a burst; an incident already counted elsewhere fails the transaction. */
export async function addMembers(tx: Tx, alertId: string, incidentIds: string[]): Promise<void> {
  if (incidentIds.length === 0) return;
  await tx`
    insert into public_alert_members (incident_id, alert_id)
    select unnest(${incidentIds}::text[]), ${alertId}`;
}

/** Appends a message and makes it the alert's latest; a Cancel ends the alert. */
export async function appendMessage(tx: Tx, m: NewMessage): Promise<void> {
  await tx`
    insert into public_alert_messages (identifier, alert_id, seq, msg_type, sender, sent_at, content, document)
    values (${m.identifier}, ${m.alertId}, ${m.seq}, ${m.msgType}, ${m.sender}, ${m.sent}, ${tx.json(m.content as never)}, ${m.document})`;
  await tx`
    update public_alerts set last_identifier = ${m.identifier}, messages = ${m.seq}, updated_at = now(),
           state = case when ${m.msgType} = 'Cancel' then 'cancelled' else state end,
           cancelled_at = case when ${m.msgType} = 'Cancel' then now() else cancelled_at end
     where id = ${m.alertId}`;
}

/**
 * The feed: live alerts and those cancelled in the last `cancelledMs`, newest change
 * first, at most `limit`, each with its latest message.
 */
export async function feedAlerts(db: Db, q: { limit: number; cancelledMs: number }): Promise<AlertRow[]> {
  return db<AlertRow[]>`
    select a.id, a.trigger, a.incident_id, a.state, a.messages, a.last_identifier, l.msg_type, l.sent_at, l.content
      from public_alerts a join public_alert_messages l on l.identifier = a.last_identifier
     where a.state = 'active' or a.cancelled_at > now() - make_interval(secs => ${q.cancelledMs / 1000})
     order by a.updated_at desc, a.id limit ${q.limit}`;
}

/** One message's CAP document as sent, or null. */
export async function messageDocument(db: Db, identifier: string): Promise<string | null> {
  const [row] = await db<{ document: string }[]>`select document from public_alert_messages where identifier = ${identifier}`;
  return row?.document ?? null;
}

/** An alert with its latest message (for the answers to dispatchers). */
export async function alertById(db: Db, id: string): Promise<AlertRow | null> {
  const [row] = await db<AlertRow[]>`
    select a.id, a.trigger, a.incident_id, a.state, a.messages, a.last_identifier, l.msg_type, l.sent_at, l.content
      from public_alerts a join public_alert_messages l on l.identifier = a.last_identifier
     where a.id = ${id}`;
  return row ?? null;
}
