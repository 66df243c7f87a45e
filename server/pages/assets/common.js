// What the three pages share: sign-in, the message area, HTTP calls, sockets, the map,
// and the words for the wire's names. Plain ES module, no build step; Socket.IO's client
// and the vocabulary (built from shared/vocabulary.ts) come from the server.
import { io } from '/socket.io/socket.io.esm.min.js';
import { VOCABULARY } from '/assets/vocabulary.js';

/**
 * The token: from `#token=<jwt>` (kept in session storage for reloads), else from the
 * sign-in box. The token is taken out of the address bar at once, so it is not left
 * in history, bookmarks or a screenshot of the page.
 */
function getToken(storageKey) {
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
function forgetTokenInAddress(hash = new URLSearchParams(location.hash.slice(1))) {
  hash.delete('token');
  const rest = hash.toString();
  history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
}

function setToken(storageKey, token) {
  sessionStorage.setItem(storageKey, token);
}

export function forgetToken(storageKey) {
  try { sessionStorage.removeItem(storageKey); } catch { /* storage unavailable: nothing kept */ }
}

/**
 * The page's one message area (in each html: role=status, aria-live=polite). Returns
 * `say(text, kind = 'info')`; `fadeMs` says how long each kind stays (absent: until the next).
 */
export function messageArea(element, fadeMs = {}) {
  let timer = 0;
  return function say(msg, kind = 'info') {
    clearTimeout(timer);
    element.dataset.kind = kind;
    text(element, msg);
    if (fadeMs[kind]) timer = setTimeout(() => text(element, ''), fadeMs[kind]);
  };
}

const EXPIRED_SIGN_IN = 'Your sign-in is not valid or has expired. Sign in again.';

/**
 * The sign-in of every page. The form is the page's own (in its html, hidden: one input
 * and its label, whose words also name what is missing when nothing was pasted); this
 * wires and checks it. `start(token)` runs with the token from the address (`#token=`)
 * or session storage (`begin()`), or typed into the form. `signedOut()` hides what the
 * page showed while signed in. `forbidden` is what to say when the server refuses this
 * sign-in on this page.
 */
export function signIn({ form, storageKey, say, start, signedOut = () => {}, forbidden }) {
  const input = form.querySelector('input');
  const what = form.querySelector(`label[for="${input.id}"]`).textContent.trim().toLowerCase();
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) { say(`Paste your ${what} first.`, 'error'); input.focus(); return; }
    setToken(storageKey, token);
    input.value = '';
    form.hidden = true;
    say('');
    start(token);
  });
  const show = (note) => {
    form.hidden = false;
    if (note) say(note, 'error');
    input.focus();
  };
  /** Forgets the token and asks for another, saying why. */
  const signOut = (note) => {
    forgetToken(storageKey);
    signedOut();
    show(note);
  };
  /** Signs out when the socket is refused for this sign-in (not for a network fault). */
  const watch = (socket) => socket.on('connect_error', (err) => {
    if (err?.message === 'unauthorized') signOut(EXPIRED_SIGN_IN);
    else if (err?.message === 'forbidden') signOut(forbidden);
  });
  /** Starts with the token from the address or from storage, else asks for one. */
  const begin = () => {
    const token = getToken(storageKey);
    if (token) start(token); else show();
  };
  return { begin, signOut, watch };
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
  } catch {
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

/**
 * The words for a wire name of one VOCABULARY group (`incidentStates`, `alertTypes`…);
 * a name the vocabulary does not know yet is shown as it is, underscores as spaces.
 */
export const labelOf = (group, name) => VOCABULARY.labels[group]?.[name] ?? words(name);
export const words = (name) => String(name ?? '').replace(/_/g, ' ');
export const isFinal = (state) => VOCABULARY.finalStates.includes(state);
export const refusalText = (reason) => VOCABULARY.labels.refusalReasons[reason] ?? `Refused (${reason}).`;

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
