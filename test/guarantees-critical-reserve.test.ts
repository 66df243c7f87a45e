// README "Critical first" (issue 14): going first in a queue is not enough when every
// slot is held by lesser work that started earlier. The report gate, the transaction
// slots and the outbox carriers each keep slots that only critical work may take
// (REPORTS_CRITICAL_RESERVE, DB_TX_CRITICAL_RESERVE, OUTBOX_CARRY_CRITICAL_RESERVE). The
// server here has one of each ordinary slot and one in reserve, on a private Redis that
// the carrier test pauses (SIGSTOP); the configured Redis is never touched.
import postgres from 'postgres';
import { suite } from 'uvu';
import { PriorityLimiter } from '../server/concurrency/priority-limiter.ts';
import { AcceptGate } from '../server/services/accept.gate.ts';
import { inTx, type ServiceContext } from '../server/services/context.ts';
import * as assert from 'uvu/assert';
import { holdCell } from './helpers/cell-lock.ts';
import { eventually, sleep } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startRedisServer, type PrivateRedis } from './helpers/redis-server.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, cancelByDispatcher, closeAll, heroOnline, matchable, reportAlone, report as send } from './helpers/world.ts';

interface Ctx { redis: PrivateRedis; server: TestServer }
const test = suite<Ctx>('README guarantees: critical work has slots of its own');

test.before(async (ctx) => {
  ctx.redis = await startRedisServer();
  ctx.server = await startServer({
    REDIS_URL: ctx.redis.url,
    // One transaction slot and one carrier (services/context.ts transactionSlots, relayLimits),
    // one report written at once; and one more of each for critical work alone.
    DB_POOL_SIZE: 3, REPORTS_CONCURRENCY: 1, REPORTS_LOOP_DELAY_MS: 0,
    DB_TX_CRITICAL_RESERVE: 1, OUTBOX_CARRY_CRITICAL_RESERVE: 1, REPORTS_CRITICAL_RESERVE: 1,
    // No relay pass to take rows behind the carriers' backs; a paused Redis holds a report
    // for at most this long; a report held on a lock for the length of a test must not time out.
    OUTBOX_POLL_MS: 60_000, REDIS_INTAKE_DEADLINE_MS: 50, DB_QUERY_TIMEOUT_MS: 30_000, REPORTS_QUEUE_WAIT_MS: 30_000,
    DISPATCH_RETRY_MS: 20_000, REPORTS_PER_MINUTE: 100_000,
  });
});
test.after(async (ctx) => {
  await ctx.server?.stop();
  await ctx.redis?.cleanup();
});
test.after.each(async (ctx) => { await checkInvariants(ctx.server); });

/** Two carries run, none waits: `what` started beside the one holding the only carrier. */
async function runsBeside(server: TestServer, what: string): Promise<void> {
  const seen = await eventually(`${what} running beside the busy one`, async () => {
    const now = { active: await gauge(server, 'dispatch_outbox_carries', 'active'), waiting: await gauge(server, 'dispatch_outbox_carries', 'waiting') };
    return now.active === 2 && now;
  });
  assert.equal(seen, { active: 2, waiting: 0 });
}

async function gauge(server: TestServer, name: string, state: string): Promise<number> {
  const got = await server.app.metrics.registry.getSingleMetric(name)!.get();
  return got.values.find((v) => v.labels.state === state)?.value ?? 0;
}



test('a critical report is written and offered while a high report holds the only report slot and the only transaction slot', async ({ server }) => {
  const at = area();
  const hero = await heroOnline(server, at, 0.5);
  await matchable(server, [hero]);
  await eventually('no transaction running', async () => (await gauge(server, 'dispatch_transactions', 'active')) === 0);
  // The high report holds the gate's one slot and the one transaction slot: its
  // transaction waits on its dedupe cell, which we lock.
  const elsewhere = area();
  const lock = await holdCell(server, 'accident', elsewhere);
  let stuckDone = false;
  try {
    const stuck = send(server, await server.token('civilian', uid('c-')), { kind: 'accident', severity: 'high', location: elsewhere })
      .finally(() => { stuckDone = true; });
    await eventually('the high report holding the slot', async () => (await gauge(server, 'dispatch_transactions', 'active')) === 1);
    const critical = send(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'critical', location: at });
    // Bounded: without the reserves it would wait for the lock, which is held longer.
    const made = await Promise.race([critical, sleep(8_000).then(() => null)]);
    assert.ok(made, 'the critical report was answered while the high one held every ordinary slot');
    assert.is(made.status, 201, JSON.stringify(made.incident));
    const offer = await hero.client.next('offer', (o) => o.incident.id === made.incident.id, 8_000);
    assert.is(offer.incident.severity, 'critical');
    assert.not.ok(stuckDone, 'the high report was still waiting on its lock');
    await lock.release();
    assert.is((await stuck).status, 201);
    const declined = await hero.client.ask('offer:decline', { offerId: offer.offerId });
    assert.ok(declined.ok, JSON.stringify(declined));
    await cancelByDispatcher(server, made.incident.id);
  } finally {
    await lock.release();
    closeAll(hero);
  }
});

