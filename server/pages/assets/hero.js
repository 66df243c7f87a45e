// The hero app: duty, position pings, offers with a live countdown, the active assignment.
// Everything is re-rendered from `session`, which the server sends on every (re)connect.
import {
  signIn, messageArea, forgetToken, claimsOf, api, problemText, connectSocket, ask, createMap, refusalText, labelOf,
  fmtKm, fmtAge, haversineKm, text, el,
} from '/assets/common.js';
import { VOCABULARY } from '/assets/vocabulary.js';
import { TEAM_STATE_TEXT, acceptedView, isTeam, offerRole, ownProgress, teamBlock } from '/assets/hero-team.js';

const KEY = 'hero-token';
const DEFAULT_CENTER = { lat: 40.7128, lng: -74.006 };
const STEPS = [['en_route', 'On my way'], ['on_scene', 'On scene'], ['resolved', 'Resolved']];
const ORDER = VOCABULARY.memberProgress;
/** A team's other members are not pushed to the hero app: it reads the incident this often. */
const TEAM_REFRESH_MS = 4000;
const WITHDRAWN = {
  taken: 'Another hero already took this one.', cancelled: 'The incident was cancelled, so the offer is gone.',
  expired: 'The offer expired before it was answered.', withdrawn: 'The offer was withdrawn.',
};
const RELEASED = {
  reassigned: 'A dispatcher reassigned the incident. You are released from it.',
  cancelled: 'The incident was cancelled. You are released from it.',
  hero_unreachable: 'We lost contact with you, so you were released from the incident.',
};
const q = (id) => document.querySelector(`[data-testid="${id}"]`);
const byId = (id) => document.getElementById(id);
const ui = {
  banner: q('connection'), message: q('message'), dutyState: q('duty-state'), dutyToggle: q('duty-toggle'),
  map: q('map'), position: q('position'), posSource: byId('position-source'), offers: byId('offers'),
  assignment: byId('assignment-slot'), app: byId('app'), who: byId('who'),
  heroName: byId('hero-name'), heroId: byId('hero-id'), signout: byId('signout'), centre: byId('use-centre'),
};
const st = {
  token: null, socket: null, ready: false, onDuty: null, offers: new Map(), assignment: null, pos: null, posSource: '', posExtra: {},
  busy: new Set(), map: null, me: null, layers: null, sessions: 0, focusNext: null, heroId: '',
};

// A hero glances at the phone between tasks: every message clears itself.
const say = messageArea(ui.message, { info: 15_000, error: 15_000 });
const failText = (res) => (res.timeout ? 'No answer from the service. Check your connection and try again.' : refusalText(res.reason));
const fmtPos = (p) => `${p.lat.toFixed(5)}, ${p.lng.toFixed(5)}`;
/** "high fire": an incident's severity and kind, in the middle of a sentence. */
const what = (inc) => `${labelOf('severities', inc.severity)} ${labelOf('incidentKinds', inc.kind)}`.toLowerCase();

// ---- sign-in and start ----
const session = signIn({
  form: q('signin'), storageKey: KEY, say, start,
  forbidden: 'This sign-in may not use the hero app. Use the token of a registered hero.',
  signedOut: () => { ui.app.hidden = ui.signout.hidden = ui.who.hidden = true; },
});

function start(token) {
  if (st.socket) { location.replace(location.pathname); return; } // after a refused token: a clean start
  st.token = token;
  const { sub } = claimsOf(token);
  st.heroId = sub;
  ui.app.hidden = ui.signout.hidden = ui.who.hidden = false;
  text(ui.heroId, sub ? `id ${sub}` : '');
  text(ui.banner, 'Connecting…');
  ui.banner.dataset.state = 'connecting';
  ui.banner.hidden = false;
  render();
  connect(token);
  setupMap().catch(() => say('The map could not be loaded. Your device position still works.', 'error'));
  loadHero(token, sub).catch(() => say('Could not load your profile.', 'error'));
  watchDevice();
  setInterval(tick, 500);
  setInterval(ping, 10_000);
  setInterval(refreshTeam, TEAM_REFRESH_MS);
}

async function loadHero(token, sub) {
  const res = await api(token, 'GET', `/v1/heroes/${encodeURIComponent(sub)}`);
  if (!res.ok) return say(res.status === 404 ? 'You are not registered as a hero. Ask a dispatcher to register you.' : `Could not load your profile: ${problemText(res)}`, 'error');
  text(ui.heroName, res.body?.name ?? '');
  if (!st.pos && res.body?.location) setPosition(res.body.location, 'last known');
}

