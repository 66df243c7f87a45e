// Real socket.io-client connections and HTTP calls (scripts/lib/wire.ts), with every
// wait bounded.
import type { Socket } from 'socket.io-client';
import { call, connected, openSocket, type Namespace } from '../../scripts/lib/wire.ts';
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

export async function connect(server: TestServer, namespace: Namespace, token: string | undefined, ms = 5_000): Promise<Client> {
  const socket = openSocket(`${server.url}/${namespace}`, token === undefined ? {} : { token }, { reconnect: false, timeoutMs: ms });
  const client = new Client(socket);
  await connected(socket, ms, `connect to /${namespace}`);
  return client;
}

export interface HttpAnswer { status: number; body: any; headers: Headers }

export async function http(server: TestServer, method: string, path: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  const { status, body, headers } = await call(method, server.url + path, opts);
  return { status, body, headers };
}

/** Connects and closes at once: `'connected'`, or the refusal's `connect_error` message. */
export async function connectOutcome(server: TestServer, namespace: Namespace, token: string | undefined): Promise<string> {
  try {
    const client = await connect(server, namespace, token);
    client.close();
    return 'connected';
  } catch (e) {
    return (e as Error).message;
  }
}
