// The invariants of DESIGN §2, checked against the database after every scenario.
import * as assert from 'uvu/assert';
import { replayIncident } from '../../machines/incident.logic.ts';
import type { IncidentEvent, IncidentInput, PersistedIncident } from '../../machines/incident.machine.ts';
import type { Sql } from '../../server/db.ts';
import type { TestServer } from './server.ts';

export async function checkInvariants(server: TestServer): Promise<void> {
  // One repeatable-read snapshot: incidents still moving cannot make rows disagree.
  const sweepMs = server.app.config.SWEEP_INTERVAL_MS;
  await server.app.sql.begin('isolation level repeatable read read only', (tx) => check(tx as unknown as Sql, sweepMs));
}

async function check(sql: Sql, sweepMs: number): Promise<void> {
  // I1: no slot has two active assignments. I2: no hero has two.
  const slots = await sql`select incident_id, slot, count(*)::int as n from assignments where state = 'active' group by 1, 2 having count(*) > 1`;
  assert.is(slots.length, 0, `I1 broken: ${JSON.stringify(slots)}`);
  const heroes = await sql`select hero_id, count(*)::int as n from assignments where state = 'active' group by 1 having count(*) > 1`;
  assert.is(heroes.length, 0, `I2 broken: ${JSON.stringify(heroes)}`);

  // The machine's view of who fills which slot matches the assignment rows.
  const mismatched = await sql`
    select i.id from incidents i
     where (select coalesce(jsonb_agg(jsonb_build_object('slot', a.slot, 'heroId', a.hero_id) order by a.slot), '[]'::jsonb)
              from assignments a where a.incident_id = i.id and a.state = 'active')
        <> (select coalesce(jsonb_agg(f order by (f->>'slot')::int), '[]'::jsonb) from jsonb_array_elements(i.snapshot->'context'->'filled') f)
       and i.state not in ('resolved')`;
  assert.is(mismatched.length, 0, `assignments disagree with snapshots: ${JSON.stringify(mismatched)}`);

  // I3 (as far as this layer goes): every open incident has a deadline or work queued.
  const orphans = await sql`
    select id, state from incidents i where state not in ('resolved', 'cancelled')
       and deadline_at is null and not exists (select 1 from outbox o where o.incident_id = i.id)`;
  assert.is(orphans.length, 0, `I3 broken: ${JSON.stringify(orphans)}`);

  // I4: no offer stays pending past its expiry plus one sweep interval (and a margin
  // for a loaded test machine).
  const overdue = await sql`
    select id from offers where state = 'pending' and expires_at < now() - make_interval(secs => ${(sweepMs + 2_000) / 1000})`;
  assert.is(overdue.length, 0, `I4 broken: ${JSON.stringify(overdue)}`);

  // I5: the audit trail replays to the stored snapshot, and every change is in it.
  const incidents = await sql<{ id: string; state: string; version: number; snapshot: PersistedIncident }[]>`select id, state, version, snapshot from incidents`;
  const events = await sql<{ incident_id: string; seq: number; type: string; data: Record<string, unknown> }[]>`
    select incident_id, seq, type, data from incident_events order by incident_id, seq`;
  type EventRow = (typeof events)[number];
  const byIncident = new Map<string, EventRow[]>();
  for (const e of events) byIncident.set(e.incident_id, [...(byIncident.get(e.incident_id) ?? []), e]);
  for (const inc of incidents) {
    const trail = byIncident.get(inc.id) ?? [];
    assert.is(trail.length, inc.version, `I5: incident ${inc.id} has version ${inc.version} but ${trail.length} events`);
    assert.equal(trail.map((e) => e.seq), trail.map((_, i) => i + 1), `I5: gaps in ${inc.id}'s trail`);
    const [first, ...rest] = trail;
    assert.is(first?.type, 'REPORTED');
    const replayed = replayIncident(first!.data as unknown as IncidentInput, rest.map((e) => ({ type: e.type, ...e.data }) as IncidentEvent));
    assert.equal(replayed, inc.snapshot, `I5: replay of ${inc.id} differs from its snapshot`);
    assert.is(inc.state, inc.snapshot.value);
  }
}
