// Replays one incident on the console's map: a time slider over its timeline
// (GET /v1/incidents/:id/timeline) moves each hero along their breadcrumbs, lists the
// offers out at that moment and shows the incident's state then. That state is the
// `state` the server gave each event by replaying the trail through the incident machine
// (machines/incident.logic.ts); this page only finds the last event at or before the
// slider's time and never steps a state machine of its own. The slider is a native range
// input: arrows, Page Up/Down, Home and End move it.
import { api, problemText, el, text, labelOf, fmtKm, isFinal } from '/assets/common.js';
import { HERO_COLORS } from '/assets/dispatcher-map.js';

/** How long a whole replay plays at "fit" speed. */
const FIT_PLAY_MS = 30_000;
const FRAME_MS = 100;
const SPEEDS = [1, 10, 60, 600];
const PAST_COLOR = '#5d6d7e';
const ROLE_WORDS = { assigned: 'holds a slot', offered: 'has an offer', none: 'not on it' };

const clock = (ms) => (Number.isFinite(ms) ? new Date(ms).toLocaleTimeString([], { hour12: false }) : '—');
const secs = (ms) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
const count = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

// ---- looking things up by time (pure) ---------------------------------------------------

/** Index of the last item whose `at` is ≤ t in a list sorted by `at`, or -1. */
export function lastAtOrBefore(items, t) {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].at <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

/** The event in force at t (the last one at or before it), or null before the first. */
export const eventAt = (events, t) => {
  const i = lastAtOrBefore(events, t);
  return i < 0 ? null : events[i];
};

/** When an offer stopped being out: its decision, else its expiry unless still pending. */
const offerEnd = (o) => o.decidedAt ?? (o.state === 'pending' ? Number.POSITIVE_INFINITY : o.expiresAt ?? Number.POSITIVE_INFINITY);

/** The offers out at t: made at or before it and not decided yet. */
export const offersOutAt = (offers, t) => offers.filter((o) => o.offeredAt <= t && t < offerEnd(o));

/** Where a member was at t: between two samples on the line joining them, else the last; null before the first. */
export function positionAt(crumbs, t) {
  const i = lastAtOrBefore(crumbs, t);
  if (i < 0) return null;
  const a = crumbs[i];
  const b = crumbs[i + 1];
  if (!b || b.at <= a.at) return { lat: a.lat, lng: a.lng };
  const f = (t - a.at) / (b.at - a.at);
  return { lat: a.lat + (b.lat - a.lat) * f, lng: a.lng + (b.lng - a.lng) * f };
}

/** The timeline as this page uses it (sorted, checked), or null when it is not one. */
export function readTimeline(body) {
  if (!body || typeof body !== 'object' || !Array.isArray(body.events) || !Array.isArray(body.offers) || !Array.isArray(body.members)) return null;
  const byAt = (a, b) => a.at - b.at || (a.seq ?? 0) - (b.seq ?? 0);
  const events = body.events.filter((e) => e && num(e.at) !== null && typeof e.state === 'string').sort(byAt);
  const offers = body.offers.filter((o) => o && num(o.offeredAt) !== null && typeof o.heroId === 'string')
    .map((o) => ({ ...o, decidedAt: num(o.decidedAt), expiresAt: num(o.expiresAt) }));
  const members = body.members.filter((m) => m && typeof m.heroId === 'string').map((m) => ({
    heroId: m.heroId,
    name: typeof m.name === 'string' && m.name ? m.name : null,
    breadcrumbs: (Array.isArray(m.breadcrumbs) ? m.breadcrumbs : [])
      .filter((c) => c && num(c.at) !== null && num(c.lat) !== null && num(c.lng) !== null).sort(byAt),
  }));
  const incident = body.incident && typeof body.incident === 'object' ? body.incident : {};
  // From the report: its event when the trail has one (the row's own clock may differ by a
  // millisecond, and the slider should open on a state).
  const start = events[0]?.at ?? num(body.intervals?.reportedAt) ?? num(incident.createdAt);
  if (start === null || start === undefined) return null;
  const lastEvent = events.at(-1)?.at ?? start;
  const stillOpen = !isFinal(events.at(-1)?.state ?? incident.state);
  const end = Math.max(start, lastEvent, stillOpen ? num(body.generatedAt) ?? Date.now() : lastEvent);
  return { incident, events, offers, members, start, end, truncated: body.truncated === true };
}

