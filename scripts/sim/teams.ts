// Reports that need a team (`--teams P`): the mixes a city sees (a house fire wants a
// firefighter and a medic, a collapse four rescuers), and heroes' skills drawn so such
// teams can be filled. Skill names are the fleet's own vocabulary (fleet.ts SKILLS).
import type { Rng } from './rng.ts';
import type { Incident, Severity } from './types.ts';

export type Kind = 'accident' | 'crime' | 'medical' | 'fire' | 'disaster' | 'other';
export interface Need { skill: string | null; count: number }
interface TeamMix { kind: Kind; needs: Need[]; what: string[] }

const need = (skill: string | null, count = 1): Need => ({ skill, count });

/** Mixes by how often they come up; sizes 2 to 6, most of them 2 or 3. */
const MIXES: { weight: number; mix: TeamMix }[] = [
  { weight: 25, mix: { kind: 'fire', needs: [need('firefighting'), need('medical')], what: ['House fire, a family trapped upstairs', 'Apartment fire, a resident with burns'] } },
  { weight: 6, mix: { kind: 'fire', needs: [need('firefighting', 2), need('medical')], what: ['Warehouse fire with workers still inside'] } },
  { weight: 25, mix: { kind: 'accident', needs: [need('medical'), need('rescue')], what: ['Car crash, driver trapped and bleeding', 'Motorbike under a truck, rider pinned'] } },
  { weight: 6, mix: { kind: 'accident', needs: [need('medical', 2), need('rescue'), need('strength')], what: ['Bus overturned, many passengers hurt'] } },
  { weight: 8, mix: { kind: 'disaster', needs: [need('rescue', 4)], what: ['Building collapsed, people under the rubble'] } },
  { weight: 2, mix: { kind: 'disaster', needs: [need('rescue', 4), need('medical', 2)], what: ['Stand collapsed at the stadium, dozens trapped'] } },
  { weight: 4, mix: { kind: 'disaster', needs: [need('rescue', 2), need('water')], what: ['Flooded underpass, cars with people inside'] } },
  { weight: 10, mix: { kind: 'crime', needs: [need('combat', 2)], what: ['Armed gang robbing a jewellery store'] } },
  { weight: 4, mix: { kind: 'crime', needs: [need('negotiation'), need('combat'), need(null)], what: ['Hostages held in a bank'] } },
  { weight: 6, mix: { kind: 'medical', needs: [need('medical', 2)], what: ['Several people collapsed at a concert'] } },
  { weight: 4, mix: { kind: 'other', needs: [need('strength'), need(null)], what: ['Giant robot tearing up a street'] } },
];

/** Emergencies that need a team are more often serious ones. */
export const TEAM_SEVERITY: Record<Severity, number> = { critical: 15, high: 45, medium: 35, low: 5 };

export function pickTeam(rng: Rng): TeamMix {
  const total = MIXES.reduce((s, m) => s + m.weight, 0);
  let r = rng.next() * total;
  for (const m of MIXES) {
    r -= m.weight;
    if (r < 0) return m.mix;
  }
  return MIXES[MIXES.length - 1]!.mix;
}

/**
 * Skills of a hero when teams are on: the skills teams ask for most (medical, rescue,
 * firefighting) are the commonest, so about 40% of heroes are medics and as many rescuers.
 */
const TEAM_SKILLS = { medical: 4, rescue: 4, firefighting: 3, combat: 2, strength: 2, negotiation: 1, water: 1, hacking: 0.5 } as const;

export function teamSkills(rng: Rng): string[] {
  return [...new Set(Array.from({ length: rng.int(1, 3) }, () => rng.weighted(TEAM_SKILLS)))];
}

/** How many heroes an incident needs (its slots). */
export function teamSize(inc: Pick<Incident, 'needs' | 'slots'>): number {
  if (inc.slots?.length) return inc.slots.length;
  return (inc.needs ?? []).reduce((n, x) => n + x.count, 0) || 1;
}

/** Slots filled by a member (active or completed), from the view's `slots`, else its assignments. */
export function filledSlots(inc: Pick<Incident, 'assignments' | 'slots'>): number {
  if (inc.slots) return inc.slots.filter((s) => s.heroId !== null).length;
  const held = (inc.assignments ?? []).filter((a) => a.state !== 'released');
  return new Set(held.map((a) => (a.slot === undefined ? a.heroId : `#${a.slot}`))).size;
}
