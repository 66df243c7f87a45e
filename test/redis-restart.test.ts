// Redis really restarts: the suite's own redis-server child (test/helpers/redis-server.ts;
// the Redis at REDIS_URL is never touched) is killed with SIGKILL and started again,
// empty, on the same port. Readiness drops and returns, ioredis reconnects, pings
// rebuild the heroes, and the BullMQ workers consume again: an offer the nearest hero
// ignores must be expired by its BullMQ expiry job, because the sweeper (the other
// way an offer expires) is slowed to once in ten minutes here.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { eventually, http, sleep } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startRedisServer, type PrivateRedis } from './helpers/redis-server.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, east, heroOnline, matchable, report } from './helpers/world.ts';

const test = suite<{ server: TestServer; redis: PrivateRedis }>('redis restart');

const OFFER_TIMEOUT_MS = 1_500;
/** A BullMQ delayed job fires within a few hundred ms of its time; generous for a loaded machine. */
const EXPIRY_SLACK_MS = 3_000;

test.before(async (ctx) => {
  ctx.redis = await startRedisServer();
  ctx.server = await startServer({
    REDIS_URL: ctx.redis.url, DISPATCH_DEADLINE_MS: 500, DISPATCH_RETRY_MS: 200, LOCATION_FRESH_MS: 3_000,
    OFFER_TIMEOUT_MS, SWEEP_INTERVAL_MS: 600_000,
  });
});
test.after(async (ctx) => {
  try {
    // Whatever happened, give the server its Redis back so it stops cleanly.
    if (ctx.redis && !(await ctx.redis.up())) await ctx.redis.restart();
    await ctx.server?.stop();
  } finally {
    await ctx.redis?.cleanup();
  }
});
test.after.each(async (ctx) => { await checkInvariants(ctx.server); });

test('after a real Redis restart the workers consume again and dispatch works', async ({ server, redis }) => {
  const center = area();
  const near = await heroOnline(server, center, 0.4);
  const far = await heroOnline(server, center, 2);
  const pinger = setInterval(() => {
    near.client.socket.emit('location', east(center, 0.4));
    far.client.socket.emit('location', east(center, 2));
  }, 200);
  try {
    await redis.kill();
    const down = await eventually('/readyz 503 while Redis is down', async () => {
      const res = await http(server, 'GET', '/readyz');
      return res.status === 503 ? res : null;
    }, 5_000);
    assert.is(down.body.checks.redis, false);
    await sleep(500);
    await redis.restart();
    await eventually('ready again', async () => (await http(server, 'GET', '/readyz')).status === 200, 10_000);
    // Redis came back empty: only the pings can make the heroes matchable again.
    await matchable(server, [near, far], 10_000);

    const civ = await server.token('civilian', uid('civ-'));
    const { status, incident } = await report(server, civ, { kind: 'accident', severity: 'low', location: center });
    assert.is(status, 201, JSON.stringify(incident));
    // Low severity: the nearest hero first, alone. That offer is made in-process; it is
    // left unanswered, so only its BullMQ expiry job can move the incident on.
    const ignored = await near.client.next('offer', (o) => o.incident.id === incident.id, 5_000);
    assert.is(far.client.all('offer').length, 0, 'low severity: one hero at a time');
    const job = `${server.prefix}:bull:expiry:offer-${ignored.offerId}`;
    await eventually('the expiry job queued in the restarted Redis', async () => (await server.app.redis.exists(job)) === 1, 3_000);

    const withdrawn = await near.client.next('offer:withdrawn', (w) => w.offerId === ignored.offerId, OFFER_TIMEOUT_MS + EXPIRY_SLACK_MS + 2_000);
    assert.is(withdrawn.reason, 'expired');
    const [row] = await server.app.sql<{ state: string; decided_at: Date; expires_at: Date }[]>`
      select state, decided_at, expires_at from offers where id = ${ignored.offerId}`;
    assert.is(row?.state, 'expired');
    const lateMs = row!.decided_at.getTime() - row!.expires_at.getTime();
    assert.ok(lateMs >= 0 && lateMs <= EXPIRY_SLACK_MS, `offer expired ${lateMs} ms after expires_at: not by its expiry job`);

    const offer = await far.client.next('offer', (o) => o.incident.id === incident.id, 5_000);
    assert.equal(await far.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
    const [inc] = await server.app.sql`select state from incidents where id = ${incident.id}`;
    assert.is(inc?.state, 'assigned');
  } finally {
    clearInterval(pinger);
    near.client.close();
    far.client.close();
  }
});

test.run();