test('with the only carrier busy, a critical report\'s carry starts at once in the reserve', async ({ server, redis }) => {
  const pid = Number(/process_id:(\d+)/.exec(String(await redis.call('INFO', 'server')))?.[1]);
  assert.ok(pid > 0, 'the private redis-server pid');
  const carries = async () => ({ active: await gauge(server, 'dispatch_outbox_carries', 'active'), waiting: await gauge(server, 'dispatch_outbox_carries', 'waiting') });
  await eventually('no carry running', async () => (await carries()).active === 0);
  let low: { id: string } | undefined;
  let critical: { id: string } | undefined;
  // While Redis is paused the low report's round (its Redis search) holds the carrier.
  process.kill(pid, 'SIGSTOP');
  try {
    low = await reportAlone(server, 'low');
    await eventually('the low report\'s carry holding the carrier', async () => (await carries()).active === 1);
    critical = await reportAlone(server, 'critical', 'fire');
    // Its round waits on the paused Redis too, but in a carrier of its own, not in the queue.
    await runsBeside(server, 'the critical carry');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await eventually('both rounds ran', async () => {
    const [row] = await server.app.sql<{ n: number }[]>`
      select count(distinct incident_id)::int as n from incident_events where incident_id = any(${[low!.id, critical!.id]}::text[]) and type = 'ROUND'`;
    return row!.n === 2;
  }, 10_000);
  for (const i of [low!, critical!]) await cancelByDispatcher(server, i.id);
});

test('with the only carrier busy, a report linked to a critical incident is carried at once too (an incident\'s carries run in order)', async ({ server, redis }) => {
  const pid = Number(/process_id:(\d+)/.exec(String(await redis.call('INFO', 'server')))?.[1]);
  const carries = async () => ({ active: await gauge(server, 'dispatch_outbox_carries', 'active'), waiting: await gauge(server, 'dispatch_outbox_carries', 'waiting') });
  const critical = await reportAlone(server, 'critical', 'fire');
  await eventually('the critical incident\'s first round done', async () => (await carries()).active === 0);
  let low: { id: string } | undefined;
  process.kill(pid, 'SIGSTOP');
  try {
    low = await reportAlone(server, 'low');
    await eventually('the low report\'s carry holding the carrier', async () => (await carries()).active === 1);
    // A high report of the same fire: linked to the critical incident, and its push of
    // that incident must not queue behind the low round as lesser work (the critical
    // incident's next carry, its round, would wait behind it).
    const linked = await send(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'high', location: critical.location });
    assert.is(linked.status, 200, JSON.stringify(linked.incident));
    assert.is(linked.incident.id, critical.id);
    await runsBeside(server, 'the linked report\'s carry');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await eventually('every carry done', async () => (await carries()).active === 0, 10_000);
  for (const i of [low!, critical]) await cancelByDispatcher(server, i.id);
});

test('an accept (urgent) waits ahead of other work but never takes the reserved transaction slot; critical work does', async ({ server }) => {
  // inTx on a limiter of its own with the server's shape: one ordinary slot, one in reserve;
  // and a pool of its own with a connection for each, so the server's own sweeps and
  // carries (which share its three connections) cannot hold the critical one back.
  const { config, log, metrics } = server.app;
  const sql = postgres(config.DATABASE_URL, { max: 2, onnotice: () => {} });
  const transactions = new PriorityLimiter({ concurrency: 1, urgentReserve: 1 });
  const ctx: ServiceContext = { config, sql, log, metrics, outbox: { carrier: () => null, carry: () => {} }, acceptGate: new AcceptGate(), transactions };
  let open!: () => void;
  const gate = new Promise<void>((r) => { open = r; });
  const ran: string[] = [];
  const holding = inTx(ctx, 'hold', async () => { ran.push('normal'); await gate; });
  await eventually('the ordinary slot held, its transaction begun', () => transactions.active === 1 && ran.length === 1);
  const accept = inTx(ctx, 'accept', async () => { ran.push('urgent'); }, { priority: 'urgent' });
  const critical = inTx(ctx, 'round', async () => { ran.push('critical'); }, { priority: 'critical' });
  try {
    await Promise.race([critical, sleep(20_000)]);
    assert.equal(ran, ['normal', 'critical'], 'the critical transaction ran in the reserve; the accept still waits');
    assert.is(transactions.waiting, 1);
  } finally {
    // Never leave the held transaction open, whatever was asserted.
    open();
    await Promise.allSettled([holding, accept, critical]);
    await sql.end();
  }
  assert.equal(ran, ['normal', 'critical', 'urgent']);
});

test.run();
