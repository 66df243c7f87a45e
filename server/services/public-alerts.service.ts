// Public alerts in OASIS CAP 1.2: when to raise, update and cancel them, and what the
// public feed shows. Two triggers: a burst of critical incidents in one neighbourhood
// (found by the periodic sweep, off the report path) and a dispatcher marking an
// incident for public warning. Every writer holds the schema's public-alert lock, so
// several processes sweeping at once raise exactly one alert per burst; the database's
// unique indexes are the last word. Ending a warning when its incident ends is the
// sweep's job too, so the dispatch paths stay as they are.
import { randomUUID } from 'node:crypto';
import { isFinalState } from '../../shared/domain.ts';
import type { TokenClaims } from '../../shared/types.ts';
import type { Tx } from '../db.ts';
import { AppError } from '../errors.ts';
import { buildCapAlert, type CapInfo, type CapMsgType, type CapReference } from '../standards/cap.builder.ts';
import { type BurstSummary, planBursts, sameSummary, summarizeBurst } from '../standards/cap.burst.ts';
import { burstInfo, cancelInfo, warningInfo } from '../standards/cap.content.ts';
import { buildCapFeed, capMessagePath } from '../standards/cap.feed.ts';
import type { AlertTrigger } from '../standards/cap.mapping.ts';
import {
  addMembers, alertById, alertWork, appendMessage, burstCandidates, burstMembers, feedAlerts, incidentStates, insertAlert,
  type LiveAlertRow, liveAlertFor, liveAlerts, lockPublicAlerts, type MessageContent, messageDocument, warnableIncident,
} from '../store/alerts.store.ts';
import { inTx, type ServiceContext } from './context.ts';

/** Recent critical incidents looked at per sweep: bounded work in the worst burst. */
const CANDIDATES_MAX = 1_000;
const SWEEPER = 'system:sweeper';

/** What a dispatcher is answered about an alert (the JSON view, not CAP). */
export interface PublicAlertView {
  id: string;
  trigger: AlertTrigger;
  incidentId: string;
  state: 'active' | 'cancelled';
  msgType: CapMsgType;
  /** The latest message's CAP identifier, and where its document is served. */
  identifier: string;
  url: string;
  sentAt: number;
  messages: number;
  headline: string;
  area: { description: string; lat: number; lng: number; radiusKm: number };
}

export interface WarningInput { headline?: string | undefined; instruction?: string | undefined; radiusKm?: number | undefined }

/** CAP's `sent` has whole seconds: every message is dated to the second it was made. */
const wholeSecond = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

/** The alert a message belongs to, as far as the next message needs it. */
interface Episode { id: string; trigger: AlertTrigger; messages: number; refs: CapReference[] }

const episodeOf = (a: LiveAlertRow): Episode => {
  const first = { sender: a.first_sender, identifier: a.first_identifier, sent: a.first_sent_at };
  const last = { sender: a.last_sender, identifier: a.last_identifier, sent: a.last_sent_at };
  return { id: a.id, trigger: a.trigger, messages: a.messages, refs: a.messages > 1 ? [first, last] : [first] };
};

/**
 * Writes the next message of an alert. An Update or Cancel references the alert's first
 * message and its latest (the one it replaces): a reader who missed the updates in
 * between still finds the alert it knows. Identifiers are `<alert id>.<n>`.
 */
async function send(ctx: ServiceContext, tx: Tx, e: Episode, msgType: CapMsgType, content: MessageContent, sent: Date, note?: string): Promise<string> {
  const seq = e.messages + 1;
  const identifier = `${e.id}.${seq}`;
  const sender = ctx.config.CAP_SENDER;
  const references = msgType === 'Alert' ? [] : e.refs;
  const document = buildCapAlert({ identifier, sender, sent, msgType, references, info: content.info, ...(note ? { note } : {}) });
  await appendMessage(tx, { identifier, alertId: e.id, seq, msgType, sender, sent, content, document });
  ctx.metrics.capMessages.inc({ trigger: e.trigger, msg_type: msgType });
  ctx.log.info({ alertId: e.id, identifier, trigger: e.trigger, msgType }, 'public alert message sent');
  return identifier;
}

