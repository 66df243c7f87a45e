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

  // I6: every report answered 2xx is an incident or a LINKED event on one, with its
  // severity and words kept: the key names an incident this civilian reported, or a
  // LINKED event of theirs, and no incident is less severe than any of its reports.
  const lost = await sql`
    select k.actor, k.key, k.incident_id from idempotency_keys k
     where not exists (select 1 from incidents i where i.id = k.incident_id and i.reported_by = k.actor)
       and not exists (select 1 from incident_events e where e.incident_id = k.incident_id and e.type = 'LINKED'
                          and e.data->>'civilianId' = k.actor and e.data->>'key' = k.key)`;
  assert.is(lost.length, 0, `I6 broken (a report answered 2xx left no trace): ${JSON.stringify(lost)}`);
  const wordless = await sql`
    select incident_id, seq from incident_events
     where type = 'LINKED' and (data->>'severity' is null or jsonb_typeof(data->'description') is distinct from 'string')`;
  assert.is(wordless.length, 0, `I6 broken (a LINKED event lost the report's severity or words): ${JSON.stringify(wordless)}`);
  const understated = await sql`
    select i.id, i.severity, e.data->>'severity' as reported from incidents i
      join incident_events e on e.incident_id = i.id and e.type = 'LINKED'
     where i.severity_rank > array_position(array['critical','high','medium','low'], e.data->>'severity') - 1`;
  assert.is(understated.length, 0, `I6 broken (an incident is less severe than one of its reports): ${JSON.stringify(understated)}`);

  // I7: no open incident is stuck in silence. Every open deadline is either in the
  // future or overdue by less than a sweep (the sweeper acts on it and alerts), with a
  // margin for a loaded test machine; an open incident with no deadline has work queued (I3).
  const silent = await sql`
    select id, state, deadline_at from incidents
     where state not in ('resolved', 'cancelled')
       and deadline_at < now() - make_interval(secs => ${(sweepMs + 5_000) / 1000})`;
  assert.is(silent.length, 0, `I7 broken (open incidents overdue with nobody acting): ${JSON.stringify(silent)}`);

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
