// The dispatcher console: live incidents and heroes from the `/dispatch` namespace,
// headline counters, the open-incident list, alerts, and the detail panel for overrides.
import { signIn, messageArea, claimsOf, api, connectSocket, el, text, fmtAge, labelOf, isFinal } from '/assets/common.js';
import { VOCABULARY } from '/assets/vocabulary.js';
import { DispatchMap, onMap } from '/assets/dispatcher-map.js';
import { IncidentDetail, reconcile, titleOf, clock } from '/assets/dispatcher-detail.js';
import { fillText } from '/assets/team.js';

const TOKEN_KEY = 'dispatch.dispatcher.token';
const STUCK_AGE_MS = 120_000;
const isWaiting = (s) => VOCABULARY.waitingStates.includes(s);
const sevRank = (s) => VOCABULARY.severityRank[s] ?? 9;
const HOUR_MS = 3_600_000;
const MAX_ALERTS = 200;

const $ = (sel) => document.querySelector(sel);
const ui = {
  banner: $('[data-testid=connection]'), message: $('[data-testid=message]'), who: $('#who'), console: $('#console'), queues: $('#queues-link'),
  countOpen: $('[data-testid=count-open]'), countHeroes: $('[data-testid=count-heroes]'),
  p50: $('[data-testid=p50-assign]'), list: $('[data-testid=incident-list]'), listCount: $('#list-count'), listEmpty: $('#list-empty'),
  fState: $('[data-testid=filter-state]'), fSeverity: $('[data-testid=filter-severity]'), fText: $('[data-testid=filter-text]'),
  alerts: $('[data-testid=alerts]'), alertsEmpty: $('#alerts-empty'), alertCount: $('#alert-count'),
};

const state = {
  token: null,
  incidents: new Map(), // open incidents by id
  versions: new Map(), // highest version seen per incident (ignore older pushes)
  seen: new Map(), // id -> { createdAt, assignedAt } for the p50 counter
  heroes: new Map(),
  stuck: new Map(), // id -> incident state when `incident_stuck` arrived
  selectedId: null,
};
// Pushes that arrive on a fresh connection before its snapshot.
let awaitingSnapshot = true;
let sinceConnect = new Map();
let pendingBatches = [];
let socket = null;
const namesAsked = new Set();

// Errors stay until the next message; notes fade, the console has enough going on.
const say = messageArea(ui.message, { info: 10_000 });

// The filters offer the open states (waiting first) and the severities, as the wire names them.
ui.fState.append(...VOCABULARY.openStates.map((s) => el('option', { value: s }, s)));
ui.fSeverity.append(...VOCABULARY.severities.map((s) => el('option', { value: s }, s)));

/** Socket handlers never throw into socket.io: a bad push is reported, not fatal. */
const guard = (fn) => (...args) => {
  try { fn(...args); } catch (err) { say(`The console could not show an update (${err instanceof Error ? err.message : String(err)}). Reload the page if it looks wrong.`, 'error'); }
};

const validIncident = (i) => i && typeof i.id === 'string' && typeof i.state === 'string' && Number.isFinite(i.version);
const heroName = (id) => state.heroes.get(id)?.name ?? id;

const map = new DispatchMap($('[data-testid=map]'), $('[data-testid=map-heroes]'), $('[data-testid=map-incidents]'), (id) => openIncident(id));
const detail = new IncidentDetail($('[data-testid=incident-detail]'), {
  state, say, heroName, apply: (inc) => applyIncident(inc), leafletMap: () => map.map,
  onOpen: (id) => { state.selectedId = id; map.select(id); scheduleRender(); },
});

function openIncident(id, opts = {}) {
  detail.open(id, opts).catch((err) => say(`Could not open the incident: ${err instanceof Error ? err.message : String(err)}`, 'error'));
  const inc = state.incidents.get(id);
  if (inc) map.focusOn(inc.location);
}

// ---- state changes -------------------------------------------------------------------

function remember(inc) {
  const prior = state.seen.get(inc.id);
  const times = (inc.assignments ?? []).map((a) => a.assignedAt).filter(Number.isFinite);
  const first = times.length ? Math.min(...times) : null;
  const assignedAt = prior?.assignedAt != null && (first == null || prior.assignedAt < first) ? prior.assignedAt : first;
  state.seen.set(inc.id, { createdAt: inc.createdAt, assignedAt });
}

function settleStuck(inc) {
  if (isFinal(inc.state)) { state.stuck.delete(inc.id); return; }
  if (state.stuck.has(inc.id) && state.stuck.get(inc.id) !== inc.state && !isWaiting(inc.state)) state.stuck.delete(inc.id);
}

