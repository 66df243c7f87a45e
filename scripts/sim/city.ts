// The city: a square of --city-km around --center with a street grid, a few hot spots
// where trouble clusters, and movers that drive the grid (ground) or fly straight (air).
// Positions are kept in km (x east, y north) and turned into lat/lng for the wire.
import type { Rng } from './rng.ts';
import type { LatLng } from './types.ts';

export interface Pt { x: number; y: number }
export interface Hotspot { name: string; p: Pt; sigmaKm: number; weight: number }

const KM_PER_DEG_LAT = 111.32;
const EPS = 1e-7;
/** Heading unit vectors: east, north, west, south. */
const DIRS: readonly Pt[] = [{ x: 1, y: 0 }, { x: 0, y: 1 }, { x: -1, y: 0 }, { x: 0, y: -1 }];
const HOTSPOT_NAMES = ['Old Harbor', 'Downtown', 'Chemical Row', 'Stadium', 'Night Market', 'Rail Yards'];

export class City {
  readonly half: number;
  /** Street spacing in km. */
  readonly block: number;
  readonly maxIdx: number;
  readonly hotspots: Hotspot[];
  private readonly kmPerDegLng: number;

  constructor(readonly center: LatLng, readonly sizeKm: number, rng: Rng) {
    this.half = sizeKm / 2;
    this.block = Math.min(0.2, sizeKm / 10);
    this.maxIdx = Math.floor(this.half / this.block + EPS);
    this.kmPerDegLng = KM_PER_DEG_LAT * Math.cos((center.lat * Math.PI) / 180);
    const n = sizeKm >= 4 ? rng.int(3, 5) : 2;
    this.hotspots = Array.from({ length: n }, (_, i) => ({
      name: HOTSPOT_NAMES[i % HOTSPOT_NAMES.length]!,
      p: { x: rng.range(-0.7, 0.7) * this.half, y: rng.range(-0.7, 0.7) * this.half },
      sigmaKm: Math.max(0.1, rng.range(0.03, 0.07) * sizeKm),
      weight: rng.range(0.5, 1.5),
    }));
  }

  toLatLng(p: Pt): LatLng {
    return {
      lat: round6(this.center.lat + p.y / KM_PER_DEG_LAT),
      lng: round6(this.center.lng + p.x / this.kmPerDegLng),
    };
  }

  toPt(l: LatLng): Pt {
    return { x: (l.lng - this.center.lng) * this.kmPerDegLng, y: (l.lat - this.center.lat) * KM_PER_DEG_LAT };
  }

  clamp(p: Pt): Pt {
    return { x: Math.max(-this.half, Math.min(this.half, p.x)), y: Math.max(-this.half, Math.min(this.half, p.y)) };
  }

  /** The street coordinate nearest to v (streets run every `block` km, inside the city). */
  snap(v: number): number {
    const i = Math.max(-this.maxIdx, Math.min(this.maxIdx, Math.round(v / this.block)));
    return i * this.block;
  }

  onGrid(v: number): boolean {
    return Math.abs(v - this.snap(v)) < EPS;
  }

  randomPoint(rng: Rng): Pt {
    return { x: rng.range(-this.half, this.half), y: rng.range(-this.half, this.half) };
  }

  randomIntersection(rng: Rng): Pt {
    return { x: rng.int(-this.maxIdx, this.maxIdx) * this.block, y: rng.int(-this.maxIdx, this.maxIdx) * this.block };
  }

  /** Where trouble happens: about half of it around the hot spots, the rest anywhere. */
  incidentPoint(rng: Rng): { p: Pt; hotspot: string | null } {
    if (this.hotspots.length && rng.chance(0.5)) {
      const total = this.hotspots.reduce((s, h) => s + h.weight, 0);
      let r = rng.next() * total;
      let h = this.hotspots[0]!;
      for (const c of this.hotspots) {
        r -= c.weight;
        if (r < 0) { h = c; break; }
      }
      return { p: this.clamp({ x: h.p.x + rng.gauss() * h.sigmaKm, y: h.p.y + rng.gauss() * h.sigmaKm }), hotspot: h.name };
    }
    return { p: this.randomPoint(rng), hotspot: null };
  }

