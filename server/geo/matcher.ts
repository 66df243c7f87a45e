// Candidate search: Redis proposes the nearest available heroes; we drop stale ones
// and rank by estimated time of arrival. Postgres decides who really gets an offer.
import type { HeroMode } from '../../shared/domain.ts';
import type { LatLng } from '../../shared/types.ts';
import type { HeroPositions, NearbyHero } from './positions.redis.ts';

// Air heroes fly straight; ground heroes follow streets, which a detour factor
// approximates. Speeds in km/h.
const SPEED_KMH: Record<HeroMode, number> = { air: 120, ground: 50 };
const DETOUR: Record<HeroMode, number> = { air: 1, ground: 1.4 };

export const etaMinutes = (h: Pick<NearbyHero, 'distanceKm' | 'mode'>): number =>
  (h.distanceKm * DETOUR[h.mode] / SPEED_KMH[h.mode]) * 60;

export interface MatchOptions {
  center: LatLng;
  radiusKm: number;
  /** How many candidates to return at most. */
  limit: number;
  /** Pings older than this (ms) disqualify a hero. */
  freshMs: number;
  now?: number;
}

export async function findCandidates(positions: HeroPositions, opts: MatchOptions): Promise<NearbyHero[]> {
  const now = opts.now ?? Date.now();
  // Fetch extra: some will be stale, and Postgres may refuse some more.
  const nearby = await positions.nearbyAvailable(opts.center, opts.radiusKm, opts.limit * 3);
  return nearby
    .filter((h) => now - h.lastSeenAt <= opts.freshMs)
    .sort((a, b) => etaMinutes(a) - etaMinutes(b))
    .slice(0, opts.limit);
}
