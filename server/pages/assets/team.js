// Teams (PROTOCOL v1.1 "Teams"), read from an incident view for the console and the hero
// app: the slots with their members and each member's own progress. Servers that send no
// `slots` still work: a one-hero incident, or a team read from `needs` and `assignments`.
import { VOCABULARY } from '/assets/vocabulary.js';

/** A member's progress, least advanced first. */
export const PROGRESS = VOCABULARY.memberProgress;

export const hhmm = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
export const skillText = (skill) => (typeof skill === 'string' && skill ? skill : 'any hero');

/** How many heroes the incident needs in all (1 when it does not say). */
export function needTotal(inc) {
  if (Array.isArray(inc?.slots) && inc.slots.length) return inc.slots.length;
  const n = Array.isArray(inc?.needs) ? inc.needs.reduce((s, x) => s + (Number.isInteger(x?.count) ? x.count : 0), 0) : 0;
  return n > 0 ? n : 1;
}
export const isTeam = (inc) => needTotal(inc) > 1;

/** The member's own progress; a server without `progress` implies it from the assignment. */
export function progressOf(a, inc) {
  if (PROGRESS.includes(a.progress)) return a.progress;
  if (a.state === 'completed') return 'resolved';
  return PROGRESS.includes(inc.state) ? inc.state : 'assigned';
}

/**
 * One entry per slot: `{ slot, skill, heroId|null, assignment|null, progress|null }`.
 * Without `slots` (older server) the slots are read from `needs`, filled in order.
 */
export function teamSlots(inc) {
  const held = (Array.isArray(inc?.assignments) ? inc.assignments : []).filter((a) => a && a.state !== 'released');
  let slots;
  if (Array.isArray(inc?.slots) && inc.slots.length) {
    slots = inc.slots.filter((s) => s && Number.isInteger(s.slot)).map((s) => ({ slot: s.slot, skill: s.skill ?? null, heroId: typeof s.heroId === 'string' ? s.heroId : null }));
  } else {
    const needs = Array.isArray(inc?.needs) && inc.needs.length ? inc.needs : [{ skill: null, count: 1 }];
    slots = needs.flatMap((n) => Array.from({ length: Number.isInteger(n?.count) ? n.count : 1 }, () => n?.skill ?? null))
      .map((skill, slot) => ({ slot, skill, heroId: null }));
    const free = [...held];
    for (const s of slots) {
      const i = free.findIndex((a) => (Number.isInteger(a.slot) ? a.slot === s.slot : true));
      if (i >= 0) s.heroId = free.splice(i, 1)[0].heroId;
    }
  }
  return slots.map((s) => {
    // The latest assignment of that member in that slot (a member may come back after a release).
    const a = held.filter((x) => x.heroId === s.heroId && (!Number.isInteger(x.slot) || x.slot === s.slot)).at(-1) ?? null;
    return { ...s, assignment: a, progress: a ? progressOf(a, inc) : null };
  });
}

/** "filled/total" for the incident list, or null for a one-hero incident. */
export function fillText(inc) {
  if (!isTeam(inc)) return null;
  const slots = teamSlots(inc);
  return `${slots.filter((s) => s.heroId).length}/${slots.length}`;
}