// ---- the socket ----
function connect(token) {
  const s = connectSocket('hero', token, ui.banner);
  st.socket = s;
  s.on('connect', () => { st.ready = false; render(); }); // actions wait for the `session` that follows
  s.on('disconnect', (reason) => {
    st.ready = false;
    render(); // closed by the server (e.g. draining for a restart): socket.io does not retry by itself
    if (reason === 'io server disconnect') setTimeout(() => { if (!s.connected) s.connect(); }, 1000);
  });
  session.watch(s);
  s.on('session', onSession);
  s.on('offer', (offer, ack) => {
    try { if (typeof ack === 'function') ack({ ok: true }); } catch { /* the server stops waking us either way */ }
    if (!offer?.offerId || !offer.incident) return;
    st.offers.set(offer.offerId, offer);
    say(`New offer: ${what(offer.incident)}, ${fmtKm(Number(offer.distanceKm) || 0)} away.`, 'info');
    render();
  });
  s.on('offer:withdrawn', (w) => {
    if (!w || !st.offers.delete(w.offerId)) return;
    say(WITHDRAWN[w.reason] ?? refusalText(w.reason), w.reason === 'taken' || w.reason === 'expired' ? 'error' : 'info');
    render();
  });
  s.on('assignment:released', (r) => {
    if (!st.assignment || st.assignment.incidentId !== r?.incidentId) return;
    st.assignment = null;
    say(RELEASED[r.reason] ?? refusalText('released'), r.reason === 'hero_unreachable' ? 'error' : 'info');
    render();
  });
}

function onSession(s) {
  if (!s || typeof s !== 'object') return;
  const prev = st.assignment;
  st.onDuty = Boolean(s.onDuty);
  st.offers = new Map((Array.isArray(s.offers) ? s.offers : []).filter((o) => o?.offerId && o.incident).map((o) => [o.offerId, o]));
  st.assignment = s.assignment?.incident ? held(s.assignment.incidentId, s.assignment.incident,
    prev?.incidentId === s.assignment.incidentId ? prev.progress : undefined) : null;
  // A dispatcher's manual assignment arrives as a fresh session.
  if (st.sessions++ > 0 && st.assignment && st.assignment.incidentId !== prev?.incidentId) say('You have been assigned to an incident.', 'info');
  st.ready = true;
  st.busy.clear();
  render();
  ping();
}

// ---- actions ----
async function run(key, event, payload) {
  st.busy.add(key);
  render();
  const res = (await ask(st.socket, event, payload)) ?? {};
  st.busy.delete(key);
  return res;
}

async function toggleDuty() {
  if (!st.ready || st.onDuty === null || st.busy.has('duty')) return;
  const want = !st.onDuty;
  const res = await run('duty', 'duty', { onDuty: want });
  if (res.ok) {
    st.onDuty = want;
    if (!want) st.offers.clear(); // the server withdraws them
    say(!want ? 'You are off duty.' : st.pos ? 'You are on duty. Offers will appear here.' : 'You are on duty. Set your position (tap the map) so offers can reach you.', 'info');
    st.focusNext = 'duty-toggle';
    ping();
  } else say(failText(res), 'error');
  render();
}

async function answerOffer(offerId, accept) {
  const offer = st.offers.get(offerId);
  if (!offer || !st.ready || st.busy.has(offerId)) return;
  const res = await run(offerId, accept ? 'offer:accept' : 'offer:decline', { offerId });
  if (res.ok) {
    st.offers.delete(offerId);
    if (accept) {
      const incidentId = res.incidentId ?? offer.incident.id;
      st.assignment = held(incidentId, acceptedView(offer, st.heroId), 'assigned');
      say(isTeam(offer.incident) ? 'Accepted. You are on the team: tell us when you are on your way.' : 'Accepted. The incident is yours: tell us when you are on your way.', 'info');
      st.focusNext = 'progress-en_route';
      refreshIncident(incidentId);
    } else say('Offer declined.', 'info');
  } else {
    // A refusal is final; a fault or a missing answer leaves the offer to try again.
    if (!(res.timeout || res.reason === 'internal' || res.reason === 'rate_limited')) st.offers.delete(offerId);
    say(failText(res), 'error');
  }
  render();
}

