// Faults injected for real against a running server (DESIGN §1, §3): Redis emptied
// right after a report and in the middle of an offer, a hero going silent on an
// assignment, an available hero's pings stopping, Postgres dropping every connection of
// the app, and the /metrics series that should move meanwhile. Every wait is bounded;
// the invariants are checked after every trial and every scenario.
//
// "Emptying Redis" deletes every key of this server's prefix in one Lua script: for the
// server under test that is exactly a FLUSHALL (every key it owns is prefixed), without
// wiping suites other people run against the same Redis at the same time. Set
// FAULTS_FLUSHALL=1 to issue a literal FLUSHALL instead. Likewise pg_terminate_backend
// only hits this process's connections (found through /proc), never another run's.
import { readdir, readFile, readlink } from 'node:fs/promises';
import postgres from 'postgres';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LatLng } from '../shared/types.ts';
import { connect, eventually, http, sleep, type Client } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, east, heroOnline, matchable, report, type OnlineHero } from './helpers/world.ts';

const FAST = {
  DEDUPE_RADIUS_M: 0, // separate emergencies at one spot
  SWEEP_INTERVAL_MS: 300, DISPATCH_DEADLINE_MS: 500, OFFER_TIMEOUT_MS: 1_500, HERO_LOST_AFTER_MS: 1_500,
  LOCATION_FRESH_MS: 2_000, DISPATCH_RETRY_MS: 200, ESCALATED_RETRY_MS: 1_000,
};
const PING_MS = 250;
/** Slack for a loaded 2-core test machine on top of every timing bound. */
const MARGIN_MS = 1_500;

type Ctx = { server: TestServer; disp: string };
const test = suite<Ctx>('faults');

// What a scenario opened, torn down by after.each whatever happened.
const pingers = new Set<NodeJS.Timeout>();
const clients: Client[] = [];
const track = (c: Client) => { clients.push(c); return c; };

interface Pinging extends OnlineHero { at: LatLng; stop(): void }

/** Emits `location` for the hero every PING_MS until stopped. */
function keepPinging(h: OnlineHero, at: LatLng): Pinging {
  const timer = setInterval(() => { if (h.client.socket.connected) h.client.socket.emit('location', at); }, PING_MS);
  pingers.add(timer);
  return { ...h, at, stop: () => { clearInterval(timer); pingers.delete(timer); } };
}

/** A registered hero on duty, `km` east of `center`, pinging until stopped. */
async function pinging(server: TestServer, center: LatLng, km: number): Promise<Pinging> {
  const h = await heroOnline(server, center, km);
  track(h.client);
  return keepPinging(h, east(center, km));
}

function stopAll(): void {
  for (const t of pingers) clearInterval(t);
  pingers.clear();
  for (const c of clients.splice(0)) c.close();
}

const WIPE = `local n = 0
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k); n = n + 1 end
return n`;

/**
 * A real FLUSHALL (suites run one at a time). FAULTS_FLUSH=prefix wipes only this
 * server's keys, for running the suite beside other users of the same Redis.
 */
async function flushRedis(server: TestServer): Promise<void> {
  if (process.env.FAULTS_FLUSH === 'prefix') await server.app.redis.eval(WIPE, 0, `${server.prefix}:*`);
  else await server.app.redis.flushall();
}

