// An incident's timeline (GET /v1/incidents/:id/timeline): its audit events, each with
// the state and members the pure machine gives after it (the trail replayed through
// machines/incident.logic.ts, never a second implementation), its offers with their
// outcomes and answer times, every hero's breadcrumbs while they held it, and the key
// intervals. The GeoJSON and CSV forms are made from this (timeline.formats.ts).
import type { IncidentState } from '../../shared/domain.ts';
import type {
  IncidentEventView, TimelineEvent, TimelineIntervals, TimelineOffer, TimelineView,
} from '../../shared/types.ts';
import type { IncidentInput, PersistedIncident } from '../../machines/incident.machine.ts';
import { fromAudit, startIncident, stepIncident } from '../../machines/incident.logic.ts';
import type { Config } from '../config.ts';
import type { Sql } from '../db.ts';
import { AppError } from '../errors.ts';
import { readTimeline, type TimelineOfferRow } from '../store/timeline.store.ts';

/** The slots filled in a snapshot: the team's members (resolved ones too), or the active ones before teams. */
function filledSlots(snapshot: PersistedIncident): { slot: number; heroId: string }[] {
  const { members, filled } = snapshot.context;
  if (members) return members.flatMap((m, slot) => (m ? [{ slot, heroId: m.heroId }] : []));
  return [...filled].sort((a, b) => a.slot - b.slot).map((f) => ({ slot: f.slot, heroId: f.heroId }));
}

/**
 * Each event with the incident as the machine has it after the event: REPORTED starts
 * the machine with its data (the IncidentInput), every later event steps it.
 */
export function replayTrail(events: IncidentEventView[]): TimelineEvent[] {
  let snapshot: PersistedIncident | undefined;
  return events.map((e) => {
    if (!snapshot) {
      if (e.type !== 'REPORTED') throw new AppError('internal', `the trail starts with ${e.type}, not REPORTED`);
      snapshot = startIncident(e.data as unknown as IncidentInput);
    } else {
      const step = stepIncident(snapshot, fromAudit({ type: e.type, ...e.data }));
      if (!step.ok) throw new AppError('internal', `the trail does not replay: ${e.type} (seq ${e.seq}) refused in ${String(snapshot.value)}`);
      snapshot = step.next;
    }
    return { ...e, state: snapshot.value as IncidentState, members: filledSlots(snapshot) };
  });
}

const ms = (d: Date | null): number | null => (d ? d.getTime() : null);
const between = (a: number | null, b: number | null): number | null => (a !== null && b !== null ? b - a : null);

function toOffer(o: TimelineOfferRow): TimelineOffer {
  const offeredAt = o.created_at.getTime();
  const decidedAt = ms(o.decided_at);
  return {
    id: o.id, heroId: o.hero_id, slot: o.slot, round: o.round, state: o.state, reason: o.reason,
    offeredAt, expiresAt: o.expires_at.getTime(), decidedAt, answerMs: between(offeredAt, decidedAt),
    distanceKm: o.distance_km, etaS: o.eta_s,
  };
}

/**
 * The key moments, from the events (and the first offer): for a team, accepted, en
 * route and on scene are its first member's; resolved is the incident's.
 */
export function intervalsOf(events: TimelineEvent[], offers: TimelineOffer[]): TimelineIntervals {
  const first = (match: (e: TimelineEvent) => boolean) => events.find(match)?.at ?? null;
  const reportedAt = first((e) => e.type === 'REPORTED');
  const firstOfferAt = offers.length ? Math.min(...offers.map((o) => o.offeredAt)) : null;
  const acceptedAt = first((e) => e.type === 'ASSIGN');
  const enRouteAt = first((e) => e.type === 'EN_ROUTE');
  const onSceneAt = first((e) => e.type === 'ARRIVE');
  const resolvedAt = first((e) => e.to === 'resolved');
  return {
    reportedAt, firstOfferAt, acceptedAt, enRouteAt, onSceneAt, resolvedAt,
    reportToFirstOfferMs: between(reportedAt, firstOfferAt),
    firstOfferToAcceptMs: between(firstOfferAt, acceptedAt),
    acceptToEnRouteMs: between(acceptedAt, enRouteAt),
    enRouteToOnSceneMs: between(enRouteAt, onSceneAt),
    onSceneToResolvedMs: between(onSceneAt, resolvedAt),
    reportToResolvedMs: between(reportedAt, resolvedAt),
  };
}

/** The timeline of incident `id`; `not_found` when there is none. */
export async function incidentTimeline(sql: Sql, config: Config, id: string): Promise<TimelineView> {
  const rows = await readTimeline(sql, id, {
    events: config.TIMELINE_MAX_EVENTS, offers: config.TIMELINE_MAX_OFFERS, breadcrumbs: config.TIMELINE_MAX_BREADCRUMBS,
  });
  if (!rows) throw new AppError('not_found', 'no such incident');
  const events = replayTrail(rows.events);
  const offers = rows.offers.map(toOffer);
  return {
    incident: rows.incident,
    generatedAt: rows.now.getTime(),
    events,
    offers,
    members: rows.heroes.map((h) => ({ heroId: h.heroId, name: h.name, breadcrumbs: rows.trails.get(h.heroId) ?? [] })),
    intervals: intervalsOf(events, offers),
    truncated: rows.truncated,
  };
}
