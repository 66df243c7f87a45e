// Daily audit anchors (issue 15, optional part), through the real server and its
// retention job: every complete UTC day is anchored; `audit:verify` recomputes each
// anchor from Postgres and the archives together, so a day whose incident was archived
// still matches; and a trail rewritten consistently (every hash recomputed, the head
// too), which the chain alone cannot see, breaks its day's anchor. `--expect` compares
// an anchor with a copy kept elsewhere.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { eventHash, GENESIS, usToTimestamp } from '../server/audit/audit.chain.ts';
import type { Tx } from '../server/db.ts';
import { auditVerify } from './helpers/audit-cli.ts';
import { eventually, http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, report } from './helpers/world.ts';

const ARCHIVE_DIR = mkdtempSync(join(tmpdir(), 'dispatch-anchor-'));
const test = serverSuite('audit-anchor', { ARCHIVE_DIR, INCIDENT_RETENTION_MS: 60_000, RETENTION_INTERVAL_MS: 300, SWEEP_INTERVAL_MS: 300 });
test.after(() => rmSync(ARCHIVE_DIR, { recursive: true, force: true }));

const DAY_US = 86_400_000_000;

interface Ev { seq: number; type: string; from_state: string | null; to_state: string; actor: string; us: string; data: unknown }

/**
 * Rewrites a whole trail as a forger with database access would: `change` edits each
 * event, then every hash and the head are recomputed, so the chain itself verifies.
 */
async function rewriteTrail(tx: Tx, id: string, change: (e: { seq: number; actor: string; atUs: number }) => { actor: string; atUs: number }) {
  const events = await tx<Ev[]>`
    select seq, type, from_state, to_state, actor, (extract(epoch from at) * 1000000)::bigint::text as us, data
      from incident_events where incident_id = ${id} order by seq`;
  let prev = GENESIS;
  for (const e of events) {
    const { actor, atUs } = change({ seq: e.seq, actor: e.actor, atUs: Number(e.us) });
    const hash = eventHash(prev, { incidentId: id, seq: e.seq, type: e.type, from: e.from_state, to: e.to_state, actor, atUs, data: e.data });
    await tx`update incident_events set actor = ${actor}, at = ${usToTimestamp(atUs)}::text::timestamptz, prev_hash = ${prev}, hash = ${hash}
              where incident_id = ${id} and seq = ${e.seq}`;
    prev = hash;
  }
  await tx`update incidents set audit_head = ${prev} where id = ${id}`;
}

/** A report a dispatcher cancels at once: a short trail that stops moving. */
async function finished(server: TestServer): Promise<string> {
  const civ = await server.token('civilian', uid('c-'));
  const { status, incident } = await report(server, civ, { kind: 'other', severity: 'low', location: area(), description: 'anchor test' });
  assert.is(status, 201);
  const cancel = await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: await server.token('dispatcher', uid('d-')), body: { reason: 'test' } });
  assert.is(cancel.status, 200);
  await eventually('its outbox drained', async () => (await server.app.sql`select 1 from outbox where incident_id = ${incident.id}`).length === 0, 5_000);
  return incident.id;
}

test('complete days are anchored; archived and stored trails both match; a consistent rewrite breaks its day\'s anchor', async ({ server }) => {
  // Two incidents as if written three days ago (their trails moved back, chains recomputed
  // as they would have been): one stays in Postgres, the other is also old enough to be archived.
  const kept = await finished(server);
  const archived = await finished(server);
  const back = (e: { actor: string; atUs: number }) => ({ actor: e.actor, atUs: e.atUs - 3 * DAY_US });
  // One transaction: the retention job runs every 300 ms, and a day it anchored between
  // two separate rewrites would hold one incident for good (CI saw exactly that).
  await server.app.sql.begin(async (tx) => {
    await tx`update incidents set updated_at = now() + interval '1 day' where id = ${kept}`; // never old enough to archive
    await rewriteTrail(tx, kept, back);
    await tx`update incidents set updated_at = updated_at - interval '3 days' where id = ${archived}`;
    await rewriteTrail(tx, archived, back);
  });

  const anchored = await eventually('three complete days anchored and the old incident archived', async () => {
    const rows = await server.app.sql<{ day: string; anchor: string; incidents: number }[]>`
      select to_char(day, 'YYYY-MM-DD') as day, anchor, incidents from audit_anchors order by day`;
    const gone = (await server.app.sql`select 1 from incidents where id = ${archived}`).length === 0;
    return rows.length >= 3 && gone && rows;
  }, 15_000);
  assert.is(anchored[0]!.incidents, 2, 'the first day anchors both incidents\' heads');
  const latest = anchored[anchored.length - 1]!;

  const clean = await auditVerify(server);
  assert.is(clean.code, 0, clean.out);
  assert.match(clean.out, new RegExp(`anchors: ${anchored.length} day\\(s\\); latest ${latest.day}: ${latest.anchor} \\(keep a copy elsewhere\\): all match`));
  const expected = await auditVerify(server, ['--expect', `${latest.day}=${latest.anchor}`]);
  assert.is(expected.code, 0, expected.out);
  const wrong = await auditVerify(server, ['--expect', `${latest.day}=${'0'.repeat(64)}`]);
  assert.is(wrong.code, 1, wrong.out);
  assert.match(wrong.out, new RegExp(`ANCHOR: day ${latest.day}: the anchor kept elsewhere \\(0{64}\\) differs`));

  // The forger changes who cancelled, and recomputes the chain and the head.
  const saved = await server.app.sql`select * from incident_events where incident_id = ${kept}`;
  const [head] = await server.app.sql<{ audit_head: string }[]>`select audit_head from incidents where id = ${kept}`;
  await server.app.sql.begin((tx) => rewriteTrail(tx, kept, (e) => ({ atUs: e.atUs, actor: e.seq === 2 ? 'dispatcher:forger' : e.actor })));
  try {
    const forged = await auditVerify(server);
    assert.is(forged.code, 1, forged.out);
    assert.not.match(forged.out, /EDITED|DELETED|INSERTED/, 'the chain alone sees nothing');
    assert.match(forged.out, new RegExp(`ANCHOR: day ${anchored[0]!.day}: the trails of that day no longer match its anchor`));
  } finally {
    await server.app.sql.begin(async (tx) => {
      await tx`delete from incident_events where incident_id = ${kept}`;
      await tx`insert into incident_events ${tx(saved as never)}`;
      await tx`update incidents set audit_head = ${head!.audit_head} where id = ${kept}`;
    });
  }
  assert.is((await auditVerify(server)).code, 0, 'put back, it matches again');
});

test.run();