/** Raises a new alert: its row, then its first message (msgType Alert). */
async function raise(ctx: ServiceContext, tx: Tx, a: { trigger: AlertTrigger; incidentId: string; lat: number; lng: number }, content: MessageContent, sent: Date): Promise<string> {
  const id = randomUUID();
  await insertAlert(tx, { id, trigger: a.trigger, incidentId: a.incidentId, anchorLat: a.lat, anchorLng: a.lng, firstIdentifier: `${id}.1` });
  await send(ctx, tx, { id, trigger: a.trigger, messages: 0, refs: [] }, 'Alert', content, sent);
  return id;
}

const cancelOf = (a: LiveAlertRow, why: string, by: string): MessageContent => ({ info: cancelInfo(a.last_content.info, why), by });

/** Warnings whose incident has ended (or is gone): cancelled, with the reason. */
async function endFinishedWarnings(ctx: ServiceContext, tx: Tx, live: LiveAlertRow[], sent: Date): Promise<void> {
  const warnings = live.filter((a) => a.trigger === 'warning');
  const states = await incidentStates(tx, warnings.map((w) => w.incident_id));
  for (const w of warnings) {
    const state = states.get(w.incident_id);
    if (state && !isFinalState(state)) continue;
    const why = `The incident is ${state ?? 'closed'}; the warning is over.`;
    await send(ctx, tx, episodeOf(w), 'Cancel', cancelOf(w, why, SWEEPER), sent, why);
  }
}

/**
 * Bursts: recent critical incidents join a live burst near them or make a new one; a
 * live burst whose open count or extent changed is updated, and one whose incidents
 * have all ended is cancelled.
 */
async function followBursts(ctx: ServiceContext, tx: Tx, live: LiveAlertRow[], sent: Date): Promise<void> {
  const { config } = ctx;
  const bursts = live.filter((a) => a.trigger === 'burst');
  const candidates = await burstCandidates(tx, { windowMs: config.CAP_BURST_WINDOW_MS, limit: CANDIDATES_MAX });
  const plan = planBursts(candidates, bursts.map((b) => ({ alertId: b.id, anchor: { lat: b.anchor_lat, lng: b.anchor_lng } })), {
    count: config.CAP_BURST_COUNT, radiusKm: config.CAP_BURST_RADIUS_KM,
  });
  for (const j of plan.joins) await addMembers(tx, j.alertId, j.incidents.map((i) => i.id));

  const members = await burstMembers(tx, bursts.map((b) => b.id));
  for (const b of bursts) {
    const open = members.filter((m) => m.alert_id === b.id && m.open);
    const summary = summarizeBurst(open);
    if (!summary) {
      const why = 'Every incident in the area has been resolved or cancelled; the alert is over.';
      await send(ctx, tx, episodeOf(b), 'Cancel', cancelOf(b, why, SWEEPER), sent, why);
    } else if (!b.last_content.summary || !sameSummary(summary, b.last_content.summary)) {
      await send(ctx, tx, episodeOf(b), 'Update', { info: burstInfo(summary), summary, by: SWEEPER }, sent);
    }
  }
  for (const r of plan.raised) {
    const summary = summarizeBurst(r.members) as BurstSummary;
    const content: MessageContent = { info: burstInfo(summary), summary, by: SWEEPER };
    const id = await raise(ctx, tx, { trigger: 'burst', incidentId: r.anchor.id, lat: r.anchor.lat, lng: r.anchor.lng }, content, sent);
    await addMembers(tx, id, r.members.map((m) => m.id));
  }
}

/**
 * The sweep's step (server/workers/sweeper.ts). A cheap unlocked read first: with no
 * live alert and too few recent critical incidents there is nothing to do.
 */
export async function sweepPublicAlerts(ctx: ServiceContext): Promise<void> {
  const { config } = ctx;
  const work = await alertWork(ctx.sql, { windowMs: config.CAP_BURST_WINDOW_MS });
  if (work.live === 0 && work.candidates < config.CAP_BURST_COUNT) return;
  await inTx(ctx, 'public alerts', async (tx) => {
    await lockPublicAlerts(tx);
    const sent = wholeSecond(Date.now());
    const live = await liveAlerts(tx);
    await endFinishedWarnings(ctx, tx, live, sent);
    await followBursts(ctx, tx, live, sent);
  });
}

