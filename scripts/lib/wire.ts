// The server's wire contract from the client's side: JSON over HTTP with a bearer token
// (problem+json answers read), and Socket.IO connections to its namespaces. Tests, the
// benchmark, the simulator and the demo all talk to the server through this client, so
// a deadline or a header is decided once.
import { io, type Socket } from 'socket.io-client';

export interface Answer<T = any> {
  status: number;
  /** JSON when the body parses, else its text; undefined when empty. */
  body: T;
  headers: Headers;
  /** From sending to the whole body read. */
  ms: number;
}

export interface CallOptions {
  token?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is, with content-type application/json (malformed bodies on purpose). */
  raw?: string;
  headers?: Record<string, string>;
  /** Every call has a deadline (default 10 s): a hung server fails the caller, never hangs it. */
  timeoutMs?: number;
}

export function parseBody(text: string): unknown {
  try { return text ? JSON.parse(text) : undefined; } catch { return text; }
}

export async function call<T = any>(method: string, url: string, o: CallOptions = {}): Promise<Answer<T>> {
  const t0 = performance.now();
  const sends = o.body !== undefined || o.raw !== undefined;
  const res = await fetch(url, {
    method,
    headers: {
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
      ...(sends ? { 'content-type': 'application/json' } : {}),
      ...o.headers,
    },
    ...(sends ? { body: o.raw ?? JSON.stringify(o.body) } : {}),
    signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
  });
  const body = parseBody(await res.text()) as T;
  return { status: res.status, body, headers: res.headers, ms: performance.now() - t0 };
}

/** Retry-After in ms, at most a minute; null when absent or not a number of seconds. */
export function retryAfterMs(headers: Headers): number | null {
  const ra = headers.get('retry-after');
  const s = ra === null ? NaN : Number(ra);
  return Number.isFinite(s) ? Math.min(60_000, Math.max(0, s * 1000)) : null;
}

/** "code: detail" of a problem+json body, or the start of a text body. */
export function problem(body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as { code?: unknown; title?: unknown; detail?: unknown };
    return [b.code, b.detail ?? b.title].filter((x) => typeof x === 'string').join(': ');
  }
  return typeof body === 'string' ? body.slice(0, 120) : '';
}

export type Namespace = 'hero' | 'civilian' | 'dispatch';

export interface SocketOptions {
  /** Reconnect as an app does (1 s, backing off to 5 s); tests want a refusal to stay one. */
  reconnect?: boolean;
  /** The connect timeout. */
  timeoutMs?: number;
}

/** A websocket of its own (never multiplexed with another caller's) to a namespace URL. */
export function openSocket(url: string, auth: Record<string, unknown>, o: SocketOptions = {}): Socket {
  return io(url, {
    auth, transports: ['websocket'], forceNew: true, timeout: o.timeoutMs ?? 10_000,
    ...(o.reconnect === false ? { reconnection: false } : { reconnectionDelay: 1_000, reconnectionDelayMax: 5_000 }),
  });
}

/** Resolves once `socket` connects; rejects with the refusal or after `ms`, disconnecting it. */
export function connected(socket: Socket, ms: number, what = 'connect'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.disconnect(); reject(new Error(`${what} timed out`)); }, ms);
    socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
    socket.once('connect_error', (err) => { clearTimeout(timer); socket.disconnect(); reject(err); });
  });
}
