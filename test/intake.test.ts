// Intake never waits on Redis (DESIGN §1, §3): a report is answered within
// REDIS_INTAKE_DEADLINE_MS of Redis work while Redis is paused or dead, and nothing
// answered 2xx is lost. This suite breaks a redis-server of its own (never the shared
// :6379), started as a child process on a free port.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { eventually, http, sleep } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startRedisServer, type PrivateRedis } from './helpers/redis-server.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, closeAll, heroOnline, matchable, report, type OnlineHero } from './helpers/world.ts';

const DEADLINE_MS = 150;
const PAUSE_MS = 4_000;
/** The deadline plus a generous margin for the Postgres transaction on a loaded machine. */
const ANSWER_BOUND_MS = 1_500;

interface Ctx { server: TestServer; redis: PrivateRedis; heroes: OnlineHero[]; unhandled: unknown[] }
const test = suite<Ctx>('intake independent of Redis');
// A Redis call nobody awaits fails while Redis is away: it must be handled, not left
// to crash the process. Recorded here (and asserted on) instead of killing the runner.
let onUnhandled: ((err: unknown) => void) | undefined;

test.before(async (ctx) => {
  ctx.heroes = [];
  ctx.unhandled = [];
  onUnhandled = (err) => ctx.unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  ctx.redis = await startRedisServer();
  ctx.server = await startServer({
    REDIS_URL: ctx.redis.url, REDIS_INTAKE_DEADLINE_MS: DEADLINE_MS, SHUTDOWN_GRACE_MS: 5_000,
    SWEEP_INTERVAL_MS: 500, DISPATCH_RETRY_MS: 300, OFFER_TIMEOUT_MS: 30_000,
  });
});

test.after(async (ctx) => {
  closeAll(...ctx.heroes);
  try {
    // The server's shutdown and the helper's key cleanup talk to this Redis: let them.
    if (ctx.redis && !(await ctx.redis.up())) await ctx.redis.restart();
    await ctx.server?.stop();
  } finally {
    await ctx.redis?.cleanup();
    if (onUnhandled) process.off('unhandledRejection', onUnhandled);
  }
});

test.after.each(async (ctx) => { await checkInvariants(ctx.server); });

async function misses(server: TestServer): Promise<number> {
  const res = await http(server, 'GET', '/metrics');
  assert.is(res.status, 200);
  return [...String(res.body).matchAll(/^dispatch_redis_intake_misses_total\{[^}]*call="report_budget"[^}]*\} (\d+)/gm)]
    .reduce((n, m) => n + Number(m[1]), 0);
}

test('a critical report during CLIENT PAUSE is answered within the deadline, and dispatched once Redis answers', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const hero = await heroOnline(server, center, 0.5);
  ctx.heroes.push(hero);
  await matchable(server, [hero]);
  const missesBefore = await misses(server);
  const scrapedAt = Date.now();
  const civ = await server.token('civilian', uid('civ-'));

  assert.is(await ctx.redis.call('CLIENT', 'PAUSE', PAUSE_MS, 'ALL'), 'OK');
  const pausedAt = Date.now();
  const t0 = performance.now();
  const { status, incident } = await report(server, civ, { kind: 'medical', severity: 'critical', location: center, description: 'cardiac arrest' });
  const elapsed = performance.now() - t0;
  console.log(`  report during CLIENT PAUSE ${PAUSE_MS} ALL answered ${status} in ${Math.round(elapsed)} ms (deadline ${DEADLINE_MS} ms)`);
  assert.is(status, 201, JSON.stringify(incident));
  assert.ok(elapsed < ANSWER_BOUND_MS, `answered after ${Math.round(elapsed)} ms, not within the deadline`);
  assert.ok(Date.now() - pausedAt < PAUSE_MS, 'the pause still held when the answer came');
  const [row] = await server.app.sql`select state, severity from incidents where id = ${incident.id}`;
  assert.is(row?.severity, 'critical', 'the incident is in Postgres once 201 is answered');

  // /metrics (its cache expired) is not held by the hung Redis either: its probes have a deadline.
  await sleep(Math.max(0, server.app.config.METRICS_CACHE_MS + 50 - (Date.now() - scrapedAt)));
  const scrape = await http(server, 'GET', '/metrics');
  assert.is(scrape.status, 200);
  assert.ok(Date.now() - pausedAt < PAUSE_MS, `/metrics answered ${Date.now() - pausedAt} ms into the pause, not before it ended`);

  // Once the pause ends, dispatch (which may wait on Redis) carries on by itself.
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id, PAUSE_MS + 10_000);
  assert.is(offer.incident.severity, 'critical');
  assert.ok(await misses(server) > missesBefore, 'the skipped budget check is counted in /metrics');
});

test('with its Redis killed, reports are still answered 201 within the deadline and none is lost', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  await ctx.redis.kill();
  await eventually('redis down', async () => !(await ctx.redis.up()), 5_000);

  const answered: string[] = [];
  // The critical one where the hero will be; the others far away, so the hero's one
  // pending offer can only be the critical one.
  for (const [severity, location] of [['critical', center], ['high', area()], ['low', area()]] as const) {
    const t0 = performance.now();
    const { status, incident } = await report(server, token, { kind: 'fire', severity, location });
    const elapsed = performance.now() - t0;
    console.log(`  report (${severity}) with Redis dead answered ${status} in ${Math.round(elapsed)} ms`);
    assert.is(status, 201, JSON.stringify(incident));
    assert.ok(elapsed < ANSWER_BOUND_MS, `answered after ${Math.round(elapsed)} ms`);
    answered.push(incident.id);
  }
  const rows = await server.app.sql`select id from incidents where reported_by = ${civ}`;
  assert.equal(rows.map((r) => r.id).sort(), [...answered].sort(), 'every report answered 201 is an incident row');

  // Redis comes back empty: the reports made while it was dead are dispatched to a hero
  // who comes online afterwards (their dispatch work waited in the Postgres outbox).
  await ctx.redis.restart();
  await eventually('server ready again', async () => (await http(server, 'GET', '/readyz')).status === 200, 10_000);
  const hero = await heroOnline(server, center, 0.3);
  ctx.heroes.push(hero);
  const offer = await hero.client.next('offer', (o) => o.incident.id === answered[0], 20_000);
  assert.is(offer.incident.severity, 'critical');
  assert.equal(ctx.unhandled.map(String), [], 'a Redis call failed while Redis was down and nobody handled it');
});

test.run();