function viewOf(row: { id: string; trigger: AlertTrigger; incident_id: string; state: 'active' | 'cancelled'; messages: number; last_identifier: string; msg_type: CapMsgType; sent_at: Date; content: MessageContent }): PublicAlertView {
  const info: CapInfo = row.content.info;
  return {
    id: row.id, trigger: row.trigger, incidentId: row.incident_id, state: row.state, msgType: row.msg_type,
    identifier: row.last_identifier, url: capMessagePath(row.last_identifier), sentAt: row.sent_at.getTime(), messages: row.messages,
    headline: info.headline, area: { description: info.areaDesc, ...info.circle },
  };
}

async function viewById(tx: Tx, id: string): Promise<PublicAlertView> {
  const row = await alertById(tx, id);
  if (!row) throw new AppError('internal', 'the alert just written is missing');
  return viewOf(row);
}

/**
 * A dispatcher marks an incident for public warning: the first mark raises an alert,
 * each mark after it updates the alert (new words, radius, or the incident's current
 * severity). An incident that has ended has nothing to warn about (409).
 */
export async function markPublicWarning(ctx: ServiceContext, who: TokenClaims, incidentId: string, input: WarningInput): Promise<{ created: boolean; alert: PublicAlertView }> {
  return inTx(ctx, 'mark public warning', async (tx) => {
    await lockPublicAlerts(tx);
    const incident = await warnableIncident(tx, incidentId);
    if (!incident) throw new AppError('not_found', 'no such incident');
    if (isFinalState(incident.state)) throw new AppError('conflict', `the incident is already ${incident.state}; there is nothing to warn about`);
    const info = warningInfo(incident, {
      headline: input.headline, instruction: input.instruction, radiusKm: input.radiusKm ?? ctx.config.CAP_WARNING_RADIUS_KM,
    });
    const content: MessageContent = { info, by: `${who.role}:${who.sub}` };
    const sent = wholeSecond(Date.now());
    const live = await liveAlertFor(tx, 'warning', incidentId);
    if (live) {
      await send(ctx, tx, episodeOf(live), 'Update', content, sent);
      return { created: false, alert: await viewById(tx, live.id) };
    }
    const id = await raise(ctx, tx, { trigger: 'warning', incidentId, lat: incident.lat, lng: incident.lng }, content, sent);
    return { created: true, alert: await viewById(tx, id) };
  });
}

/** A dispatcher withdraws the warning: its alert is cancelled. None live: 404. */
export async function unmarkPublicWarning(ctx: ServiceContext, who: TokenClaims, incidentId: string): Promise<PublicAlertView> {
  return inTx(ctx, 'unmark public warning', async (tx) => {
    await lockPublicAlerts(tx);
    const live = await liveAlertFor(tx, 'warning', incidentId);
    if (!live) throw new AppError('not_found', 'this incident has no public warning');
    const why = 'The warning was withdrawn by a dispatcher.';
    await send(ctx, tx, episodeOf(live), 'Cancel', cancelOf(live, why, `${who.role}:${who.sub}`), wholeSecond(Date.now()), why);
    return viewById(tx, live.id);
  });
}

/** The Atom feed of current alerts (live, and cancelled in the last CAP_FEED_CANCELLED_MS). */
export async function capFeed(ctx: ServiceContext): Promise<string> {
  const rows = await feedAlerts(ctx.sql, { limit: ctx.config.CAP_FEED_MAX, cancelledMs: ctx.config.CAP_FEED_CANCELLED_MS });
  return buildCapFeed({
    sender: ctx.config.CAP_SENDER,
    now: wholeSecond(Date.now()),
    entries: rows.map((r) => ({
      alertId: r.id, identifier: r.last_identifier, msgType: r.msg_type, sent: r.sent_at, headline: r.content.info.headline, areaDesc: r.content.info.areaDesc,
    })),
  });
}

/** One message's CAP document, as it was sent. */
export async function capDocument(ctx: ServiceContext, identifier: string): Promise<string> {
  const document = await messageDocument(ctx.sql, identifier);
  if (document === null) throw new AppError('not_found', 'no such alert message');
  return document;
}
