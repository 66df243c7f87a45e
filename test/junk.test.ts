// Junk never crashes the server, never closes another client's connection, and never
// changes state: wrong types, missing and extra fields, prototype keys, huge strings,
// no payload, no ack callback, location junk and floods, and HTTP junk.
import * as assert from 'uvu/assert';
import { connect, http, type Client } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, closeAll, dispatcherToken, heroOnline, matchable, registerHero, report } from './helpers/world.ts';

// Hundreds of junk events from one socket: the per-user event budget is not what this
// suite is about (each junk frame must be answered `invalid`, not `rate_limited`).
const test = serverSuite('junk', { OFFER_TIMEOUT_MS: 30_000, SOCKET_EVENTS_PER_10S: 100_000 });

async function totals(server: TestServer) {
  const [row] = await server.app.sql`select (select count(*) from incidents)::int as incidents,
    (select count(*) from offers)::int as offers, (select count(*) from assignments)::int as assignments,
    (select count(*) from incident_events)::int as events, (select count(*) from heroes)::int as heroes`;
  return { ...row };
}

function assertInvalid(ack: any, what: string): void {
  assert.is(ack?.ok, false, `${what}: ${JSON.stringify(ack)}`);
  assert.is(ack.reason, 'invalid', `${what}: ${JSON.stringify(ack)}`);
  assert.ok(Array.isArray(ack.errors) && ack.errors.length > 0, `${what}: errors`);
  for (const e of ack.errors) assert.ok(typeof e.path === 'string' && typeof e.message === 'string' && e.message, `${what}: field error shape`);
}

/** Payloads that no acked event accepts; `ids` are real ids, so a lenient parse would act on them. */
function junkPayloads(ids: { offerId: string; incidentId: string }): [string, unknown][] {
  const { offerId, incidentId } = ids;
  return [
    ['number', 42], ['zero', 0], ['string', 'x'], ['empty string', ''], ['true', true], ['null', null],
    ['empty array', []], ['array', [1, 2]], ['array of a valid object', [{ offerId, incidentId }]],
    ['empty object (missing fields)', {}], ['missing incidentId', { state: 'en_route' }],
    ['nested object', { a: { b: { c: { d: [{}] } } } }], ['nested offerId', { offerId: { id: offerId } }],
    ['array offerId', { offerId: [offerId] }], ['null offerId', { offerId: null }], ['numeric incidentId', { incidentId: 5 }],
    ['string onDuty', { onDuty: 'false' }], ['numeric onDuty', { onDuty: 0 }], ['null onDuty', { onDuty: null }],
    ['extra field on duty', { onDuty: false, extra: 1 }], ['extra field on offer', { offerId, extra: true }],
    ['extra field on progress', { incidentId, state: 'en_route', admin: true }],
    ['over-long id', { offerId: 'x'.repeat(101), incidentId: 'x'.repeat(101) }],
    ['__proto__ key', JSON.parse('{"__proto__": {"polluted": true}, "offerId": "x"}')],
    ['__proto__ key, real offer', JSON.parse(`{"__proto__": {"polluted": true}, "offerId": "${offerId}"}`)],
    ['__proto__ key, duty', JSON.parse('{"__proto__": {"onDuty": true}, "onDuty": false}')],
    ['__proto__ key, progress', JSON.parse(`{"__proto__": {"x": 1}, "incidentId": "${incidentId}", "state": "en_route"}`)],
    ['constructor key', { constructor: { prototype: { polluted: true } }, offerId, incidentId }],
    ['prototype key', { prototype: { polluted: true }, onDuty: false }],
    ['binary', Buffer.from('{"offerId":"x"}')],
    ['66 000 chars (over 64 KiB, under the transport cap)', { offerId: 'x'.repeat(66_000) }],
  ];
}

const bigBody = (location: unknown) => JSON.stringify({ kind: 'fire', severity: 'low', location, description: 'z'.repeat(70 * 1024) });

const HERO_EVENTS = ['duty', 'offer:accept', 'offer:decline', 'incident:progress'] as const;

