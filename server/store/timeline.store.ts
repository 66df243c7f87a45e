// What an incident's timeline is read from, in one consistent snapshot: the incident,
// its audit trail, its offers, the heroes it involved with when they held it, and their
// breadcrumbs. Every read is capped; the caller learns when a cap cut something.
import type { OfferState } from '../../shared/domain.ts';
import type { IncidentEventView, IncidentView, TimelinePoint } from '../../shared/types.ts';
import type { Sql, Tx } from '../db.ts';
import { breadcrumbTrails } from './breadcrumbs.store.ts';
import { incidentEvents, incidentView } from './incidents.store.ts';

export interface TimelineOfferRow {
  id: string; hero_id: string; slot: number; round: number; state: OfferState; reason: string | null;
  distance_km: number; eta_s: number | null; created_at: Date; expires_at: Date; decided_at: Date | null;
}

/** One stretch in which a hero held the incident: an offer (until decided) or an assignment (until ended). */
export interface HoldRow { hero_id: string; name: string | null; start_at: Date; end_at: Date | null; holding: boolean }

/** A hero offered or assigned the incident, and when they held it (oldest first, disjoint). */
export interface TimelineHero { heroId: string; name: string | null; windows: { from: Date; to: Date }[] }

export interface TimelineCaps { events: number; offers: number; breadcrumbs: number }

export interface TimelineRows {
  incident: IncidentView;
  events: IncidentEventView[];
  offers: TimelineOfferRow[];
  heroes: TimelineHero[];
  /** By hero id: their points inside their windows, oldest first. */
  trails: Map<string, TimelinePoint[]>;
  truncated: boolean;
  /** When the snapshot was taken (the database's clock): "now" for windows still open. */
  now: Date;
}

/**
 * Each hero's windows: from an offer until it was decided (an accept runs on into the
 * assignment it made) or an assignment until it ended, `now` while still held; stretches
 * that touch or overlap are merged. Heroes in the order they were first involved.
 */
export function holdWindows(holds: HoldRow[], now: Date): TimelineHero[] {
  const heroes = new Map<string, TimelineHero>();
  const sorted = [...holds].sort((a, b) => a.start_at.getTime() - b.start_at.getTime());
  for (const h of sorted) {
    const to = h.holding || !h.end_at ? now : h.end_at;
    const hero = heroes.get(h.hero_id) ?? { heroId: h.hero_id, name: h.name, windows: [] };
    heroes.set(h.hero_id, hero);
    const last = hero.windows.at(-1);
    if (last && h.start_at <= last.to) { if (to > last.to) last.to = to; } else hero.windows.push({ from: h.start_at, to });
  }
  return [...heroes.values()];
}

async function offersOf(tx: Tx, id: string, limit: number): Promise<TimelineOfferRow[]> {
  return tx<TimelineOfferRow[]>`
    select id, hero_id, slot, round, state, reason, distance_km, eta_s, created_at, expires_at, decided_at
      from offers where incident_id = ${id} order by created_at, id limit ${limit}`;
}

async function holdsOf(tx: Tx, id: string, limit: number): Promise<HoldRow[]> {
  return tx<HoldRow[]>`
    with held as (
      select hero_id, created_at as start_at, decided_at as end_at, state = 'pending' as holding
        from offers where incident_id = ${id}
      union all
      select hero_id, assigned_at, ended_at, state = 'active'
        from assignments where incident_id = ${id}
    )
    select held.*, h.name from held left join heroes h on h.id = held.hero_id
     order by held.start_at, held.hero_id
     limit ${limit}`;
}

/**
 * Everything a timeline needs, read in one repeatable-read, read-only transaction, or
 * null when there is no such incident. At most `caps.events` events, `caps.offers`
 * offers (and twice as many offers and assignments for the heroes' windows), and
 * `caps.breadcrumbs` points in all, shared evenly between the windows.
 */
export async function readTimeline(sql: Sql, id: string, caps: TimelineCaps): Promise<TimelineRows | null> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const incident = await incidentView(tx, id);
    if (!incident) return null;
    // One row past each cap tells whether it cut something.
    const [[clock], page, offers, holds] = await Promise.all([
      tx<{ now: Date }[]>`select now() as now`,
      incidentEvents(tx, id, { after: 0, limit: caps.events }),
      offersOf(tx, id, caps.offers + 1),
      holdsOf(tx, id, 2 * caps.offers + 1),
    ]);
    const now = clock!.now;
    let truncated = page.next !== undefined || offers.length > caps.offers || holds.length > 2 * caps.offers;
    offers.splice(caps.offers);
    holds.splice(2 * caps.offers);
    const heroes = holdWindows(holds, now);
    const windows = heroes.flatMap((h) => h.windows.map((w) => ({ heroId: h.heroId, ...w })));
    const share = windows.length ? Math.max(1, Math.floor(caps.breadcrumbs / windows.length)) : 0;
    const points = await breadcrumbTrails(tx, windows, share + 1);
    const trails = new Map<string, TimelinePoint[]>(heroes.map((h) => [h.heroId, []]));
    windows.forEach((w, i) => {
      const trail = points[i]!;
      if (trail.length > share) { truncated = true; trail.splice(share); }
      trails.get(w.heroId)!.push(...trail);
    });
    return { incident, events: page.items, offers, heroes, trails, truncated, now };
  }) as Promise<TimelineRows | null>;
}