async function progress(state) {
  const a = st.assignment;
  if (!a || !st.ready || st.busy.has('progress')) return;
  const res = await run('progress', 'incident:progress', { incidentId: a.incidentId, state });
  if (st.assignment?.incidentId !== a.incidentId) { render(); return; }
  if (res.ok) {
    // In a team the ack's state is the incident's; the hero's own progress is what they asked.
    const team = isTeam(st.assignment.incident);
    const now = team ? state : res.state ?? state;
    st.assignment = { ...st.assignment, progress: now, incident: team ? st.assignment.incident : { ...st.assignment.incident, state: now } };
    if (team) refreshIncident(a.incidentId);
    if (now === 'resolved') {
      say(team ? 'Resolved your part. Thank you! You are available for new offers.' : 'Resolved. Thank you! You are available for new offers.', 'info');
      setTimeout(() => {
        if (st.assignment?.incidentId === a.incidentId && st.assignment.progress === 'resolved') { st.assignment = null; render(); }
      }, 4000);
    } else {
      say(`Status: ${labelOf('incidentStates', now)}.`, 'info');
      st.focusNext = now === 'en_route' ? 'progress-on_scene' : 'progress-resolved';
    }
  } else {
    say(failText(res), 'error');
    if (res.reason === 'released' || res.reason === 'not_found') st.assignment = null;
    else if (res.reason === 'invalid_transition') refreshIncident(a.incidentId);
  }
  render();
}

/** The assignment as the app keeps it: the incident and the hero's own progress on it. */
function held(incidentId, incident, known) {
  return { incidentId, incident, progress: ownProgress(incident, st.heroId, known) };
}

async function refreshIncident(id) {
  const res = await api(st.token, 'GET', `/v1/incidents/${encodeURIComponent(id)}`);
  const a = st.assignment;
  if (!res.ok || a?.incidentId !== id || !res.body?.state) return;
  // Never step back to an older view (a team's state may be `dispatching` while we move).
  const [got, have] = [Number(res.body.version), Number(a.incident.version)];
  const newer = Number.isFinite(got) && Number.isFinite(have) ? got >= have : ORDER.indexOf(res.body.state) >= ORDER.indexOf(a.incident.state);
  if (newer) { st.assignment = held(id, res.body, a.progress); render(); }
}

/** A team assignment: the other members and the open slots change without a push. */
function refreshTeam() {
  const a = st.assignment;
  if (a && st.ready && a.progress !== 'resolved' && isTeam(a.incident)) refreshIncident(a.incidentId).catch(() => { /* next time */ });
}

// ---- position ----
function setPosition(p, source, extra = {}) {
  const [lat, lng] = [Number(p?.lat), Number(p?.lng)];
  if (!Number.isFinite(lat) || !Number.isFinite(lng) || Math.abs(lat) > 90 || Math.abs(lng) > 180) return;
  const first = !st.pos;
  Object.assign(st, { pos: { lat, lng }, posSource: source, posExtra: extra });
  renderPosition();
  if (first && source !== 'map' && st.map) st.map.setView([lat, lng], st.map.getZoom());
  ping();
}

function watchDevice() {
  if (!navigator.geolocation) return;
  try {
    navigator.geolocation.watchPosition((p) => {
      const acc = p.coords.accuracy;
      setPosition({ lat: p.coords.latitude, lng: p.coords.longitude }, 'device', acc >= 0 && acc <= 100_000 ? { accuracy: acc } : {});
    }, (err) => {
      if (st.pos || err.code === 3) return;
      say(err.code === 1 ? 'Location sharing is off. Tap the map to set your position.' : 'Your device could not find your position. Tap the map to set it.', 'info');
    }, { enableHighAccuracy: true, maximumAge: 5000, timeout: 30_000 });
  } catch { /* no geolocation: the map still sets the position */ }
}

let [lastPing, _pingTimer] = [0, 0];
/** Sends the position while on duty (or holding an assignment), at most once a second. */
function ping() {
  if (!st.ready || !st.pos || !st.socket?.connected || !(st.onDuty || st.assignment)) return;
  const wait = 1000 - (Date.now() - lastPing);
  if (wait > 0) { _pingTimer ||= setTimeout(() => { _pingTimer = 0; ping(); }, wait); return; }
  lastPing = Date.now();
  st.socket.emit('location', { lat: st.pos.lat, lng: st.pos.lng, at: lastPing, ...(st.posSource === 'device' ? st.posExtra : {}) });
}

