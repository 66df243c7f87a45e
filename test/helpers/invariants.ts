// The invariants of DESIGN §2, checked against the database after every scenario.
// Every invariant is checked and every broken one named in the error, row by row in
// words ("I2 violated: hero h-12 holds 2 active assignments: …"), so a failure in an
// after.each hook says which invariant broke, where, and on which server's schema.
import { responseMismatches } from '../../server/http/conformance.ts';
import * as assert from 'uvu/assert';
import { compare } from 'uvu/diff';
import { replayIncident } from '../../machines/incident.logic.ts';
import type { IncidentEvent, IncidentInput, PersistedIncident } from '../../machines/incident.machine.ts';
import { verifyTrail } from '../../server/audit/audit.verifier.ts';
import type { Sql } from '../../server/db.ts';
import { headsAfter, trailsOf } from '../../server/store/audit.store.ts';
import type { TestServer } from './server.ts';

/** One broken invariant: its id and one line per offending row. */
interface Violation { id: string; lines: string[]; details?: string }

/** Rows listed per invariant; the rest are counted. */
const MAX_ROWS = 5;
/** Bounded: a check stuck behind a lock fails instead of hanging the suite. */
const STATEMENT_TIMEOUT_MS = 15_000;

export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
  /** uvu prints `details` under the message (here: the diff of a replay that differs). */
  readonly details: string | undefined;
  constructor(readonly violations: Violation[], where: string) {
    const lines = violations.flatMap((v) => {
      const shown = v.lines.slice(0, MAX_ROWS).map((l) => `${v.id} violated: ${l}`);
      return v.lines.length > MAX_ROWS ? [...shown, `${v.id} violated ${v.lines.length - MAX_ROWS} more time(s)`] : shown;
    });
    // uvu indents the first line by 4: the others are indented to match.
    super([...lines, `(${where})`].join('\n    '));
    this.details = violations.find((v) => v.details)?.details;
    // Only the first line in the stack's head: uvu prints the stack after the message,
    // which would repeat the other lines.
    const frames = (this.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
    this.stack = [`${this.name}: ${lines[0]}`, ...frames].join('\n');
  }
}

/**
 * Checks I1-I7 on the server's schema in one snapshot, and that every HTTP answer the
 * scenario got matched its documented schema (the server records mismatches when
 * started with HTTP_RESPONSE_CHECK, as test servers are); throws an InvariantViolation
 * naming every broken one. `when` says at which point of a scenario it ran.
 */
