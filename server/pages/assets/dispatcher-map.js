// The dispatcher console's live map: one Leaflet circleMarker per hero and per open
// incident, kept in step with the console's state. Leaflet paths cannot carry data
// attributes, so a visually hidden list mirrors every marker (for tests and screen readers).
import { createMap, el, text, fmtAge, labelOf } from '/assets/common.js';

export const STALE_AFTER_MS = 30_000;
const DEFAULT_CENTER = { lat: 40.7128, lng: -74.006 };

export const HERO_COLORS = { available: '#1e8449', offered: '#d68910', assigned: '#1f5fa8', stale: '#95a5a6', off_duty: '#95a5a6' };
export const SEVERITY_COLORS = { critical: '#b03a2e', high: '#e67e22', medium: '#8e44ad', low: '#5d6d7e' };
// A distinct outline per state; dash patterns and animation live in dispatcher.css.
const STATE_STROKE = {
  reported: { color: '#17202a', weight: 2 },
  dispatching: { color: '#17202a', weight: 2 },
  escalated: { color: '#ff1a1a', weight: 4 },
  assigned: { color: '#ffffff', weight: 3 },
  en_route: { color: '#1f5fa8', weight: 3 },
  on_scene: { color: '#1e8449', weight: 3 },
};

/** The status a hero is drawn with: its own, or `stale` when its last ping is old. */
export function shownStatus(hero, now = Date.now()) {
  if (hero.lastSeenAt !== undefined && hero.lastSeenAt !== null && now - hero.lastSeenAt > STALE_AFTER_MS) return 'stale';
  return hero.status;
}

/** Heroes that belong on the map: on duty with a known position. */
export const onMap = (hero) => hero.onDuty && hero.location && Number.isFinite(hero.location.lat) && Number.isFinite(hero.location.lng);

const validPoint = (p) => p && Number.isFinite(p.lat) && Number.isFinite(p.lng);

/** Moves a marker only when it really moved (every move redraws it). */
function moveTo(marker, p) {
  const at = marker.getLatLng();
  if (at.lat !== p.lat || at.lng !== p.lng) marker.setLatLng([p.lat, p.lng]);
}

function setClasses(node, base, extra) {
  if (!node) return;
  node.setAttribute('class', `${base} ${extra}`);
}

export class DispatchMap {
  /**
   * @param {HTMLElement} mapEl where Leaflet draws
   * @param {HTMLElement} heroList hidden mirror of the hero markers
   * @param {HTMLElement} incidentList hidden mirror of the incident markers
   * @param {(id: string) => void} onIncident called when an incident marker is clicked
   */
  constructor(mapEl, heroList, incidentList, onIncident) {
    this.mapEl = mapEl;
    this.heroList = heroList;
    this.incidentList = incidentList;
    this.onIncident = onIncident;
    this.map = null;
    this.heroLayer = null;
    this.incidentLayer = null;
    this.heroMarkers = new Map();
    this.incidentMarkers = new Map();
    this.heroRows = new Map();
    this.incidentRows = new Map();
    this.fitted = false;
    this.failed = false;
    this.selectedId = null;
    this.pendingFit = null;
    this.last = { heroes: [], incidents: [] };
  }

  /** Creates the Leaflet map; resolves false (and the mirror lists keep working) if it cannot. */
  async init() {
    if (!window.L) { this.failed = true; return false; }
    try {
      this.map = await createMap(this.mapEl, DEFAULT_CENTER, 12);
      this.heroLayer = window.L.layerGroup().addTo(this.map);
      this.incidentLayer = window.L.layerGroup().addTo(this.map);
      // Someone moving the map by hand decides the view from then on.
      this.map.on('dragstart', () => { this.fitted = true; });
      this.sync(this.last.heroes, this.last.incidents);
      if (this.pendingFit) this.fitOnce(this.pendingFit);
      return true;
    } catch {
      this.failed = true;
      return false;
    }
  }

  /** Fits the view to every point once, on the first snapshot; a default centre if there is none. */
  fitOnce(points) {
    if (this.fitted) return;
    if (!this.map) { this.pendingFit = points; return; }
    const pts = points.filter(validPoint).map((p) => [p.lat, p.lng]);
    // Nothing to show yet: stay on the default centre and fit to the first data instead.
    if (pts.length === 0) return;
    this.fitted = true;
    try {
      if (pts.length === 1) this.map.setView(pts[0], 14);
      else if (pts.length > 1) this.map.fitBounds(window.L.latLngBounds(pts), { padding: [40, 40], maxZoom: 15 });
    } catch { /* keep the default view */ }
  }

  invalidate() {
    try { this.map?.invalidateSize(); } catch { /* not laid out yet */ }
  }

  /** Brings markers and mirror lists in line with these heroes and open incidents. */
  sync(heroes, incidents, now = Date.now()) {
    this.last = { heroes, incidents };
    if (!this.fitted && this.map) this.fitOnce([...incidents.map((i) => i.location), ...heroes.filter(onMap).map((h) => h.location)]);
    this.syncHeroes(heroes.filter(onMap), now);
    this.syncIncidents(incidents.filter((i) => validPoint(i.location)));
  }