/** Local ports of this process's TCP connections to Postgres (5432 = 0x1538). */
async function ownPgPorts(): Promise<number[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir('/proc/self/fd')) {
    const link = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]!);
  }
  const ports: number[] = [];
  for (const file of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    for (const line of (await readFile(file, 'utf8').catch(() => '')).split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[2]!.endsWith(':1538') && inodes.has(cols[9]!)) ports.push(parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** Terminates the app's Postgres connections from a separate client; returns how many. */
async function dropPgConnections(): Promise<number> {
  const ports = await ownPgPorts();
  assert.ok(ports.length > 0, 'found no Postgres connections of this process');
  const admin = postgres('postgres://root@127.0.0.1:5432/postgres', { max: 1, onnotice: () => {} });
  try {
    const rows = await admin`select pg_terminate_backend(pid) as ok from pg_stat_activity
      where application_name = 'superhero-dispatch' and pid <> pg_backend_pid() and client_port = any(${ports}::int[])`;
    return rows.filter((r) => r.ok).length;
  } finally { await admin.end({ timeout: 2 }); }
}

const offerFor = (h: { client: Client }, incidentId: string, ms = 5_000) =>
  h.client.next<{ offerId: string; expiresAt: number }>('offer', (o: any) => o.incident.id === incidentId, ms);

const incidentState = async (server: TestServer, id: string) =>
  (await server.app.sql<{ state: string }[]>`select state from incidents where id = ${id}`)[0]?.state;

async function accept(h: { client: Client }, offerId: string, incidentId: string): Promise<void> {
  assert.equal(await h.client.ask('offer:accept', { offerId }), { ok: true, incidentId });
}

/** Takes an incident the hero holds to `resolved`, so no work is left behind. */
async function finish(h: { client: Client }, incidentId: string): Promise<void> {
  for (const state of ['en_route', 'on_scene', 'resolved'] as const) {
    assert.equal(await h.client.ask('incident:progress', { incidentId, state }), { ok: true, state });
  }
}

async function newIncident(server: TestServer, at: LatLng, severity = 'low'): Promise<string> {
  const { status, incident } = await report(server, await server.token('civilian', uid('civ-')), { kind: 'accident', severity, location: at });
  assert.is(status, 201, JSON.stringify(incident));
  return incident.id;
}

/** Runs `trial` n times; a trial that throws or leaves an invariant broken counts as broken. */
async function trials(server: TestServer, name: string, n: number, trial: (i: number) => Promise<string>): Promise<void> {
  const failures: string[] = [];
  const notes: string[] = [];
  const started = Date.now();
  for (let i = 0; i < n; i++) {
    try { notes.push(await trial(i)); } catch (e) { failures.push(`trial ${i}: ${(e as Error).message}`); }
    stopAll();
    try { await checkInvariants(server); } catch (e) { failures.push(`trial ${i} invariants: ${(e as Error).message}`); }
  }
  console.log(`faults: ${name} ${n} trials, ${failures.length} broken (${((Date.now() - started) / 1000).toFixed(1)} s; ${notes.join(', ')})`);
  assert.is(failures.length, 0, failures.join('\n'));
}

test.before(async (ctx) => {
  ctx.server = await startServer(FAST);
  ctx.disp = await ctx.server.token('dispatcher', uid('disp-'));
});
test.after(async (ctx) => { stopAll(); await ctx.server?.stop(); });
test.after.each(async (ctx) => {
  stopAll();
  await checkInvariants(ctx.server);
  // Leave nothing moving for the next scenario: cancel what is open, let the outbox drain.
  const open = await ctx.server.app.sql<{ id: string }[]>`select id from incidents where state not in ('resolved', 'cancelled')`;
  for (const { id } of open) await http(ctx.server, 'POST', `/v1/incidents/${id}/cancel`, { token: ctx.disp, body: { reason: 'end of scenario' } });
  await eventually('outbox drained', async () => (await ctx.server.app.sql`select 1 from outbox limit 1`).length === 0, 5_000);
  await checkInvariants(ctx.server);
});

test('Redis emptied right after a report: the sweeper re-creates dispatch, pings rebuild heroes', async ({ server, disp }) => {
  let healed = 0;
  await trials(server, 'flush-after-report', 5, async () => {
    const center = area();
    const dispatcher = track(await connect(server, 'dispatch', disp));
    await dispatcher.next('snapshot');
    const heroes = [await pinging(server, center, 0.4), await pinging(server, center, 1.2)];
    await matchable(server, heroes);
    const id = await newIncident(server, center, 'high');
    await flushRedis(server);
    const flushedAt = Date.now();
    // High severity offers to both; whoever gets one first accepts.
    const got = await eventually('an offer after the flush', () => heroes.find((h) => h.client.all('offer').some((o) => o.incident.id === id)), 12_000);
    const offer = await offerFor(got, id);
    await accept(got, offer.offerId, id);
    assert.is(await incidentState(server, id), 'assigned');
    await finish(got, id);
    // Whether the flush beat the dispatch job (then only the sweeper could revive it) is timing.
    const bySweeper = dispatcher.all('alert').some((a) => a.type === 'incident_stuck' && a.incidentId === id);
    if (bySweeper) healed += 1;
    return `${Date.now() - flushedAt} ms${bySweeper ? ' (sweeper)' : ''}`;
  });
  console.log(`faults: flush-after-report: ${healed} of 5 incidents revived by the sweeper`);
});

test('Redis emptied mid-offer: the sweeper expires the offer, the next hero gets it', async ({ server }) => {
  const { SWEEP_INTERVAL_MS: sweepMs } = server.app.config;
  await trials(server, 'flush-mid-offer', 3, async () => {
    const center = area();
    const sleepy = await pinging(server, center, 0.3);
    const awake = await pinging(server, center, 2);
    await matchable(server, [sleepy, awake]);
    const id = await newIncident(server, center);
    const ignored = await offerFor(sleepy, id);
    assert.is(awake.client.all('offer').length, 0, 'low severity: one hero at a time');
    // Wait until the fast path (the BullMQ expiry job) exists, then wipe it.
    const job = `${server.prefix}:bull:expiry:offer-${ignored.offerId}`;
    await eventually('expiry job queued', async () => (await server.app.redis.exists(job)) === 1, 3_000);
    await flushRedis(server);
    assert.is(await server.app.redis.exists(job), 0);

    const row = await eventually('offer expired by the sweeper', async () => {
      const [r] = await server.app.sql<{ state: string; decided_at: Date; expires_at: Date }[]>`
        select state, decided_at, expires_at from offers where id = ${ignored.offerId}`;
      return r?.state === 'expired' ? r : null;
    }, FAST.OFFER_TIMEOUT_MS + 8_000);
    const lateMs = row.decided_at.getTime() - row.expires_at.getTime();
    assert.ok(lateMs >= 0, `expired ${-lateMs} ms early`);
    assert.ok(lateMs <= 2 * sweepMs + MARGIN_MS, `offer expired ${lateMs} ms after expires_at (bound ${2 * sweepMs + MARGIN_MS} ms)`);
    assert.is((await sleepy.client.next('offer:withdrawn', (w) => w.offerId === ignored.offerId)).reason, 'expired');

    const next = await offerFor(awake, id, 5_000);
    await accept(awake, next.offerId, id);
    assert.is(await incidentState(server, id), 'assigned');
    await finish(awake, id);
    return `+${lateMs} ms`;
  });
});

test('a hero gone silent on an assignment is released; the incident goes to another hero', async ({ server, disp }) => {
  const { HERO_LOST_AFTER_MS: lostMs, SWEEP_INTERVAL_MS: sweepMs } = server.app.config;
  const center = area();
  const dispatcher = track(await connect(server, 'dispatch', disp));
  await dispatcher.next('snapshot');
  const first = await pinging(server, center, 0.3);
  const second = await pinging(server, center, 3);
  await matchable(server, [first, second]);
  const id = await newIncident(server, center);
  const offer = await offerFor(first, id);
  await accept(first, offer.offerId, id);

  // Still pinging: never released, however long.
  await sleep(2 * lostMs);
  const [held] = await server.app.sql`select state from assignments where incident_id = ${id} and hero_id = ${first.id}`;
  assert.is(held?.state, 'active', 'released while still pinging');
  assert.not.ok(dispatcher.all('alert').some((a) => a.heroId === first.id), 'alert while still pinging');

  first.stop();
  first.client.close();
  const silentFrom = Date.now();
  const released = await eventually('assignment released', async () => {
    const [a] = await server.app.sql<{ state: string; reason: string; ended_at: Date }[]>`
      select state, reason, ended_at from assignments where incident_id = ${id} and hero_id = ${first.id}`;
    return a?.state === 'released' ? a : null;
  }, lostMs + 10 * sweepMs + 5_000);
  assert.is(released.reason, 'hero_unreachable');
  const tookMs = released.ended_at.getTime() - silentFrom;
  assert.ok(tookMs >= lostMs - PING_MS - 50, `released ${tookMs} ms after the last ping window, before ${lostMs} ms of silence`);
  assert.ok(tookMs <= lostMs + 3 * sweepMs + MARGIN_MS, `released only ${tookMs} ms after going silent`);
  const alert = await dispatcher.next('alert', (a) => a.type === 'hero_unreachable' && a.heroId === first.id, 3_000);
  assert.is(alert.incidentId, id);

  const again = await offerFor(second, id, 5_000);
  await accept(second, again.offerId, id);
  assert.is(await incidentState(server, id), 'assigned');

  // The silent hero comes back: nothing to resume, and the assignment row fences it out.
  const back = track(await connect(server, 'hero', first.token));
  assert.is((await back.next('session')).assignment, null);
  assert.equal(await back.ask('incident:progress', { incidentId: id, state: 'en_route' }), { ok: false, reason: 'released' });
  await finish(second, id);
});

test('an available hero whose pings stop is alerted as stale and offered nothing', async ({ server, disp }) => {
  const { LOCATION_FRESH_MS: freshMs, SWEEP_INTERVAL_MS: sweepMs } = server.app.config;
  const dispatcher = track(await connect(server, 'dispatch', disp));
  await dispatcher.next('snapshot');
  const center = area();
  const stale = await pinging(server, center, 0.2);
  const fresh = await pinging(server, center, 2.5);
  const lonely = area();
  const alone = await pinging(server, lonely, 0.2);
  await matchable(server, [stale, fresh, alone]);

  stale.stop();
  alone.stop();
  const quietFrom = Date.now();
  for (const h of [stale, alone]) {
    const a = await dispatcher.next('alert', (p) => p.type === 'location_stale' && p.heroId === h.id, freshMs + 10 * sweepMs + 5_000);
    assert.ok(a.at - quietFrom <= freshMs + 3 * sweepMs + MARGIN_MS, `stale alert ${a.at - quietFrom} ms after the last ping`);
  }

  // Nearest is the stale hero, but the fresh one gets the offer.
  const id = await newIncident(server, center);
  const offer = await offerFor(fresh, id, 5_000);
  await accept(fresh, offer.offerId, id);
  const toStale = await server.app.sql`select id from offers where hero_id = ${stale.id}`;
  assert.is(toStale.length, 0, 'the stale hero was offered something');
  assert.is(stale.client.all('offer').length, 0);

  // With only a stale hero around, the incident escalates instead.
  const lost = await newIncident(server, lonely, 'critical');
  const noHero = await dispatcher.next('alert', (a) => a.type === 'no_hero_found' && a.incidentId === lost, 8_000);
  assert.ok(noHero);
  assert.is(await incidentState(server, lost), 'escalated');
  assert.is((await server.app.sql`select id from offers where hero_id = ${alone.id}`).length, 0, 'the stale hero was offered the lonely incident');
  await finish(fresh, id);
});

test('Postgres drops every connection of the app: reports succeed again within seconds and get dispatched', async ({ server }) => {
  // An exception nobody can catch (thrown from a driver timer) would kill a real server
  // process; here it is recorded so the scenario fails instead of the whole test run.
  const crashes: Error[] = [];
  const onCrash = (e: Error) => { crashes.push(e); };
  process.on('uncaughtException', onCrash);
  try {
    await trials(server, 'pg-terminate', 3, async () => {
      const center = area();
      const crashed = () => crashes.splice(0).map((e) => e.stack).join('\n');
      const civilian = async () => server.token('civilian', uid('civ-'));
      const post = async () => report(server, await civilian(), { kind: 'fire', severity: 'medium', location: center })
        .then((r) => ({ status: r.status, id: r.incident?.id }), () => ({ status: 0, id: undefined }));
      // The drop lands while reports are in flight, as a real outage would.
      const inFlight = Array.from({ length: 5 }, post);
      const killed = await dropPgConnections();
      assert.ok(killed > 0, 'terminated no backend');
      const droppedAt = Date.now();
      const answered: { status: number; id?: string }[] = [];
      let firstOkMs = -1;
      while (Date.now() - droppedAt < 10_000 && answered.filter((a) => a.status === 201).length < 3) {
        const res = await post();
        answered.push(res);
        if (res.status === 201 && firstOkMs < 0) firstOkMs = Date.now() - droppedAt;
        if (res.status !== 201) await sleep(100);
      }
      answered.push(...await Promise.all(inFlight));
      const uncaught = crashed();
      assert.not.ok(uncaught, `the server process would have died after pg_terminate_backend: ${uncaught}`);
      assert.ok(firstOkMs >= 0 && firstOkMs <= 5_000, `first report accepted after ${firstOkMs} ms: ${answered.map((a) => a.status).join(',')}`);
      // Nothing answered 201 stays unworked.
      for (const { id } of answered.filter((a) => a.status === 201)) {
        await eventually(`incident ${id} dispatched`, async () => (await incidentState(server, id!)) !== 'reported', 5_000);
      }
      await eventually('/readyz 200', async () => (await http(server, 'GET', '/readyz')).status === 200, 5_000);
      const refused = answered.filter((a) => a.status !== 201).map((a) => a.status);
      return `${killed} dropped, first 201 after ${firstOkMs} ms${refused.length ? `, refused ${refused.join('/')}` : ''}`;
    });
    await sleep(300);
    assert.is(crashes.length, 0, `the server process would have died after pg_terminate_backend: ${crashes.map((e) => e.stack).join('\n')}`);
  } finally {
    process.off('uncaughtException', onCrash);
  }
});

/** Sum of a metric's samples whose labels contain `label` (all samples without one). */
async function scrape(server: TestServer): Promise<(name: string, label?: string) => number> {
  const res = await http(server, 'GET', '/metrics');
  assert.is(res.status, 200);
  const samples = String(res.body).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const cut = l.lastIndexOf(' ');
    const series = l.slice(0, cut);
    return { name: series.split('{')[0]!, series, value: Number(l.slice(cut + 1)) };
  });
  return (name, label) => samples.filter((s) => s.name === name && (!label || s.series.includes(label))).reduce((n, s) => n + s.value, 0);
}

