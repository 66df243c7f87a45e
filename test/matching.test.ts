// Matching under the conditions that break naive candidate lists: the nearest heroes
// lack the skill or declined, and many incidents in one neighbourhood compete for the
// same heroes at once.
import * as assert from 'uvu/assert';
import { eventually } from './helpers/clients.ts';
import { uid } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, closeAll, heroOnline, matchable, report } from './helpers/world.ts';

const test = serverSuite('matching', { OFFER_TIMEOUT_MS: 10_000, DISPATCH_RETRY_MS: 500, REPORTS_PER_MINUTE: 100_000 });

test('a needed skill is found past many nearer heroes without it', async ({ server }) => {
  const center = area();
  const crowd = await Promise.all(Array.from({ length: 12 }, (_, i) => heroOnline(server, center, 0.1 + i * 0.05)));
  const medic = await heroOnline(server, center, 2, { skills: ['medic'] });
  await matchable(server, [...crowd, medic]);
  const civ = await server.token('civilian', uid('c-'));
  // Skills are given per slot through `needs`.
  const { status, incident } = await report(server, civ, { kind: 'medical', severity: 'low', location: center, needs: [{ skill: 'medic', count: 1 }] });
  assert.is(status, 201);
  const offer = await medic.client.next('offer', (o) => o.incident.id === incident.id, 5_000);
  assert.equal(await medic.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  for (const h of crowd) assert.is(h.client.all('offer').filter((o) => o.incident.id === incident.id).length, 0, 'no unskilled hero was offered it');
  closeAll(...crowd, medic);
});

test('a burst of incidents in one neighbourhood: each hero gets one offer and nobody escalates', async ({ server }) => {
  const center = area();
  const heroes = await Promise.all(Array.from({ length: 12 }, (_, i) => heroOnline(server, center, 0.1 + i * 0.02)));
  await matchable(server, heroes);
  const civ = await server.token('civilian', uid('c-'));
  const reports = await Promise.all(Array.from({ length: 12 }, () => report(server, civ, { kind: 'accident', severity: 'low', location: center })));
  const ids = new Set(reports.map((r) => r.incident.id));
  // Every incident gets its own hero promptly: concurrent rounds skip heroes another
  // round is offering to, instead of all waiting on the same one.
  await eventually('every incident offered', async () => {
    const [row] = await server.app.sql<{ n: number }[]>`
      select count(distinct incident_id)::int as n from offers where incident_id = any(${[...ids]}) and state = 'pending'`;
    return row!.n === ids.size;
  }, 5_000);
  const escalated = await server.app.sql`select id from incidents where id = any(${[...ids]}) and state = 'escalated'`;
  assert.is(escalated.length, 0);
  closeAll(...heroes);
});

test.run();