// ---- the panel ----------------------------------------------------------------------------

export class Replay {
  /**
   * @param {{ token: () => string|null, heroName: (id: string) => string, leafletMap: () => any }} ctx (the console's Leaflet map, null until it is made)
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.incidentId = null;
    this.req = 0;
    this.data = null;
    this.step = 1000;
    this.timer = 0;
    this.layer = null;
    this.markers = new Map();
    this.rows = new Map();
    this.build();
  }

  build() {
    this.toggle = el('button', { type: 'button', 'data-testid': 'replay-toggle', 'aria-expanded': 'false', 'aria-controls': 'replay-panel', onclick: () => (this.isOpen() ? this.hide({ focus: true }) : this.show()) }, 'Replay on the map');
    this.status = el('p', { class: 'muted replay-status', 'data-testid': 'replay-status', role: 'status' });
    this.slider = el('input', {
      id: 'replay-slider', type: 'range', 'data-testid': 'replay-slider', min: '0', max: '0', step: '1000', value: '0',
      'aria-describedby': 'replay-help',
      oninput: () => this.render(), onkeydown: (e) => this.onKey(e),
    });
    this.playBtn = el('button', { type: 'button', 'data-testid': 'replay-play', 'aria-pressed': 'false', onclick: () => this.togglePlay() }, 'Play');
    this.prevBtn = el('button', { type: 'button', 'data-testid': 'replay-prev', onclick: () => this.jump(-1) }, '◀ Previous event');
    this.nextBtn = el('button', { type: 'button', 'data-testid': 'replay-next', onclick: () => this.jump(1) }, 'Next event ▶');
    // A new speed applies at once while playing.
    this.speed = el('select', { id: 'replay-speed', 'data-testid': 'replay-speed', onchange: () => { if (this.timer) { this.pause(); this.play(); } } },
      el('option', { value: 'fit' }, `whole replay in ${FIT_PLAY_MS / 1000} s`), ...SPEEDS.map((s) => el('option', { value: String(s) }, `${s}×`)));
    this.time = el('span', { 'data-testid': 'replay-time', class: 'replay-clock' });
    this.state = el('span', { 'data-testid': 'replay-state', class: 'state-badge' });
    this.stateWords = el('span', { class: 'muted' });
    this.event = el('span', { 'data-testid': 'replay-event' });
    this.offers = el('ul', { class: 'replay-offers', 'data-testid': 'replay-offers', 'aria-label': 'Offers out at this moment' });
    this.offersEmpty = el('p', { class: 'muted' }, 'No offer out at this moment.');
    this.markerList = el('ul', { 'data-testid': 'replay-markers' });
    this.panel = el('div', { id: 'replay-panel', class: 'replay', 'data-testid': 'replay', hidden: true, onkeydown: (e) => this.onPanelKey(e) },
      this.status,
      el('div', { class: 'replay-body' },
        el('label', { for: 'replay-slider' }, 'Replay time'), this.slider,
        el('p', { id: 'replay-help', class: 'muted replay-help' }, 'Arrow keys step, Page Up/Down jump a tenth, Home and End go to the report and the end. Escape closes the replay.'),
        el('div', { class: 'replay-controls' }, this.playBtn, this.prevBtn, this.nextBtn,
          el('span', { class: 'replay-speed' }, el('label', { for: 'replay-speed' }, 'Speed'), this.speed)),
        el('dl', { class: 'replay-readout' },
          el('dt', {}, 'Time'), el('dd', {}, this.time),
          el('dt', {}, 'State'), el('dd', {}, this.state, ' ', this.stateWords),
          el('dt', {}, 'Last event'), el('dd', {}, this.event)),
        el('h4', {}, 'Offers out'), this.offers, this.offersEmpty,
        el('div', { class: 'visually-hidden' }, el('h4', {}, 'Heroes in the replay'), this.markerList)));
    this.root = el('div', { class: 'replay-slot' }, this.toggle, this.panel);
  }

  isOpen() {
    return !this.panel.hidden;
  }

  /** The incident whose replay the toggle opens; a different one closes the replay first. */
  setIncident(id) {
    if (id === this.incidentId) return;
    this.hide();
    this.incidentId = id;
  }

