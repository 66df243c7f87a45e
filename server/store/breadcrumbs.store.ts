// Breadcrumb rows (migration 008): one multi-row insert per flush, the day partitions
// they land in, trails read back per hero and window, and retention by age.
import type { Db, Sql } from '../db.ts';

export interface Breadcrumb {
  heroId: string;
  /** Epoch milliseconds. */
  at: number;
  lat: number;
  lng: number;
}

export interface TrailPoint { at: number; lat: number; lng: number }

/** One statement for any number of points. */
export async function insertBreadcrumbs(db: Db, points: Breadcrumb[]): Promise<void> {
  if (points.length === 0) return;
  await db`
    insert into breadcrumbs (hero_id, at, lat, lng)
    select * from unnest(${points.map((p) => p.heroId)}::text[], ${points.map((p) => new Date(p.at).toISOString())}::timestamptz[],
                         ${points.map((p) => p.lat)}::float8[], ${points.map((p) => p.lng)}::float8[])`;
}

const DAY_MS = 86_400_000;
const PARTITION = /^breadcrumbs_p(\d{4})(\d{2})(\d{2})$/;

/** The UTC day holding `at`, as its partition's name and bounds. */
export function breadcrumbDay(at: number): { name: string; from: Date; to: Date } {
  const from = new Date(Math.floor(at / DAY_MS) * DAY_MS);
  const name = `breadcrumbs_p${from.toISOString().slice(0, 10).replaceAll('-', '')}`;
  return { name, from, to: new Date(from.getTime() + DAY_MS) };
}

const isTx = (db: Db): boolean => typeof (db as { savepoint?: unknown }).savepoint === 'function';

/** Runs `work` in its own short transaction (a savepoint inside a caller's) that gives up waiting for locks after `lockMs`. */
async function shortLocked<T>(db: Db, lockMs: number, work: (tx: Db) => Promise<T>): Promise<T> {
  if (isTx(db)) return (db as { savepoint: (fn: (tx: Db) => Promise<T>) => Promise<T> }).savepoint(work);
  return (db as Sql).begin(async (tx) => {
    await tx`select set_config('lock_timeout', ${`${lockMs}ms`}, true)`;
    return work(tx);
  }) as Promise<T>;
}

// Postgres error codes met while creating a partition: another process made it first,
// or rows for that day already sit in the default partition (the day stays there).
const ALREADY = new Set(['42P07', '23505']);
const DEFAULT_HOLDS_DAY = '23514';

/**
 * Makes sure the day partitions holding these instants exist. Each is created in a
 * short transaction that waits at most `lockMs` for the parent's lock (creating a
 * partition locks it). Returns the days settled (made, or left to the default
 * partition for good); a day missing from the answer should be tried again later.
 */
export async function ensureBreadcrumbDays(sql: Sql, instants: number[], lockMs = 1_000): Promise<string[]> {
  const days = new Map(instants.map((at) => { const d = breadcrumbDay(at); return [d.name, d]; }));
  const settled: string[] = [];
  for (const day of days.values()) {
    try {
      await shortLocked(sql, lockMs, (tx) => tx.unsafe(`create table if not exists ${day.name} partition of breadcrumbs
        for values from ('${day.from.toISOString()}') to ('${day.to.toISOString()}')`));
      settled.push(day.name);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (ALREADY.has(code) || code === DEFAULT_HOLDS_DAY) settled.push(day.name);
      else if (code !== '55P03') throw err; // 55P03: the lock was busy; try later
    }
  }
  return settled;
}

export interface TrailWindow { heroId: string; from: Date; to: Date }

/**
 * Each window's points, oldest first, at most `perWindow` each (the caller asks for one
 * more than it shows, to know a trail was cut). One statement for any number of windows.
 */
export async function breadcrumbTrails(db: Db, windows: TrailWindow[], perWindow: number): Promise<TrailPoint[][]> {
  if (windows.length === 0) return [];
  const rows = await db<{ n: number; at: Date; lat: number; lng: number }[]>`
    select w.n::int as n, b.at, b.lat, b.lng
      from unnest(${windows.map((w) => w.heroId)}::text[], ${windows.map((w) => w.from.toISOString())}::timestamptz[],
                  ${windows.map((w) => w.to.toISOString())}::timestamptz[]) with ordinality as w(hero_id, f, t, n)
      cross join lateral (
        select at, lat, lng from breadcrumbs
         where hero_id = w.hero_id and at >= w.f and at <= w.t
         order by at limit ${perWindow}) b
     order by w.n, b.at`;
  const out: TrailPoint[][] = windows.map(() => []);
  for (const r of rows) out[r.n - 1]!.push({ at: r.at.getTime(), lat: r.lat, lng: r.lng });
  return out;
}

/** One hero's points between `from` and `to` (inclusive), oldest first, at most `limit`. */
export async function breadcrumbsOf(db: Db, heroId: string, from: Date, to: Date, limit = 10_000): Promise<TrailPoint[]> {
  return (await breadcrumbTrails(db, [{ heroId, from, to }], limit))[0]!;
}

/**
 * Retention: removes breadcrumbs older than `before` and returns how many. Whole day
 * partitions before it are dropped (each in a short transaction that gives up if the
 * parent's lock is busy, to be dropped next time); then at most `limit` older rows are
 * deleted from the day it cuts through and from the default partition. Call it again
 * until it answers fewer than `limit`. Pass the pool: inside a caller's transaction
 * (a savepoint then) a dropped day would hold the parent's lock until that commits.
 */
export async function pruneBreadcrumbs(db: Db, before: Date, limit: number): Promise<number> {
  const parts = await db<{ name: string }[]>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'breadcrumbs'::regclass order by c.relname`;
  let removed = 0;
  const partial: string[] = [];
  for (const { name } of parts) {
    const m = PARTITION.exec(name);
    if (!m) { partial.push(name); continue; } // the default partition
    const from = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    if (from >= before.getTime()) continue;
    if (from + DAY_MS > before.getTime()) { partial.push(name); continue; }
    try {
      removed += await shortLocked(db, 2_000, async (tx) => {
        const [row] = await tx<{ n: number }[]>`select count(*)::int as n from ${tx(name)}`;
        await tx`drop table ${tx(name)}`;
        return row?.n ?? 0;
      });
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03') throw err; // a busy lock: dropped next time
    }
  }
  for (const name of partial) {
    const left = limit - removed;
    if (left <= 0) break;
    const gone = await db`
      delete from ${db(name)} where ctid = any(array(select ctid from ${db(name)} where at < ${before} limit ${left}))`;
    removed += gone.count;
  }
  return removed;
}