async function setupMap() {
  if (!window.L) throw new Error('Leaflet missing');
  st.map = await createMap(ui.map, st.pos ?? DEFAULT_CENTER, 14);
  st.layers = window.L.layerGroup().addTo(st.map);
  st.map.on('click', (e) => setPosition({ lat: e.latlng.lat, lng: e.latlng.lng }, 'map'));
  ui.centre.disabled = false;
  ui.centre.addEventListener('click', () => setPosition(st.map.getCenter(), 'map'));
  renderPosition();
  renderMarkers();
}

// ---- rendering ----
const countdownText = (expiresAt) => (Number(expiresAt) > Date.now() ? `${fmtAge(Number(expiresAt) - Date.now())} left` : 'Expired');

const cardHead = (inc) => [
  el('div', { class: 'head' }, el('span', { class: 'kind' }, labelOf('incidentKinds', inc.kind)), el('span', { class: `sev sev-${inc.severity}` }, labelOf('severities', inc.severity))),
  el('p', { class: inc.description ? 'desc' : 'desc muted' }, inc.description || 'No description given.'),
];

function offerCard(o) {
  const inc = o.incident;
  const off = !st.ready || st.busy.has(o.offerId);
  // Accept stays enabled after the local countdown ends: the server decides (clocks differ).
  return el('article', { class: `card offer sev-border-${inc.severity}`, 'data-testid': 'offer', 'data-offer-id': o.offerId, 'data-incident-id': inc.id, 'aria-label': `Offer: ${what(inc)}` },
    ...cardHead(inc),
    offerRole(o),
    el('p', { class: 'facts' }, el('span', {}, `${fmtKm(Number(o.distanceKm) || 0)} away`),
      el('span', { class: 'countdown', 'data-testid': 'offer-countdown' }, countdownText(o.expiresAt))),
    el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'primary', 'data-testid': 'offer-accept', disabled: off, onclick: () => answerOffer(o.offerId, true) }, 'Accept'),
      el('button', { type: 'button', 'data-testid': 'offer-decline', disabled: off, onclick: () => answerOffer(o.offerId, false) }, 'Decline')));
}

const distanceText = (inc) => (st.pos && inc?.location ? `${fmtKm(haversineKm(st.pos, inc.location))} from you` : 'Distance unknown (set your position)');

function assignmentCard(a) {
  // The buttons follow the hero's own progress (in a team, the incident's state is the team's).
  const [inc, state, team] = [a.incident, a.progress, isTeam(a.incident)];
  const off = !st.ready || st.busy.has('progress');
  const next = { en_route: state === 'assigned', on_scene: state === 'assigned' || state === 'en_route', resolved: state === 'on_scene' };
  const primary = STEPS.find(([s]) => next[s])?.[0];
  return el('article', { class: 'card assignment', 'data-testid': 'assignment', 'data-incident-id': a.incidentId },
    ...cardHead(inc),
    el('p', { class: 'state-line' }, team ? 'You: ' : 'State: ', el('code', { 'data-testid': 'assignment-state' }, state ?? ''), ` — ${labelOf('incidentStates', state)}`),
    team ? el('p', { class: 'state-line muted' }, 'Incident: ', el('code', { 'data-testid': 'incident-state' }, inc.state ?? ''), ` — ${TEAM_STATE_TEXT[inc.state] ?? labelOf('incidentStates', inc.state)}`) : '',
    el('p', { class: 'facts' }, el('span', { id: 'assignment-distance' }, distanceText(inc)),
      inc.location ? el('span', { class: 'muted' }, `at ${fmtPos(inc.location)}`) : ''),
    el('div', { class: 'actions' }, ...STEPS.map(([s, name]) => el('button', {
      type: 'button', class: s === primary ? 'primary' : '', 'data-testid': `progress-${s}`, disabled: off || !next[s], onclick: () => progress(s),
    }, name))),
    teamBlock(inc, st.heroId, state));
}

