// The civilian page: report an emergency, then follow it live until it is over.
// Wire data only ever reaches the page through textContent (text/el), never innerHTML.
import {
  signIn, messageArea, claimsOf, api, problemText, connectSocket, ask, createMap, labelOf, isFinal, fmtKm, text, el,
} from '/assets/common.js';
import { VOCABULARY } from '/assets/vocabulary.js';

const KEYS = { token: 'civilian.token', pending: 'civilian.pending', follow: 'civilian.follow' };
const DEFAULT_CENTER = { lat: 40.7128, lng: -74.006 };
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const ui = {
  banner: $('connection'), message: $('message'), retry: $('retry'), form: $('report-form'), submit: $('submit'),
  useLoc: $('use-location'), mapEl: $('map'), loc: $('location'), slot: document.getElementById('incident-slot'),
  kind: document.getElementById('kind'), severity: document.getElementById('severity'), desc: document.getElementById('description'),
};
let token = null, socket = null, map = null, mapStarting = false, marker = null, spot = null, sending = false, retryTimer = 0;
let followed = null; // { id, state, heroes, at, kind, severity, card, announced }

const load = (k) => { try { return JSON.parse(sessionStorage.getItem(k) ?? 'null'); } catch { return null; } };
const save = (k, v) => { try { if (v == null) sessionStorage.removeItem(k); else sessionStorage.setItem(k, JSON.stringify(v)); } catch { /* private mode */ } };

// Messages stay until the next one: a civilian may read slowly, under stress.
const say = messageArea(ui.message);

// The report's choices, in the vocabulary's words; how serious is preset to high.
const SEVERITY_HINT = { critical: 'life in danger' };
ui.kind.replaceChildren(...VOCABULARY.incidentKinds.map((k) => el('option', { value: k }, labelOf('incidentKinds', k))));
ui.severity.replaceChildren(...VOCABULARY.severities.map((s) => el('option', { value: s, selected: s === 'high' },
  SEVERITY_HINT[s] ? `${labelOf('severities', s)}: ${SEVERITY_HINT[s]}` : labelOf('severities', s))));

// ---- identity -------------------------------------------------------------
const session = signIn({
  form: $('signin'), storageKey: KEYS.token, say, start,
  forbidden: 'This sign-in may not use this page. Use a civilian sign-in.',
  signedOut: () => {
    ui.form.hidden = true;
    if (socket) { socket.removeAllListeners(); socket.disconnect(); socket = null; }
    token = null;
    dropFollowed();
  },
});

function start(t) {
  token = t;
  const { role } = claimsOf(token);
  if (role !== 'civilian') return session.signOut(role ? `This sign-in is for a ${role}; this page needs a civilian sign-in.` : 'That token is not valid. Paste the whole token.');
  ui.form.hidden = false;
  restorePending();
  startMap();
  const f = load(KEYS.follow);
  if (f && typeof f.id === 'string' && !followed) follow({ id: f.id, state: f.state ?? 'reported', updatedAt: 0 });
  text(ui.banner, 'Connecting…'); ui.banner.dataset.state = 'offline'; ui.banner.hidden = false;
  socket = connectSocket('civilian', token, ui.banner);
  socket.on('connect', () => { if (followed) void watch(followed.id); });
  socket.on('incident:status', onStatus);
  session.watch(socket);
}

// ---- location & map ---------------------------------------------------------
async function startMap() {
  if (map || mapStarting) return;
  mapStarting = true;
  try {
    if (!window.L) throw new Error('Leaflet missing');
    map = await createMap(ui.mapEl, spot ?? DEFAULT_CENTER, 13);
    map.on('click', (e) => setSpot(e.latlng.wrap()));
    ui.mapEl.addEventListener('keydown', (e) => {
      if ((e.key === 'Enter' || e.key === ' ') && e.target === ui.mapEl) { e.preventDefault(); setSpot(map.getCenter().wrap()); }
    });
    if (spot) setSpot(spot, true);
    else centreOnUserIfAllowed();
  } catch {
    say('The map could not be shown. Use “Use my location” instead.', 'error');
  } finally { mapStarting = false; }
}

// Centre the map on the user only when they already allowed it (never prompt unasked).
async function centreOnUserIfAllowed() {
  try {
    const p = await navigator.permissions?.query({ name: 'geolocation' });
    if (p?.state !== 'granted') return;
    navigator.geolocation.getCurrentPosition((pos) => { if (!spot && map) map.setView([pos.coords.latitude, pos.coords.longitude], 15); }, () => {}, { timeout: 10000, maximumAge: 60000 });
  } catch { /* no permissions API */ }
}

