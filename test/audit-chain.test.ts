// The tamper-evident audit trail through the real server (issue 15): every event
// the server writes is chained (hash of the previous event, same statement), an
// untouched database verifies clean with `npm run audit:verify`, and editing,
// deleting or inserting one row makes it exit 1 naming the incident, the kind and
// the seq. Each tamper is undone afterwards (the suite's invariants re-verify).
import * as assert from 'uvu/assert';
import { eventHash } from '../server/audit/audit.chain.ts';
import { auditVerify } from './helpers/audit-cli.ts';
import { http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, closeAll, heroOffered, report } from './helpers/world.ts';

const test = serverSuite('audit-chain', { OFFER_TIMEOUT_MS: 2_000, DISPATCH_RETRY_MS: 200 });

/** An incident taken to resolved by one hero: seven events or so. */
async function resolvedIncident(server: TestServer): Promise<string> {
  const { hero, incident, offer } = await heroOffered(server, 'fire');
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  for (const state of ['en_route', 'on_scene', 'resolved'] as const) {
    assert.equal(await hero.client.ask('incident:progress', { incidentId: incident.id, state }), { ok: true, state });
  }
  closeAll(hero);
  return incident.id;
}

interface Row { seq: number; type: string; prev_hash: string | null; hash: string | null; data: unknown }
const trail = (server: TestServer, id: string) =>
  server.app.sql<Row[]>`select seq, type, prev_hash, hash, data from incident_events where incident_id = ${id} order by seq`;

/** Runs `work` (the tamper), then the verifier, then puts the trail back exactly as it was. */
async function tampered(server: TestServer, id: string, work: () => Promise<unknown>, args: string[] = ['--no-archives']) {
  const saved = await server.app.sql`select * from incident_events where incident_id = ${id}`;
  await work();
  try {
    return await auditVerify(server, args);
  } finally {
    await server.app.sql.begin(async (tx) => {
      await tx`delete from incident_events where incident_id = ${id}`;
      await tx`insert into incident_events ${tx(saved as never)}`;
    });
  }
}

test('every event is chained to the one before it, and the incident keeps the head', async ({ server }) => {
  const id = await resolvedIncident(server);
  const rows = await trail(server, id);
  assert.ok(rows.length >= 6, `${rows.length} events`);
  assert.is(rows[0]!.prev_hash, '0'.repeat(64), 'the first event starts from the genesis hash');
  rows.slice(1).forEach((r, i) => assert.is(r.prev_hash, rows[i]!.hash, `seq ${r.seq} links to seq ${rows[i]!.seq}`));
  assert.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(r.hash ?? '')), 'every event has a SHA-256');
  const [inc] = await server.app.sql<{ audit_head: string; version: number }[]>`select audit_head, version from incidents where id = ${id}`;
  assert.is(inc!.audit_head, rows[rows.length - 1]!.hash);
  assert.is(inc!.version, rows.length);
});

test('an untouched database verifies clean: chains and replays, with a summary', async ({ server }) => {
  await resolvedIncident(server);
  // A linked report and a cancel: more event types in the chains.
  const civ = await server.token('civilian', uid('c-'));
  const spot = area();
  const first = await report(server, civ, { kind: 'crime', severity: 'low', location: spot, description: 'a theft' });
  await report(server, await server.token('civilian', uid('c-')), { kind: 'crime', severity: 'high', location: spot, description: 'the same theft' });
  await http(server, 'POST', `/v1/incidents/${first.incident.id}/cancel`, { token: await server.token('dispatcher', uid('d-')), body: { reason: 'test' } });
  const run = await auditVerify(server, ['--no-archives']);
  assert.is(run.code, 0, run.out);
  assert.match(run.out, /incident\(s\), \d+ event\(s\): all verified/);
  const one = await auditVerify(server, ['--no-archives', '--incident', first.incident.id]);
  assert.is(one.code, 0, one.out);
  assert.match(one.out, new RegExp(`incident ${first.incident.id}: verified`));
  const none = await auditVerify(server, ['--no-archives', '--incident', uid('nope-')]);
  assert.is(none.code, 1, 'an unknown incident is not a pass');
  assert.match(none.out, /not found/);
});