/** Sends a frame over the transport cap; resolves to what happened (the connection must close). */
function oversized(client: Client, event: string, payload: unknown): Promise<string> {
  return new Promise((resolve) => {
    client.socket.once('disconnect', (reason) => resolve(`closed: ${reason}`));
    client.socket.timeout(5_000).emit(event, payload, (err: unknown, ack: any) => {
      if (err) { resolve(client.socket.connected ? 'no answer' : 'closed'); return; }
      resolve(ack?.reason === 'invalid' && Array.isArray(ack.errors) ? 'invalid' : `unexpected ${JSON.stringify(ack)}`);
    });
  });
}

test('socket junk on every acked event is refused as invalid and changes nothing', async ({ server }) => {
  const center = area();
  const civId = uid('civ-');
  const civToken = await server.token('civilian', civId);
  const civilian = await connect(server, 'civilian', civToken);
  const dispatcher = await connect(server, 'dispatch', await dispatcherToken(server));
  await dispatcher.next('snapshot');
  const hero = await heroOnline(server, center, 0.5);
  await matchable(server, [hero]);
  const { incident } = await report(server, civToken, { kind: 'fire', severity: 'medium', location: center });
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  await civilian.next('incident:status', (s) => s.incidentId === incident.id && s.state === 'dispatching');
  const before = await totals(server);
  const [incBefore] = await server.app.sql`select state, version from incidents where id = ${incident.id}`;

  const payloads = junkPayloads({ offerId: offer.offerId, incidentId: incident.id });
  for (const [what, payload] of payloads) {
    for (const event of HERO_EVENTS) assertInvalid(await hero.client.ask(event, payload), `${event} ${what}`);
    assertInvalid(await civilian.ask('incident:watch', payload), `incident:watch ${what}`);
    // Several payloads wrap the real offer and incident ids: a lenient parse would act on
    // them. Checked after each payload, so a failure names the one that got through.
    const [now] = await server.app.sql`select i.state, i.version, o.state as offer from incidents i join offers o on o.incident_id = i.id where o.id = ${offer.offerId}`;
    assert.equal({ ...now }, { ...incBefore, offer: 'pending' }, `after junk "${what}": the incident or offer changed`);
  }
  // No payload at all (the ack callback is the only argument).
  for (const event of HERO_EVENTS) assertInvalid(await hero.client.socket.timeout(5_000).emitWithAck(event), `${event} without payload`);
  assertInvalid(await civilian.socket.timeout(5_000).emitWithAck('incident:watch'), 'incident:watch without payload');
  // No ack callback: the server answers nobody and must not fall over.
  for (const [, payload] of payloads) {
    for (const event of HERO_EVENTS) hero.client.socket.emit(event, payload);
    civilian.socket.emit('incident:watch', payload);
  }
  for (const event of HERO_EVENTS) hero.client.socket.emit(event);
  civilian.socket.emit('incident:watch');
  // Events nobody handles (an unknown name; a hero event on /civilian) are ignored.
  hero.client.socket.emit('offer:steal', { offerId: offer.offerId });
  civilian.socket.emit('duty', { onDuty: true });

  // Over the transport cap (70 000 chars in one field, more than 64 KiB + 4 KiB): the
  // frame is never parsed and the connection that sent it is closed, each on a
  // throwaway connection. (Over 64 KiB but under the cap is answered `invalid`, above.)
  for (const [ns, event] of [...HERO_EVENTS.map((e) => ['hero', e] as const), ['civilian', 'incident:watch'] as const]) {
    const token = ns === 'hero' ? await server.token('hero', (await registerHero(server)).id) : await server.token('civilian', uid('civ-'));
    const victim = await connect(server, ns, token);
    const outcome = await oversized(victim, event, { offerId: 'y'.repeat(70_000) });
    assert.ok(outcome.startsWith('closed'), `${event} 70 000 chars: the connection must close, got ${outcome}`);
    victim.close();
  }

  // Still alive, still connected, nothing changed. A socket's events are handled in
  // order: once an acked event sent after the unacked junk is answered, the junk was seen.
  assertInvalid(await hero.client.ask('duty', 'fence'), 'fence after the unacked junk (hero)');
  assertInvalid(await civilian.ask('incident:watch', 'fence'), 'fence after the unacked junk (civilian)');
  const health = await http(server, 'GET', '/healthz');
  assert.is(health.status, 200);
  assert.ok(hero.client.socket.connected && civilian.socket.connected && dispatcher.socket.connected, 'the junk senders and a bystander stay connected');
  assert.is(hero.client.events.filter((e) => e.name === 'assignment:released' || e.name === 'offer:withdrawn').length, 0);
  const after = await totals(server);
  assert.equal({ ...after, heroes: before.heroes }, before, 'no new incidents, offers, assignments or events from junk');
  const [incAfter] = await server.app.sql`select state, version from incidents where id = ${incident.id}`;
  assert.equal({ ...incAfter }, { ...incBefore });
  const [offerRow] = await server.app.sql`select state from offers where id = ${offer.offerId}`;
  assert.is(offerRow?.state, 'pending');
  const [heroRow] = await server.app.sql`select on_duty, status from heroes where id = ${hero.id}`;
  assert.equal({ ...heroRow }, { on_duty: true, status: 'offered' });
  assert.is(({} as Record<string, unknown>).polluted, undefined);

  // A fresh hero connects, gets its session and goes on duty; the real offer still works.
  const fresh = await heroOnline(server, area(), 0.1);
  assert.ok(fresh.client.all('session').length === 1);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  const watched = await civilian.ask('incident:watch', { incidentId: incident.id });
  assert.is(watched.ok, true);
  assert.is(watched.incident.id, incident.id);
  closeAll(hero, fresh, civilian, dispatcher);
});

