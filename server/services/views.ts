// Read models built from Postgres (truth) plus Redis (live positions).
import { HIDDEN } from '../../shared/domain.ts';
import type { CivilianStatus, DispatchSnapshot, IncidentEventView, IncidentView, LatLng, TokenClaims } from '../../shared/types.ts';
import type { Db } from '../db.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import { getHeroes, heroesOnMap } from '../store/heroes.store.ts';
import { incidentViews, listIncidents } from '../store/incidents.store.ts';

/** Great-circle distance in km. */
export function haversineKm(a: LatLng, b: LatLng): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

/** Live positions are a nicety: when Redis cannot answer, views go without them. */
async function liveOrEmpty(positions: HeroPositions, ids: string[]) {
  try {
    return await positions.live(ids);
  } catch {
    return new Map<string, { location?: LatLng; lastSeenAt?: number }>();
  }
}

export async function civilianStatus(db: Db, positions: HeroPositions, incident: IncidentView): Promise<CivilianStatus> {
  const heroIds = incident.assignments.filter((a) => a.state !== 'released').map((a) => a.heroId);
  const [heroes, live] = await Promise.all([getHeroes(db, heroIds), liveOrEmpty(positions, heroIds)]);
  const names = new Map(heroes.map((h) => [h.id, h.name]));
  return {
    incidentId: incident.id,
    state: incident.state,
    heroes: heroIds.map((id) => {
      const at = live.get(id)?.location;
      return {
        id, name: names.get(id) ?? id,
        ...(at ? { distanceKm: Math.round(haversineKm(at, incident.location) * 1000) / 1000 } : {}),
      };
    }),
    at: incident.updatedAt,
  };
}

export async function dispatchSnapshot(db: Db, positions: HeroPositions): Promise<DispatchSnapshot> {
  const [rows, heroes] = await Promise.all([listIncidents(db, { openOnly: true, limit: 5000 }), heroesOnMap(db)]);
  const live = await liveOrEmpty(positions, heroes.map((h) => h.id));
  return {
    incidents: await incidentViews(db, rows),
    heroes: heroes.map((h) => ({ id: h.id, name: h.name, status: h.status, onDuty: h.on_duty, ...live.get(h.id) })),
  };
}

// A civilian sees an incident they reported, or whose report was linked to it, without
// other civilians' identities (PROTOCOL v1.1): what was reported stays, who did not.

/** The incident as `who` may see it: a civilian other than its reporter does not learn who that is. */
export function incidentFor(who: TokenClaims, incident: IncidentView): IncidentView {
  if (who.role !== 'civilian' || incident.reportedBy === who.sub) return incident;
  return { ...incident, reportedBy: HIDDEN };
}

/** Fields of audit data that name a civilian, and the idempotency key of their report. */
const CIVILIAN_FIELDS = ['reporter', 'civilianId'] as const;

/**
 * The audit trail as `who` may see it. A civilian keeps every event and every emergency
 * fact (states, severities, descriptions, reasons, heroes), but other civilians' ids and
 * keys and dispatchers' ids become `HIDDEN` (the actor keeps its role: `dispatcher:(hidden)`).
 */
export function eventsFor(who: TokenClaims, events: IncidentEventView[]): IncidentEventView[] {
  if (who.role !== 'civilian') return events;
  return events.map((e) => {
    const data: Record<string, unknown> = { ...e.data };
    const someoneElse = CIVILIAN_FIELDS.some((f) => typeof data[f] === 'string' && data[f] !== who.sub);
    for (const f of CIVILIAN_FIELDS) if (typeof data[f] === 'string' && data[f] !== who.sub) data[f] = HIDDEN;
    if (someoneElse && 'key' in data) data.key = HIDDEN;
    return { ...e, actor: actorFor(who, e.actor), data };
  });
}

function actorFor(who: TokenClaims, actor: string): string {
  const [role] = actor.split(':', 1);
  if (role === 'civilian' || role === 'dispatcher') return actor === `civilian:${who.sub}` ? actor : `${role}:${HIDDEN}`;
  return actor; // heroes (named in the incident's assignments anyway) and the system
}
