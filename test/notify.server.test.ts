// Notifications through the real server: an offer the hero's app does not acknowledge
// escalates push → SMS → voice at a real webhook provider, stops when the offer is
// answered, and a provider that keeps failing ends in a dead letter and an alert.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { redisKeys } from '../server/redis.ts';
import { markOffersSeen } from '../server/store/offers.store.ts';
import { connect, eventually, type Client } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, closeAll, heroOnline, matchable, report } from './helpers/world.ts';

interface Received { key: string; channel: string; offerId: string; heroId: string; at: number; idempotencyKey: string | undefined }
interface Ctx { server: TestServer; provider: Server; received: Received[]; malformed: string[]; failing: boolean }

/** Long enough between channels that a test can answer the offer before the next one is due. */
const STEP_MS = 1_000;
const ACK_MS = 300;

const test = suite<Ctx>('notifications via the server');

test.before(async (ctx) => {
  ctx.received = [];
  ctx.malformed = [];
  ctx.failing = false;
  // The handler only records; the tests assert (an assertion thrown in here would be lost).
  ctx.provider = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (ctx.failing) { res.writeHead(500).end(); return; }
      try {
        const msg = JSON.parse(body) as Omit<Received, 'at' | 'idempotencyKey'>;
        const idem = req.headers['idempotency-key'];
        ctx.received.push({ ...msg, at: Date.now(), idempotencyKey: Array.isArray(idem) ? idem.join(',') : idem });
        res.writeHead(202).end();
      } catch {
        ctx.malformed.push(body.slice(0, 200));
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((r) => ctx.provider.listen(0, '127.0.0.1', r));
  const port = (ctx.provider.address() as AddressInfo).port;
  ctx.server = await startServer({
    NOTIFY_PROVIDER: 'webhook', NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${port}/notify`, NOTIFY_TIMEOUT_MS: 300,
    NOTIFY_ATTEMPTS: 2, NOTIFY_BACKOFF_MS: 50, NOTIFY_STEP_MS: STEP_MS, OFFER_ACK_MS: ACK_MS, OFFER_TIMEOUT_MS: 8_000,
  });
});
test.after(async (ctx) => {
  await ctx.server?.stop();
  await new Promise((r) => ctx.provider?.close(r));
});
test.after.each(async (ctx) => {
  // What the provider recorded during this test (taken, so one bad message fails one test).
  const received = ctx.received.splice(0);
  assert.equal(ctx.malformed.splice(0), [], 'the provider received only well-formed messages');
  for (const m of received) assert.is(m.idempotencyKey, m.key, `message ${m.key} carries its key as Idempotency-Key`);
  await checkInvariants(ctx.server);
});

/** A hero app that acknowledges every offer it receives, as a well-behaved client does. */
function acknowledging(client: Client): void {
  client.socket.on('offer', (_offer: unknown, ack?: (ok: boolean) => void) => ack?.(true));
}

const forOffer = (ctx: Ctx, offerId: string) => ctx.received.filter((m) => m.offerId === offerId);

/**
 * How this offer's job for `channel` ended, read from BullMQ's own event stream once
 * the worker completed it ('delivered', 'dead-letter' or 'unwanted'): an event, not a sleep.
 */
async function channelOutcome(ctx: Ctx, offerId: string, channel: 'push' | 'sms' | 'voice'): Promise<string> {
  const stream = `${redisKeys(ctx.server.prefix).bullPrefix}:notify:events`;
  const jobId = `notify-${offerId}-${channel}`;
  return eventually(`the ${channel} job of offer ${offerId} to complete`, async () => {
    for (const [, fields] of await ctx.server.app.redis.xrange(stream, '-', '+')) {
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
      if (f.get('event') === 'completed' && f.get('jobId') === jobId) return JSON.parse(f.get('returnvalue') ?? 'null') as string;
    }
    return null;
  }, 8_000).catch(async (e) => { throw new Error(`${(e as Error).message} (${await jobState(ctx, offerId, channel)})`); });
}

/** Where a notify job stands, for a failure message. */
async function jobState(ctx: Ctx, offerId: string, channel: string): Promise<string> {
  const bull = redisKeys(ctx.server.prefix).bullPrefix;
  const jobId = `notify-${offerId}-${channel}`;
  const redis = ctx.server.app.redis;
  const [marker, job, due] = await Promise.all([
    redis.exists(`${bull}:notify-once:${jobId}`), redis.exists(`${bull}:notify:${jobId}`), redis.zscore(`${bull}:notify:delayed`, jobId)]);
  if (!marker) return `${channel} never queued`;
  if (!job) return `${channel} job queued and gone, no completion event`;
  // BullMQ scores a delayed job by its due time times 0x1000 (plus a counter).
  return due === null ? `${channel} job waiting or active` : `${channel} job delayed, due in ${Math.floor(Number(due) / 0x1000) - Date.now()} ms`;
}

const channelQueued = async (ctx: Ctx, offerId: string, channel: string) =>
  (await ctx.server.app.redis.exists(`${redisKeys(ctx.server.prefix).bullPrefix}:notify-once:notify-${offerId}-${channel}`)) === 1;

test('an unacknowledged offer escalates push, then SMS, then voice, each once under its own key', async (ctx) => {
  const center = area();
  const hero = await heroOnline(ctx.server, center, 0.5);
  await matchable(ctx.server, [hero]);
  const { incident } = await report(ctx.server, await ctx.server.token('civilian', uid('c-')), { kind: 'crime', severity: 'medium', location: center });
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  await eventually('push, sms and voice', () => forOffer(ctx, offer.offerId).length >= 3, ACK_MS + 2 * STEP_MS + 5_000)
    .catch(async (e) => {
      const got = forOffer(ctx, offer.offerId).map((m) => m.channel);
      throw new Error(`${(e as Error).message}: received ${JSON.stringify(got)}; ${await jobState(ctx, offer.offerId, ['push', 'sms', 'voice'][got.length] ?? 'voice')}`);
    });
  assert.is(await channelOutcome(ctx, offer.offerId, 'voice'), 'delivered');
  const sent = forOffer(ctx, offer.offerId);
  assert.equal(sent.map((m) => m.channel), ['push', 'sms', 'voice']);
  assert.equal(sent.map((m) => m.key), ['push', 'sms', 'voice'].map((c) => `${offer.offerId}-${c}`));
  assert.ok(sent.every((m) => m.heroId === hero.id));
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  closeAll(hero);
});

test('answering the offer after the push stops the chain: no SMS, no voice', async (ctx) => {
  const center = area();
  const hero = await heroOnline(ctx.server, center, 0.5);
  await matchable(ctx.server, [hero]);
  const { incident } = await report(ctx.server, await ctx.server.token('civilian', uid('c-')), { kind: 'crime', severity: 'medium', location: center });
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  await eventually('push', () => forOffer(ctx, offer.offerId).length >= 1, ACK_MS + 5_000);
  const [push] = forOffer(ctx, offer.offerId);
  assert.is(push!.channel, 'push');
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  // The SMS job was queued when the push was delivered, due one step later; the accept
  // must have landed before that for this test to say anything.
  assert.ok(Date.now() < push!.at + STEP_MS, `the accept took ${Date.now() - push!.at} ms after the push, over the ${STEP_MS} ms step`);
  // The SMS job runs and finds the offer answered: the server's own stop check.
  assert.is(await channelOutcome(ctx, offer.offerId, 'sms'), 'unwanted');
  assert.equal(forOffer(ctx, offer.offerId).map((m) => m.channel), ['push'], 'nothing after the answer');
  assert.is(await channelQueued(ctx, offer.offerId, 'voice'), false, 'the chain stopped: voice was never queued');
  closeAll(hero);
});

test('an acknowledged medium offer sends nothing beyond the socket', async (ctx) => {
  const center = area();
  const hero = await heroOnline(ctx.server, center, 0.5);
  acknowledging(hero.client);
  await matchable(ctx.server, [hero]);
  const { incident } = await report(ctx.server, await ctx.server.token('civilian', uid('c-')), { kind: 'other', severity: 'medium', location: center });
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  await eventually('offer marked seen', async () => (await ctx.server.app.sql`select seen_at from offers where id = ${offer.offerId}`)[0]?.seen_at, 3_000);
  // The push job (due OFFER_ACK_MS after the offer) runs and finds the offer seen.
  assert.is(await channelOutcome(ctx, offer.offerId, 'push'), 'unwanted');
  assert.equal(forOffer(ctx, offer.offerId), []);
  assert.is(await channelQueued(ctx, offer.offerId, 'sms'), false, 'the chain stopped at the push');
  closeAll(hero);
});

test('a critical incident wakes the hero by push even when the app acknowledged', async (ctx) => {
  const center = area();
  const hero = await heroOnline(ctx.server, center, 0.5);
  acknowledging(hero.client);
  await matchable(ctx.server, [hero]);
  const { incident } = await report(ctx.server, await ctx.server.token('civilian', uid('c-')), { kind: 'fire', severity: 'critical', location: center });
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  await eventually('critical push', () => forOffer(ctx, offer.offerId).some((m) => m.channel === 'push'), 3_000);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  closeAll(hero);
});

test('a provider that keeps failing: dead letters and delivery_failed alerts', async (ctx) => {
  ctx.failing = true;
  try {
    const center = area();
    const dispatcher = await connect(ctx.server, 'dispatch', await ctx.server.token('dispatcher', uid('d-')));
    const hero = await heroOnline(ctx.server, center, 0.5);
    await matchable(ctx.server, [hero]);
    const { incident } = await report(ctx.server, await ctx.server.token('civilian', uid('c-')), { kind: 'medical', severity: 'high', location: center });
    const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
    const alert = await dispatcher.next('alert', (a) => a.type === 'delivery_failed' && a.incidentId === incident.id, 6_000);
    assert.is(alert.heroId, hero.id);
    const [row] = await ctx.server.app.sql`select channel, error from notification_dead_letters where key = ${`${offer.offerId}-push`}`;
    assert.is(row?.channel, 'push');
    assert.match(String(row?.error), /500/);
    closeAll(dispatcher, hero);
  } finally {
    ctx.failing = false;
  }
});

test('marking a round\'s offers seen while an accept holds one and withdraws another neither deadlocks nor loses a mark', async ({ server }) => {
  const at = area();
  const heroes = [await heroOnline(server, at, 0.3), await heroOnline(server, at, 0.6)];
  await matchable(server, heroes);
  const { status, incident } = await report(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'critical', location: at });
  assert.is(status, 201);
  const offers = await Promise.all(heroes.map((h) => h.client.next<{ offerId: string }>('offer', (o: any) => o.incident.id === incident.id)));
  const ids = offers.map((o) => o.offerId) as [string, string];
  const sql = server.app.sql;
  // Each way round: whichever row a batch's statement reaches first, one of them meets the accept.
  for (const [held, withdrawn] of [ids, [ids[1], ids[0]]] as [string, string][]) {
    await sql`update offers set seen_at = null where id = any(${ids}::text[])`;
    let marking: Promise<string> | undefined;
    // As an accept does: it holds the offer it decides, then withdraws the round's others.
    await sql.begin(async (tx) => {
      await tx`select id from offers where id = ${held} for update`;
      marking = markOffersSeen(sql, ids).then(() => 'marked', (e: { code?: string }) => `failed: ${e.code}`);
      await eventually('the marking waits for the held offer', async () =>
        (await sql`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%set seen_at%'`).length > 0);
      await tx`update offers set reason = reason where id = ${withdrawn}`;
    });
    assert.is(await marking, 'marked');
    const seen = await sql<{ id: string }[]>`select id from offers where id = any(${ids}::text[]) and seen_at is not null`;
    assert.is(seen.length, 2, 'both offers marked seen');
  }
  closeAll(...heroes);
});

test.run();
