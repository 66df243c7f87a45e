// Which reports of a batch are new incidents and which join an open one: pure rules,
// decided before anything is written. A batch is decided as if its reports had come
// one after another in batch order: a report joins the oldest open incident of its
// kind close by (one in Postgres, else one an earlier report of this batch creates),
// if that incident's slots cover what it asks for; otherwise it is a new incident.
import type { Slot } from '../../machines/incident.machine.ts';
import type { ReportInput } from '../../shared/schemas.ts';
import type { Need } from '../../shared/types.ts';
import type { IncidentRow } from '../store/incidents.store.ts';
import { haversineKm } from './views.ts';

export const DEFAULT_NEEDS: Need[] = [{ skill: null, count: 1 }];

/** Every unit of every need is a slot of its own (PROTOCOL v1.1 "Teams"). */
export const slotsOf = (needs: Need[]): Slot[] => needs.flatMap((n) => Array.from({ length: n.count }, () => ({ skill: n.skill })));

/**
 * Whether the incident's slots can take every hero this report asks for: each skilled
 * need by slots of that skill, the rest by any slots left. A report that asks for more
 * (more heroes, or a skill nobody was sent for) is a different or a bigger emergency
 * than the one under way, and is never linked: a false split costs a hero, a false link
 * may leave someone without the help they asked for.
 */
export function slotsCover(slots: Slot[], needs: Need[]): boolean {
  const free = slots.map((s) => s.skill);
  const take = (ok: (skill: string | null) => boolean) => {
    const i = free.findIndex(ok);
    if (i >= 0) free.splice(i, 1);
    return i >= 0;
  };
  const skilled = needs.filter((n) => n.skill !== null);
  const any = needs.filter((n) => n.skill === null);
  for (const n of skilled) for (let k = 0; k < n.count; k++) if (!take((s) => s === n.skill)) return false;
  for (const n of any) for (let k = 0; k < n.count; k++) if (!take(() => true)) return false;
  return true;
}

/** An open incident this report may join (see slotsCover); incidents older than linked reports are never joined. */
export const linkable = (row: IncidentRow, needs: Need[]): boolean =>
  row.snapshot.context.reports !== undefined && slotsCover(row.snapshot.context.slots, needs);

/** A report whose key was claimed: it becomes an incident or joins one. */
export interface FreshReport { input: ReportInput; needs: Need[] }

/** `new`, or joins an incident already stored, or the incident report `index` of this batch creates. */
export type Placement = { to: 'new' } | { to: 'stored'; row: IncidentRow } | { to: 'batch'; index: number };

/**
 * Where each fresh report goes. `stored` holds, by report index, the oldest open
 * incident close by that Postgres found (locked); `radiusM` 0 turns linking off.
 */
export function placeReports(fresh: FreshReport[], stored: Map<number, IncidentRow>, radiusM: number): Placement[] {
  const placements: Placement[] = [];
  for (let i = 0; i < fresh.length; i++) {
    placements.push(radiusM > 0 ? placeOne(fresh, placements, i, stored.get(i), radiusM) : { to: 'new' });
  }
  return placements;
}

function placeOne(fresh: FreshReport[], earlier: Placement[], i: number, stored: IncidentRow | undefined, radiusM: number): Placement {
  const { input, needs } = fresh[i]!;
  // A stored incident is older than any this batch creates, so it is the one to join or not.
  if (stored) return linkable(stored, needs) ? { to: 'stored', row: stored } : { to: 'new' };
  const j = earlier.findIndex((p, k) => p.to === 'new' && fresh[k]!.input.kind === input.kind
    && haversineKm(fresh[k]!.input.location, input.location) * 1000 <= radiusM);
  if (j < 0) return { to: 'new' };
  return slotsCover(slotsOf(fresh[j]!.needs), needs) ? { to: 'batch', index: j } : { to: 'new' };
}