function applyIncident(inc) {
  if (!validIncident(inc)) return;
  const known = state.versions.get(inc.id);
  if (known !== undefined && inc.version <= known) return;
  state.versions.set(inc.id, inc.version);
  remember(inc);
  if (isFinal(inc.state)) state.incidents.delete(inc.id);
  else state.incidents.set(inc.id, inc);
  settleStuck(inc);
  detail.changed(inc);
  scheduleRender();
}

function mergeHeroes(batch) {
  for (const h of batch) {
    if (!h || typeof h.id !== 'string') continue;
    let hero = state.heroes.get(h.id);
    const isNew = !hero;
    if (!hero) {
      hero = { id: h.id, name: h.id, status: 'off_duty', onDuty: false };
      state.heroes.set(h.id, hero);
      askName(h.id);
    }
    if (typeof h.status === 'string') {
      hero.status = h.status;
      if (h.status === 'off_duty') hero.onDuty = false;
      else if (h.status === 'available' || isNew) hero.onDuty = true;
    }
    if (h.location && Number.isFinite(h.location.lat) && Number.isFinite(h.location.lng)) hero.location = { lat: h.location.lat, lng: h.location.lng };
    if (Number.isFinite(h.lastSeenAt)) hero.lastSeenAt = h.lastSeenAt;
  }
}

/** A hero that came on duty after the snapshot: its name comes from the registry. */
function askName(id) {
  if (namesAsked.has(id) || !state.token) return;
  namesAsked.add(id);
  api(state.token, 'GET', `/v1/heroes/${encodeURIComponent(id)}`).then((res) => {
    const hero = state.heroes.get(id);
    if (!res.ok || !hero || !res.body) return;
    if (typeof res.body.name === 'string') hero.name = res.body.name;
    if (typeof res.body.onDuty === 'boolean') hero.onDuty = res.body.onDuty;
    scheduleRender();
    detail.renderNearby();
  }).catch(() => { /* the id stands in for the name */ });
}

function onSnapshot(snap) {
  if (!snap || !Array.isArray(snap.incidents) || !Array.isArray(snap.heroes)) return;
  const open = new Map();
  const inSnapshot = new Set();
  for (const inc of snap.incidents) {
    if (!validIncident(inc)) continue;
    inSnapshot.add(inc.id);
    const newer = sinceConnect.get(inc.id);
    const use = newer && newer.version > inc.version ? newer : inc;
    state.versions.set(use.id, use.version);
    remember(use);
    if (!isFinal(use.state)) open.set(use.id, use);
  }
  // Created after the snapshot was read, pushed before it arrived.
  for (const [id, inc] of sinceConnect) if (!inSnapshot.has(id) && !isFinal(inc.state)) open.set(id, inc);
  state.incidents = open;
  for (const id of [...state.stuck.keys()]) if (!open.has(id)) state.stuck.delete(id);
  for (const inc of open.values()) settleStuck(inc);

  state.heroes = new Map();
  for (const h of snap.heroes) {
    if (!h || typeof h.id !== 'string') continue;
    state.heroes.set(h.id, { ...h, name: typeof h.name === 'string' ? h.name : h.id, onDuty: h.onDuty === true });
  }
  for (const batch of pendingBatches) mergeHeroes(batch);
  awaitingSnapshot = false;
  sinceConnect = new Map();
  pendingBatches = [];

  map.fitOnce([...[...open.values()].map((i) => i.location), ...[...state.heroes.values()].filter(onMap).map((h) => h.location)]);
  if (state.selectedId) {
    const inc = open.get(state.selectedId);
    if (inc) detail.changed(inc);
    else refreshSelected(state.selectedId);
  }
  renderAll();
}

/** The open incident left the open set while we were away: fetch how it ended. */
async function refreshSelected(id) {
  const res = await api(state.token, 'GET', `/v1/incidents/${encodeURIComponent(id)}`);
  if (res.ok && validIncident(res.body)) { applyIncident(res.body); detail.changed(res.body); }
}

