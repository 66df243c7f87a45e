// Retention of idempotency keys (issue 10): a key is kept IDEMPOTENCY_RETENTION_MS
// (7 days by default), so a replay inside that window answers as before; the sweeper
// then purges it, and the same key is a new report.
import * as assert from 'uvu/assert';
import { eventually, http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, report } from './helpers/world.ts';

const DAY_S = 24 * 3600;

// No linking: a report after the purge must show itself as a new incident, not as a
// duplicate of the one its key named.
const test = serverSuite('retention', { SWEEP_INTERVAL_MS: 300, DEDUPE_RADIUS_M: 0 });

async function keyExists(server: TestServer, actor: string, key: string): Promise<boolean> {
  return (await server.app.sql`select 1 from idempotency_keys where actor = ${actor} and key = ${key}`).length > 0;
}

async function age(server: TestServer, actor: string, key: string, days: number): Promise<void> {
  await server.app.sql`update idempotency_keys set created_at = now() - make_interval(secs => ${days * DAY_S}) where actor = ${actor} and key = ${key}`;
}

test('keys past the window are purged by the sweeper; keys inside it still answer replays', async ({ server }) => {
  assert.is(server.app.config.IDEMPOTENCY_RETENTION_MS, 7 * DAY_S * 1000, 'the documented default window');
  const civilianId = uid('civ-');
  const civ = await server.token('civilian', civilianId);
  const bodies = [0, 1, 2].map(() => ({ kind: 'other', severity: 'low', location: area(), description: uid('lost cat ') }));
  const keys = bodies.map(() => uid('key-'));
  const first = await Promise.all(bodies.map((body, i) => report(server, civ, body, keys[i])));
  for (const r of first) assert.is(r.status, 201);
  const [expired, kept, fresh] = keys as [string, string, string];
  await age(server, civilianId, expired, 8);
  await age(server, civilianId, kept, 6);

  await eventually('the old key purged by a sweep', async () => !(await keyExists(server, civilianId, expired)), 5_000);
  assert.ok(await keyExists(server, civilianId, kept), 'a key inside the window is kept');
  assert.ok(await keyExists(server, civilianId, fresh), 'a new key is kept');

  // Inside the window: the replay answers as before, with the same incident.
  const replay = await report(server, civ, bodies[1]!, kept);
  assert.is(replay.status, 200);
  assert.is(replay.incident.id, first[1]!.incident.id);
  const mismatch = await http(server, 'POST', '/v1/incidents', { token: civ, body: bodies[0], headers: { 'idempotency-key': kept } });
  assert.is(mismatch.status, 422, 'the kept key still guards against a different report');

  // After the purge the same key is a new report: far beyond any client's retry horizon.
  const again = await report(server, civ, bodies[0]!, expired);
  assert.is(again.status, 201);
  assert.is.not(again.incident.id, first[0]!.incident.id);
  assert.ok(await keyExists(server, civilianId, expired), 'the key is claimed anew');
  const old = await http(server, 'GET', `/v1/incidents/${first[0]!.incident.id}`, { token: civ });
  assert.is(old.status, 200, 'the incident outlives its key');
});

test.run();
