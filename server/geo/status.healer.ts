// Heals the Redis copy of hero statuses from Postgres. A ping from a hero whose status
// Redis does not know (new to it, or Redis restarted empty) leaves the hero out of
// matching until the status is copied back from the truth; then the ping is shown on
// the dispatchers' map like any other.
import type { Sql } from '../db.ts';
import type { Logger } from '../log.ts';
import { getHeroes } from '../store/heroes.store.ts';
import type { HeroMapEntry } from '../../shared/types.ts';
import type { HeroPositions } from './positions.redis.ts';

/** A ping Redis could not place: the hero's status was unknown to it. */
export interface UnknownPing { heroId: string; lat: number; lng: number; at: number }

/** Where hero changes go for the dispatchers' map (the process's HeroMapBatcher). */
export interface HeroMapSink { mark(entry: HeroMapEntry): void }

export interface StatusHealerDeps {
  sql: Sql;
  positions: HeroPositions;
  heroMap: HeroMapSink;
  log: Logger;
}

export class StatusHealer {
  /** Heroes being healed now: a burst of their pings asks Postgres once. */
  private readonly healing = new Set<string>();

  constructor(private readonly d: StatusHealerDeps) {}

  /** Starts healing these heroes; never throws (a failure waits for their next ping). */
  heal(pings: UnknownPing[]): void {
    const fresh = pings.filter((p) => !this.healing.has(p.heroId));
    if (fresh.length === 0) return;
    for (const p of fresh) this.healing.add(p.heroId);
    const { sql, positions, heroMap, log } = this.d;
    getHeroes(sql, fresh.map((p) => p.heroId))
      .then((rows) => Promise.all(rows.map(async (h) => {
        await positions.setStatus(h.id, h.status, Number(h.status_version), h.mode);
        const ping = fresh.find((p) => p.heroId === h.id)!;
        heroMap.mark({ id: h.id, status: h.status, location: { lat: ping.lat, lng: ping.lng }, lastSeenAt: ping.at });
      })))
      .catch((err) => log.warn({ err }, 'could not heal hero statuses'))
      .finally(() => { for (const p of fresh) this.healing.delete(p.heroId); });
  }
}
