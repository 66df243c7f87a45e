// Redis really restarts (SHUTDOWN NOSAVE, then the same command CI uses to start it):
// readiness drops and returns, ioredis reconnects, the BullMQ workers consume again,
// and dispatch works end to end on the emptied Redis.
import { execFileSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { eventually, http, sleep } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, east, heroOnline, report } from './helpers/world.ts';

const test = suite<{ server: TestServer }>('redis restart');

async function redisUp(): Promise<boolean> {
  const probe = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try { await probe.connect(); return (await probe.ping()) === 'PONG'; } catch { return false; } finally { probe.disconnect(); }
}

function startRedis(): void {
  execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', '6379', '--save', '', '--appendonly', 'no',
    '--dir', '/var/lib/redis', '--logfile', '/var/log/redis/ci.log'], { stdio: 'ignore', timeout: 10_000 });
}

test.before(async (ctx) => {
  ctx.server = await startServer({ SWEEP_INTERVAL_MS: 300, DISPATCH_DEADLINE_MS: 500, DISPATCH_RETRY_MS: 200, LOCATION_FRESH_MS: 3_000 });
});
test.after(async (ctx) => {
  // Whatever happened, leave Redis running for the suites after this one.
  if (!(await redisUp())) startRedis();
  await eventually('redis back for the next suites', redisUp, 15_000);
  await ctx.server?.stop();
});
test.after.each(async (ctx) => { await checkInvariants(ctx.server); });

test('after a real Redis restart the workers consume again and dispatch works', async ({ server }) => {
  const center = area();
  const hero = await heroOnline(server, center, 0.4);
  const pinger = setInterval(() => hero.client.socket.emit('location', east(center, 0.4)), 200);
  try {
    const admin = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await admin.call('SHUTDOWN', 'NOSAVE').catch(() => {}); // the connection closes as it answers
    admin.disconnect();
    await eventually('redis down', async () => !(await redisUp()), 5_000);
    const down = await http(server, 'GET', '/readyz');
    assert.is(down.status, 503, 'not ready while Redis is down');
    assert.is(down.body.checks.redis, false);
    await sleep(500);
    startRedis();
    await eventually('redis up', redisUp, 10_000);
    await eventually('ready again', async () => (await http(server, 'GET', '/readyz')).status === 200, 10_000);

    const civ = await server.token('civilian', uid('civ-'));
    const { status, incident } = await report(server, civ, { kind: 'accident', severity: 'high', location: center });
    assert.is(status, 201);
    const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id, 15_000);
    assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
    const [row] = await server.app.sql`select state from incidents where id = ${incident.id}`;
    assert.is(row?.state, 'assigned');
  } finally {
    clearInterval(pinger);
    hero.client.close();
  }
});

test.run();
