// Pure reading of an incident's slots and members (PROTOCOL v1.1 "Teams"), shared by
// the machine's guards and the services. Incidents started before teams carry no
// `members`: for them a slot is open when nobody in `filled` holds it, as before.
import { MEMBER_PROGRESS, type IncidentState, type MemberProgress } from '../shared/domain.ts';
import type { IncidentContext, Member } from './incident.context.ts';

/** Member events and the progress each moves a member from and to. */
export const MEMBER_MOVES = {
  EN_ROUTE: { from: ['assigned'], to: 'en_route' },
  // A hero may report on scene straight from assigned (nobody saw them set off).
  ARRIVE: { from: ['assigned', 'en_route'], to: 'on_scene' },
  RESOLVE: { from: ['on_scene'], to: 'resolved' },
} as const satisfies Record<string, { from: readonly MemberProgress[]; to: MemberProgress }>;
export type MemberEventType = keyof typeof MEMBER_MOVES;

/** Slots nobody fills, in slot order: no active member, and (teams) no member who resolved. */
export function openSlots(c: Pick<IncidentContext, 'slots' | 'filled' | 'members'>): number[] {
  return c.slots.map((_, i) => i).filter((i) => (c.members ? !c.members[i] : !c.filled.some((f) => f.slot === i)));
}

/** Whether some member is committed while a slot is still open: a team being assembled. */
export function isPartialTeam(c: Pick<IncidentContext, 'slots' | 'filled' | 'members'>): boolean {
  return openSlots(c).length > 0 && (c.filled.length > 0 || (c.members ?? []).some((m) => m !== null));
}

const rank = (p: MemberProgress) => MEMBER_PROGRESS.indexOf(p);

/**
 * The incident's state its members make: null while a slot is open (the incident is
 * still dispatching), else the least advanced member's progress, `resolved` when all are.
 */
export function teamState(members: readonly (Member | null)[]): IncidentState | null {
  if (members.some((m) => m === null)) return null;
  return (members as Member[]).reduce<MemberProgress>((least, m) => (rank(m.progress) < rank(least) ? m.progress : least), 'resolved');
}

/** The slot an active member holds, or undefined. */
export const slotOf = (c: Pick<IncidentContext, 'filled'>, heroId: string): number | undefined =>
  c.filled.find((f) => f.heroId === heroId)?.slot;

/** Members after `heroId` moves to `to`. */
export function movedMembers(members: readonly (Member | null)[], slot: number, to: MemberProgress): (Member | null)[] {
  return members.map((m, i) => (i === slot && m ? { heroId: m.heroId, progress: to } : m));
}
