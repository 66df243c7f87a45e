// Hero registry and duty state. `status` is derived from offers and assignments by
// recomputeHeroStatus inside the transaction that changes them (called through
// server/services/hero.status.ts, which also tells Redis and the maps).
import { randomUUID } from 'node:crypto';
import type { Db, Tx } from '../db.ts';
import type { HeroMode, HeroStatus } from '../../shared/domain.ts';
import type { CreateHeroInput } from '../../shared/schemas.ts';
import type { HeroView } from '../../shared/types.ts';
import type { HeroStatusChange } from '../outbox/outbox.topics.ts';

export interface HeroRow {
  id: string;
  name: string;
  skills: string[];
  mode: HeroMode;
  on_duty: boolean;
  status: HeroStatus;
  status_version: string; // bigint
  created_at: Date;
  updated_at: Date;
}

export async function createHero(db: Db, input: CreateHeroInput): Promise<HeroRow> {
  const [row] = await db<HeroRow[]>`
    insert into heroes (id, name, skills, mode) values (${randomUUID()}, ${input.name}, ${input.skills}, ${input.mode})
    returning *`;
  return row!;
}

export async function getHero(db: Db, id: string): Promise<HeroRow | null> {
  const [row] = await db<HeroRow[]>`select * from heroes where id = ${id}`;
  return row ?? null;
}

export async function getHeroes(db: Db, ids: string[]): Promise<HeroRow[]> {
  if (ids.length === 0) return [];
  return db<HeroRow[]>`select * from heroes where id = any(${ids})`;
}

/** Heroes a dispatcher's map shows: on duty, or holding work. */
export async function heroesOnMap(db: Db): Promise<HeroRow[]> {
  return db<HeroRow[]>`select * from heroes where on_duty or status <> 'off_duty' order by id`;
}

export function toHeroView(row: HeroRow, live: { location?: { lat: number; lng: number }; lastSeenAt?: number } = {}): HeroView {
  return {
    id: row.id, name: row.name, skills: row.skills, mode: row.mode, onDuty: row.on_duty, status: row.status,
    ...(live.location ? { location: live.location } : {}),
    ...(live.lastSeenAt !== undefined ? { lastSeenAt: live.lastSeenAt } : {}),
  };
}

/**
 * Recomputes heroes.status from the truth (duty, pending offers, active assignments)
 * and bumps status_version where it changed; returns the changes. Rows are locked in
 * id order so concurrent callers cannot deadlock.
 */
export async function recomputeHeroStatus(tx: Tx, heroIds: string[]): Promise<HeroStatusChange[]> {
  const ids = [...new Set(heroIds)].sort();
  if (ids.length === 0) return [];
  // Two statements sent together: the update's snapshot is taken after the locks are
  // held (in one statement it would predate the wait and could miss a commit).
  const [, changed] = await Promise.all([tx`select id from heroes where id = any(${ids}) order by id for update`, tx<{ id: string; status: HeroStatus; status_version: string; mode: HeroMode }[]>`
    update heroes h
       set status = s.status, status_version = h.status_version + 1, updated_at = now()
      from (
        select h2.id,
               case
                 when exists (select 1 from assignments a where a.hero_id = h2.id and a.state = 'active') then 'assigned'
                 when not h2.on_duty then 'off_duty'
                 when exists (select 1 from offers o where o.hero_id = h2.id and o.state = 'pending') then 'offered'
                 else 'available'
               end as status
          from heroes h2 where h2.id = any(${ids})
      ) s
     where h.id = s.id and h.status <> s.status
    returning h.id, h.status, h.status_version, h.mode`]);
  return changed.map((r) => ({ id: r.id, status: r.status, version: Number(r.status_version), mode: r.mode }));
}

export async function setDuty(tx: Tx, heroId: string, onDuty: boolean): Promise<void> {
  await tx`update heroes set on_duty = ${onDuty}, updated_at = now() where id = ${heroId}`;
}
