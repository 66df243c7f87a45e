// Crash safety with a real `npm start` child process that we SIGKILL and restart on
// the same Postgres schema and Redis prefix: nothing answered 2xx is lost, nothing
// stays undispatched, retries with the same Idempotency-Key create no duplicates, and
// an accept committed just before the process died is the truth after the restart.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { dropStores, pg, type Names, type Sql } from '../scripts/lib/lifecycle.ts';
import { createAuth } from '../server/auth.ts';
import { loadConfig } from '../server/config.ts';
import { redisKeys } from '../server/redis.ts';
import type { Role } from '../shared/domain.ts';
import type { HeroSession, OfferPush } from '../shared/types.ts';
import { connect, eventually, http, sleep, type Client } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { spawnServer, type SpawnedServer } from './helpers/spawned-server.ts';

const test = suite('crash');
const base = loadConfig(process.env); // the child inherits the same environment, so the same URLs and secret
const auth = createAuth(base);
const token = (role: Role, id: string) => auth.sign({ role, sub: id });
/** `npm start` on port 0 as a child (test/helpers/spawned-server.ts), relaying its outbox every 200 ms. */
const start = (env: Record<string, string>): SpawnedServer => spawnServer({ OUTBOX_POLL_MS: '200', ...env });
const kill = (p: SpawnedServer): Promise<void> => p.kill();

/** What helpers/clients.ts needs of a server: its url. */
const at = (url: string) => ({ url }) as unknown as TestServer;

const created: Names[] = [];
function fresh(): Names {
  const s = { schema: uid('t_crash_'), prefix: uid('tc') };
  created.push(s);
  return s;
}

test.after(async () => { await dropStores(created); });

const SWEEP_MS = 300;

/**
 * Every invariant (I1-I7, the I5 replay of each audit trail included) on the child's
 * schema: checkInvariants only needs the SQL client and the sweep interval.
 */
const invariants = (sql: Sql) => checkInvariants({ app: { sql, config: { SWEEP_INTERVAL_MS: SWEEP_MS } } } as unknown as TestServer);

/**
 * Runs `trials` trials one after another; a trial that throws is counted broken and the
 * rest still run. The summary line (read by `npm run test:faults`) always names the
 * broken ones; then the first failure fails the test.
 */
async function trialsOf<T>(trials: number, run: (t: number) => Promise<T>, summary: (done: T[], broken: number) => string): Promise<void> {
  const done: T[] = [];
  const errors: unknown[] = [];
  for (let t = 0; t < trials; t += 1) {
    try { done.push(await run(t)); } catch (e) { errors.push(e); console.error(`crash: trial ${t + 1}/${trials} broke: ${String((e as Error)?.message ?? e).slice(0, 500)}`); }
  }
  console.log(summary(done, errors.length));
  if (errors.length) throw errors[0];
}

const count = async (sql: Sql, q: string): Promise<number> => Number((await sql.unsafe(q))[0]?.n ?? -1);

// ---------------------------------------------------------------------------------------
// 1. SIGKILL in the middle of a stream of reports.

interface Sent { key: string; body: Record<string, unknown>; status: number | null; incidentId?: string; error?: string; retried?: number }

/** How a trial sends: `loops` civilians' apps side by side, each sending back to back. */
interface StreamShape { loops: number; severities: string[]; batches: boolean }
const STREAM: StreamShape = { loops: 4, severities: ['high'], batches: false };
/** A burst: enough side by side that reports are written in batches (group commit), every severity. */
const BURST: StreamShape = { loops: 64, severities: ['critical', 'high', 'medium', 'low'], batches: true };