  /** Opens the replay: fetches the timeline and draws it. */
  async show() {
    const id = this.incidentId;
    const token = this.ctx.token();
    if (!id || !token) return;
    const req = ++this.req;
    this.panel.hidden = false;
    this.toggle.setAttribute('aria-expanded', 'true');
    text(this.toggle, 'Close replay');
    this.panel.querySelector('.replay-body').hidden = true;
    this.panel.dataset.ready = 'false';
    text(this.status, 'Loading the timeline…');
    const res = await api(token, 'GET', `/v1/incidents/${encodeURIComponent(id)}/timeline`, undefined, { accept: 'application/json' });
    if (req !== this.req || id !== this.incidentId || !this.isOpen()) return;
    const data = res.ok ? readTimeline(res.body) : null;
    if (!data) {
      text(this.status, res.ok ? 'The timeline could not be read.' : `Could not load the timeline: ${problemText(res)}`);
      return;
    }
    this.data = data;
    const span = data.end - data.start;
    // About 600 steps for short replays (a tenth of a second at least), a second each for long ones.
    this.step = Math.min(1000, Math.max(100, Math.round(span / 600 / 100) * 100));
    this.slider.step = String(this.step);
    // The last step reaches the end (a range input stops at the last whole step).
    this.slider.max = String(Math.ceil(span / this.step) * this.step);
    this.slider.value = '0';
    text(this.status, `${count(data.events.length, 'event')}, ${count(data.offers.length, 'offer')}, ${count(data.members.length, 'hero', 'heroes')} · ${clock(data.start)}–${clock(data.end)}${isFinal(data.events.at(-1)?.state) ? '' : ' (still open: up to when it was loaded)'}${data.truncated ? ' · too long: cut short' : ''}`);
    this.panel.querySelector('.replay-body').hidden = false;
    this.draw();
    this.render();
    this.panel.dataset.ready = 'true';
    // Straight to the slider, unless the dispatcher went elsewhere meanwhile.
    if (document.activeElement === this.toggle || document.activeElement === document.body) this.slider.focus();
  }

  /** Closes the replay and takes its layers off the map. */
  hide({ focus = false } = {}) {
    this.req += 1;
    this.pause();
    this.panel.hidden = true;
    delete this.panel.dataset.ready;
    this.toggle.setAttribute('aria-expanded', 'false');
    text(this.toggle, 'Replay on the map');
    this.clearLayers();
    this.data = null;
    this.offers.replaceChildren();
    this.markerList.replaceChildren();
    this.rows.clear();
    if (focus) this.toggle.focus();
  }

  /** The slider's moment, in epoch ms. */
  now() {
    return this.data ? Math.min(this.data.end, this.data.start + Number(this.slider.value)) : 0;
  }

  /** Moves the slider to the moment `t` (snapped to a step at or after it, so `t` itself is in force). */
  seek(t) {
    if (!this.data) return;
    const offset = Math.max(0, Math.min(Number(this.slider.max), Math.ceil((t - this.data.start) / this.step) * this.step));
    this.slider.value = String(offset);
    this.render();
  }

  /** To the previous or next event (dir -1 or 1) from the slider's moment. */
  jump(dir) {
    if (!this.data) return;
    this.pause();
    const t = this.now();
    const times = this.data.events.map((e) => e.at);
    const target = dir > 0 ? times.find((at) => at > t) : times.filter((at) => at < t - this.step + 1).at(-1);
    if (target === undefined) this.seek(dir > 0 ? this.data.end : this.data.start);
    else this.seek(target);
  }