function onAlert(alert) {
  if (!alert || typeof alert.type !== 'string') return;
  if (alert.type === 'incident_stuck' && typeof alert.incidentId === 'string') {
    state.stuck.set(alert.incidentId, state.incidents.get(alert.incidentId)?.state ?? null);
  }
  const at = Number.isFinite(alert.at) ? alert.at : Date.now();
  const incident = typeof alert.incidentId === 'string' ? alert.incidentId : null;
  const item = el('li', { 'data-testid': 'alert', class: `alert alert-${alert.type}`, dataset: { type: alert.type, ...(incident ? { incidentId: incident } : {}), ...(alert.heroId ? { heroId: String(alert.heroId) } : {}) } },
    el('div', { class: 'alert-head' }, el('strong', { class: 'alert-type' }, labelOf('alertTypes', alert.type)), el('time', { class: 'muted', datetime: new Date(at).toISOString() }, clock(at))),
    el('div', { class: 'alert-detail' }, typeof alert.detail === 'string' ? alert.detail : ''));
  if (alert.heroId) item.append(el('div', { class: 'muted' }, `Hero: ${heroName(String(alert.heroId))}`));
  if (incident) {
    const known = state.incidents.get(incident);
    item.append(el('button', { type: 'button', class: 'link', onclick: () => openIncident(incident, { focus: true }) },
      known ? `Open “${titleOf(known)}”` : 'Open incident'));
  }
  ui.alerts.prepend(item);
  while (ui.alerts.children.length > MAX_ALERTS) ui.alerts.lastElementChild.remove();
  ui.alertsEmpty.hidden = true;
  text(ui.alertCount, `(${ui.alerts.children.length})`);
  scheduleRender();
}

// ---- rendering -----------------------------------------------------------------------

let renderTimer = null;
function scheduleRender() {
  if (renderTimer !== null) return;
  renderTimer = setTimeout(() => { renderTimer = null; renderAll(); }, 30);
}

const isStuck = (inc, now) => state.stuck.has(inc.id) || (isWaiting(inc.state) && now - inc.createdAt > STUCK_AGE_MS);

function p50Assign(now) {
  const xs = [];
  for (const [id, s] of state.seen) {
    if (now - s.createdAt > HOUR_MS) { if (!state.incidents.has(id)) state.seen.delete(id); continue; }
    if (s.assignedAt != null) xs.push(Math.max(0, s.assignedAt - s.createdAt));
  }
  if (xs.length === 0) return null;
  xs.sort((a, b) => a - b);
  const m = xs.length >> 1;
  return xs.length % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
}
const fmtDuration = (ms) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : fmtAge(ms));

function renderCounters(now) {
  text(ui.countOpen, String(state.incidents.size));
  let onDuty = 0;
  for (const h of state.heroes.values()) if (h.onDuty) onDuty += 1;
  text(ui.countHeroes, String(onDuty));
  const p = p50Assign(now);
  text(ui.p50, p === null ? '—' : fmtDuration(p));
}

function matches(inc) {
  if (ui.fState.value && inc.state !== ui.fState.value) return false;
  if (ui.fSeverity.value && inc.severity !== ui.fSeverity.value) return false;
  const q = ui.fText.value.trim().toLowerCase();
  if (q && ![inc.description, inc.kind, inc.id, inc.state, inc.severity].some((v) => typeof v === 'string' && v.toLowerCase().includes(q))) return false;
  return true;
}

function createRow(inc) {
  const row = el('li', { 'data-testid': 'incident-row', tabindex: '0', dataset: { incidentId: inc.id } },
    el('div', { class: 'row-top' },
      el('span', { class: 'sev-badge' }), el('span', { class: 'state-badge', 'data-testid': 'incident-state' }),
      el('span', { class: 'stuck-badge' }, 'STUCK'), el('span', { class: 'team-badge', 'data-testid': 'team-fill' }), el('span', { class: 'age muted' })),
    el('div', { class: 'desc' }));
  row.addEventListener('click', () => openIncident(inc.id));
  row.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openIncident(inc.id, { focus: true }); }
    else if (e.key === 'ArrowDown') { e.preventDefault(); row.nextElementSibling?.focus(); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); row.previousElementSibling?.focus(); }
  });
  return row;
}

function updateRow(row, inc, now) {
  const stuck = isStuck(inc, now);
  const age = fmtAge(now - inc.createdAt);
  row.className = `incident-row sev-${inc.severity} state-${inc.state}${stuck ? ' stuck' : ''}${inc.id === state.selectedId ? ' selected' : ''}`;
  row.dataset.state = inc.state;
  row.dataset.severity = inc.severity;
  if (inc.id === state.selectedId) row.setAttribute('aria-current', 'true'); else row.removeAttribute('aria-current');
  const [sev, st, , teamEl, ageEl] = row.firstElementChild.children;
  const fill = fillText(inc);
  sev.className = `sev-badge sev-${inc.severity}`;
  text(sev, inc.severity);
  st.className = `state-badge state-${inc.state}`;
  st.title = labelOf('incidentStates', inc.state);
  text(st, inc.state);
  text(ageEl, age);
  // Team incidents show their slots filled, e.g. "2/5".
  text(teamEl, fill ? `team ${fill}` : '');
  teamEl.hidden = !fill;
  teamEl.title = fill ? `${fill} slots filled` : '';
  text(row.lastElementChild, titleOf(inc));
  row.setAttribute('aria-label', `${titleOf(inc)}: ${inc.severity} ${inc.kind}, ${inc.state}${fill ? `, team ${fill} slots filled` : ''}, ${age} old${stuck ? ', stuck' : ''}. Press Enter for details.`);
}