/** Sets (or with null clears) the report's location and its marker. */
function setSpot(latlng, pan = false) {
  spot = latlng && { lat: Math.round(latlng.lat * 1e6) / 1e6, lng: Math.round(latlng.lng * 1e6) / 1e6 };
  text(ui.loc, spot ? `${spot.lat.toFixed(5)}, ${spot.lng.toFixed(5)}` : '');
  document.getElementById('no-location').hidden = Boolean(spot);
  if (!spot && marker) { marker.remove(); marker = null; }
  if (spot && map) {
    if (marker) marker.setLatLng([spot.lat, spot.lng]);
    else marker = window.L.circleMarker([spot.lat, spot.lng], { radius: 10, color: '#c0392b', weight: 3, fillColor: '#e74c3c', fillOpacity: 0.6 }).addTo(map);
    if (pan) map.setView([spot.lat, spot.lng], Math.max(map.getZoom(), 15));
  }
  updateSubmit();
}

function useMyLocation() {
  if (!navigator.geolocation) { say('This browser cannot share your location. Tap the map to mark the place.', 'error'); return; }
  ui.useLoc.disabled = true;
  say('Finding your location…', 'info');
  navigator.geolocation.getCurrentPosition((pos) => {
    ui.useLoc.disabled = false;
    setSpot({ lat: pos.coords.latitude, lng: pos.coords.longitude }, true);
    say('Location set from your device. Tap the map to correct it if needed.', 'info');
  }, (err) => {
    ui.useLoc.disabled = false;
    say(err?.code === 1 ? 'Location access was refused. Tap the map to mark the place instead.' : 'Your location could not be found. Tap the map to mark the place instead.', 'error');
  }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
}

function updateSubmit() {
  ui.submit.disabled = !spot || sending;
  text(ui.submit, sending ? 'Sending…' : 'Send report');
  document.getElementById('submit-hint').hidden = Boolean(spot);
}

// ---- reporting (one Idempotency-Key per report, kept until it succeeds) ----------
function restorePending() {
  const p = load(KEYS.pending);
  if (!p?.key || !p.body) return;
  ui.kind.value = p.body.kind; ui.severity.value = p.body.severity; ui.desc.value = p.body.description ?? '';
  ui.desc.dispatchEvent(new Event('input'));
  if (p.body.location) setSpot(p.body.location);
  say('Your last report was not confirmed yet. Press Retry to send it again.', 'error');
  ui.retry.hidden = false;
}

async function postReport({ key, body }) {
  try {
    const res = await fetch('/v1/incidents', {
      method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
    });
    const parsed = await res.json().catch(() => undefined);
    return { ok: res.ok, status: res.status, body: parsed, retryAfter: Number(res.headers.get('retry-after')) || 0 };
  } catch {
    return { ok: false, status: 0, body: { detail: 'The network is unreachable. Check your connection.' } };
  }
}

async function send(pending) {
  if (sending || !token) return;
  sending = true; updateSubmit();
  clearTimeout(retryTimer); ui.retry.hidden = true;
  say('Sending your report…', 'info');
  const res = await postReport(pending);
  sending = false; updateSubmit();
  if (res.ok && res.body?.id) {
    save(KEYS.pending, null);
    ui.desc.value = ''; ui.desc.dispatchEvent(new Event('input')); setSpot(null);
    follow(res.body, true);
    say('Report received. Help is being arranged; follow it below.', 'info');
    followed?.card.focus();
  } else if (res.status === 429) {
    const wait = res.retryAfter;
    say(`Too many requests. ${wait ? `Please wait ${wait} second${wait === 1 ? '' : 's'}, then press Retry.` : 'Wait a moment, then press Retry.'} Your report is kept.`, 'error');
    ui.retry.hidden = false; ui.retry.disabled = wait > 0;
    if (wait) retryTimer = setTimeout(() => { ui.retry.disabled = false; }, wait * 1000);
  } else if (res.status === 0 || res.status >= 500) {
    say(`${problemText(res)} Your report is kept on this device; press Retry to send it again.`, 'error');
    ui.retry.hidden = false; ui.retry.disabled = false;
  } else if (res.status === 401) {
    session.signOut('Your sign-in has expired. Sign in again; your report is kept and can be retried.');
  } else {
    save(KEYS.pending, null); // refused as it is: a retry of the same body would be refused again
    const fields = Array.isArray(res.body?.errors) ? res.body.errors.map((e) => `${e.path}: ${e.message}`).join('; ') : '';
    say(`The report was not accepted: ${problemText(res)}${fields ? ` (${fields})` : ''}`, 'error');
  }
}

ui.form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (!spot || sending) return;
  const description = ui.desc.value.trim();
  const body = { kind: ui.kind.value, severity: ui.severity.value, location: { ...spot }, ...(description ? { description } : {}) };
  let pending = load(KEYS.pending);
  if (!pending?.key || JSON.stringify(pending.body) !== JSON.stringify(body)) {
    pending = { key: crypto.randomUUID(), body };
    save(KEYS.pending, pending);
  }
  void send(pending);
});
ui.retry.addEventListener('click', () => { const p = load(KEYS.pending); if (p?.key && p.body) void send(p); else ui.retry.hidden = true; });
ui.useLoc.addEventListener('click', useMyLocation);
ui.desc.addEventListener('input', () => text(document.getElementById('desc-count'), `${ui.desc.value.length} / 2000`));

