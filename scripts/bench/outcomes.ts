// What became of each report sent with retries (civilian.ts), read from the database
// and the heroes' sockets rather than from the HTTP answers alone: an attempt whose
// answer was lost may still have created the incident, and its retry is then answered
// 200 (a replay). Every report has a civilian of its own, so the incident it created is
// the one whose `reported_by` is that civilian. Time to first offer runs from the FIRST
// attempt; a report that created no incident, or whose incident got no offer, is ∞.
// The heroes' process may not be the civilians': both clocks are epoch ms from
// performance.timeOrigin (civilian.ts), comparable on one machine.
import type { ReportRow } from './civilian.ts';
import type { ServerUnderTest } from './common.ts';
import type { Child } from './ipc.ts';

export interface Outcome {
  row: ReportRow;
  /** The incident this report created, if any. */
  created: string | null;
  /** Answered 2xx with an incident someone else reported (linked to it): no offer time of its own. */
  linked: boolean;
  /** First attempt → first offer to any hero for `created`; Infinity when none. */
  toOffer: number;
}

export interface Outcomes {
  list: Outcome[];
  /** State of every incident created or answered with. */
  states: Map<string, string>;
  /** Civilians with more than one incident of their own (one report each: should be 0). */
  doubled: number;
}

const is2xx = (s: number) => s >= 200 && s < 300;

async function inChunks<T>(xs: string[], run: (part: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < xs.length; i += 5_000) out.push(...await run(xs.slice(i, i + 5_000)));
  return out;
}

/** `civilianIds[row.civ]` is each row's civilian; `heroes` is the agent holding the hero sockets. */
export async function outcomes(server: ServerUnderTest, heroes: Child, rows: ReportRow[], civilianIds: string[]): Promise<Outcomes> {
  const subs = rows.map((r) => civilianIds[r.civ]!);
  const mine = await inChunks(subs, (part) => server.sql<{ id: string; reported_by: string; state: string }[]>`
    select id, reported_by, state from incidents where reported_by = any(${part})`);
  const bySub = new Map<string, string[]>();
  const states = new Map<string, string>();
  for (const m of mine) {
    bySub.set(m.reported_by, [...bySub.get(m.reported_by) ?? [], m.id]);
    states.set(m.id, m.state);
  }
  const answered = [...new Set(rows.flatMap((r) => (is2xx(r.status) && r.id && !states.has(r.id) ? [r.id] : [])))];
  for (const x of await inChunks(answered, (part) => server.sql<{ id: string; state: string }[]>`select id, state from incidents where id = any(${part})`)) {
    states.set(x.id, x.state);
  }
  const created = subs.map((s) => bySub.get(s)?.[0] ?? null);
  const ids = created.filter((x): x is string => x !== null);
  const at = await heroes.call<(number | null)[]>('firstOffers', { ids });
  const firstAt = new Map(ids.map((id, k) => [id, at[k]]));
  const list = rows.map((row, k): Outcome => {
    const id = created[k]!;
    const offered = id ? firstAt.get(id) ?? null : null;
    return {
      row, created: id, linked: !id && is2xx(row.status) && row.id !== null,
      toOffer: offered === null ? Infinity : offered - row.sentAt,
    };
  });
  return { list, states, doubled: [...bySub.values()].filter((x) => x.length > 1).length };
}

/**
 * Lost: a 2xx answer whose incident does not exist, or is still `reported` (no dispatch
 * round ever ran), counted per report missing plus per distinct incident stuck.
 */
export function lost(o: Outcomes): { lost: number; missing: number; stuck: number } {
  const ok = o.list.filter((x) => is2xx(x.row.status) && x.row.id);
  const missing = ok.filter((x) => !o.states.has(x.row.id!)).length;
  const stuck = new Set(ok.filter((x) => o.states.get(x.row.id!) === 'reported').map((x) => x.row.id!)).size;
  return { lost: missing + stuck, missing, stuck };
}

/** Answers by status over every attempt ('no answer: <cause>' when none came). */
export function attemptAnswers(rows: ReportRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of rows.flatMap((r) => r.attempts)) {
    const k = a.status ? String(a.status) : `no answer: ${a.error ?? '?'}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** How reports ended: new incident, linked, gave up (or cut), or another final status. */
export function endings(list: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of list) {
    const k = x.created ? 'new incident' : x.linked ? 'linked' : x.row.cut ? 'cut at the step end' : x.row.gaveUp ? 'gave up' : `ended ${x.row.status || 'without answer'}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
