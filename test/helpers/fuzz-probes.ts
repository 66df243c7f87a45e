// What the hostile-input suite watches: the server's error-level log, a fingerprint of
// every table (refused input must not change it), the shape of every HTTP answer, and
// every ack packet a socket receives (each acked event is answered exactly once).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import * as assert from 'uvu/assert';
import type { Logger } from '../../server/log.ts';
import { redisKeys } from '../../server/redis.ts';
import type { Client, HttpAnswer } from './clients.ts';
import { sleep } from './clients.ts';
import type { TestServer } from './server.ts';

/** A pino logger that keeps every line at error level or above. */
export function captureLog(): { log: Logger; errors: Record<string, unknown>[] } {
  const errors: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (Number(entry.level) >= 50) errors.push(entry);
        } catch { errors.push({ level: 50, msg: `unparseable log line: ${line.slice(0, 200)}` }); }
      }
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), errors };
}

const TABLES: [string, string][] = [
  ['incidents', 't.id'], ['incident_events', 't.incident_id, t.seq'], ['offers', 't.id'], ['assignments', 't.id'],
  ['heroes', 't.id'], ['idempotency_keys', 't.actor, t.key'], ['outbox', 't.id'],
];

export type Fingerprint = Record<string, string>;

/** One md5 per table over every row, in one snapshot. */
export async function fingerprint(server: TestServer): Promise<Fingerprint> {
  const cols = TABLES.map(([t, order]) => `(select md5(coalesce(string_agg(t::text, '|' order by ${order}), '')) from ${t} t) as ${t}`);
  const [row] = await server.app.sql.unsafe(`select ${cols.join(', ')}`);
  return { ...(row as Fingerprint) };
}

/** Dispatch or expiry work that is queued and due soon (BullMQ keys under our prefix). */
async function pendingJobs(server: TestServer): Promise<number> {
  const redis = server.app.redis;
  const bull = redisKeys(server.prefix).bullPrefix;
  const soon = (Date.now() + 60_000) * 0x1000; // BullMQ scores delayed jobs by time << 12
  let n = 0;
  for (const q of ['dispatch', 'expiry']) {
    const [wait, active, prioritized, delayed] = await Promise.all([
      redis.llen(`${bull}:${q}:wait`), redis.llen(`${bull}:${q}:active`),
      redis.zcard(`${bull}:${q}:prioritized`), redis.zcount(`${bull}:${q}:delayed`, 0, soon),
    ]);
    n += wait + active + prioritized + delayed;
  }
  return n;
}

/**
 * The database as last seen at rest. Refused input must leave it as it is; after
 * accepted input, `settle` waits for the background work it started to finish.
 */
export class Quiet {
  private known: Fingerprint | undefined;
  constructor(private readonly server: TestServer) {}

  /** Waits until no outbox row or due job is left and the tables stop changing. */
  async settle(ms = 10_000): Promise<void> {
    const until = Date.now() + ms;
    let last = '';
    let stable = 0;
    for (;;) {
      const fp = await fingerprint(this.server);
      const [row] = await this.server.app.sql<{ n: number }[]>`select count(*)::int as n from outbox`;
      const n = row?.n ?? 0;
      const idle = n === 0 && (await pendingJobs(this.server)) === 0;
      const now = JSON.stringify(fp);
      stable = idle && now === last ? stable + 1 : 0;
      last = now;
      if (stable >= 2) { this.known = fp; return; }
      if (Date.now() > until) throw new Error(`the database did not settle within ${ms} ms (outbox ${n})`);
      await sleep(100);
    }
  }

  /** Throws, naming the tables that changed, if the database differs from the last rest. */
  async unchanged(what: string): Promise<void> {
    if (!this.known) throw new Error('settle first');
    const now = await fingerprint(this.server);
    const changed = Object.keys(now).filter((t) => now[t] !== this.known![t]);
    if (changed.length) {
      this.known = undefined;
      const recent = await this.server.app.sql`
        select 'hero' as what, id, status, on_duty::text as detail, updated_at from heroes where updated_at > now() - interval '3 seconds'
        union all select 'incident', id, state, version::text, updated_at from incidents where updated_at > now() - interval '3 seconds'
        union all select 'event', incident_id, type, seq::text, at from incident_events where at > now() - interval '3 seconds'`;
      what += `\n  rows changed in the last 3 s: ${JSON.stringify(recent)}`;
      await this.settle().catch(() => {});
      throw new Error(`refused input changed table(s) ${changed.join(', ')}: ${what}`);
    }
  }
}

/** No 5xx; every 4xx is an application/problem+json document with type, title, status, detail. */
export function checkAnswer(res: HttpAnswer, what: string): void {
  assert.ok(res.status < 500, `${what} → ${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`);
  if (res.status >= 400) {
    const type = res.headers.get('content-type') ?? '';
    assert.ok(type.startsWith('application/problem+json'), `${what} → ${res.status} with content-type ${type}`);
    const b = res.body as Record<string, unknown> | undefined;
    assert.ok(b && typeof b === 'object', `${what} → ${res.status}: body is not a JSON object: ${String(res.body).slice(0, 200)}`);
    assert.ok(typeof b.type === 'string' && typeof b.title === 'string' && typeof b.detail === 'string' && b.status === res.status,
      `${what} → ${res.status}: not a problem document: ${JSON.stringify(b).slice(0, 300)}`);
    if (res.status === 429) assert.ok(res.headers.get('retry-after'), `${what} → 429 without Retry-After`);
  }
}

/**
 * Counts the ack packets a client's connection receives, per ack id, below the
 * Socket.IO client (which silently drops a second answer to the same id).
 */
export class AckCounter {
  private readonly counts = new Map<number, number>();
  constructor(readonly client: Client) {
    const nsp = (client.socket as unknown as { nsp: string }).nsp;
    client.socket.io.on('packet', (packet: { type: number; nsp: string; id?: number }) => {
      // 3 = ACK, 6 = BINARY_ACK (socket.io-parser)
      if ((packet.type === 3 || packet.type === 6) && packet.nsp === nsp && packet.id !== undefined) {
        this.counts.set(packet.id, (this.counts.get(packet.id) ?? 0) + 1);
      }
    });
  }

  /** The id the client gives its next acked emit. */
  nextId(): number {
    return (this.client.socket as unknown as { ids: number }).ids;
  }

  count(id: number): number {
    return this.counts.get(id) ?? 0;
  }

  /** Ids answered more than once so far. */
  repeated(): number[] {
    return [...this.counts].filter(([, n]) => n > 1).map(([id]) => id);
  }
}

/** Emits with an ack and a bounded wait: the answer, or `timeout` / `disconnected`. */
export function emitAcked(client: Client, event: string, args: unknown[], ms = 5_000): Promise<{ answer?: unknown; failure?: string }> {
  return new Promise((resolve) => {
    const onDisconnect = (reason: string) => { clearTimeout(timer); resolve({ failure: `disconnected: ${reason}` }); };
    const timer = setTimeout(() => { client.socket.off('disconnect', onDisconnect); resolve({ failure: 'timeout' }); }, ms);
    client.socket.once('disconnect', onDisconnect);
    client.socket.emit(event, ...args, (answer: unknown) => {
      clearTimeout(timer);
      client.socket.off('disconnect', onDisconnect);
      resolve({ answer });
    });
  });
}
