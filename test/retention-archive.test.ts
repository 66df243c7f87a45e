// Retention of finished incidents and breadcrumbs (issue 15), through the real server
// and its BullMQ job scheduler: a finished incident past INCIDENT_RETENTION_MS is
// written to an archive (gzip JSON lines, with its trail and hash chain) and pruned
// from Postgres; open and recent ones stay; `audit:verify` still verifies the pruned
// one from the archive, and names an archive edited afterwards. Breadcrumbs past
// BREADCRUMB_RETENTION_MS go; newer ones stay.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as assert from 'uvu/assert';
import { auditVerify } from './helpers/audit-cli.ts';
import { eventually, http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, closeAll, heroOffered, report } from './helpers/world.ts';

const ARCHIVE_DIR = mkdtempSync(join(tmpdir(), 'dispatch-archive-'));
const test = serverSuite('retention-archive', {
  ARCHIVE_DIR, INCIDENT_RETENTION_MS: 60_000, BREADCRUMB_RETENTION_MS: 3_600_000, RETENTION_INTERVAL_MS: 300, SWEEP_INTERVAL_MS: 300,
});
test.after(() => rmSync(ARCHIVE_DIR, { recursive: true, force: true }));

/** Moves an incident's times (and its offers') back, as if it had finished `minutes` ago. */
async function age(server: TestServer, id: string, minutes: number): Promise<void> {
  const by = `${minutes} minutes`;
  await server.app.sql`update offers set created_at = created_at - ${by}::interval, expires_at = expires_at - ${by}::interval,
                              decided_at = decided_at - ${by}::interval where incident_id = ${id}`;
  await server.app.sql`update incidents set updated_at = updated_at - ${by}::interval, created_at = created_at - ${by}::interval where id = ${id}`;
}

const exists = async (server: TestServer, id: string) => (await server.app.sql`select 1 from incidents where id = ${id}`).length > 0;

function archived(): { file: string; lines: any[] }[] {
  return readdirSync(ARCHIVE_DIR).filter((f) => f.endsWith('.jsonl.gz')).map((f) => ({
    file: join(ARCHIVE_DIR, f),
    lines: gunzipSync(readFileSync(join(ARCHIVE_DIR, f))).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)),
  }));
}

test('an old finished incident is archived with its chain and pruned; open and recent ones stay; audit:verify still verifies it', async ({ server }) => {
  const { hero, incident, offer } = await heroOffered(server, 'medical');
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  for (const state of ['en_route', 'on_scene', 'resolved'] as const) {
    assert.equal(await hero.client.ask('incident:progress', { incidentId: incident.id, state }), { ok: true, state });
  }
  closeAll(hero);
  const trail = await server.app.sql<{ seq: number; hash: string }[]>`select seq, hash from incident_events where incident_id = ${incident.id} order by seq`;

  const civ = await server.token('civilian', uid('c-'));
  const open = await report(server, civ, { kind: 'other', severity: 'low', location: area(), description: 'still open' });
  const recent = await report(server, civ, { kind: 'other', severity: 'low', location: area(), description: 'recently cancelled' });
  const dispatcher = await server.token('dispatcher', uid('d-'));
  assert.is((await http(server, 'POST', `/v1/incidents/${recent.incident.id}/cancel`, { token: dispatcher, body: { reason: 'test' } })).status, 200);
  await age(server, open.incident.id, 5); // old but open: never pruned
  // Where the hero was while assigned (between the offer and the end), as it will be
  // once aged: written first, so the retention job cannot archive the incident without it.
  await server.app.sql`insert into breadcrumbs (hero_id, at, lat, lng)
    select ${hero.id}, o.created_at + (i.updated_at - o.created_at) / 2 - interval '5 minutes', 40.7, -74.0
      from offers o join incidents i on i.id = o.incident_id where o.id = ${offer.offerId}`;
  await age(server, incident.id, 5);

  await eventually('the old finished incident pruned', async () => !(await exists(server, incident.id)), 10_000);
  assert.ok(await exists(server, open.incident.id), 'an open incident stays, however old');
  assert.ok(await exists(server, recent.incident.id), 'a recently finished incident stays');
  for (const table of ['incident_events', 'offers', 'assignments', 'idempotency_keys']) {
    const [row] = await server.app.sql.unsafe(`select count(*)::int as n from ${table} where incident_id = $1`, [incident.id]);
    assert.is(row!.n, 0, `${table} rows of the pruned incident are gone`);
  }

  const records = archived().flatMap((a) => a.lines).filter((r) => r.head.id === incident.id);
  assert.is(records.length, 1, 'the incident is in exactly one archive');
  const rec = records[0]!;
  assert.equal(rec.events.map((e: { seq: number; hash: string }) => [e.seq, e.hash]), trail.map((e) => [e.seq, e.hash]), 'the archive carries the chain as written');
  assert.is(rec.head.auditHead, trail[trail.length - 1]!.hash);
  assert.equal(rec.offers.map((o: { id: string }) => o.id), [offer.offerId]);
  assert.is(rec.assignments.length, 1);
  assert.equal(rec.breadcrumbs.map((b: { hero_id: string; lat: number }) => [b.hero_id, b.lat]), [[hero.id, 40.7]]);

  const run = await auditVerify(server, ['--incident', incident.id]);
  assert.is(run.code, 0, run.out);
  assert.match(run.out, /archives \(\d+ file\(s\) in .*\): 1 incident\(s\), \d+ event\(s\): all verified/);
  assert.match(run.out, new RegExp(`incident ${incident.id}: verified`));
});

test('an archive edited after the fact fails audit:verify, naming the incident, the seq and the file', async ({ server }) => {
  const { incident } = await heroOffered(server, 'fire');
  assert.is((await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, {
    token: await server.token('dispatcher', uid('d-')), body: { reason: 'test' },
  })).status, 200);
  await age(server, incident.id, 5);
  await eventually('archived', async () => !(await exists(server, incident.id)), 10_000);
  const holder = archived().find((a) => a.lines.some((r) => r.head.id === incident.id))!;
  const original = readFileSync(holder.file);
  const lines = holder.lines.map((r) => {
    if (r.head.id === incident.id) r.events[1].actor = 'dispatcher:forger';
    return JSON.stringify(r);
  });
  writeFileSync(holder.file, gzipSync(`${lines.join('\n')}\n`));
  try {
    const run = await auditVerify(server, ['--incident', incident.id]);
    assert.is(run.code, 1, run.out);
    assert.match(run.out, new RegExp(`EDITED: incident ${incident.id}, seq 2: its content no longer matches its hash \\(archive incidents-`));
  } finally {
    writeFileSync(holder.file, original);
  }
  assert.is((await auditVerify(server, ['--incident', incident.id])).code, 0, 'the file put back verifies again');
});

test('breadcrumbs past their retention are pruned; newer ones stay', async ({ server }) => {
  const heroId = uid('h-');
  await server.app.sql`insert into breadcrumbs (hero_id, at, lat, lng) values
    (${heroId}, now() - interval '3 days', 1, 1), (${heroId}, now() - interval '2 hours', 2, 2), (${heroId}, now() - interval '10 minutes', 3, 3)`;
  await eventually('the old breadcrumbs pruned', async () =>
    (await server.app.sql`select 1 from breadcrumbs where hero_id = ${heroId} and lat < 3`).length === 0, 10_000);
  const kept = await server.app.sql<{ lat: number }[]>`select lat from breadcrumbs where hero_id = ${heroId}`;
  assert.equal(kept.map((r) => r.lat), [3], 'the one inside BREADCRUMB_RETENTION_MS (1 h) stays');
});

test.run();
