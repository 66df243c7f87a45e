// The team block of the console's incident detail: an incident's slots with their members
// and each member's progress, the team ETA, the slot an "Assign" fills, and the "Release"
// of one member.
import { el, text, isFinal } from '/assets/common.js';
import { hhmm, isTeam, skillText, teamSlots } from '/assets/team.js';

/**
 * The team block of the detail panel: the slots with members and progress, the team ETA,
 * and the slot chooser used by the nearby heroes' "Assign".
 */
export class TeamPanel {
  /** @param {{ heroName: (id: string) => string, release: (heroId: string, slot: number) => void }} ctx */
  constructor(ctx) {
    this.ctx = ctx;
    this.busy = false;
    this.heading = el('h3', {}, 'Team');
    this.eta = el('p', { class: 'team-eta', 'data-testid': 'team-eta' });
    this.slots = el('ul', { class: 'slots', 'data-testid': 'slots', 'aria-label': 'Slots' });
    this.chooser = el('select', { id: 'assign-slot', name: 'slot', 'data-testid': 'assign-slot' });
    this.chooserRow = el('div', { class: 'assign-slot' }, el('label', { for: 'assign-slot' }, 'Assign into slot'), this.chooser);
    this.root = el('div', { class: 'team', hidden: true }, this.heading, this.eta, this.slots);
  }

  /** The slot chosen for the next "Assign", or undefined (the server picks the first that fits). */
  chosenSlot() {
    if (this.chooserRow.hidden || this.chooser.value === '') return undefined;
    const n = Number(this.chooser.value);
    return Number.isInteger(n) ? n : undefined;
  }

  render(inc) {
    const team = !!inc && isTeam(inc);
    this.root.hidden = !team;
    this.chooserRow.hidden = !team;
    this.root.dataset.team = String(team);
    if (!team) { this.slots.replaceChildren(); this.chooser.replaceChildren(); return; }
    const slots = teamSlots(inc);
    const open = slots.filter((s) => !s.heroId);
    text(this.heading, `Team · ${slots.length - open.length}/${slots.length} slots filled`);
    this.renderEta(inc, open);
    this.slots.replaceChildren(...slots.map((s) => this.slotItem(s, inc)));
    this.renderChooser(slots);
    this.setBusy(this.busy, inc);
  }

  renderEta(inc, open) {
    if (Number.isFinite(inc.teamEtaAt)) {
      text(this.eta, `Team on scene ≈ ${hhmm(inc.teamEtaAt)} (slowest member)`);
      this.eta.dataset.at = String(inc.teamEtaAt);
    } else {
      text(this.eta, open.length ? `Team on scene: not known while ${open.length} slot${open.length === 1 ? ' is' : 's are'} open.` : 'Team on scene: not known.');
      delete this.eta.dataset.at;
    }
  }

  slotItem(s, inc) {
    const attrs = { 'data-testid': 'slot', class: `slot ${s.heroId ? 'filled' : 'open'}`, dataset: { slot: String(s.slot), skill: skillText(s.skill), ...(s.heroId ? { heroId: s.heroId } : {}), ...(s.progress ? { progress: s.progress } : {}) } };
    const head = el('span', { class: 'slot-skill' }, `#${s.slot + 1} ${skillText(s.skill)}`);
    if (!s.heroId) return el('li', attrs, head, ' — ', el('em', { class: 'slot-open' }, 'open'));
    const a = s.assignment;
    const parts = [head, ' — ', el('strong', {}, this.ctx.heroName(s.heroId)), ' · ',
      el('span', { class: `progress-badge state-badge state-${s.progress}`, 'data-testid': 'slot-progress' }, s.progress ?? '—')];
    if (a && Number.isFinite(a.assignedAt)) parts.push(el('span', { class: 'muted' }, ` · since ${hhmm(a.assignedAt)}`));
    if (a && a.state === 'active' && !isFinal(inc.state)) {
      const btn = el('button', { type: 'button', class: 'release', 'data-testid': 'release', 'aria-label': `Release ${this.ctx.heroName(s.heroId)} from slot ${s.slot + 1}` }, 'Release');
      btn.addEventListener('click', () => this.ctx.release(s.heroId, s.slot));
      parts.push(btn);
    }
    return el('li', attrs, ...parts);
  }

  renderChooser(slots) {
    const keep = this.chooser.value;
    const options = [el('option', { value: '' }, 'First open slot that fits')];
    for (const s of slots) {
      options.push(el('option', { value: String(s.slot), disabled: !!s.heroId },
        `#${s.slot + 1} ${skillText(s.skill)}${s.heroId ? ` (filled: ${this.ctx.heroName(s.heroId)})` : ' (open)'}`));
    }
    this.chooser.replaceChildren(...options);
    // A chosen slot that someone else filled meanwhile falls back to "first that fits".
    const still = slots.find((s) => String(s.slot) === keep && !s.heroId);
    this.chooser.value = still ? keep : '';
  }

  setBusy(busy, inc) {
    this.busy = busy;
    const final = !inc || isFinal(inc.state);
    for (const b of this.slots.querySelectorAll('button')) b.disabled = busy || final;
    this.chooser.disabled = busy || final;
  }
}
