// Issue 10's cardiac-arrest story: a critical report linked to a minor incident of the
// same emergency raises it to critical at once (offers topped up to the critical batch),
// keeps what was said in the trail, and one civilian's cancel withdraws only their report.
import * as assert from 'uvu/assert';
import { HIDDEN } from '../shared/domain.ts';
import { connect, eventually, http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, closeAll, dispatcherToken, east, heroOnline, matchable, report } from './helpers/world.ts';

// Offers stay pending for the whole story: every offer counted is one the link caused.
const test = serverSuite('linked reports: severity', { DEDUPE_RADIUS_M: 100, OFFER_TIMEOUT_MS: 60_000, OFFER_BATCH_LOW: 1, OFFER_BATCH_CRITICAL: 3 });

const pendingOffers = async (server: TestServer, id: string) =>
  (await server.app.sql`select hero_id from offers where incident_id = ${id} and state = 'pending'`).map((r) => r.hero_id as string);

test('a sprained ankle, then a cardiac arrest 33 m away: one incident, critical, dispatched at once, both reports kept', async ({ server }) => {
  const center = area();
  const heroes = await Promise.all([0.3, 0.5, 0.7].map((km) => heroOnline(server, center, km)));
  await matchable(server, heroes);
  const dispatcher = await connect(server, 'dispatch', await dispatcherToken(server));
  await dispatcher.next('snapshot');
  const [aId, bId] = [uid('a-'), uid('b-')];
  const [a, b] = [await server.token('civilian', aId), await server.token('civilian', bId)];

  const first = await report(server, a, { kind: 'medical', severity: 'low', location: center, description: 'sprained ankle' });
  assert.is(first.status, 201);
  const id = first.incident.id;
  // Low severity: one offer, to the nearest hero.
  await heroes[0]!.client.next('offer', (o) => o.incident.id === id);
  assert.equal(await pendingOffers(server, id), [heroes[0]!.id]);

  const bKey = uid('key-');
  const second = await report(server, b, { kind: 'medical', severity: 'critical', location: east(center, 0.033), description: 'cardiac arrest' }, bKey);
  assert.is(second.status, 200, JSON.stringify(second.incident));
  assert.is(second.incident.id, id, 'linked to the same incident');
  assert.is(second.incident.severity, 'critical');
  assert.is(second.incident.reports, 2);
  assert.is(second.incident.reportedBy, HIDDEN);

  // Re-prioritised at once: topped up to the critical batch while the low offer is
  // still pending (it would expire only after a minute), and the new offers say critical.
  const [o2, o3] = await Promise.all([1, 2].map((i) => heroes[i]!.client.next('offer', (o) => o.incident.id === id)));
  assert.equal([o2.incident.severity, o3.incident.severity], ['critical', 'critical']);
  assert.equal((await pendingOffers(server, id)).sort(), heroes.map((h) => h.id).sort());
  const [row] = await server.app.sql`select state, severity, severity_rank from incidents where id = ${id}`;
  assert.equal({ ...row }, { state: 'dispatching', severity: 'critical', severity_rank: 0 });

  const pushed = await dispatcher.next('incident', (i) => i.id === id && i.severity === 'critical');
  assert.is(pushed.reports, 2);
  assert.is(pushed.reportedBy, aId, 'dispatchers see who reported');

  const disp = await dispatcherToken(server);
  const trail = (await http(server, 'GET', `/v1/incidents/${id}/events`, { token: disp })).body.items;
  assert.equal(trail.map((e: { type: string }) => e.type), ['REPORTED', 'ROUND', 'LINKED', 'TOP_UP']);
  assert.equal(trail[0].data.severity, 'low');
  assert.equal(trail[2].data, { civilianId: bId, severity: 'critical', description: 'cardiac arrest', key: bKey });
  assert.equal(trail[3].data.offered.sort(), [heroes[1]!.id, heroes[2]!.id].sort());

  // A's cancel withdraws A's report only: the cardiac arrest is still being dispatched.
  const aCancel = await http(server, 'POST', `/v1/incidents/${id}/cancel`, { token: a, body: { reason: 'I can walk' } });
  assert.is(aCancel.status, 200, JSON.stringify(aCancel.body));
  assert.equal([aCancel.body.state, aCancel.body.severity, aCancel.body.reports], ['dispatching', 'critical', 1]);
  assert.is((await pendingOffers(server, id)).length, 3, 'no offer withdrawn');
  await dispatcher.next('incident', (i) => i.id === id && i.reports === 1 && i.state === 'dispatching');

  // B's cancel withdraws the last report: the incident is cancelled and the offers go.
  const bCancel = await http(server, 'POST', `/v1/incidents/${id}/cancel`, { token: b, body: { reason: 'ambulance came' } });
  assert.is(bCancel.status, 200, JSON.stringify(bCancel.body));
  assert.equal([bCancel.body.state, bCancel.body.reports], ['cancelled', 0]);
  await Promise.all(heroes.map((h) => h.client.next('offer:withdrawn', (w) => w.reason === 'cancelled')));
  assert.equal(await pendingOffers(server, id), []);
  const types = (await http(server, 'GET', `/v1/incidents/${id}/events`, { token: disp })).body.items.map((e: { type: string; actor: string; to: string }) => [e.type, e.actor, e.to]);
  assert.equal(types.slice(4), [['WITHDRAWN', `civilian:${aId}`, 'dispatching'], ['WITHDRAWN', `civilian:${bId}`, 'cancelled']]);
  await eventually('heroes free again', async () => {
    const rows = await server.app.sql`select status from heroes where id = any(${heroes.map((h) => h.id)})`;
    return rows.every((r) => r.status === 'available');
  });
  closeAll(dispatcher, ...heroes);
});

test('a dispatcher cancels outright, whatever reports stand', async ({ server }) => {
  const center = area();
  const first = await report(server, await server.token('civilian', uid('a-')), { kind: 'fire', severity: 'medium', location: center });
  const second = await report(server, await server.token('civilian', uid('b-')), { kind: 'fire', severity: 'high', location: east(center, 0.02) });
  assert.equal([first.status, second.status], [201, 200]);
  const res = await http(server, 'POST', `/v1/incidents/${first.incident.id}/cancel`, { token: await dispatcherToken(server), body: { reason: 'duplicate of a call' } });
  assert.is(res.status, 200);
  assert.equal([res.body.state, res.body.reports, res.body.severity], ['cancelled', 2, 'high']);
});

test('a lower report linked later never lowers the severity, and asks for no more heroes', async ({ server }) => {
  const center = area();
  const hero = await heroOnline(server, center, 0.4);
  const other = await heroOnline(server, center, 0.6);
  await matchable(server, [hero, other]);
  const first = await report(server, await server.token('civilian', uid('a-')), { kind: 'accident', severity: 'medium', location: center });
  const id = first.incident.id;
  await hero.client.next('offer', (o) => o.incident.id === id);
  const second = await report(server, await server.token('civilian', uid('b-')), { kind: 'accident', severity: 'low', location: east(center, 0.01), description: 'a scratch' });
  assert.equal([second.status, second.incident.severity, second.incident.reports], [200, 'medium', 2]);
  await eventually('the link carried out', async () =>
    (await server.app.sql`select 1 from outbox where incident_id = ${id}`).length === 0);
  const trail = await server.app.sql`select type from incident_events where incident_id = ${id} order by seq`;
  assert.equal(trail.map((e) => e.type), ['REPORTED', 'ROUND', 'LINKED']);
  assert.equal(await pendingOffers(server, id), [hero.id], 'the medium round stands as it was');
  closeAll(hero, other);
});

test.run();