// ---- following the incident ------------------------------------------------------
function follow(incident, fresh = false) {
  if (!followed || followed.id !== incident.id) {
    dropFollowed();
    followed = { id: incident.id, state: incident.state, heroes: [], at: 0, announced: !fresh && isFinal(incident.state), card: buildCard(incident.id) };
    save(KEYS.follow, { id: incident.id });
  }
  applyIncident(incident);
  if (socket?.connected) void watch(incident.id);
}

function dropFollowed() {
  followed?.card.remove(); followed = null;
  text(document.getElementById('form-title'), 'What is happening?');
}

async function watch(id) {
  const ack = await ask(socket, 'incident:watch', { incidentId: id });
  if (followed?.id !== id) return;
  if (ack?.ok && ack.incident) applyIncident(ack.incident);
  else if (ack?.reason === 'not_found') { save(KEYS.follow, null); dropFollowed(); }
}

function applyIncident(inc) {
  if (!followed || inc.id !== followed.id) return;
  if (typeof inc.kind === 'string') { followed.kind = inc.kind; followed.severity = inc.severity; }
  const at = Number(inc.updatedAt) || 0;
  if (at >= followed.at && typeof inc.state === 'string') {
    const active = new Set((inc.assignments ?? []).filter((a) => a.state !== 'released').map((a) => a.heroId));
    followed.heroes = followed.heroes.filter((h) => active.has(h.id));
    followed.state = inc.state; followed.at = at;
  }
  render();
}

function onStatus(s) {
  if (!s || typeof s.incidentId !== 'string' || typeof s.state !== 'string') return;
  if (!followed) follow({ id: s.incidentId, state: s.state, updatedAt: 0 });
  if (s.incidentId !== followed.id || (Number(s.at) || 0) < followed.at) return;
  followed.state = s.state;
  followed.at = Number(s.at) || followed.at;
  followed.heroes = Array.isArray(s.heroes) ? s.heroes.filter((h) => h && typeof h.id === 'string') : [];
  render();
}

function buildCard(id) {
  const q = (name, tag = 'span', attrs = {}) => el(tag, { 'data-testid': name, ...attrs });
  const card = el('section', { 'data-testid': 'incident', 'data-incident-id': id, class: 'card civ-incident', tabindex: '-1', 'aria-labelledby': 'incident-title' },
    el('h2', { id: 'incident-title' }, 'Your report'),
    el('p', { class: 'muted civ-meta' }),
    el('p', { class: 'civ-state', 'aria-live': 'polite' }, q('incident-state-text', 'strong'), ' ', q('incident-state', 'code', { class: 'civ-raw' })),
    el('p', { class: 'civ-step' }),
    el('p', { class: 'civ-hero', hidden: true }, el('span', { class: 'civ-hero-label' }, 'Hero: '), q('hero-name', 'strong'), ' ', q('hero-distance', 'span', { class: 'muted' })),
    q('heroes', 'ul', { class: 'civ-team', 'aria-label': 'Heroes on the way', hidden: true }),
    el('p', { class: 'civ-final', 'data-testid': 'incident-final', role: 'status', hidden: true }),
    el('div', { class: 'civ-actions' },
      el('button', { type: 'button', class: 'danger', 'data-testid': 'cancel', onclick: cancel }, 'Cancel this report'),
      el('button', { type: 'button', class: 'primary', 'data-testid': 'new-report', hidden: true, onclick: newReport }, 'Make a new report')));
  ui.slot.append(card);
  text(document.getElementById('form-title'), 'Report another emergency');
  return card;
}

