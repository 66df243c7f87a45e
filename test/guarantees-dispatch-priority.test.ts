// README "Critical first": dispatch rounds waiting in BullMQ run in severity order, and
// the outbox carry runs critical work first when its carriers are busy. The server
// here runs on a private Redis, which the carry test pauses (SIGSTOP) to keep the one
// carrier busy; the configured Redis is never touched.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SEVERITY_RANK, type Severity } from '../shared/domain.ts';
import { createLogger } from '../server/log.ts';
import { redisKeys } from '../server/redis.ts';
import { Queues } from '../server/workers/queues.ts';
import { eventually } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startRedisServer, type PrivateRedis } from './helpers/redis-server.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, cancelByDispatcher, dispatcherToken, reportAlone, report as send } from './helpers/world.ts';
import { http } from './helpers/clients.ts';
import { holdCell } from './helpers/cell-lock.ts';

interface Ctx { redis: PrivateRedis; server: TestServer }
const test = suite<Ctx>('README guarantees: critical first');

test.before(async (ctx) => {
  ctx.redis = await startRedisServer();
  ctx.server = await startServer({
    REDIS_URL: ctx.redis.url,
    // One carrier (a third of the pool), and no relay pass to take rows behind its back.
    DB_POOL_SIZE: 3, OUTBOX_POLL_MS: 60_000,
    // These tests show the queues' order: no slot kept for critical work lets it skip them
    // (guarantees-critical-reserve.test.ts shows the reserves).
    DB_TX_CRITICAL_RESERVE: 0, OUTBOX_CARRY_CRITICAL_RESERVE: 0,
    // A paused Redis holds a report for at most this long (README: the limiter lets it through).
    REDIS_INTAKE_DEADLINE_MS: 50,
    DISPATCH_RETRY_MS: 20_000, REPORTS_PER_MINUTE: 100_000,
    // A report held on a lock for the length of a test must not time out, nor the
    // reports waiting for its transaction slot.
    DB_QUERY_TIMEOUT_MS: 30_000, REPORTS_QUEUE_WAIT_MS: 30_000,
  });
});
test.after(async (ctx) => {
  await ctx.server?.stop();
  await ctx.redis?.cleanup();
});
test.after.each(async (ctx) => { await checkInvariants(ctx.server); });



test('severity priority: waiting dispatch rounds run critical first, then high, medium, low (arrival order within one)', async ({ redis }) => {
  // The server's own Queues class on its own prefix; the worker starts only once every
  // round waits, with one slot, so the order it takes them in is the queue's order.
  const producer = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queues = new Queues(producer, connection, uid('prio'), createLogger('silent'));
  try {
    const arrivals: [string, Severity][] = [['low-1', 'low'], ['medium', 'medium'], ['low-2', 'low'], ['high', 'high'], ['critical', 'critical']];
    for (const [id, severity] of arrivals) await queues.addDispatch(id, 'k', 0, severity);
    const ran: string[] = [];
    queues.startWorkers({ dispatch: async (job) => { ran.push(job.incidentId); }, expire: async () => {}, sweep: async () => {}, retention: async () => {} }, 1);
    await eventually('every waiting round ran', () => ran.length === arrivals.length, 5_000);
    assert.equal(ran, ['critical', 'high', 'medium', 'low-1', 'low-2']);
  } finally {
    await queues.close();
    producer.disconnect();
    connection.disconnect();
  }
});

test('severity priority: a round the server queues in BullMQ carries its incident\'s severity as priority', async ({ server, redis }) => {
  const incidents = { critical: await reportAlone(server, 'critical'), medium: await reportAlone(server, 'medium'), low: await reportAlone(server, 'low') };
  // Nobody in range: each first round queues a delayed retry through the outbox.
  const connection = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  const queue = new Queue('dispatch', { connection, prefix: redisKeys(server.prefix).bullPrefix });
  try {
    const priorities = await eventually('a queued retry for every incident', async () => {
      const jobs = await queue.getJobs(['delayed', 'prioritized', 'wait']);
      const of = (id: string) => jobs.find((j) => j.data.incidentId === id)?.opts.priority;
      const found = { critical: of(incidents.critical.id), medium: of(incidents.medium.id), low: of(incidents.low.id) };
      return Object.values(found).every((p) => p !== undefined) && found;
    }, 5_000);
    assert.equal(priorities, { critical: SEVERITY_RANK.critical + 1, medium: SEVERITY_RANK.medium + 1, low: SEVERITY_RANK.low + 1 });
    assert.ok(priorities.critical! < priorities.medium! && priorities.medium! < priorities.low!, 'BullMQ takes lower numbers first');
  } finally {
    await queue.close();
    connection.disconnect();
  }
  for (const i of Object.values(incidents)) await cancelByDispatcher(server, i.id);
});