function renderPosition() {
  text(ui.position, st.pos ? fmtPos(st.pos) : 'Not set');
  text(ui.posSource, st.pos ? `(${{ map: 'set on the map', device: 'from your device' }[st.posSource] ?? st.posSource})` : '');
  const d = byId('assignment-distance');
  if (d && st.assignment) text(d, distanceText(st.assignment.incident));
  if (!st.map || !st.pos) return;
  if (st.me) st.me.setLatLng([st.pos.lat, st.pos.lng]);
  else st.me = window.L.circleMarker([st.pos.lat, st.pos.lng], { radius: 9, color: '#fff', weight: 3, fillColor: '#0b63ce', fillOpacity: 1 }).bindTooltip('You').addTo(st.map);
}

function renderMarkers() {
  if (!st.layers) return;
  st.layers.clearLayers();
  const add = (inc, color, role) => (inc?.location
    ? window.L.circleMarker([inc.location.lat, inc.location.lng], { radius: 10, color, weight: 3, fillColor: color, fillOpacity: 0.35 })
      .bindTooltip(el('span', {}, `${role}: ${what(inc)}`)).addTo(st.layers)
    : null);
  const offerMarkers = [...st.offers.values()].map((o) => add(o.incident, '#b9770e', 'Offer'));
  const focus = (st.assignment ? add(st.assignment.incident, '#c0392b', 'Assignment') : null) ?? offerMarkers.find(Boolean);
  // Bring the incident into view only when it is off the map (a click never moves the map).
  if (focus && !st.map.getBounds().contains(focus.getLatLng())) {
    st.map.fitBounds(window.L.latLngBounds([focus.getLatLng(), ...(st.pos ? [[st.pos.lat, st.pos.lng]] : [])]), { padding: [40, 40], maxZoom: 15 });
  }
}

function render() {
  const [want, active] = [st.focusNext, document.activeElement];
  const [key, scope] = [active?.dataset?.testid, active?.closest?.('[data-offer-id]')?.dataset.offerId];
  st.focusNext = null;

  text(ui.dutyState, st.onDuty === null ? 'Connecting…' : st.onDuty ? 'On duty' : 'Off duty');
  ui.dutyState.dataset.on = st.onDuty === null ? 'unknown' : String(st.onDuty);
  text(ui.dutyToggle, st.onDuty ? 'Go off duty' : 'Go on duty');
  ui.dutyToggle.className = st.onDuty ? '' : 'primary';
  ui.dutyToggle.disabled = !st.ready || st.onDuty === null || st.busy.has('duty');

  const offers = [...st.offers.values()].sort((a, b) => Number(a.expiresAt) - Number(b.expiresAt));
  ui.offers.replaceChildren(...(offers.length ? offers.map(offerCard)
    : [el('p', { class: 'muted empty' }, st.onDuty ? 'No offers right now. Stay nearby.' : 'Go on duty to receive offers.')]));
  ui.assignment.replaceChildren(st.assignment ? assignmentCard(st.assignment) : el('p', { class: 'muted empty' }, 'No active assignment.'));
  renderPosition();
  renderMarkers();

  // Keyboard users keep their place: the rebuilt twin of the focused button, or the next step.
  const sel = want ? `[data-testid="${want}"]`
    : key && !document.contains(active) ? `${scope ? `[data-offer-id="${CSS.escape(scope)}"] ` : ''}[data-testid="${CSS.escape(key)}"]` : null;
  const target = sel && document.querySelector(sel);
  if (target && !target.disabled) target.focus();
}

function tick() {
  let dropped = false;
  for (const o of st.offers.values()) {
    const cd = ui.offers.querySelector(`[data-offer-id="${CSS.escape(o.offerId)}"] [data-testid="offer-countdown"]`);
    text(cd, countdownText(o.expiresAt));
    // The server withdraws an expired offer; should that never arrive, drop it anyway.
    if (Number(o.expiresAt) < Date.now() - 10_000) { st.offers.delete(o.offerId); dropped = true; }
  }
  if (dropped) { say(WITHDRAWN.expired, 'error'); render(); }
}

// ---- boot ----
ui.dutyToggle.addEventListener('click', () => { toggleDuty().catch(() => say('Could not change your duty status.', 'error')); });
ui.signout.addEventListener('click', () => { forgetToken(KEY); st.socket?.disconnect(); location.replace(location.pathname); });
window.addEventListener('unhandledrejection', (e) => { e.preventDefault(); say('Something went wrong. Try again.', 'error'); });
try {
  session.begin();
} catch {
  say('The app could not start. Reload the page.', 'error');
}
