// Where critical incidents bunch together: the pure half of the burst trigger. Given the
// open critical incidents reported recently and the bursts already alerted, it says
// which incidents join which burst and which new bursts to raise; and it sums a burst
// up (how many, what kinds, which circle), so an Update is sent exactly when that
// summary changes. The service does the reading, locking and writing.
import type { IncidentKind } from '../../shared/domain.ts';
import type { LatLng } from '../../shared/types.ts';

export interface BurstIncident { id: string; kind: IncidentKind; lat: number; lng: number; createdAt: number }
/** A burst already alerted: the first incident it was raised around, and its members. */
export interface LiveBurst { alertId: string; anchor: LatLng }
export interface BurstSettings { count: number; radiusKm: number }

export interface BurstPlan {
  /** Recent incidents close to a live burst's anchor: they join it. */
  joins: { alertId: string; incidents: BurstIncident[] }[];
  /** New bursts: the anchor (its first incident) and every member, the anchor included. */
  raised: { anchor: BurstIncident; members: BurstIncident[] }[];
}

export interface BurstSummary {
  /** Open incidents the burst counts. */
  count: number;
  /** How many of them of each kind, kinds in a fixed order. */
  kinds: Partial<Record<IncidentKind, number>>;
  /** The circle holding them: around their centroid, radius in km. */
  lat: number;
  lng: number;
  radiusKm: number;
}

/** Added to the farthest incident's distance, so none lies on the circle's edge. */
const MARGIN_KM = 0.1;

/** Great-circle distance in km. */
export function distanceKm(a: LatLng, b: LatLng): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(Math.min(1, h)));
}

/**
 * Whether `b` lies within `km` of `a`. A latitude gap alone rules most pairs out before
 * any trigonometry: a sweep may compare a thousand incidents with each other.
 */
function within(a: LatLng, b: LatLng, km: number): boolean {
  if (Math.abs(a.lat - b.lat) * 111.19 > km) return false;
  return distanceKm(a, b) <= km;
}

const byAge = (a: BurstIncident, b: BurstIncident) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Joins first: an incident within `radiusKm` of a live burst's anchor belongs to it
 * (the oldest burst first, so an incident near two joins one). Then, oldest first, each
 * remaining incident is tried as the anchor of a new burst: with at least `count`
 * remaining incidents within `radiusKm` of it (itself included), they become one. So
 * every member of a burst lies within `radiusKm` of its anchor, and no two more than
 * twice that apart. Deterministic: the same input gives the same plan.
 */
export function planBursts(candidates: readonly BurstIncident[], live: readonly LiveBurst[], s: BurstSettings): BurstPlan {
  const pool = [...candidates].sort(byAge);
  const taken = new Set<BurstIncident>();
  const free = (c: BurstIncident) => !taken.has(c);
  const joins: BurstPlan['joins'] = [];
  for (const burst of live) {
    const near = pool.filter((c) => free(c) && within(burst.anchor, c, s.radiusKm));
    if (near.length === 0) continue;
    joins.push({ alertId: burst.alertId, incidents: near });
    for (const c of near) taken.add(c);
  }
  const raised: BurstPlan['raised'] = [];
  for (const anchor of pool) {
    if (taken.has(anchor)) continue;
    const members = pool.filter((c) => free(c) && within(anchor, c, s.radiusKm));
    if (members.length < s.count) continue;
    raised.push({ anchor, members });
    for (const c of members) taken.add(c);
  }
  return { joins, raised };
}

const KIND_ORDER: readonly IncidentKind[] = ['fire', 'medical', 'crime', 'accident', 'disaster', 'other'];
const round = (x: number, digits: number) => Number(x.toFixed(digits));

/**
 * The summary of a burst's open incidents (null when none is open: the burst is over).
 * The centre is rounded to 4 decimals (about 10 m) and the radius up to 0.1 km, so a
 * summary changes only when the count or the extent really does.
 */
export function summarizeBurst(open: readonly { kind: IncidentKind; lat: number; lng: number }[]): BurstSummary | null {
  if (open.length === 0) return null;
  const lat = round(open.reduce((t, i) => t + i.lat, 0) / open.length, 4);
  const lng = round(open.reduce((t, i) => t + i.lng, 0) / open.length, 4);
  const farthest = Math.max(...open.map((i) => distanceKm({ lat, lng }, i)));
  const radiusKm = round(Math.ceil((farthest + MARGIN_KM) * 10) / 10, 1);
  const kinds: BurstSummary['kinds'] = {};
  for (const k of KIND_ORDER) {
    const n = open.filter((i) => i.kind === k).length;
    if (n) kinds[k] = n;
  }
  return { count: open.length, kinds, lat, lng, radiusKm };
}

/** Whether two summaries say the same to the public (count, kinds and circle). */
export function sameSummary(a: BurstSummary, b: BurstSummary): boolean {
  return a.count === b.count && a.lat === b.lat && a.lng === b.lng && a.radiusKm === b.radiusKm
    && KIND_ORDER.every((k) => (a.kinds[k] ?? 0) === (b.kinds[k] ?? 0));
}