test('severity priority: with the carrier busy, a critical report\'s round is carried out before an earlier low one', async ({ server, redis }) => {
  const pid = Number(/process_id:(\d+)/.exec(String(await redis.call('INFO', 'server')))?.[1]);
  assert.ok(pid > 0, 'the private redis-server pid');
  let busy: { id: string }, low: { id: string }, critical: { id: string };
  // While Redis is paused the first report's round (its Redis search) holds the only
  // carrier; the next two reports' rows wait for it, the low one first.
  process.kill(pid, 'SIGSTOP');
  try {
    busy = await reportAlone(server, 'low');
    low = await reportAlone(server, 'low');
    critical = await reportAlone(server, 'critical');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  // Microseconds: each round's transaction time, read in Postgres.
  const roundAt = async (id: string) => {
    const [row] = await server.app.sql<{ us: string }[]>`
      select (extract(epoch from at) * 1000000)::bigint::text as us from incident_events where incident_id = ${id} and type = 'ROUND' order by seq limit 1`;
    return row ? BigInt(row.us) : undefined;
  };
  const [lowAt, criticalAt] = await eventually('both rounds ran', async () => {
    const both = [await roundAt(low.id), await roundAt(critical.id)];
    return both.every((t) => t !== undefined) && (both as [bigint, bigint]);
  }, 10_000);
  assert.ok(criticalAt < lowAt, `the critical round ran first (critical at ${criticalAt} us, low at ${lowAt} us)`);
  for (const i of [busy, low, critical]) await cancelByDispatcher(server, i.id);
});

test('severity priority: a critical report waiting for a transaction slot goes before earlier low work', async ({ server }) => {
  // DB_POOL_SIZE 3 leaves one transaction slot (services/context.ts transactionSlots).
  const gauge = async (state: string) => {
    const got = await server.app.metrics.registry.getSingleMetric('dispatch_transactions')!.get();
    return got.values.find((v) => v.labels.state === state)?.value ?? 0;
  };
  const lows = [await reportAlone(server, 'low'), await reportAlone(server, 'low'), await reportAlone(server, 'low')];
  await eventually('no transaction running', async () => (await gauge('active')) === 0 && (await gauge('waiting')) === 0);
  // A report holds the slot: its transaction waits on its dedupe cell, which we lock.
  const at = area();
  const lock = await holdCell(server, 'accident', at);
  try {
    const civ = await server.token('civilian', uid('c-'));
    const stuck = send(server, civ, { kind: 'accident', severity: 'high', location: at });
    await eventually('the report holding the slot', async () => (await gauge('active')) === 1);
    // Low work first: three cancels wait for the slot; then a critical report comes.
    const disp = await dispatcherToken(server);
    const cancels = lows.map((i) => http(server, 'POST', `/v1/incidents/${i.id}/cancel`, { token: disp, body: { reason: 'low work' } }));
    // (A sweep's transaction may wait for the slot too: counted with the others.)
    // (The count alone once let a late cancel pass for the critical report: CI flake.)
    await eventually('the cancels waiting', async () => (await gauge('waiting')) >= 3);
    const critical = send(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'critical', location: area() });
    await eventually('the critical report waiting', async () => (await gauge('waiting_urgent')) === 1);
    await lock.release();
    assert.is((await stuck).status, 201);
    const made = await critical;
    assert.is(made.status, 201, JSON.stringify(made.incident));
    for (const c of await Promise.all(cancels)) assert.is(c.status, 200, JSON.stringify(c.body));
    // Each transaction's now() is its start: the critical report's began before every cancel's.
    const [row] = await server.app.sql<{ created_at: Date }[]>`select created_at from incidents where id = ${made.incident.id}`;
    const cancelled = await server.app.sql<{ at: Date }[]>`
      select at from incident_events where incident_id = any(${lows.map((i) => i.id)}::text[]) and type = 'CANCEL'`;
    assert.is(cancelled.length, 3);
    for (const c of cancelled) assert.ok(row!.created_at < c.at, `critical at ${row!.created_at.toISOString()}, a cancel at ${c.at.toISOString()}`);
    await cancelByDispatcher(server, made.incident.id);
  } finally {
    await lock.release();
  }
});

test.run();