  /**
   * A drive along the streets from `from` (on a street, or off-grid at a scene) to `to`:
   * to the next corner, along the row or column, then the last few metres to the door.
   */
  groundRoute(from: Pt, to: Pt): Pt[] {
    const tx = this.snap(to.x);
    const ty = this.snap(to.y);
    const pts: Pt[] = [];
    let cur = from;
    let rowFirst = true;
    if (this.onGrid(from.x) && this.onGrid(from.y)) {
      // at a corner
    } else if (this.onGrid(from.y)) {
      // on an east-west street: to the corner on the target's side
      cur = { x: this.cornerToward(from.x, to.x), y: from.y };
      pts.push(cur);
    } else if (this.onGrid(from.x)) {
      cur = { x: from.x, y: this.cornerToward(from.y, to.y) };
      pts.push(cur);
      rowFirst = false;
    } else {
      cur = { x: this.snap(from.x), y: this.snap(from.y) };
      pts.push(cur);
    }
    if (rowFirst) pts.push({ x: tx, y: cur.y }, { x: tx, y: ty });
    else pts.push({ x: cur.x, y: ty }, { x: tx, y: ty });
    pts.push(to);
    return dedupe(from, pts);
  }

  /** The next patrol leg of a ground hero at a corner: mostly straight on, sometimes a turn. */
  patrolLeg(pos: Pt, dir: number, rng: Rng): { dir: number; to: Pt } {
    const at = { x: this.snap(pos.x), y: this.snap(pos.y) };
    const turn = rng.weighted({ straight: 6, left: 1.5, right: 1.5, back: 1 });
    const first = (dir + ({ straight: 0, left: 1, right: 3, back: 2 } as const)[turn]) % 4;
    for (let k = 0; k < 4; k++) {
      const d = (first + k) % 4;
      const v = DIRS[d]!;
      const blocks = rng.int(1, 4);
      const to = this.clamp({ x: at.x + v.x * blocks * this.block, y: at.y + v.y * blocks * this.block });
      const snapped = { x: this.snap(to.x), y: this.snap(to.y) };
      if (dist(snapped, at) > EPS) return { dir: d, to: snapped };
    }
    return { dir, to: at };
  }

  private cornerToward(v: number, target: number): number {
    const lo = Math.floor(v / this.block) * this.block;
    const hi = lo + this.block;
    return this.snap(target >= v ? hi : lo);
  }
}

/** Moves along waypoints at a speed; remembers its heading for location pings. */
export class Mover {
  waypoints: Pt[] = [];
  headingDeg = 0;
  /** Speed of the last step, km/h of simulated time. */
  kmh = 0;

  constructor(public pos: Pt) {}

  /** Advances by `hours` of simulated time at `kmh`; true when no waypoint is left. */
  advance(hours: number, kmh: number): boolean {
    let budget = kmh * hours;
    this.kmh = this.waypoints.length ? kmh : 0;
    while (budget > 0 && this.waypoints.length) {
      const wp = this.waypoints[0]!;
      const d = dist(this.pos, wp);
      if (d > EPS) this.headingDeg = (((Math.atan2(wp.x - this.pos.x, wp.y - this.pos.y) * 180) / Math.PI) + 360) % 360;
      if (d <= budget) {
        this.pos = wp;
        this.waypoints.shift();
        budget -= d;
      } else {
        this.pos = { x: this.pos.x + ((wp.x - this.pos.x) * budget) / d, y: this.pos.y + ((wp.y - this.pos.y) * budget) / d };
        budget = 0;
      }
    }
    return this.waypoints.length === 0;
  }

  remainingKm(): number {
    let d = 0;
    let p = this.pos;
    for (const w of this.waypoints) { d += dist(p, w); p = w; }
    return d;
  }
}

export function dist(a: Pt, b: Pt): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

function dedupe(from: Pt, pts: Pt[]): Pt[] {
  const out: Pt[] = [];
  let prev = from;
  for (const p of pts) {
    if (dist(p, prev) > EPS) out.push(p);
    prev = p;
  }
  return out;
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
