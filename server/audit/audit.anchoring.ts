// Writing and checking the daily anchors (server/audit/audit.anchor.ts). The retention
// job anchors each UTC day once it is over (plus a margin for events still in flight);
// audit:verify recomputes every anchored day from Postgres and the archives together,
// since retention may have moved a day's incidents into an archive since.
import type { Sql } from '../db.ts';
import { anchors, eventsBetween, firstEventAt, insertAnchor, lastAnchor } from '../store/audit.store.ts';
import { type Anchor, headsOf, makeAnchor, utcDay } from './audit.anchor.ts';
import { archiveFiles, readArchive } from './audit.archive.ts';
import { GENESIS } from './audit.chain.ts';

const DAY_MS = 86_400_000;
/** A day is anchored this long after it ended: an event stamped just before midnight may commit just after. */
export const ANCHOR_MARGIN_MS = 10 * 60_000;
/** Days anchored per run at most (a first run over a long history catches up over several). */
const MAX_DAYS_PER_RUN = 31;

/** Anchors every complete day not anchored yet, oldest first. Returns the anchors written. */
export async function anchorCompleteDays(sql: Sql, now = Date.now()): Promise<Anchor[]> {
  let prev = await lastAnchor(sql);
  let start: number;
  if (prev) start = Date.parse(`${prev.day}T00:00:00Z`) + DAY_MS;
  else {
    const first = await firstEventAt(sql);
    if (!first) return [];
    start = utcDay(first.getTime()).from.getTime();
  }
  const written: Anchor[] = [];
  for (let from = start; from + DAY_MS + ANCHOR_MARGIN_MS <= now && written.length < MAX_DAYS_PER_RUN; from += DAY_MS) {
    const day = utcDay(from);
    const { heads, events } = headsOf(await eventsBetween(sql, day.from, day.to));
    const anchor = makeAnchor(day.day, prev?.anchor ?? null, heads, events);
    if (!(await insertAnchor(sql, anchor))) return written; // another process anchored it: it goes on from there
    written.push(anchor);
    prev = anchor;
  }
  return written;
}

export interface AnchorCheck { days: number; latest: Anchor | null; problems: string[] }

/** Recomputes every anchored day; `expect` is an anchor kept elsewhere (`DAY=HEX`). */
export async function verifyAnchors(sql: Sql, archiveDir: string | null, expect?: { day: string; anchor: string }): Promise<AnchorCheck> {
  const kept = await anchors(sql);
  const problems: string[] = [];
  const archived = archiveDir ? await archivedEventsByDay(archiveDir) : new Map<string, Map<string, { incidentId: string; seq: number; hash: string | null }>>();
  let prev = GENESIS;
  for (const a of kept) {
    if (a.prevAnchor !== prev) problems.push(`day ${a.day}: its anchor does not follow the day before's (a day's anchor was replaced or removed)`);
    const day = utcDay(Date.parse(`${a.day}T00:00:00Z`));
    const rows = new Map<string, { incidentId: string; seq: number; hash: string | null }>();
    for (const e of await eventsBetween(sql, day.from, day.to)) rows.set(`${e.incidentId}\u0000${e.seq}`, e);
    for (const [k, e] of archived.get(a.day) ?? []) rows.set(k, e);
    const { heads, events } = headsOf([...rows.values()]);
    const again = makeAnchor(a.day, a.prevAnchor, heads, events);
    if (again.digest !== a.digest || again.events !== a.events || again.incidents !== a.incidents) {
      problems.push(`day ${a.day}: the trails of that day no longer match its anchor (${a.incidents} incident(s), ${a.events} event(s) anchored; `
        + `${again.incidents} and ${again.events} now): a trail written that day was changed, even if its chain was recomputed`);
    } else if (again.anchor !== a.anchor) problems.push(`day ${a.day}: the anchor is not the hash of its own fields`);
    prev = a.anchor;
  }
  if (expect) {
    const found = kept.find((a) => a.day === expect.day);
    if (!found) problems.push(`day ${expect.day}: no anchor in the database, but one was kept elsewhere`);
    else if (found.anchor !== expect.anchor) problems.push(`day ${expect.day}: the anchor kept elsewhere (${expect.anchor}) differs from the database's (${found.anchor})`);
  }
  return { days: kept.length, latest: kept[kept.length - 1] ?? null, problems };
}

async function archivedEventsByDay(dir: string) {
  const byDay = new Map<string, Map<string, { incidentId: string; seq: number; hash: string | null }>>();
  for (const path of await archiveFiles(dir)) {
    for await (const { record } of readArchive(path)) {
      if (!record) continue; // a bad line is reported by the archive check
      for (const e of record.events) {
        const day = utcDay(Math.floor(e.atUs / 1000)).day;
        const m = byDay.get(day) ?? new Map();
        m.set(`${record.head.id}\u0000${e.seq}`, { incidentId: record.head.id, seq: e.seq, hash: e.hash });
        byDay.set(day, m);
      }
    }
  }
  return byDay;
}