  syncHeroes(heroes, now) {
    const L = window.L;
    const keep = new Set();
    for (const hero of heroes) {
      keep.add(hero.id);
      const status = shownStatus(hero, now);
      const color = HERO_COLORS[status] ?? '#95a5a6';
      const label = `${hero.name ?? hero.id}: ${status}`;
      if (this.map && L) {
        let marker = this.heroMarkers.get(hero.id);
        if (!marker) {
          marker = L.circleMarker([hero.location.lat, hero.location.lng], {
            radius: 7, weight: 2, color: '#ffffff', fillColor: color, fillOpacity: 0.95, className: `hero-marker status-${status}`,
          });
          marker.bindTooltip(el('span', {}, label));
          marker.addTo(this.heroLayer);
          this.heroMarkers.set(hero.id, marker);
        } else {
          moveTo(marker, hero.location);
          if (marker.options.fillColor !== color) marker.setStyle({ fillColor: color });
          const tip = marker.getTooltip()?.getContent();
          if (tip instanceof Node) text(tip, label);
        }
        setClasses(marker.getElement(), 'leaflet-interactive hero-marker', `status-${status}`);
        marker.getElement()?.setAttribute('aria-label', label);
      }
      let row = this.heroRows.get(hero.id);
      if (!row) {
        row = el('li', { dataset: { heroId: hero.id } });
        this.heroRows.set(hero.id, row);
        this.heroList.append(row);
      }
      row.dataset.status = status;
      row.dataset.heroStatus = hero.status;
      row.dataset.lat = String(hero.location.lat);
      row.dataset.lng = String(hero.location.lng);
      text(row, `${hero.name ?? hero.id}, ${status}${hero.lastSeenAt ? `, seen ${fmtAge(now - hero.lastSeenAt)} ago` : ''}`);
    }
    for (const [id, marker] of this.heroMarkers) if (!keep.has(id)) { marker.remove(); this.heroMarkers.delete(id); }
    for (const [id, row] of this.heroRows) if (!keep.has(id)) { row.remove(); this.heroRows.delete(id); }
  }

  syncIncidents(incidents) {
    const L = window.L;
    const keep = new Set();
    for (const inc of incidents) {
      keep.add(inc.id);
      const fill = SEVERITY_COLORS[inc.severity] ?? '#5d6d7e';
      const stroke = STATE_STROKE[inc.state] ?? { color: '#17202a', weight: 2 };
      const label = `${inc.severity} ${inc.kind}: ${labelOf('incidentStates', inc.state)}${inc.description ? ` — ${inc.description}` : ''}`;
      if (this.map && L) {
        let marker = this.incidentMarkers.get(inc.id);
        if (!marker) {
          marker = L.circleMarker([inc.location.lat, inc.location.lng], {
            radius: 11, fillColor: fill, fillOpacity: 0.85, ...stroke, className: 'incident-marker',
          });
          marker.bindTooltip(el('span', {}, label));
          marker.on('click', () => this.onIncident(inc.id));
          marker.addTo(this.incidentLayer);
          // The list is the keyboard route; a marker that gets focus anyway opens on Enter.
          marker.getElement()?.addEventListener('keydown', (e) => {
            if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.onIncident(inc.id); }
          });
          this.incidentMarkers.set(inc.id, marker);
        } else {
          moveTo(marker, inc.location);
          const o = marker.options;
          if (o.fillColor !== fill || o.color !== stroke.color || o.weight !== stroke.weight) marker.setStyle({ fillColor: fill, ...stroke });
          const tip = marker.getTooltip()?.getContent();
          if (tip instanceof Node) text(tip, label);
        }
        setClasses(marker.getElement(), 'leaflet-interactive incident-marker', `state-${inc.state} sev-${inc.severity}${inc.id === this.selectedId ? ' selected' : ''}`);
        marker.getElement()?.setAttribute('aria-label', label);
      }
      let row = this.incidentRows.get(inc.id);
      if (!row) {
        row = el('li', { dataset: { incidentId: inc.id } });
        this.incidentRows.set(inc.id, row);
        this.incidentList.append(row);
      }
      row.dataset.state = inc.state;
      row.dataset.severity = inc.severity;
      text(row, label);
    }
    for (const [id, marker] of this.incidentMarkers) if (!keep.has(id)) { marker.remove(); this.incidentMarkers.delete(id); }
    for (const [id, row] of this.incidentRows) if (!keep.has(id)) { row.remove(); this.incidentRows.delete(id); }
  }

  /** Marks the open incident's marker. */
  select(id) {
    this.selectedId = id;
    this.syncIncidents(this.last.incidents.filter((i) => validPoint(i.location)));
  }

  /** Centres on an incident (when opened from the list). */
  focusOn(location) {
    if (!this.map || !validPoint(location)) return;
    try {
      if (!this.map.getBounds().contains([location.lat, location.lng])) this.map.panTo([location.lat, location.lng]);
    } catch { /* ignore */ }
  }
}
