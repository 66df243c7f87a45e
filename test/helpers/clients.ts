// Real socket.io-client connections and HTTP calls, with every wait bounded.
import { io, type Socket } from 'socket.io-client';
import type { TestServer } from './server.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value; throws after `ms`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, ms = 5_000): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as T;
    } catch (e) { last = e; }
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(25);
  }
}

/** A connected client that records every event it receives. */
export class Client {
  readonly events: { name: string; payload: any; at: number }[] = [];
  constructor(readonly socket: Socket) {
    socket.onAny((name: string, payload: unknown) => this.events.push({ name, payload, at: Date.now() }));
  }

  /** The first recorded event (past or future) with this name that satisfies `match`. */
  async next<T = any>(name: string, match?: (p: T) => boolean, ms = 5_000): Promise<T> {
    const what = `event ${name}${match ? ` matching ${String(match)}` : ''}`;
    try {
      const found = await eventually(what, () => this.events.find((e) => e.name === name && (!match || match(e.payload))), ms);
      return found.payload as T;
    } catch (e) {
      // Say what did arrive: a near miss (wrong id, wrong reason) is the usual cause.
      const seen = this.all(name);
      throw new Error(`${(e as Error).message} (${seen.length} ${name} received${seen.length ? `, last: ${JSON.stringify(seen.at(-1)).slice(0, 300)}` : ''})`);
    }
  }

  all<T = any>(name: string): T[] {
    return this.events.filter((e) => e.name === name).map((e) => e.payload as T);
  }

  ask<T = any>(event: string, payload: unknown, ms = 5_000): Promise<T> {
    return (this.socket.timeout(ms).emitWithAck(event, payload) as Promise<T>).catch((e: Error) => {
      throw new Error(`no ack for ${event} ${JSON.stringify(payload)?.slice(0, 200)} within ${ms} ms: ${e.message}`);
    });
  }

  close(): void {
    this.socket.disconnect();
  }
}

export function connect(server: TestServer, namespace: 'hero' | 'civilian' | 'dispatch', token: string | undefined, ms = 5_000): Promise<Client> {
  const socket = io(`${server.url}/${namespace}`, {
    auth: token === undefined ? {} : { token }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: ms,
  });
  const client = new Client(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.disconnect(); reject(new Error(`connect to /${namespace} timed out`)); }, ms);
    socket.once('connect', () => { clearTimeout(timer); resolve(client); });
    socket.once('connect_error', (err) => { clearTimeout(timer); socket.disconnect(); reject(err); });
  });
}

export interface HttpAnswer { status: number; body: any; headers: Headers }

export async function http(server: TestServer, method: string, path: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  const res = await fetch(server.url + path, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined || opts.raw !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try { body = text ? JSON.parse(text) : undefined; } catch { /* keep text */ }
  return { status: res.status, body, headers: res.headers };
}

/** Connects and closes at once: `'connected'`, or the refusal's `connect_error` message. */
export async function connectOutcome(server: TestServer, namespace: 'hero' | 'civilian' | 'dispatch', token: string | undefined): Promise<string> {
  try {
    const client = await connect(server, namespace, token);
    client.close();
    return 'connected';
  } catch (e) {
    return (e as Error).message;
  }
}