test('location junk is refused and a ping flood is rate-limited without hurting others', async ({ server }) => {
  const center = area();
  const dispatcher = await connect(server, 'dispatch', await dispatcherToken(server));
  await dispatcher.next('snapshot');
  const bystander = await heroOnline(server, center, 2);
  const registered = await registerHero(server);
  const token = await server.token('hero', registered.id);
  const pinger = await connect(server, 'hero', token);
  await pinger.next('session');
  assert.equal(await pinger.ask('duty', { onDuty: true }), { ok: true });

  const junk: unknown[] = [
    { lat: 1000, lng: 0 }, { lat: 0, lng: -181 }, { lat: '10', lng: '20' }, { lat: null, lng: null }, { lat: {}, lng: [] },
    { lat: 10 }, {}, 'x', 42, null, [], [10, 20], { lat: 10, lng: 20, extra: true }, { lat: 10, lng: 20, speed: -1 },
    JSON.parse('{"__proto__": {"lat": 1}, "lat": 10, "lng": 20}'), { constructor: {}, lat: 10, lng: 20 },
    { lat: 10, lng: 20, at: 'now' }, { lat: 'x'.repeat(66_000), lng: 0 },
  ];
  for (const payload of junk) {
    const ack = await pinger.ask('location', payload);
    assert.is(ack.ok, false, JSON.stringify(payload).slice(0, 80));
    assert.is(ack.reason, 'invalid');
    pinger.socket.emit('location', payload); // and without an ack
  }
  pinger.socket.emit('location');
  assert.is((await pinger.ask('location', 'fence')).reason, 'invalid'); // handled after the unacked junk
  const dToken = await dispatcherToken(server);
  const unseen = await http(server, 'GET', `/v1/heroes/${registered.id}`, { token: dToken });
  assert.is(unseen.status, 200);
  assert.is(unseen.body.location, undefined, `junk moved the hero: ${JSON.stringify(unseen.body.location)}`);

  // 500 pings at once from one socket: some pass, the rest are throttled.
  const acks = await Promise.all(Array.from({ length: 500 }, (_, i) => pinger.ask('location', { lat: center.lat, lng: center.lng + i * 1e-5 }, 10_000)));
  const ok = acks.filter((a) => a.ok === true).length;
  const limited = acks.filter((a) => a.ok === false && a.reason === 'rate_limited').length;
  assert.is(ok + limited, 500, JSON.stringify(acks.find((a) => a.ok !== true && a.reason !== 'rate_limited')));
  assert.ok(ok >= 1 && limited >= 1, `ok ${ok}, rate_limited ${limited}`);
  for (let i = 0; i < 500; i += 1) pinger.socket.emit('location', { lat: center.lat, lng: center.lng }); // unacked flood
  const fence = await pinger.ask('location', { lat: center.lat, lng: center.lng }); // answered after the flood was handled
  assert.ok(fence.ok === true || fence.reason === 'rate_limited', JSON.stringify(fence));

  assert.ok(pinger.socket.connected, 'the flooder itself is throttled, not cut off');
  assert.ok(bystander.client.socket.connected && dispatcher.socket.connected, 'other sockets stay connected');
  assert.equal(await bystander.client.ask('location', { ...center, accuracy: 5 }), { ok: true });
  const seen = await http(server, 'GET', `/v1/heroes/${registered.id}`, { token: dToken });
  assert.ok(seen.body.location && Math.abs(seen.body.location.lat - center.lat) < 1e-4, JSON.stringify(seen.body));
  assert.is((await http(server, 'GET', '/healthz')).status, 200);
  closeAll(bystander, pinger, dispatcher);
});

