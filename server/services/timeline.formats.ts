// The timeline's other two forms, made from its JSON (timeline.service.ts):
// - GeoJSON (RFC 7946), for maps and GIS tools. Coordinates are [longitude, latitude].
//   One Point for the incident; per member, a LineString of their breadcrumbs (a Point
//   when they left exactly one, a null geometry when none); per audit event, a Point at
//   the acting hero's breadcrumb nearest in time (within EVENT_FIX_MS), else at the
//   incident. Every feature says what it is in `properties.record`.
// - CSV (RFC 4180), for spreadsheets: a header row, then one row for the incident, one
//   per event, offer and breadcrumb, told apart by the `record` column. Civilians write
//   descriptions and hostile text must stay text: a cell starting with = + - @, a tab or
//   a carriage return gets a leading ' (spreadsheet formula injection), and numbers are
//   written as numbers.
import type { TimelineEvent, TimelinePoint, TimelineView } from '../../shared/types.ts';

/** An event is placed at its hero's breadcrumb only if one is this close in time. */
const EVENT_FIX_MS = 60_000;

export type Position = [number, number];
export type Geometry =
  | { type: 'Point'; coordinates: Position }
  | { type: 'LineString'; coordinates: Position[] };

export interface Feature { type: 'Feature'; geometry: Geometry | null; properties: Record<string, unknown> }
export interface FeatureCollection { type: 'FeatureCollection'; features: Feature[] }

const lonLat = (p: { lat: number; lng: number }): Position => [p.lng, p.lat];

/** The point of `trail` closest in time to `at`, if one is within EVENT_FIX_MS. */
function nearest(trail: TimelinePoint[] | undefined, at: number): TimelinePoint | null {
  let best: TimelinePoint | null = null;
  for (const p of trail ?? []) if (!best || Math.abs(p.at - at) < Math.abs(best.at - at)) best = p;
  return best && Math.abs(best.at - at) <= EVENT_FIX_MS ? best : null;
}

const heroOf = (e: TimelineEvent): string | null => (typeof e.data.heroId === 'string' ? e.data.heroId : null);

export function timelineGeoJson(t: TimelineView): FeatureCollection {
  const { incident } = t;
  const trails = new Map(t.members.map((m) => [m.heroId, m.breadcrumbs]));
  const features: Feature[] = [{
    type: 'Feature', geometry: { type: 'Point', coordinates: lonLat(incident.location) },
    properties: {
      record: 'incident', id: incident.id, kind: incident.kind, severity: incident.severity, state: incident.state,
      description: incident.description, reportedAt: new Date(incident.createdAt).toISOString(), truncated: t.truncated,
    },
  }];
  for (const m of t.members) {
    const coordinates = m.breadcrumbs.map(lonLat);
    const geometry: Geometry | null = coordinates.length >= 2 ? { type: 'LineString', coordinates }
      : coordinates.length === 1 ? { type: 'Point', coordinates: coordinates[0]! } : null;
    features.push({ type: 'Feature', geometry, properties: { record: 'breadcrumbs', heroId: m.heroId, name: m.name, times: m.breadcrumbs.map((p) => p.at) } });
  }
  for (const e of t.events) {
    const heroId = heroOf(e);
    const fix = heroId ? nearest(trails.get(heroId), e.at) : null;
    features.push({
      type: 'Feature', geometry: { type: 'Point', coordinates: lonLat(fix ?? incident.location) },
      properties: {
        record: 'event', seq: e.seq, type: e.type, from: e.from, to: e.to, state: e.state, at: new Date(e.at).toISOString(),
        actor: e.actor, heroId, located: fix ? 'hero' : 'incident',
      },
    });
  }
  return { type: 'FeatureCollection', features };
}

// ---- CSV ------------------------------------------------------------------------------

export const CSV_COLUMNS = [
  'record', 'at', 'at_ms', 'seq', 'type', 'from', 'to', 'state', 'actor', 'hero_id', 'name',
  'offer_id', 'slot', 'round', 'offer_state', 'reason', 'expires_at', 'decided_at', 'answer_ms', 'distance_km', 'eta_s',
  'lat', 'lng', 'kind', 'severity', 'description', 'data',
] as const;
type Column = (typeof CSV_COLUMNS)[number];
type Cell = string | number | null | undefined;

/** Text a spreadsheet would read as a formula (or that hides one behind a tab or CR). */
const FORMULA = /^[=+\-@\t\r]/;

/** One cell: numbers as numbers; text neutralised, then quoted when it must be. */
export function csvCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = FORMULA.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function timelineCsv(t: TimelineView): string {
  const rows: Partial<Record<Column, Cell>>[] = [];
  const { incident } = t;
  rows.push({
    record: 'incident', at: iso(incident.createdAt), at_ms: incident.createdAt, state: incident.state, lat: incident.location.lat,
    lng: incident.location.lng, kind: incident.kind, severity: incident.severity, description: incident.description,
    data: JSON.stringify({ id: incident.id, intervals: t.intervals, truncated: t.truncated }),
  });
  for (const e of t.events) {
    rows.push({
      record: 'event', at: iso(e.at), at_ms: e.at, seq: e.seq, type: e.type, from: e.from, to: e.to, state: e.state, actor: e.actor,
      hero_id: heroOf(e), data: JSON.stringify(e.data),
    });
  }
  const names = new Map(t.members.map((m) => [m.heroId, m.name]));
  for (const o of t.offers) {
    rows.push({
      record: 'offer', at: iso(o.offeredAt), at_ms: o.offeredAt, hero_id: o.heroId, name: names.get(o.heroId), offer_id: o.id,
      slot: o.slot, round: o.round, offer_state: o.state, reason: o.reason, expires_at: iso(o.expiresAt), decided_at: iso(o.decidedAt),
      answer_ms: o.answerMs, distance_km: o.distanceKm, eta_s: o.etaS,
    });
  }
  for (const m of t.members) {
    for (const p of m.breadcrumbs) {
      rows.push({ record: 'breadcrumb', at: iso(p.at), at_ms: p.at, hero_id: m.heroId, name: m.name, lat: p.lat, lng: p.lng });
    }
  }
  const lines = [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvCell(r[c])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}