  onKey(e) {
    // Moving by hand stops playback; the range input does the moving.
    if (['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'PageUp', 'PageDown', 'Home', 'End'].includes(e.key)) this.pause();
    else if (e.key === ' ') { e.preventDefault(); this.togglePlay(); }
  }

  onPanelKey(e) {
    if (e.key === 'Escape') { e.preventDefault(); this.hide({ focus: true }); }
  }

  togglePlay() {
    if (this.timer) this.pause(); else this.play();
  }

  play() {
    if (!this.data || this.timer) return;
    if (Number(this.slider.value) >= Number(this.slider.max)) this.slider.value = '0';
    const span = Math.max(1, this.data.end - this.data.start);
    const speed = this.speed.value === 'fit' ? Math.max(1, span / FIT_PLAY_MS) : Number(this.speed.value);
    // The range input keeps whole steps: the exact offset is carried here.
    let offset = Number(this.slider.value);
    let last = performance.now();
    this.timer = setInterval(() => {
      const nowMs = performance.now();
      offset = Math.min(Number(this.slider.max), offset + (nowMs - last) * speed);
      last = nowMs;
      this.slider.value = String(offset);
      this.render();
      if (offset >= Number(this.slider.max)) this.pause();
    }, FRAME_MS);
    this.playBtn.setAttribute('aria-pressed', 'true');
    text(this.playBtn, 'Pause');
  }

  pause() {
    if (this.timer) clearInterval(this.timer);
    this.timer = 0;
    this.playBtn.setAttribute('aria-pressed', 'false');
    text(this.playBtn, 'Play');
  }

  nameOf(member) {
    return member.name ?? this.ctx.heroName(member.heroId);
  }

  // ---- the map ---------------------------------------------------------------------------

  leaflet() {
    return window.L ? this.ctx.leafletMap() ?? null : null;
  }

  /** The tracks, a marker per member (placed by render) and the incident's spot. */
  draw() {
    this.clearLayers();
    const map = this.leaflet();
    const L = window.L;
    if (!map || !L || !this.data) return;
    if (!map.getPane('replay')) map.createPane('replay');
    this.layer = L.layerGroup().addTo(map);
    map.getContainer().classList.add('replaying');
    const points = [];
    const loc = this.data.incident.location;
    if (loc && num(loc.lat) !== null && num(loc.lng) !== null) {
      points.push([loc.lat, loc.lng]);
      L.circleMarker([loc.lat, loc.lng], { pane: 'replay', radius: 12, weight: 3, color: '#17202a', fill: false, dashArray: '3 4', className: 'replay-incident', interactive: false })
        .addTo(this.layer);
    }
    for (const m of this.data.members) {
      const track = m.breadcrumbs.map((c) => [c.lat, c.lng]);
      points.push(...track);
      if (track.length > 1) {
        L.polyline(track, { pane: 'replay', color: '#1f5fa8', weight: 3, opacity: 0.7, dashArray: '6 6', className: 'replay-track', interactive: false })
          .addTo(this.layer);
      }
      const marker = L.circleMarker(track[0] ?? [0, 0], { pane: 'replay', radius: 8, weight: 3, color: '#17202a', fillColor: PAST_COLOR, fillOpacity: 1, className: 'replay-marker' });
      marker.bindTooltip(el('span', {}, this.nameOf(m)));
      this.markers.set(m.heroId, { marker, shown: false });
    }
    try {
      if (points.length === 1) map.setView(points[0], Math.max(map.getZoom(), 15));
      else if (points.length > 1) map.fitBounds(L.latLngBounds(points), { padding: [40, 40], maxZoom: 17 });
    } catch { /* keep the view */ }
  }

  clearLayers() {
    this.layer?.remove();
    this.layer = null;
    this.markers.clear();
    this.leaflet()?.getContainer().classList.remove('replaying');
  }

  // ---- the moment ------------------------------------------------------------------------

  render() {
    const data = this.data;
    if (!data) return;
    const t = this.now();
    const event = eventAt(data.events, t);
    const state = event?.state ?? null;
    const out = offersOutAt(data.offers, t);
    const holders = new Set((Array.isArray(event?.members) ? event.members : []).map((m) => m?.heroId));
    const offered = new Set(out.map((o) => o.heroId));

    text(this.time, clock(t));
    this.time.dataset.at = String(t);
    text(this.state, state ?? '—');
    this.state.className = `state-badge${state ? ` state-${state}` : ''}`;
    text(this.stateWords, state ? labelOf('incidentStates', state) : 'before the report');
    this.panel.dataset.state = state ?? '';
    text(this.event, event ? `${event.type} at ${clock(event.at)}${event.actor ? ` by ${event.actor}` : ''}` : '—');
    this.slider.setAttribute('aria-valuetext', `${clock(t)}, ${state ?? 'before the report'}`);
    this.prevBtn.disabled = t <= data.start;
    this.nextBtn.disabled = !data.events.some((e) => e.at > t) && t >= data.end;

    this.offers.replaceChildren(...out.map((o) => {
      const member = data.members.find((m) => m.heroId === o.heroId) ?? { heroId: o.heroId, name: null };
      const outcome = o.decidedAt === null ? 'still pending when loaded' : `${o.state}${o.reason ? ` (${o.reason})` : ''} after ${secs(o.decidedAt - o.offeredAt)}`;
      return el('li', { 'data-testid': 'replay-offer', dataset: { offerId: String(o.id), heroId: o.heroId, outcome: String(o.state) } },
        el('strong', {}, this.nameOf(member)),
        Number.isInteger(o.slot) ? ` · slot #${o.slot + 1}` : '',
        Number.isInteger(o.round) ? ` · round ${o.round}` : '',
        num(o.distanceKm) !== null ? ` · ${fmtKm(o.distanceKm)}` : '',
        ` · offered ${clock(o.offeredAt)} → ${outcome}`);
    }));
    this.offersEmpty.hidden = out.length > 0;

    for (const m of data.members) {
      const p = positionAt(m.breadcrumbs, t);
      const role = holders.has(m.heroId) ? 'assigned' : offered.has(m.heroId) ? 'offered' : 'none';
      this.place(m, p, role);
    }
  }

  /** One member at t: the marker on the map (hidden with no sample yet) and its mirror row. */
  place(member, p, role) {
    const name = this.nameOf(member);
    const color = role === 'none' ? PAST_COLOR : HERO_COLORS[role];
    const entry = this.markers.get(member.heroId);
    if (entry && this.layer) {
      if (p) {
        entry.marker.setLatLng([p.lat, p.lng]);
        if (entry.marker.options.fillColor !== color) entry.marker.setStyle({ fillColor: color });
        if (!entry.shown) { entry.marker.addTo(this.layer); entry.shown = true; }
        entry.marker.getElement()?.setAttribute('aria-label', `${name} (replay): ${ROLE_WORDS[role]}`);
      } else if (entry.shown) {
        entry.marker.remove();
        entry.shown = false;
      }
    }
    let row = this.rows.get(member.heroId);
    if (!row) {
      row = el('li', { 'data-testid': 'replay-marker', dataset: { heroId: member.heroId } });
      this.rows.set(member.heroId, row);
      this.markerList.append(row);
    }
    row.dataset.role = role;
    row.dataset.shown = p ? 'true' : 'false';
    if (p) {
      row.dataset.lat = String(p.lat);
      row.dataset.lng = String(p.lng);
    } else {
      delete row.dataset.lat;
      delete row.dataset.lng;
    }
    text(row, p ? `${name}, ${ROLE_WORDS[role]}, at ${p.lat.toFixed(5)}, ${p.lng.toFixed(5)}` : `${name}, ${ROLE_WORDS[role]}, no position yet`);
  }
}
