// The incident detail panel of the dispatcher console: fields, the team's slots,
// assignments, why each hero was offered it, the reports linked to it, the audit trail, nearby heroes, the overrides
// (assign into a slot, release one member, reassign, cancel) and the replay on the map.
import { api, problemText, el, text, fmtAge, fmtKm, haversineKm, labelOf, isFinal } from '/assets/common.js';
import { shownStatus, onMap } from '/assets/dispatcher-map.js';
import { TeamPanel } from '/assets/dispatcher-team.js';
import { Replay } from '/assets/dispatcher-replay.js';
import { OffersPanel } from '/assets/dispatcher-offers.js';
import { isTeam, skillText } from '/assets/team.js';

const NEARBY_MAX = 12;
const NEARBY_RADIUS_KM = 100;
/** Pages of the audit trail read at most (each up to the server's EVENTS_PAGE_MAX). */
const EVENT_PAGES_MAX = 20;

export const clock = (ms) => (Number.isFinite(ms) ? new Date(ms).toLocaleTimeString([], { hour12: false }) : '—');
export const titleOf = (inc) => (inc.description?.trim()) || `${inc.kind} incident`;

/**
 * Keyed update of a container's children: creates missing nodes, updates all, moves only
 * those out of order, removes the rest. Untouched nodes keep focus.
 */
export function reconcile(container, items, keyOf, create, update) {
  const wanted = new Set(items.map(keyOf));
  const existing = new Map();
  for (const child of [...container.children]) {
    if (child.dataset.key !== undefined && wanted.has(child.dataset.key)) existing.set(child.dataset.key, child);
    else child.remove();
  }
  items.forEach((item, i) => {
    const key = keyOf(item);
    let node = existing.get(key);
    if (!node) {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item);
    const at = container.children[i];
    if (at !== node) container.insertBefore(node, at ?? null);
  });
}