/** The reports the child wrote in batches of more than one, from its own histogram. */
async function batchedReports(url: string): Promise<number> {
  const text = String((await http(at(url), 'GET', '/metrics')).body);
  const bucket = (le: string) => Number(new RegExp(`dispatch_report_batch_size_bucket\\{le="${le}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  const sum = Number(/dispatch_report_batch_size_sum (\d+)/.exec(text)?.[1] ?? 0);
  return sum - bucket('1');
}

async function streamTrial(trial: number, shape = STREAM): Promise<{ reports: number; lost: number; failed: number; committed: number; batched: number }> {
  const { schema, prefix } = fresh();
  const env = {
    DB_SCHEMA: schema, REDIS_PREFIX: prefix, SWEEP_INTERVAL_MS: String(SWEEP_MS), DISPATCH_DEADLINE_MS: '500',
    // One round finds nobody (no heroes), then the next waits long enough for the outbox to go quiet.
    DISPATCH_RETRY_MS: '60000', ESCALATED_RETRY_MS: '60000', REPORTS_PER_MINUTE: '100000',
    DEDUPE_RADIUS_M: '0', // separate emergencies at one spot
  };
  const civilian = await token('civilian', uid('civ-'));
  const sent: Sent[] = [];
  const first = start(env);
  let second: SpawnedServer | null = null;
  const sql = pg(schema, 2);
  try {
    const url1 = await first.url;
    let stop = false;
    const loop = async (n: number) => {
      for (let i = 0; !stop; i += 1) {
        const s: Sent = {
          key: uid(`k${trial}-${n}-${i}-`), status: null,
          body: {
            kind: 'fire', severity: shape.severities[(n + i) % shape.severities.length],
            location: { lat: 10 + n * 0.01, lng: 20 + i * 1e-4 }, description: `crash ${trial}/${n}/${i}`,
          },
        };
        sent.push(s);
        try {
          const res = await http(at(url1), 'POST', '/v1/incidents', { token: civilian, body: s.body, headers: { 'idempotency-key': s.key } });
          s.status = res.status;
          if (res.status === 201 || res.status === 200) s.incidentId = res.body.id;
          // Refused before anything was written (the gate was full): retried after the restart.
          else { s.error = JSON.stringify(res.body); if (res.status !== 503) return; }
        } catch (e) { s.error = String(e); return; } // the process died under us: this loop is done
      }
    };
    const loops = Array.from({ length: shape.loops }, (_, n) => loop(n));
    await eventually('some reports answered', () => sent.filter((s) => s.incidentId).length >= 20, 10_000);
    await sleep(800 + Math.random() * 400);
    const batched = await batchedReports(url1);
    // The kill must find batches being written, not reports one at a time.
    if (shape.batches) assert.ok(batched > 0, 'no report was written in a batch of more than one before the kill');
    first.child.kill('SIGKILL');
    const gone = await Promise.race([first.exit, sleep(10_000).then(() => null)]);
    assert.is(gone?.signal, 'SIGKILL', 'the child died of our SIGKILL');
    stop = true;
    await Promise.race([Promise.all(loops), sleep(15_000)]);

    const ok = sent.filter((s) => s.incidentId);
    const failed = sent.filter((s) => !s.incidentId);
    assert.ok(ok.length >= 20, `only ${ok.length} reports answered before the kill`);

    second = start(env);
    const url2 = await second.url;
    // Every report answered 2xx before the kill is in the database.
    const ids = ok.map((s) => s.incidentId!);
    const found = await sql<{ id: string }[]>`select id from incidents where id in ${sql(ids)}`;
    const lost = ids.filter((id) => !found.some((r) => r.id === id));
    assert.equal(lost, [], `reports answered 2xx but missing after the restart: ${lost.join(', ')}`);

    // The ones that got no answer are retried with their own keys: created now, or found.
    for (const s of failed) {
      const res = await http(at(url2), 'POST', '/v1/incidents', { token: civilian, body: s.body, headers: { 'idempotency-key': s.key } });
      assert.ok(res.status === 201 || res.status === 200, `retry of ${s.key} (${s.error}) answered ${res.status} ${JSON.stringify(res.body)}`);
      s.incidentId = res.body.id;
      s.retried = res.status;
    }

    // Nothing stays `reported`, and the outbox drains.
    await eventually('no incident left in reported', async () => (await count(sql, `select count(*)::int as n from incidents where state = 'reported'`)) === 0, 15_000)
      .catch(async (e) => { throw new Error(`${(e as Error).message}: ${JSON.stringify(await sql`select id, state, deadline_at from incidents where state = 'reported' limit 5`)}\n${second?.tail()}`); });
    await eventually('outbox drained', async () => (await count(sql, 'select count(*)::int as n from outbox')) === 0, 15_000);
    const states = await sql<{ state: string; n: number }[]>`select state, count(*)::int as n from incidents group by 1`;
    for (const { state } of states) assert.ok(['dispatching', 'escalated', 'assigned'].includes(state), `unexpected state ${state}`);

    // Exactly one incident per distinct key: the retries created no duplicates.
    const keys = new Set(sent.map((s) => s.key));
    assert.is(keys.size, sent.length);
    assert.is(await count(sql, 'select count(*)::int as n from incidents'), keys.size, 'one incident per idempotency key');
    assert.is(await count(sql, 'select count(*)::int as n from idempotency_keys'), keys.size);
    assert.is(new Set(sent.map((s) => s.incidentId)).size, keys.size, 'every key names its own incident');
    await invariants(sql);
    return { reports: sent.length, lost: lost.length, failed: failed.length, committed: failed.filter((s) => s.retried === 200).length, batched };
  } finally {
    await kill(first);
    if (second) await kill(second);
    await sql.end({ timeout: 5 });
  }
}

test('SIGKILL during a stream of reports: nothing answered 2xx is lost, nothing stays undispatched, no duplicates', async () => {
  const started = Date.now();
  const trials = 3;
  await trialsOf(trials, streamTrial, (done, broken) => {
    const sum = (k: 'reports' | 'lost' | 'failed' | 'committed') => done.reduce((n, r) => n + r[k], 0);
    const [reports, lost, failed, committed] = [sum('reports'), sum('lost'), sum('failed'), sum('committed')];
    return `crash: reports-stream ${trials} trials, ${reports} reports, ${lost} lost (${failed} unanswered at the kill, retried: ${committed} had committed, ${failed - committed} created), ${broken} broken (${Date.now() - started} ms)`;
  });
});

test('SIGKILL during a burst written in batches: nothing answered 2xx is lost, nothing stays undispatched, no duplicates', async () => {
  const started = Date.now();
  const trials = 2;
  await trialsOf(trials, (t) => streamTrial(t, BURST), (done, broken) => {
    const sum = (k: 'reports' | 'lost' | 'failed' | 'committed' | 'batched') => done.reduce((n, r) => n + r[k], 0);
    return `crash: reports-burst ${trials} trials, ${sum('reports')} reports (${sum('batched')} written in batches of more than one before the kill), `
      + `${sum('lost')} lost (${sum('failed')} unanswered or refused at the kill, retried: ${sum('committed')} had committed), ${broken} broken (${Date.now() - started} ms)`;
  });
});

// ---------------------------------------------------------------------------------------
// 2. SIGKILL after an accept commits, before its ack is sent.

async function acceptTrial(trial: number): Promise<void> {
  const { schema, prefix } = fresh();
  const env = { DB_SCHEMA: schema, REDIS_PREFIX: prefix, SWEEP_INTERVAL_MS: String(SWEEP_MS), DISPATCH_RETRY_MS: '200' };
  const sql = pg(schema, 2);
  const redis = new Redis(base.REDIS_URL, { maxRetriesPerRequest: 3 });
  const clients: Client[] = [];
  const first = start({ ...env, FAULT_INJECTION: 'kill-after-accept-commit' });
  let second: SpawnedServer | null = null;
  try {
    const url1 = await first.url;
    const reg = await http(at(url1), 'POST', '/v1/heroes', {
      token: await token('dispatcher', uid('disp-')), body: { name: `Crash hero ${trial}`, skills: [], mode: 'ground' },
    });
    assert.is(reg.status, 201, JSON.stringify(reg.body));
    const heroId: string = reg.body.id;
    const heroToken = await token('hero', heroId);
    const hero = await connect(at(url1), 'hero', heroToken);
    clients.push(hero);
    await hero.next('session');
    assert.equal(await hero.ask('duty', { onDuty: true }), { ok: true });
    const centre = { lat: 45 + trial * 0.5, lng: 7 };
    hero.socket.emit('location', { lat: centre.lat, lng: centre.lng + 0.005 });
    await eventually('hero matchable', async () => (await redis.zscore(redisKeys(prefix).available, heroId)) !== null, 5_000);

    const civilian = await token('civilian', uid('civ-'));
    const rep = await http(at(url1), 'POST', '/v1/incidents', {
      token: civilian, headers: { 'idempotency-key': uid('key-') },
      body: { kind: 'medical', severity: 'critical', location: centre, description: 'crash after accept' },
    });
    assert.is(rep.status, 201, JSON.stringify(rep.body));
    const incidentId: string = rep.body.id;
    const offer = await hero.next<OfferPush>('offer', (o) => o.incident.id === incidentId, 10_000);

    // The accept commits, then the process dies before answering: no ack ever comes.
    let acked: unknown = 'no answer';
    await hero.ask('offer:accept', { offerId: offer.offerId }, 3_000).then((a) => { acked = a; }, () => {});
    assert.is(acked, 'no answer', `the accept was answered before the crash: ${JSON.stringify(acked)}`);
    const gone = await Promise.race([first.exit, sleep(10_000).then(() => null)]);
    assert.is(gone?.signal, 'SIGKILL', `the fault injection killed the child: ${first.tail()}`);
    await eventually('hero socket disconnected', () => !hero.socket.connected, 5_000);

    // Restarted without the fault: the committed accept is the truth.
    second = start(env);
    const url2 = await second.url;
    const back = await connect(at(url2), 'hero', heroToken);
    clients.push(back);
    const session = await back.next<HeroSession>('session');
    assert.is(session.assignment?.incidentId, incidentId, `session after restart: ${JSON.stringify(session)}`);
    assert.equal(await back.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId });
    assert.equal(await back.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId }, 'a second retry changes nothing');

    const active = await sql<{ hero_id: string; offer_id: string }[]>`select hero_id, offer_id from assignments where incident_id = ${incidentId} and state = 'active'`;
    assert.equal(active.map((r) => ({ ...r })), [{ hero_id: heroId, offer_id: offer.offerId }], 'exactly one active assignment, the hero\'s');
    assert.is(await count(sql, `select count(*)::int as n from assignments where incident_id = '${incidentId}'`), 1);
    const [inc] = await sql<{ state: string }[]>`select state from incidents where id = ${incidentId}`;
    assert.is(inc?.state, 'assigned');
    const [off] = await sql<{ state: string }[]>`select state from offers where id = ${offer.offerId}`;
    assert.is(off?.state, 'accepted');
    // The withdrawals and pushes the accept queued are carried out after the restart.
    await eventually('outbox drained', async () => (await count(sql, 'select count(*)::int as n from outbox')) === 0, 10_000);
    await invariants(sql);
  } finally {
    for (const c of clients) c.close();
    await kill(first);
    if (second) await kill(second);
    redis.disconnect();
    await sql.end({ timeout: 5 });
  }
}

test('SIGKILL between an accept\'s commit and its ack: the restart shows the assignment, a retried accept is ok', async () => {
  const started = Date.now();
  const trials = 2;
  await trialsOf(trials, acceptTrial, (_, broken) =>
    `crash: kill-after-accept-commit ${trials} trials, ${broken} broken (assignment kept and retry answered ok in the others; ${Date.now() - started} ms)`);
});

test.run();