test('an edited row is named: its content no longer matches its hash', async ({ server }) => {
  const id = await resolvedIncident(server);
  const run = await tampered(server, id, () => server.app.sql`
    update incident_events set actor = 'hero:someone-else' where incident_id = ${id} and seq = 3`);
  assert.is(run.code, 1, run.out);
  assert.match(run.out, new RegExp(`EDITED: incident ${id}, seq 3: its content no longer matches its hash`));
});

test('an edited row whose hash was recomputed is named by the link after it', async ({ server }) => {
  const id = await resolvedIncident(server);
  const rows = await trail(server, id);
  const [row] = await server.app.sql<{ type: string; from_state: string; to_state: string; us: string; data: unknown; prev_hash: string }[]>`
    select type, from_state, to_state, (extract(epoch from at) * 1000000)::bigint::text as us, data, prev_hash
      from incident_events where incident_id = ${id} and seq = 2`;
  const forged = eventHash(row!.prev_hash, { incidentId: id, seq: 2, type: row!.type, from: row!.from_state, to: row!.to_state, actor: 'dispatcher:forger', atUs: Number(row!.us), data: row!.data });
  assert.ok(rows.length > 3);
  const run = await tampered(server, id, () => server.app.sql`
    update incident_events set actor = 'dispatcher:forger', hash = ${forged} where incident_id = ${id} and seq = 2`);
  assert.is(run.code, 1, run.out);
  assert.match(run.out, new RegExp(`EDITED: incident ${id}, seq 2: its hash was rewritten`));
});

test('a deleted row is named, in the middle or at the end of the trail', async ({ server }) => {
  const id = await resolvedIncident(server);
  const middle = await tampered(server, id, () => server.app.sql`delete from incident_events where incident_id = ${id} and seq = 4`);
  assert.is(middle.code, 1, middle.out);
  assert.match(middle.out, new RegExp(`DELETED: incident ${id}, seq 4: seq 4 is missing`));
  const last = (await trail(server, id)).length;
  const tail = await tampered(server, id, () => server.app.sql`delete from incident_events where incident_id = ${id} and seq = ${last}`);
  assert.is(tail.code, 1, tail.out);
  assert.match(tail.out, new RegExp(`DELETED: incident ${id}, seq ${last}: the trail ends at seq ${last - 1}`));
});

test('an inserted row is named, even one that links correctly to the row before it', async ({ server }) => {
  const id = await resolvedIncident(server);
  const [before] = await server.app.sql<{ hash: string; to_state: string }[]>`select hash, to_state from incident_events where incident_id = ${id} and seq = 2`;
  const atUs = Date.now() * 1000;
  const forged = eventHash(before!.hash, { incidentId: id, seq: 3, type: 'CANCEL', from: before!.to_state, to: 'cancelled', actor: 'dispatcher:forger', atUs, data: { reason: 'forged' } });
  const run = await tampered(server, id, () => server.app.sql.begin(async (tx) => {
    // Make room at seq 3, then slip the forged event in.
    await tx`update incident_events set seq = seq + 1000 where incident_id = ${id} and seq >= 3`;
    await tx`update incident_events set seq = seq - 999 where incident_id = ${id} and seq >= 1000`;
    await tx`insert into incident_events (incident_id, seq, type, from_state, to_state, actor, data, at, prev_hash, hash)
             values (${id}, 3, 'CANCEL', ${before!.to_state}, 'cancelled', 'dispatcher:forger', ${tx.json({ reason: 'forged' })},
                     to_timestamp(${atUs / 1e6}), ${before!.hash}, ${forged})`;
  }));
  assert.is(run.code, 1, run.out);
  assert.match(run.out, new RegExp(`INSERTED: incident ${id}, seq 3: `));
});

test.run();
