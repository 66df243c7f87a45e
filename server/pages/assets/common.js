// What the three pages share: identity, HTTP calls, sockets, the map, plain-language
// messages. Plain ES module, no build step; Socket.IO's client comes from the server.
import { io } from '/socket.io/socket.io.esm.min.js';

/**
 * The token: from `#token=<jwt>` (kept in session storage for reloads), else from the
 * sign-in box. The token is taken out of the address bar at once, so it is not left
 * in history, bookmarks or a screenshot of the page.
 */
export function getToken(storageKey) {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get('token');
  if (hash.has('token')) forgetTokenInAddress(hash);
  if (fromHash) {
    sessionStorage.setItem(storageKey, fromHash);
    return fromHash;
  }
  return sessionStorage.getItem(storageKey);
}

/** Rewrites the address without `token=` in its fragment (other fragment keys stay). */
export function forgetTokenInAddress(hash = new URLSearchParams(location.hash.slice(1))) {
  hash.delete('token');
  const rest = hash.toString();
  history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
}

export function setToken(storageKey, token) {
  sessionStorage.setItem(storageKey, token);
}

/** The `sub` and `role` claims of a JWT, for display only (the server verifies). */
export function claimsOf(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return { sub: String(payload.sub ?? ''), role: String(payload.role ?? '') };
  } catch {
    return { sub: '', role: '' };
  }
}

/** Calls the HTTP API; resolves to `{ ok, status, body }`, never throws for HTTP errors. */
export async function api(token, method, path, body, headers = {}) {
  try {
    const res = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* keep text */ }
    return { ok: res.ok, status: res.status, body: parsed };
  } catch (err) {
    return { ok: false, status: 0, body: { detail: 'The network is unreachable. Check your connection and try again.' } };
  }
}

/** A human sentence for a failed call. */
export function problemText(res) {
  if (res.status === 0) return res.body.detail;
  if (res.status === 401) return 'Your sign-in has expired or is not valid. Sign in again.';
  if (res.status === 403) return 'You are not allowed to do that.';
  if (res.status === 429) return 'Too many requests. Wait a moment and try again.';
  if (res.status >= 500) return 'The service is having trouble. Try again in a moment.';
  return (res.body && (res.body.detail || res.body.title)) || `Request failed (${res.status}).`;
}

/** Plain-language text for each refusal reason of the contract. */
export const REFUSALS = {
  taken: 'Another hero already took this one.',
  expired: 'This offer has expired.',
  withdrawn: 'This offer was withdrawn.',
  not_found: 'That is not yours, or it no longer exists.',
  busy: 'You are on an active assignment. Finish it first.',
  invalid_transition: 'That step is not possible right now.',
  released: 'You were released from this incident.',
  invalid: 'The app sent something the server did not understand.',
  rate_limited: 'Too fast. Wait a moment.',
  internal: 'The service had a problem. Try again.',
};
export const refusalText = (reason) => REFUSALS[reason] ?? `Refused (${reason}).`;

/**
 * Connects to a namespace and keeps `banner` telling the truth about the connection.
 * WebSocket only: it survives load balancers without sticky sessions.
 */
export function connectSocket(namespace, token, banner) {
  const socket = io(`/${namespace}`, { auth: { token }, transports: ['websocket'] });
  const show = (text, kind) => {
    if (!banner) return;
    banner.textContent = text;
    banner.dataset.state = kind;
    banner.hidden = kind === 'online';
  };
  socket.on('connect', () => show('Connected', 'online'));
  socket.on('disconnect', () => show('Connection lost. Reconnecting…', 'offline'));
  socket.on('connect_error', (err) => {
    if (err.message === 'unauthorized' || err.message === 'forbidden') {
      show(err.message === 'forbidden' ? 'This sign-in may not use this page.' : 'Your sign-in is not valid. Sign in again.', 'denied');
      socket.disconnect();
    } else {
      show('Cannot reach the service. Retrying…', 'offline');
    }
  });
  return socket;
}

/** Emits with an ack and a deadline; resolves to the ack, or a refusal when none came. */
export function ask(socket, event, payload, ms = 8000) {
  return socket.timeout(ms).emitWithAck(event, payload).catch(() => ({ ok: false, reason: 'internal', timeout: true }));
}

/**
 * A Leaflet map. Without MAP_TILES_URL there are no tiles (no internet needed): a plain
 * background with a scale bar.
 */
export async function createMap(element, center, zoom = 13) {
  const L = window.L;
  const map = L.map(element, { zoomControl: true, keyboard: true }).setView([center.lat, center.lng], zoom);
  L.control.scale({ imperial: false }).addTo(map);
  try {
    const config = await (await fetch('/assets/config.json')).json();
    if (config.tilesUrl) L.tileLayer(config.tilesUrl, { maxZoom: 19, attribution: '© map contributors' }).addTo(map);
  } catch { /* no tiles */ }
  return map;
}

export function haversineKm(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

export const fmtKm = (km) => (km < 1 ? `${Math.round(km * 1000)} m` : `${km.toFixed(1)} km`);

export function fmtAge(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export const STATE_TEXT = {
  reported: 'Reported', dispatching: 'Finding a hero', assigned: 'Hero assigned', en_route: 'Hero on the way',
  on_scene: 'Hero on scene', resolved: 'Resolved', cancelled: 'Cancelled', escalated: 'A dispatcher is on it',
};

/** Sets an element's text safely (never innerHTML with data from the wire). */
export function text(el, value) {
  if (el) el.textContent = value ?? '';
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}