function render() {
  if (!followed) return;
  const { card, state, heroes } = followed;
  const part = (sel) => card.querySelector(sel);
  const final = isFinal(state);
  const names = heroes.map((h) => String(h.name ?? h.id)).join(', ');
  const who = joinNames(heroes.map((h) => String(h.name ?? h.id)));
  const hasKm = (h) => typeof h.distanceKm === 'number' && Number.isFinite(h.distanceKm);
  const team = heroes.length > 1;
  text(part('.civ-meta'), followed.kind ? `${labelOf('incidentKinds', followed.kind)} · ${followed.severity} severity · #${followed.id}` : `#${followed.id}`);
  text(part('[data-testid=incident-state-text]'), (team && TEAM_TEXT[state]) || labelOf('incidentStates', state));
  text(part('[data-testid=incident-state]'), state);
  card.dataset.state = state;
  save(KEYS.follow, { id: followed.id, state });
  text(part('.civ-hero-label'), team ? `Heroes (${heroes.length}): ` : 'Hero: ');
  text(part('[data-testid=hero-name]'), names);
  text(part('[data-testid=hero-distance]'), !team && hasKm(heroes[0] ?? {}) ? `${fmtKm(heroes[0].distanceKm)} away` : '');
  part('.civ-hero').hidden = !names;
  // A team: every member on the way, each with their distance when known.
  const list = part('[data-testid=heroes]');
  list.replaceChildren(...(team ? heroes.map((h) => el('li', { 'data-testid': 'hero', 'data-hero-id': h.id },
    el('strong', {}, String(h.name ?? h.id)), hasKm(h) ? el('span', { class: 'muted' }, ` · ${fmtKm(h.distanceKm)} away`) : '')) : []));
  list.hidden = !team;
  text(part('.civ-step'), STEPS[state]?.(who || 'The hero', heroes.length) ?? '');
  const finalText = !final ? '' : state === 'resolved' ? `Resolved: the ${team ? 'heroes have' : 'hero has'} finished at the scene. Stay safe.` : 'This report was cancelled. No hero is coming for it.';
  text(part('[data-testid=incident-final]'), finalText);
  part('[data-testid=incident-final]').hidden = !final;
  part('[data-testid=new-report]').hidden = !final;
  if (final) part('[data-testid=cancel]')?.remove();
  if (final && !followed.announced) { followed.announced = true; say(`Your report is closed (${state}). You can make a new report below.`, 'info'); }
}

const TEAM_TEXT = { dispatching: 'Heroes on the way, more being found', assigned: 'Heroes assigned', en_route: 'Heroes on the way', on_scene: 'Heroes on scene' };
const joinNames = (xs) => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`);
// `n` heroes named `who`; while a team is still being completed some may already be coming.
const STEPS = {
  reported: () => 'Your report is in. We are about to contact nearby heroes.',
  dispatching: (who, n) => (n > 0 ? `${who} ${n > 1 ? 'are' : 'is'} on the way; we are still finding the rest of the team.` : 'We are contacting the nearest available heroes.'),
  escalated: (who, n) => (n > 0 ? `${who} ${n > 1 ? 'are' : 'is'} on the way. A dispatcher is finding the rest of the team and we keep trying.` : 'No hero has accepted yet. A dispatcher is handling your report and we keep trying.'),
  assigned: (who, n) => `${who} accepted and ${n > 1 ? 'are' : 'is'} getting ready.`,
  en_route: (who, n) => `${who} ${n > 1 ? 'are' : 'is'} on the way to you.`,
  on_scene: (who, n) => `${who} ${n > 1 ? 'have' : 'has'} arrived at the scene.`,
};

async function cancel(ev) {
  const btn = ev.currentTarget;
  if (!followed || !token) return;
  const id = followed.id;
  btn.disabled = true; text(btn, 'Cancelling…');
  const res = await api(token, 'POST', `/v1/incidents/${encodeURIComponent(id)}/cancel`, { reason: 'Cancelled by the reporter' });
  if (btn.isConnected) { btn.disabled = false; text(btn, 'Cancel this report'); }
  if (followed?.id !== id) return;
  if (res.ok && res.body?.id) { applyIncident(res.body); return; }
  if (res.status === 401) { session.signOut(problemText(res)); return; }
  say(`Could not cancel: ${problemText(res)}`, 'error');
  if (socket?.connected) void watch(id);
}

function newReport() { save(KEYS.follow, null); dropFollowed(); say(''); ui.kind.focus(); }

try { session.begin(); } catch (err) { say(`The page could not start: ${err?.message ?? err}`, 'error'); }
