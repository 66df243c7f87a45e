// Teams in the hero app (PROTOCOL v1.1 "Teams"): the role an offer asks for, the hero's
// own progress in a team, and the team of an assignment (the other members and the open
// slots). A one-hero incident shows none of it.
import { el, words } from '/assets/common.js';
import { PROGRESS, hhmm, isTeam, needTotal, progressOf, skillText, teamSlots } from '/assets/team.js';

export { isTeam };

/** "You are asked as: medic" (and the team's size), or '' for a plain one-hero offer. */
export function offerRole(offer) {
  const team = isTeam(offer.incident);
  if (typeof offer.skill !== 'string' && !team) return '';
  return el('p', { class: 'role', 'data-testid': 'offer-skill', dataset: { skill: skillText(offer.skill), ...(Number.isInteger(offer.slot) ? { slot: String(offer.slot) } : {}) } },
    'You are asked as: ', el('strong', {}, skillText(offer.skill)),
    team ? el('span', { class: 'muted' }, ` · one of a team of ${needTotal(offer.incident)}`) : '');
}

/**
 * The hero's own progress on the incident: their member entry when the server sends one,
 * else the incident's state (one hero), never behind what this app already knows (`known`).
 */
export function ownProgress(inc, heroId, known) {
  const mine = (Array.isArray(inc?.assignments) ? inc.assignments : []).filter((a) => a && a.heroId === heroId && a.state !== 'released').at(-1);
  const told = mine ? progressOf(mine, inc) : isTeam(inc) ? 'assigned' : PROGRESS.includes(inc?.state) ? inc.state : 'assigned';
  return PROGRESS.indexOf(known) > PROGRESS.indexOf(told) ? known : told;
}

/** The incident as just accepted: the offer's view with this hero in its slot. */
export function acceptedView(offer, heroId) {
  const inc = offer.incident;
  if (!isTeam(inc)) return { ...inc, state: 'assigned' };
  const slots = Array.isArray(inc.slots) && Number.isInteger(offer.slot)
    ? inc.slots.map((s) => (s?.slot === offer.slot ? { ...s, heroId } : s)) : inc.slots;
  const assignments = [...(Array.isArray(inc.assignments) ? inc.assignments : []),
    { heroId, skill: offer.skill ?? null, state: 'active', assignedAt: Date.now(), progress: 'assigned', ...(Number.isInteger(offer.slot) ? { slot: offer.slot } : {}) }];
  return { ...inc, slots, assignments };
}

// A hero may not read other heroes' profiles: a teammate is named when the view says so.
const memberName = (s) => (typeof s.assignment?.name === 'string' ? s.assignment.name : `teammate ${s.heroId.slice(0, 8)}`);

/** What the team's state means, for the incident line of a team assignment. */
export const TEAM_STATE_TEXT = {
  dispatching: 'Finding the rest of the team', escalated: 'A dispatcher is completing the team',
  assigned: 'Every slot filled', en_route: 'The whole team is on the way', on_scene: 'The whole team is on scene', resolved: 'Resolved',
};

/** The team of an assignment: every slot with its member (or "open") and their progress. */
export function teamBlock(inc, heroId, myProgress) {
  if (!isTeam(inc)) return '';
  const slots = teamSlots(inc);
  const filled = slots.filter((s) => s.heroId).length;
  return el('section', { class: 'team', 'data-testid': 'team', 'aria-label': 'Your team' },
    el('h3', {}, `Team · ${filled} of ${slots.length} slots filled`),
    Number.isFinite(inc.teamEtaAt) ? el('p', { class: 'muted', 'data-testid': 'team-eta' }, `Whole team on scene ≈ ${hhmm(inc.teamEtaAt)}`) : '',
    el('ul', { class: 'team-list' }, ...slots.map((s) => {
      const me = s.heroId === heroId;
      const progress = me ? myProgress : s.progress;
      return el('li', { 'data-testid': 'team-member', class: me ? 'me' : s.heroId ? '' : 'open', dataset: { slot: String(s.slot), skill: skillText(s.skill), ...(s.heroId ? { heroId: s.heroId } : {}), ...(progress ? { progress } : {}) } },
        el('span', { class: 'team-skill' }, `${skillText(s.skill)}: `),
        s.heroId ? el('strong', { title: s.heroId }, me ? 'you' : memberName(s)) : el('em', {}, 'open, being filled'),
        s.heroId && progress ? el('span', { class: 'muted' }, ` · ${words(progress)}`) : '');
    })));
}
