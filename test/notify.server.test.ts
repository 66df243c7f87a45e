// Notifications through the real server: an offer the hero's app does not acknowledge
// escalates push → SMS → voice at a real webhook provider, stops when the offer is
// answered, and a provider that keeps failing ends in a dead letter and an alert.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, eventually, sleep, type Client } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, closeAll, heroOnline, matchable, report } from './helpers/world.ts';

interface Received { key: string; channel: string; offerId: string; heroId: string; at: number }
interface Ctx { server: TestServer; provider: Server; received: Received[]; failing: boolean }

const test = suite<Ctx>('notifications via the server');

test.before(async (ctx) => {
  ctx.received = [];
  ctx.failing = false;
  ctx.provider = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (ctx.failing) { res.writeHead(500).end(); return; }
      const msg = JSON.parse(body) as Received;
      assert.is(req.headers['idempotency-key'], msg.key);
      ctx.received.push({ ...msg, at: Date.now() });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => ctx.provider.listen(0, '127.0.0.1', r));
  const port = (ctx.provider.address() as AddressInfo).port;
  ctx.server = await startServer({
    NOTIFY_PROVIDER: 'webhook', NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${port}/notify`, NOTIFY_TIMEOUT_MS: 300,
    NOTIFY_ATTEMPTS: 2, NOTIFY_BACKOFF_MS: 50, NOTIFY_STEP_MS: 250, OFFER_ACK_MS: 300, OFFER_TIMEOUT_MS: 8_000,
  });
});
test.after(async (ctx) => {
  await ctx.server?.stop();
  await new Promise((r) => ctx.provider?.close(r));
});
test.after.each(async (ctx) => { await checkInvariants(ctx.server); });

/** A hero app that acknowledges every offer it receives, as a well-behaved client does. */
function acknowledging(client: Client): void {
  client.socket.on('offer', (_offer: unknown, ack?: (ok: boolean) => void) => ack?.(true));
}

const forOffer = (ctx: Ctx, offerId: string) => ctx.received.filter((m) => m.offerId === offerId);

test('an unacknowledged offer escalates push then SMS; answering stops the chain', async (ctx) => {
  const center = area();
  const hero = await heroOnline(ctx.server, center, 0.5);
  await matchable(ctx.server, [hero]);
  const { incident } = await report(ctx.server, await ctx.server.token('civilian', uid('c-')), { kind: 'crime', severity: 'medium', location: center });
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  await eventually('push and sms', () => forOffer(ctx, offer.offerId).length >= 2, 5_000);
  const [push, sms] = forOffer(ctx, offer.offerId);
  assert.equal([push!.channel, sms!.channel], ['push', 'sms']);
  assert.equal([push!.key, sms!.key], [`${offer.offerId}-push`, `${offer.offerId}-sms`]);
  assert.is(push!.heroId, hero.id);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  await sleep(700);
  assert.ok(forOffer(ctx, offer.offerId).every((m) => m.channel !== 'voice') || forOffer(ctx, offer.offerId).length <= 3);
  const keys = forOffer(ctx, offer.offerId).map((m) => m.key);
  assert.equal(keys, [...new Set(keys)], 'each message delivered once per idempotency key');
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
  await sleep(900); // past OFFER_ACK_MS and two steps
  assert.equal(forOffer(ctx, offer.offerId), []);
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

test.run();
