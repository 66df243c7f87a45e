// Notification escalation (push → SMS → voice) against real Redis and a real local
// HTTP server standing in for the provider: order, idempotency keys, retries with
// backoff and timeouts, dead letters, and de-duplication of repeated escalations.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { deletePrefix } from '../scripts/lib/lifecycle.ts';
import { eventually, sleep } from './helpers/clients.ts';
import { uid } from './helpers/server.ts';
import { Notifier, type NotifierDeps, type NotifyRequest } from '../server/notify/notifier.ts';
import { CHANNELS, LoggingProvider, WebhookProvider, createProvider, type Channel, type Message } from '../server/notify/providers.ts';

type Reply = 'ok' | 'fail' | 'hang';
interface Hit { key: string; idempotencyKey: unknown; contentType: unknown; body: any; reply: Reply; at: number }

const prefix = uid('tn');
const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const hits: Hit[] = [];
/** How the fake provider answers the n-th request (1-based) for a channel, per offer. */
const behaviours = new Map<string, (channel: Channel, n: number) => Reply>();
const open: Notifier[] = [];
let redis: Redis;
let provider: Server;
let url = '';

const T = suite('notify');

T.before(async () => {
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  provider = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const key = String(req.headers['idempotency-key'] ?? '');
      const n = hits.filter((h) => h.key === key).length + 1;
      const reply = behaviours.get(body.offerId)?.(body.channel, n) ?? 'ok';
      hits.push({ key, idempotencyKey: req.headers['idempotency-key'], contentType: req.headers['content-type'], body, reply, at: Date.now() });
      if (reply === 'hang') return; // never answers: only the client's timeout ends it
      res.writeHead(reply === 'ok' ? 200 : 500, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/notify`;
});

T.after.each(async () => {
  await Promise.allSettled(open.splice(0).map((n) => n.close()));
});

T.after(async () => {
  provider.closeAllConnections(); // the hung requests
  await new Promise((resolve) => provider.close(resolve));
  await redis.quit();
  await deletePrefix(prefix);
});

const request = (): NotifyRequest => ({ heroId: uid('h'), offerId: uid('o'), incidentId: uid('i'), text: 'Critical incident near you: answer your offer' });
const keyOf = (req: NotifyRequest, channel: Channel) => `${req.offerId}-${channel}`;
const hitsOf = (req: NotifyRequest, channel?: Channel) => hits.filter((h) => h.body.offerId === req.offerId && (!channel || h.body.channel === channel));
const delivered = (req: NotifyRequest, channel: Channel) => hitsOf(req, channel).filter((h) => h.reply === 'ok').length;
/** The message a promise rejected with; fails the test if it resolved. */
async function rejection(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (err) { return err instanceof Error ? err.message : String(err); }
  throw new Error('expected a rejection');
}

function notifier(over: Partial<NotifierDeps> & { timeoutMs?: number } = {}) {
  const deadLetters: { msg: Message; error: string }[] = [];
  const sent: Message[] = [];
  const own = over.prefix ?? `${prefix}:${uid()}`;
  const n = new Notifier({
    connection: redis, prefix: own, log: silent,
    provider: new WebhookProvider({ url, timeoutMs: over.timeoutMs ?? 2_000 }),
    stepMs: 50, attempts: 3, backoffMs: 20,
    stillWanted: async () => true,
    onDelivered: (msg) => { sent.push(msg); },
    onDeadLetter: async (msg, error) => { deadLetters.push({ msg, error }); },
    ...over,
  });
  n.start(4);
  open.push(n);
  return { n, deadLetters, sent, prefix: own };
}

T('happy chain: push, then sms, then voice, each once with its idempotency key, then nothing', async () => {
  const { n, deadLetters, sent } = notifier();
  const req = request();
  await n.escalate(req, 0);
  await eventually('voice delivered', () => delivered(req, 'voice') === 1);
  await sleep(300); // a stray or repeated message would arrive well within this (stepMs 50)
  const seen = hitsOf(req);
  assert.equal(seen.map((h) => h.key), CHANNELS.map((c) => keyOf(req, c)));
  for (const h of seen) {
    assert.is(h.idempotencyKey, h.key);
    assert.is(h.contentType, 'application/json');
    const { heroId, offerId, incidentId, text } = req;
    assert.equal(h.body, { key: h.key, channel: h.body.channel, heroId, offerId, incidentId, text });
  }
  // The next channel waits stepMs after the previous delivery (small slack for timers).
  assert.ok(seen[1]!.at - seen[0]!.at >= 45 && seen[2]!.at - seen[1]!.at >= 45, 'stepMs between channels');
  assert.equal(sent.map((m) => m.channel), [...CHANNELS]);
  assert.equal(deadLetters, []);
});

T('stillWanted turning false after push stops the chain: no sms, no voice', async () => {
  let wanted = true;
  let asked = 0;
  const { n } = notifier({
    stillWanted: async () => { asked += 1; return wanted; },
    onDelivered: (msg) => { if (msg.channel === 'push') wanted = false; }, // the hero accepted
  });
  const req = request();
  await n.escalate(req, 0);
  await eventually('the sms step asked stillWanted', () => asked >= 2);
  await sleep(300);
  assert.equal(hitsOf(req).map((h) => h.key), [keyOf(req, 'push')]);
  assert.is(asked, 2, 'the chain stopped at sms; voice was never scheduled');
});

T('500 twice, then a hang past timeoutMs: retried until delivered, one 2xx per key, no dead letter', async () => {
  const req = request();
  behaviours.set(req.offerId, (channel, n) => {
    if (channel === 'push') return n <= 2 ? 'fail' : 'ok';
    if (channel === 'sms') return n === 1 ? 'hang' : 'ok';
    return 'ok';
  });
  const { n, deadLetters } = notifier({ timeoutMs: 200 });
  await n.escalate(req, 0);
  await eventually('voice delivered', () => delivered(req, 'voice') === 1);
  await sleep(300);
  assert.equal(hitsOf(req, 'push').map((h) => h.reply), ['fail', 'fail', 'ok']);
  assert.equal(hitsOf(req, 'sms').map((h) => h.reply), ['hang', 'ok']);
  assert.equal(hitsOf(req, 'voice').map((h) => h.reply), ['ok']);
  for (const c of CHANNELS) {
    assert.is(delivered(req, c), 1, `one delivery for ${c}`);
    assert.ok(hitsOf(req, c).every((h) => h.idempotencyKey === keyOf(req, c)), `same key on every retry of ${c}`);
  }
  const [hung, retry] = hitsOf(req, 'sms');
  assert.ok(retry!.at - hung!.at >= 190, 'the retry came only after the 200 ms timeout');
  assert.equal(deadLetters, []);
});

T('a provider that always fails: one dead letter per channel message, after `attempts` tries each', async () => {
  const req = request();
  behaviours.set(req.offerId, () => 'fail');
  const { n, deadLetters, sent } = notifier();
  await n.escalate(req, 0);
  await eventually('three dead letters', () => deadLetters.length >= 3);
  await sleep(300);
  assert.equal(deadLetters.map((d) => d.msg.key), CHANNELS.map((c) => keyOf(req, c)));
  for (const d of deadLetters) assert.match(d.error, /HTTP 500/);
  for (const c of CHANNELS) assert.is(hitsOf(req, c).length, 3, `three tries for ${c}`);
  assert.equal(sent, []);
});

T('escalate repeated (concurrently, by a second process, after the chain ended) runs one chain', async () => {
  const first = notifier();
  const second = notifier({ prefix: first.prefix }); // same queue: another process
  const req = request();
  await Promise.all([first.n.escalate(req, 50), first.n.escalate(req, 50), second.n.escalate(req, 0)]);
  await first.n.escalate(req, 0);
  await eventually('voice delivered', () => delivered(req, 'voice') === 1);
  await first.n.escalate(req, 0); // push's job is gone by now (removeOnComplete)
  await second.n.escalate(req, 0);
  await sleep(400);
  assert.equal(hitsOf(req).map((h) => h.key), CHANNELS.map((c) => keyOf(req, c)));
});

T('LoggingProvider logs the message with its incidentId and resolves', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s); } });
  const req = request();
  const msg: Message = { ...req, key: keyOf(req, 'sms'), channel: 'sms' };
  const logging = createProvider('log', { log });
  assert.ok(logging instanceof LoggingProvider);
  await logging.send(msg);
  assert.is(lines.length, 1);
  const line = JSON.parse(lines[0]!);
  assert.is(line.level, 30);
  assert.is(line.incidentId, req.incidentId);
  assert.is(line.key, msg.key);
  assert.is(line.channel, 'sms');
  assert.throws(() => createProvider('webhook', { log }), /url/);
});

T('WebhookProvider errors name the status, the timeout or the network cause', async () => {
  const req = request();
  behaviours.set(req.offerId, (channel) => (channel === 'push' ? 'fail' : 'hang'));
  const webhook = createProvider('webhook', { log: silent, url, timeoutMs: 150 });
  const msg = (channel: Channel): Message => ({ ...req, key: keyOf(req, channel), channel });
  assert.match(await rejection(webhook.send(msg('push'))), /HTTP 500/);
  assert.match(await rejection(webhook.send(msg('sms'))), /timed out after 150 ms/);
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const refused = new WebhookProvider({ url: `http://127.0.0.1:${port}/`, timeoutMs: 1_000 });
  assert.match(await rejection(refused.send(msg('voice'))), /network error.*ECONNREFUSED/);
});

T.run();