test('/metrics moves with a report, an accept, an expiry by the sweeper and a stuck incident', async ({ server, disp }) => {
  const before = await scrape(server);
  const center = area();
  const a = await pinging(server, center, 0.5);
  await matchable(server, [a]);
  const id = await newIncident(server, center);
  await accept(a, (await offerFor(a, id)).offerId, id);
  const afterFlow = await scrape(server);
  const grew = (name: string, label?: string, from = before, to = afterFlow) =>
    assert.ok(to(name, label) > from(name, label), `${name}${label ? `{${label}}` : ''} did not grow: ${from(name, label)} → ${to(name, label)}`);
  grew('dispatch_reports_total');
  grew('dispatch_offers_total', 'outcome="sent"');
  grew('dispatch_offers_total', 'outcome="accepted"');
  grew('dispatch_report_to_first_offer_seconds_count');
  grew('dispatch_report_to_assigned_seconds_count');
  grew('dispatch_location_pings_total');
  grew('dispatch_outbox_relayed_total');

  // An offer whose expiry job Redis forgot: only the sweeper can expire it.
  const b = await pinging(server, east(center, 30), 0.3);
  await matchable(server, [b]);
  const second = await newIncident(server, east(center, 30));
  const ignored = await offerFor(b, second);
  await eventually('expiry job queued', async () => (await server.app.redis.exists(`${server.prefix}:bull:expiry:offer-${ignored.offerId}`)) === 1, 3_000);
  await flushRedis(server);
  await b.client.next('offer:withdrawn', (w) => w.offerId === ignored.offerId, FAST.OFFER_TIMEOUT_MS + 8_000);
  grew('dispatch_offers_total', 'outcome="expired"', afterFlow, await scrape(server));

  // An escalated incident whose delayed retry Redis forgot: past its deadline, the sweeper
  // re-creates the work, alerts and counts it as stuck.
  const dispatcher = track(await connect(server, 'dispatch', disp));
  await dispatcher.next('snapshot');
  const lonely = await newIncident(server, area(), 'critical');
  await dispatcher.next('alert', (p) => p.type === 'no_hero_found' && p.incidentId === lonely, 8_000);
  const beforeStuck = await scrape(server);
  // The levels: read from Postgres and Redis at scrape time.
  assert.ok(beforeStuck('dispatch_open_incidents', 'state="escalated"') >= 1, 'escalated incident counted');
  assert.ok(beforeStuck('dispatch_sockets_connected', 'namespace="hero"') >= 2, 'hero sockets counted');
  assert.ok(beforeStuck('dispatch_sockets_connected', 'namespace="dispatch"') >= 1, 'dispatcher sockets counted');
  assert.ok(beforeStuck('dispatch_queue_jobs', 'queue="dispatch",state="delayed"') >= 1, 'the escalated retry waits in the dispatch queue');
  const text = String((await http(server, 'GET', '/metrics')).body);
  for (const name of ['dispatch_outbox_pending_rows', 'dispatch_outbox_lag_seconds', 'dispatch_heroes_stale']) {
    assert.match(text, new RegExp(`^${name} \\d`, 'm'), `${name} exported`);
  }
  await flushRedis(server);
  await dispatcher.next('alert', (p) => p.type === 'incident_stuck' && p.incidentId === lonely, 10_000);
  grew('dispatch_incidents_stuck_total', undefined, beforeStuck, await scrape(server));
  await finish(a, id);
});

test.run();