function renderList(now) {
  const items = [...state.incidents.values()].filter(matches).sort((a, b) =>
    sevRank(a.severity) - sevRank(b.severity) || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  reconcile(ui.list, items, (i) => i.id, createRow, (row, inc) => updateRow(row, inc, now));
  text(ui.listCount, items.length === state.incidents.size ? `(${items.length})` : `(${items.length} of ${state.incidents.size})`);
  ui.listEmpty.hidden = items.length > 0;
  text(ui.listEmpty, state.incidents.size ? 'No open incident matches the filters.' : 'No open incidents.');
}

function renderAll() {
  const now = Date.now();
  renderCounters(now);
  renderList(now);
  map.sync([...state.heroes.values()], [...state.incidents.values()], now);
  detail.renderNearby();
  detail.updateActions();
}

// ---- start ---------------------------------------------------------------------------

const session = signIn({
  form: $('[data-testid=signin]'), storageKey: TOKEN_KEY, say, start: boot,
  forbidden: 'That sign-in may not use the dispatcher console. Use a dispatcher token.',
  signedOut: () => {
    ui.console.hidden = true;
    ui.banner.hidden = true;
    ui.queues.hidden = true;
    text(ui.who, '');
    // Forget the queue view's cookie too; a failure leaves it to expire with the token.
    fetch('/v1/admin/session', { method: 'DELETE' }).catch(() => {});
  },
});

let mapStarted = false;
function boot(token) {
  state.token = token;
  const { sub, role } = claimsOf(token);
  text(ui.who, sub ? `Signed in as ${sub}${role ? ` (${role})` : ''}` : '');
  ui.console.hidden = false;
  // A page opened by a link carries no bearer header: the queue view (/admin/queues)
  // reads a cookie this sets, for /admin only, HttpOnly, expiring with the token.
  api(token, 'POST', '/v1/admin/session').then((res) => { ui.queues.hidden = !res.ok; });
  if (!mapStarted) {
    mapStarted = true;
    map.init().then((ok) => { if (!ok) say('The map could not be drawn; the lists still update.', 'error'); map.invalidate(); renderAll(); });
  }
  if (socket) { socket.removeAllListeners(); socket.disconnect(); }
  ui.banner.hidden = false;
  ui.banner.dataset.state = 'offline';
  text(ui.banner, 'Connecting…');
  socket = connectSocket('dispatch', token, ui.banner);
  socket.on('connect', guard(() => { awaitingSnapshot = true; sinceConnect = new Map(); pendingBatches = []; }));
  socket.on('snapshot', guard(onSnapshot));
  socket.on('incident', guard((inc) => {
    if (!validIncident(inc)) return;
    if (awaitingSnapshot) {
      const prior = sinceConnect.get(inc.id);
      if (!prior || prior.version < inc.version) sinceConnect.set(inc.id, inc);
    }
    applyIncident(inc);
  }));
  socket.on('heroes', guard((batch) => {
    if (!Array.isArray(batch)) return;
    if (awaitingSnapshot) pendingBatches.push(batch);
    mergeHeroes(batch);
    scheduleRender();
  }));
  socket.on('alert', guard(onAlert));
  // A server that closes our socket on purpose (draining) is not retried by socket.io itself.
  const mine = socket;
  socket.on('disconnect', (reason) => {
    if (reason === 'io server disconnect') setTimeout(() => { if (socket === mine && !mine.connected) mine.connect(); }, 1000);
  });
  session.watch(socket);
}

for (const f of [ui.fState, ui.fSeverity]) f.addEventListener('change', () => renderList(Date.now()));
ui.fText.addEventListener('input', () => renderList(Date.now()));
setInterval(guard(() => { if (state.token) { renderAll(); detail.tick(); } }), 1000);

// Takes `#token=` out of the address bar, as on the other pages.
session.begin();