export async function checkInvariants(server: TestServer, when = 'after the scenario'): Promise<void> {
  const sweepMs = server.app.config.SWEEP_INTERVAL_MS;
  // One repeatable-read snapshot: incidents still moving cannot make rows disagree.
  const violations = await server.app.sql.begin('isolation level repeatable read read only', async (tx) => {
    await tx.unsafe(`set local statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
    return check(tx as unknown as Sql, sweepMs);
  });
  // Taken, not just read: each mismatch fails the scenario that saw it, once.
  const mismatches = responseMismatches(server.app.http).splice(0);
  if (mismatches.length) {
    violations.push({ id: 'OpenAPI', lines: mismatches.map((m) => `${m.method} ${m.url} answered ${m.status}, not as documented: ${m.problem}`) });
  }
  if (violations.length) throw new InvariantViolation(violations, `checked ${when}${server.schema ? ` on schema ${server.schema}` : ''}`);
}

const slot = (r: { incident_id: string; slot: number }) => `incident ${r.incident_id} slot ${r.slot}`;

async function check(sql: Sql, sweepMs: number): Promise<Violation[]> {
  const found: Violation[] = [];
  const add = (id: string, lines: string[], details?: string) => { if (lines.length) found.push({ id, lines, ...(details ? { details } : {}) }); };

  // I1: no slot has two active assignments. I2: no hero has two.
  const slots = await sql<{ incident_id: string; slot: number; n: number; heroes: string[] }[]>`
    select incident_id, slot, count(*)::int as n, array_agg(hero_id order by hero_id) as heroes
      from assignments where state = 'active' group by 1, 2 having count(*) > 1`;
  add('I1', slots.map((r) => `${slot(r)} has ${r.n} active assignments (heroes ${r.heroes.join(', ')})`));
  const heroes = await sql<{ hero_id: string; n: number; held: { incident_id: string; slot: number }[] }[]>`
    select hero_id, count(*)::int as n, jsonb_agg(jsonb_build_object('incident_id', incident_id, 'slot', slot) order by incident_id) as held
      from assignments where state = 'active' group by 1 having count(*) > 1`;
  add('I2', heroes.map((r) => `hero ${r.hero_id} holds ${r.n} active assignments: ${r.held.map(slot).join(', ')}`));

  // The machine's view of who fills which slot matches the assignment rows (the stored
  // snapshot is what I5 replays to, so it must agree with the rows too).
  const mismatched = await sql<{ id: string; rows: unknown; filled: unknown }[]>`
    select id, rows, filled from (
      select i.id, i.state,
             (select coalesce(jsonb_agg(jsonb_build_object('slot', a.slot, 'heroId', a.hero_id) order by a.slot), '[]'::jsonb)
                from assignments a where a.incident_id = i.id and a.state = 'active') as rows,
             (select coalesce(jsonb_agg(f order by (f->>'slot')::int), '[]'::jsonb) from jsonb_array_elements(i.snapshot->'context'->'filled') f) as filled
        from incidents i) x
     where rows <> filled and state not in ('resolved')`;
  add('I5', mismatched.map((r) => `incident ${r.id}'s snapshot fills ${JSON.stringify(r.filled)} but its active assignments are ${JSON.stringify(r.rows)}`));

  // I3 (as far as this layer goes): every open incident has a deadline or work queued.
  const orphans = await sql<{ id: string; state: string }[]>`
    select id, state from incidents i where state not in ('resolved', 'cancelled')
       and deadline_at is null and not exists (select 1 from outbox o where o.incident_id = i.id)`;
  add('I3', orphans.map((r) => `open incident ${r.id} (${r.state}) has no deadline and no work queued`));

  // I4: no offer stays pending past its expiry plus one sweep interval (and a margin
  // for a loaded test machine).
  const graceS = (sweepMs + 2_000) / 1000;
  const overdue = await sql<{ id: string; hero_id: string; incident_id: string; late_s: number }[]>`
    select id, hero_id, incident_id, extract(epoch from now() - expires_at)::float8 as late_s from offers
     where state = 'pending' and expires_at < now() - make_interval(secs => ${graceS})`;
  add('I4', overdue.map((r) => `offer ${r.id} (hero ${r.hero_id}, incident ${r.incident_id}) still pending ${r.late_s.toFixed(1)} s after its expiry (a sweep + margin is ${graceS} s)`));

  // I6: every report answered 2xx is an incident or a LINKED event on one, with its
  // severity and words kept: the key names an incident this civilian reported, or a
  // LINKED event of theirs, and no incident is less severe than any of its reports.
  const lost = await sql<{ actor: string; key: string; incident_id: string }[]>`
    select k.actor, k.key, k.incident_id from idempotency_keys k
     where not exists (select 1 from incidents i where i.id = k.incident_id and i.reported_by = k.actor)
       and not exists (select 1 from incident_events e where e.incident_id = k.incident_id and e.type = 'LINKED'
                          and e.data->>'civilianId' = k.actor and e.data->>'key' = k.key)`;
  add('I6', lost.map((r) => `the report of ${r.actor} (key ${r.key}) was answered 2xx but left no trace: incident ${r.incident_id} is neither theirs nor has a LINKED event of theirs`));
  const wordless = await sql<{ incident_id: string; seq: number }[]>`
    select incident_id, seq from incident_events
     where type = 'LINKED' and (data->>'severity' is null or jsonb_typeof(data->'description') is distinct from 'string')`;
  add('I6', wordless.map((r) => `the LINKED event #${r.seq} of incident ${r.incident_id} lost the report's severity or words`));
  const understated = await sql<{ id: string; severity: string; reported: string }[]>`
    select i.id, i.severity, e.data->>'severity' as reported from incidents i
      join incident_events e on e.incident_id = i.id and e.type = 'LINKED'
     where i.severity_rank > array_position(array['critical','high','medium','low'], e.data->>'severity') - 1`;
  add('I6', understated.map((r) => `incident ${r.id} is ${r.severity}, less severe than a report linked to it (${r.reported})`));

  // I7: no open incident is stuck in silence. Every open deadline is either in the
  // future or overdue by less than a sweep (the sweeper acts on it and alerts), with a
  // margin for a loaded test machine; an open incident with no deadline has work queued (I3).
  const silentS = (sweepMs + 5_000) / 1000;
  const silent = await sql<{ id: string; state: string; late_s: number }[]>`
    select id, state, extract(epoch from now() - deadline_at)::float8 as late_s from incidents
     where state not in ('resolved', 'cancelled')
       and deadline_at < now() - make_interval(secs => ${silentS})`;
  add('I7', silent.map((r) => `open incident ${r.id} (${r.state}) is ${r.late_s.toFixed(1)} s past its deadline with nobody acting (a sweep + margin is ${silentS} s)`));

  // I5: the audit trail replays to the stored snapshot, and every change is in it.
  const replays = await replayed(sql);
  add('I5', replays.map((r) => r.line), replays.find((r) => r.details)?.details);
  // I5, tamper-evident (issue 15): every trail's hash chain holds, link by link, up to
  // the head kept on the incident (replays were checked just above).
  const heads = await headsAfter(sql, '', 1_000_000);
  const trails = await trailsOf(sql, heads.map((h) => h.id));
  const chains = heads.map((h) => verifyTrail(h, trails.get(h.id) ?? [])).filter((r) => r.broken && r.broken.kind !== 'replay');
  add('I5', chains.map((r) => `the audit chain is broken: ${r.broken!.message}`));
  return found;
}

/** I5, per incident: the first way its trail fails to account for its stored state. */
async function replayed(sql: Sql): Promise<{ line: string; details?: string }[]> {
  const incidents = await sql<{ id: string; state: string; version: number; snapshot: PersistedIncident }[]>`select id, state, version, snapshot from incidents`;
  const events = await sql<{ incident_id: string; seq: number; type: string; data: Record<string, unknown> }[]>`
    select incident_id, seq, type, data from incident_events order by incident_id, seq`;
  type EventRow = (typeof events)[number];
  const byIncident = new Map<string, EventRow[]>();
  for (const e of events) byIncident.set(e.incident_id, [...(byIncident.get(e.incident_id) ?? []), e]);
  const out: { line: string; details?: string }[] = [];
  for (const inc of incidents) {
    const trail = byIncident.get(inc.id) ?? [];
    const seqs = trail.map((e) => e.seq);
    const [first, ...rest] = trail;
    if (trail.length !== inc.version) { out.push({ line: `incident ${inc.id} has version ${inc.version} but ${trail.length} events in its trail` }); continue; }
    if (seqs.some((s, i) => s !== i + 1)) { out.push({ line: `incident ${inc.id}'s trail has gaps: seq ${seqs.join(', ')}` }); continue; }
    if (first?.type !== 'REPORTED') { out.push({ line: `incident ${inc.id}'s trail starts with ${first?.type ?? 'nothing'}, not REPORTED` }); continue; }
    let replay: PersistedIncident;
    try {
      replay = replayIncident(first.data as unknown as IncidentInput, rest.map((e) => ({ type: e.type, ...e.data }) as IncidentEvent));
    } catch (e) {
      out.push({ line: `incident ${inc.id}'s trail does not replay: ${(e as Error).message}` });
      continue;
    }
    if (!deepEqual(replay, inc.snapshot)) {
      out.push({ line: `the replay of incident ${inc.id}'s trail differs from its stored snapshot (diff below: -- replayed, ++ stored)`, details: compare(replay, inc.snapshot) });
      continue;
    }
    if (inc.state !== inc.snapshot.value) out.push({ line: `incident ${inc.id}'s state column says ${inc.state} but its snapshot says ${String(inc.snapshot.value)}` });
  }
  return out;
}

/** Equality exactly as uvu's assert.equal decides it. */
function deepEqual(a: unknown, b: unknown): boolean {
  try { assert.equal(a, b); return true; } catch { return false; }
}