test('HTTP junk answers problem documents and creates nothing', async ({ server }) => {
  const civId = uid('civ-');
  const token = await server.token('civilian', civId);
  const location = area();
  const post = (raw: string, headers: Record<string, string> = {}) =>
    http(server, 'POST', '/v1/incidents', { token, raw, headers: { 'idempotency-key': uid('k-'), ...headers } });
  const isProblem = (res: { status: number; body: any; headers: Headers }, status: number, what: string) => {
    assert.is(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
    assert.is(res.body.status, status, what);
    assert.type(res.body.title, 'string');
    assert.type(res.body.type, 'string');
  };

  isProblem(await post('{"kind": "fire", "severity":'), 400, 'malformed JSON');
  isProblem(await post('not json at all'), 400, 'not JSON');
  isProblem(await post(''), 400, 'empty body');
  isProblem(await post(bigBody(location)), 413, 'body over 64 KiB');
  const valid = JSON.stringify({ kind: 'fire', severity: 'low', location });
  isProblem(await post(valid, { 'content-type': 'text/plain' }), 400, 'wrong content-type');
  const proto = await post(`{"__proto__": {"polluted": true}, "kind": "fire", "severity": "low", "location": ${JSON.stringify(location)}}`);
  isProblem(proto, 400, '__proto__ key');
  assert.ok(Array.isArray(proto.body.errors) && proto.body.errors.length > 0, 'a strict-schema failure lists errors');
  isProblem(await post(`{"constructor": {"prototype": {}}, "kind": "fire", "severity": "low", "location": ${JSON.stringify(location)}}`), 400, 'constructor key');
  isProblem(await post(JSON.stringify({ kind: 'fire', severity: 'low', location: { lat: 1000, lng: 'x' } })), 400, 'bad location');
  isProblem(await post(JSON.stringify([1, 2, 3])), 400, 'array body');

  isProblem(await http(server, 'GET', '/v1/nope'), 404, 'unknown route');
  isProblem(await http(server, 'GET', '/v1/incidents/a/b/c/d'), 404, 'unknown deep route');
  isProblem(await http(server, 'DELETE', '/v1/incidents', { token }), 405, 'wrong method');
  isProblem(await http(server, 'PUT', '/v1/heroes', { token }), 405, 'wrong method on heroes');
  isProblem(await http(server, 'GET', '/v1/incidents/x/cancel', { token }), 405, 'GET on a POST-only path');

  const mine = await server.app.sql`select id from incidents where reported_by = ${civId}`;
  assert.is(mine.length, 0, 'no incident from junk');
  const keys = await server.app.sql`select 1 from idempotency_keys where actor like ${`%${civId}%`}`;
  assert.is(keys.length, 0, 'no idempotency key claimed by junk');

  assert.is((await http(server, 'GET', '/readyz')).status, 200);
  assert.is((await http(server, 'GET', '/healthz')).status, 200);
  // And the same civilian can still report for real.
  const { status } = await report(server, token, { kind: 'fire', severity: 'low', location });
  assert.is(status, 201);
});

test.run();