export class IncidentDetail {
  /**
   * @param {HTMLElement} root the [data-testid=incident-detail] section
   * @param {{ state: any, say: (msg: string, kind?: string) => void, apply: (inc: any) => void, heroName: (id: string) => string, onOpen: (id: string|null) => void, leafletMap: () => any }} ctx
   */
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.id = null;
    this.incident = null;
    this.eventsFor = null; // `${id}@${version}` the audit trail was last asked for
    this.eventsReq = 0;
    this.busy = false;
    this.build();
  }

  build() {
    this.empty = el('p', { class: 'muted detail-empty' }, 'Select an incident from the list or the map to see its details.');
    this.heading = el('h2', { tabindex: '-1', class: 'detail-title' });
    this.closeBtn = el('button', { type: 'button', class: 'close', 'aria-label': 'Close incident detail', onclick: () => this.close() }, 'Close');
    this.fields = el('dl', { class: 'fields' });
    this.assignments = el('ul', { class: 'assignments', 'aria-label': 'Assignments' });
    this.team = new TeamPanel({ heroName: (id) => this.ctx.heroName(id), release: (heroId, slot) => this.release(heroId, slot) });
    this.reason = el('input', { id: 'override-reason', name: 'reason', type: 'text', maxlength: '500', placeholder: 'e.g. hero not responding', autocomplete: 'off' });
    this.reassignBtn = el('button', { type: 'button', 'data-testid': 'reassign', onclick: () => this.reassign() }, 'Reassign');
    this.cancelBtn = el('button', { type: 'button', class: 'danger', 'data-testid': 'cancel', onclick: () => this.cancel() }, 'Cancel incident');
    this.nearby = el('ul', { class: 'nearby', 'data-testid': 'nearby', 'aria-label': 'Nearby heroes' });
    this.nearbyEmpty = el('p', { class: 'muted' }, 'No on-duty hero with a known position nearby.');
    this.reports = el('ul', { class: 'reports', 'data-testid': 'reports', 'aria-label': 'Reports' });
    this.audit = el('ol', { class: 'audit', 'data-testid': 'audit', 'aria-label': 'Audit trail' });
    this.auditStatus = el('p', { class: 'muted audit-status', 'aria-live': 'polite' });
    this.replay = new Replay({ token: () => this.ctx.state.token, heroName: (id) => this.ctx.heroName(id), leafletMap: () => this.ctx.leafletMap() });
    this.offers = new OffersPanel({ token: () => this.ctx.state.token, heroName: (id) => this.ctx.heroName(id) });
    this.body = el('div', { class: 'detail-body', hidden: true },
      el('div', { class: 'detail-head' }, this.heading, this.closeBtn),
      this.fields,
      this.replay.root,
      this.team.root,
      el('h3', {}, 'Assignments'), this.assignments,
      this.offers.root,
      el('h3', {}, 'Reports'), this.reports,
      el('div', { class: 'actions' },
        el('label', { for: 'override-reason' }, 'Reason (for release, reassign or cancel)'), this.reason,
        el('div', { class: 'action-buttons' }, this.reassignBtn, this.cancelBtn)),
      el('h3', {}, 'Nearby heroes'), this.team.chooserRow, this.nearby, this.nearbyEmpty,
      el('h3', {}, 'Audit trail'), this.auditStatus, this.audit);
    this.root.replaceChildren(this.empty, this.body);
  }

  /** Opens an incident by id; fetches it when the console does not know it (e.g. final). */
  async open(id, { focus = false } = {}) {
    if (this.id !== id) {
      this.id = id;
      this.incident = this.ctx.state.incidents.get(id) ?? null;
      this.eventsFor = null;
      this.audit.replaceChildren();
      this.reports.replaceChildren();
      this.nearby.replaceChildren();
      this.offers.clear();
      this.reason.value = '';
    }
    this.replay.setIncident(id);
    this.root.dataset.incidentId = id;
    this.empty.hidden = true;
    this.body.hidden = false;
    this.ctx.onOpen(id);
    this.render();
    if (focus) this.heading.focus();
    if (!this.incident) {
      const res = await api(this.ctx.state.token, 'GET', `/v1/incidents/${encodeURIComponent(id)}`);
      if (this.id !== id) return;
      if (!res.ok) {
        this.ctx.say(`Could not load incident: ${problemText(res)}`, 'error');
        return;
      }
      this.ctx.apply(res.body);
      this.changed(res.body);
    }
  }

  close() {
    this.id = null;
    this.incident = null;
    delete this.root.dataset.incidentId;
    this.empty.hidden = false;
    this.body.hidden = true;
    this.audit.replaceChildren();
    this.nearby.replaceChildren();
    this.offers.clear();
    this.replay.setIncident(null);
    this.ctx.onOpen(null);
  }

  /** A newer version of some incident arrived. */
  changed(inc) {
    if (!inc || inc.id !== this.id) return;
    if (this.incident && inc.version < this.incident.version) return;
    this.incident = inc;
    this.render();
  }

  render() {
    const inc = this.incident;
    if (!this.id) return;
    if (!inc) {
      text(this.heading, 'Loading…');
      this.fields.replaceChildren();
      this.updateActions();
      return;
    }
    text(this.heading, titleOf(inc));
    this.renderFields(inc);
    this.team.render(inc);
    this.renderAssignments(inc);
    this.renderNearby();
    this.updateActions();
    const key = `${inc.id}@${inc.version}`;
    if (this.eventsFor !== key) {
      this.eventsFor = key;
      void this.loadEvents(inc.id);
      void this.offers.load(inc.id);
    }
  }

  renderFields(inc) {
    const now = Date.now();
    const loc = inc.location ? `${Number(inc.location.lat).toFixed(5)}, ${Number(inc.location.lng).toFixed(5)}` : '—';
    const needs = Array.isArray(inc.needs) ? inc.needs.map((n) => `${n.count} × ${n.skill ?? 'any hero'}`).join(', ') : '—';
    const rows = [
      ['State', el('span', { class: `state-badge state-${inc.state}`, 'data-testid': 'detail-state' }, inc.state), ` ${labelOf('incidentStates', inc.state)}`],
      ['Severity', el('span', { class: `sev-badge sev-${inc.severity}` }, inc.severity)],
      ['Kind', inc.kind],
      ['Description', inc.description || '—'],
      ['Location', loc],
      ['Needs', needs || '—'],
      ['Reports', el('span', { 'data-testid': 'detail-reports' }, String(inc.reports ?? 1))],
      ['Reported by', inc.reportedBy ?? '—'],
      ['Reported', `${clock(inc.createdAt)} (${fmtAge(now - inc.createdAt)} ago)`],
      ['Updated', clock(inc.updatedAt)],
      ['Id', inc.id],
      ['Version', String(inc.version)],
    ];
    this.fields.replaceChildren(...rows.flatMap(([k, ...v]) => [el('dt', {}, k), el('dd', {}, ...v)]));
  }

  renderAssignments(inc) {
    const list = Array.isArray(inc.assignments) ? inc.assignments : [];
    if (list.length === 0) {
      this.assignments.replaceChildren(el('li', { class: 'muted' }, 'No hero yet.'));
      return;
    }
    const team = isTeam(inc);
    this.assignments.replaceChildren(...list.map((a) => el('li', { class: `assignment a-${a.state}`, dataset: { heroId: a.heroId, state: a.state, ...(a.progress ? { progress: a.progress } : {}) } },
      el('strong', {}, this.ctx.heroName(a.heroId)), ` · ${a.state}`,
      a.progress && a.state !== 'released' ? ` (${a.progress})` : '',
      team && Number.isInteger(a.slot) ? ` · slot #${a.slot + 1} ${skillText(a.skill)}` : a.skill ? ` · ${a.skill}` : '',
      ` · assigned ${clock(a.assignedAt)} (+${fmtAge(a.assignedAt - inc.createdAt)})`)));
  }

  /** On-duty heroes with a known position, nearest first. */
  nearbyHeroes() {
    const inc = this.incident;
    if (!inc?.location) return [];
    const now = Date.now();
    return [...this.ctx.state.heroes.values()].filter(onMap)
      .map((h) => ({ hero: h, km: haversineKm(inc.location, h.location), shown: shownStatus(h, now) }))
      .filter((x) => Number.isFinite(x.km) && x.km <= NEARBY_RADIUS_KM)
      .sort((a, b) => a.km - b.km)
      .slice(0, NEARBY_MAX);
  }

  renderNearby() {
    if (!this.id || !this.incident) return;
    const items = this.nearbyHeroes();
    const holders = new Set((this.incident.assignments ?? []).filter((a) => a.state === 'active').map((a) => a.heroId));
    const now = Date.now();
    reconcile(this.nearby, items, (x) => x.hero.id, (x) => {
      const btn = el('button', { type: 'button', 'data-testid': 'assign' }, 'Assign');
      btn.addEventListener('click', () => this.assign(x.hero.id));
      return el('li', { 'data-testid': 'nearby-hero', dataset: { heroId: x.hero.id } },
        el('span', { class: 'dot' }), el('span', { class: 'name' }), el('span', { class: 'status' }),
        el('span', { class: 'dist' }), el('span', { class: 'seen muted' }), btn);
    }, (node, x) => {
      const name = x.hero.name ?? x.hero.id;
      node.dataset.status = x.shown;
      node.querySelector('.dot').className = `dot status-${x.shown}`;
      text(node.querySelector('.name'), name);
      text(node.querySelector('.status'), holders.has(x.hero.id) ? `${x.shown} (this incident)` : x.shown);
      text(node.querySelector('.dist'), fmtKm(x.km));
      text(node.querySelector('.seen'), x.hero.lastSeenAt ? `seen ${fmtAge(now - x.hero.lastSeenAt)} ago` : '');
      const btn = node.querySelector('button');
      btn.className = x.hero.status === 'available' && x.shown !== 'stale' ? 'primary' : '';
      btn.disabled = this.busy || isFinal(this.incident.state);
      btn.setAttribute('aria-label', `Assign ${name} (${x.shown}, ${fmtKm(x.km)} away)`);
    });
    this.nearbyEmpty.hidden = items.length > 0;
  }

  updateActions() {
    const inc = this.incident;
    const final = !inc || isFinal(inc.state);
    const held = !!inc && (inc.assignments ?? []).some((a) => a.state === 'active');
    this.reassignBtn.disabled = this.busy || final || !held;
    this.reassignBtn.title = !held ? 'No hero holds this incident'
      : isTeam(inc) ? 'Release every member and dispatch the whole team again' : 'Release the current hero and dispatch again';
    text(this.reassignBtn, inc && isTeam(inc) ? 'Reassign all' : 'Reassign');
    this.cancelBtn.disabled = this.busy || final;
    for (const b of this.nearby.querySelectorAll('button')) b.disabled = this.busy || final;
    this.team.setBusy(this.busy, inc);
  }

  async loadEvents(id) {
    const req = ++this.eventsReq;
    text(this.auditStatus, this.audit.children.length ? '' : 'Loading the audit trail…');
    // The trail comes in pages (`next` is the `after` of the following one).
    const items = [];
    for (let after = 0, page = 0; after !== undefined && page < EVENT_PAGES_MAX; page++) {
      const res = await api(this.ctx.state.token, 'GET', `/v1/incidents/${encodeURIComponent(id)}/events?after=${after}`);
      if (req !== this.eventsReq || this.id !== id) return;
      if (!res.ok || !res.body || !Array.isArray(res.body.items)) {
        text(this.auditStatus, `Could not load the audit trail: ${problemText(res)}`);
        this.eventsFor = null; // try again on the next change
        return;
      }
      items.push(...res.body.items);
      after = res.body.next;
    }
    this.renderReports(items);
    text(this.auditStatus, items.length ? '' : 'No events yet.');
    this.audit.replaceChildren(...items.map((e) => {
      const data = e.data && typeof e.data === 'object' ? Object.entries(e.data)
        .map(([k, v]) => `${k}: ${v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ') : '';
      return el('li', { dataset: { seq: String(e.seq), type: String(e.type), to: String(e.to) } },
        el('span', { class: 'ev-time muted' }, clock(e.at)), ' ',
        el('strong', {}, String(e.type)), ` ${e.from ?? '∅'} → ${e.to}`,
        el('span', { class: 'muted' }, ` · ${e.actor ?? ''}${data ? ` · ${data}` : ''}`));
    }));
  }

  /** Each report on the incident, from the trail: the first (REPORTED) and every LINKED one. */
  renderReports(items) {
    const inc = this.incident;
    const withdrawn = new Set(items.filter((e) => e.type === 'WITHDRAWN').map((e) => e.data?.civilianId));
    const reports = items.filter((e) => e.type === 'REPORTED' || e.type === 'LINKED').map((e) => ({
      who: e.type === 'REPORTED' ? e.data?.reporter ?? inc?.reportedBy : e.data?.civilianId,
      severity: e.data?.severity ?? (e.type === 'REPORTED' ? '' : '—'),
      description: e.type === 'REPORTED' ? inc?.description : e.data?.description,
      at: e.at,
    }));
    this.reports.replaceChildren(...reports.map((r) => el('li', { class: withdrawn.has(r.who) ? 'muted' : '', dataset: { severity: String(r.severity) } },
      el('span', { class: 'ev-time muted' }, clock(r.at)), ' ',
      r.severity ? el('span', { class: `sev-badge sev-${r.severity}` }, r.severity) : '',
      ` ${r.description || '(no description)'}`,
      el('span', { class: 'muted' }, ` · ${r.who ?? ''}${withdrawn.has(r.who) ? ' · withdrawn' : ''}`))));
  }

  /** Runs one override; the answer (an incident) is applied, failures are shown. */
  async run(label, path, body, success) {
    const id = this.id;
    if (!id || this.busy) return;
    this.busy = true;
    this.updateActions();
    try {
      const res = await api(this.ctx.state.token, 'POST', `/v1/incidents/${encodeURIComponent(id)}/${path}`, body);
      if (res.ok && res.body?.id) {
        this.ctx.apply(res.body);
        this.changed(res.body);
        this.ctx.say(success(res.body), 'info');
      } else {
        this.ctx.say(`${label} failed: ${problemText(res)}`, 'error');
      }
    } catch (err) {
      this.ctx.say(`${label} failed: ${err instanceof Error ? err.message : String(err)}`, 'error');
    } finally {
      this.busy = false;
      this.updateActions();
    }
  }

  /** Into the slot chosen above the nearby heroes, else the first open slot the hero fits. */
  assign(heroId) {
    const name = this.ctx.heroName(heroId);
    const slot = this.team.chosenSlot();
    return this.run('Assign', 'assign', slot === undefined ? { heroId } : { heroId, slot },
      (inc) => `${name} assigned to “${titleOf(inc)}”${slot === undefined ? '' : ` (slot #${slot + 1})`}.`);
  }

  /** Releases one member of a team; only their slot is dispatched again. */
  release(heroId, slot) {
    const name = this.ctx.heroName(heroId);
    const reason = this.reason.value.trim() || 'Released by dispatcher';
    return this.run('Release', 'reassign', { reason, heroId }, () => {
      this.reason.value = '';
      return `Released ${name} from slot #${slot + 1}; dispatching that slot again.`;
    });
  }

  reassign() {
    const reason = this.reason.value.trim() || 'Reassigned by dispatcher';
    return this.run('Reassign', 'reassign', { reason }, (inc) => {
      this.reason.value = '';
      return `Released the hero from “${titleOf(inc)}”; dispatching again.`;
    });
  }

  cancel() {
    const reason = this.reason.value.trim() || 'Cancelled by dispatcher';
    return this.run('Cancel', 'cancel', { reason }, (inc) => {
      this.reason.value = '';
      return `Cancelled “${titleOf(inc)}”.`;
    });
  }

  /** Once a second: the ages (nearby heroes are refreshed with the rest of the console). */
  tick() {
    if (!this.id || !this.incident) return;
    this.renderFields(this.incident);
  }
}
