// POST /v1/incidents as a civilian sees it: idempotent replays under a storm of
// concurrent and sequential retries, the refusals (400, 422, 429) that change
// nothing, and the first dispatch effect committed with the report.
import * as assert from 'uvu/assert';
import { eventually, http, sleep, type HttpAnswer } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, east, report } from './helpers/world.ts';

// No heroes anywhere: every incident gets exactly one dispatch round, then waits
// (retries are pushed far out so the audit trails stay still while invariants run).
const QUIET = { DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000 };

const post = (server: TestServer, token: string, body: unknown, key?: string): Promise<HttpAnswer> =>
  http(server, 'POST', '/v1/incidents', { token, body, headers: key === undefined ? {} : { 'idempotency-key': key } });

interface Row { id: string; reported_by: string; kind: string; severity: string; lat: number; lng: number; description: string; needs: unknown }
async function incidentsOf(server: TestServer, civilians: string[]): Promise<Row[]> {
  return [...await server.app.sql<Row[]>`select id, reported_by, kind, severity, lat, lng, description, needs from incidents where reported_by = any(${civilians}) order by id`];
}

async function keysOf(server: TestServer, civilians: string[]): Promise<number> {
  const [row] = await server.app.sql`select count(*)::int as n from idempotency_keys where actor = any(${civilians})`;
  return row!.n as number;
}

function assertProblem(res: HttpAnswer, status: number, what: string): void {
  assert.is(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  for (const field of ['type', 'title', 'detail'] as const) assert.type(res.body?.[field], 'string', `${what}: ${field}`);
  assert.ok(res.body.detail.length > 0, `${what}: empty detail`);
  assert.is(res.body.status, status, what);
}

/** Waits until every incident had its first dispatch round and its outbox drained. */
async function settled(server: TestServer, ids: string[], ms = 20_000): Promise<void> {
  await eventually(`${ids.length} incidents settled`, async () => {
    const [row] = await server.app.sql`
      select count(*) filter (where version < 2)::int as fresh,
             (select count(*)::int from outbox where incident_id = any(${ids})) as queued
        from incidents where id = any(${ids})`;
    return row!.fresh === 0 && row!.queued === 0;
  }, ms);
}

/** mulberry32: a small seeded PRNG, so the storm is the same on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Many separate emergencies at one spot: linking duplicates (test/linked.test.ts) is off here.
const test = serverSuite('report', { REPORTS_PER_MINUTE: 100_000, DEDUPE_RADIUS_M: 0, ...QUIET });

test('replay storm: 200 reports sent 1-3 times each make exactly 200 incidents', async ({ server }) => {
  const random = rng(20_240_611);
  const center = area();
  const civilians = Array.from({ length: 20 }, () => uid('storm-civ-'));
  const tokens = await Promise.all(civilians.map((c) => server.token('civilian', c)));
  const reports = Array.from({ length: 200 }, (_, i) => ({
    civ: i % civilians.length, key: uid(`storm-${i}-`), copies: 1 + Math.floor(random() * 3), together: random() < 0.5,
    body: { kind: 'other', severity: 'low', location: east(center, i * 0.01), description: `storm report ${i}` },
  }));
  const answers = new Map<string, HttpAnswer[]>(reports.map((r) => [r.key, []]));
  let refused = 0;
  // As the civilian page does: a 503 ("NOT recorded", when the machine is too busy to
  // admit it in time) is retried with the same key after its Retry-After, up to 5 times.
  // What each copy finally got is what counts.
  const attempt = async (r: (typeof reports)[number]): Promise<HttpAnswer> => {
    for (let tries = 1; ; tries++) {
      const a = await post(server, tokens[r.civ]!, r.body, r.key);
      if (a.status !== 503 || tries === 5) return a;
      refused++;
      await sleep(Math.min(2_000, Number(a.headers.get('retry-after') ?? 1) * 1000));
    }
  };
  const send = async (r: (typeof reports)[number]) => {
    const one = () => attempt(r).then((a) => { answers.get(r.key)!.push(a); });
    if (r.together) await Promise.all(Array.from({ length: r.copies }, one));
    else for (let n = 0; n < r.copies; n++) await one();
  };
  // Batches of at most 50 requests in flight.
  for (let i = 0; i < reports.length;) {
    const batch = [];
    for (let load = 0; i < reports.length && load + reports[i]!.copies <= 50; i++) { load += reports[i]!.copies; batch.push(reports[i]!); }
    await Promise.all(batch.map(send));
  }

  const sent = reports.reduce((n, r) => n + r.copies, 0);
  assert.ok(sent > 300 && reports.some((r) => r.together && r.copies === 3) && reports.some((r) => !r.together && r.copies > 1), `storm mix: ${sent} requests`);
  const ids = new Set<string>();
  for (const r of reports) {
    const got = answers.get(r.key)!;
    assert.is(got.length, r.copies);
    for (const a of got) assert.ok(a.status === 200 || a.status === 201, `key ${r.key}: ${a.status} ${JSON.stringify(a.body)}`);
    assert.is(got.filter((a) => a.status === 201).length, 1, `key ${r.key}: exactly one 201, got ${got.map((a) => a.status)}`);
    const named = new Set(got.map((a) => a.body.id));
    assert.is(named.size, 1, `key ${r.key} named ${[...named]}`);
    assert.is(got[0]!.body.description, r.body.description);
    assert.is(got[0]!.body.reportedBy, civilians[r.civ]);
    ids.add(got[0]!.body.id);
  }
  assert.is(ids.size, 200, `every report names its own incident (${refused} attempts refused with 503 and retried)`);

  const rows = await incidentsOf(server, civilians);
  assert.is(rows.length, 200);
  assert.equal(rows.map((r) => r.id).sort(), [...ids].sort());
  assert.is(await keysOf(server, civilians), 200);
  const [reported] = await server.app.sql`
    select count(*)::int as n, count(distinct incident_id)::int as incidents from incident_events
     where type = 'REPORTED' and seq = 1 and incident_id = any(${[...ids]})`;
  assert.equal(reported, { n: 200, incidents: 200 });
  await settled(server, [...ids], 30_000);
});

test('a missing or malformed Idempotency-Key is 400 and inserts nothing', async ({ server }) => {
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  const body = { kind: 'fire', severity: 'high', location: area() };
  const missing = await post(server, token, body);
  assertProblem(missing, 400, 'no key');
  assert.match(missing.body.detail, /Idempotency-Key/);
  assertProblem(await post(server, token, body, 'k'.repeat(201)), 400, 'key over 200 characters');
  assert.is((await incidentsOf(server, [civ])).length, 0);
  assert.is(await keysOf(server, [civ]), 0);
});

test('same key with a different body is 422 and the original stays as it was', async ({ server }) => {
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  const key = uid('key-');
  const location = area();
  const first = await report(server, token, { kind: 'fire', severity: 'high', location, description: 'smoke' }, key);
  assert.is(first.status, 201);
  const before = await incidentsOf(server, [civ]);

  const changed = await post(server, token, { kind: 'fire', severity: 'critical', location, description: 'smoke' }, key);
  assertProblem(changed, 422, 'different body');
  assertProblem(await post(server, token, { kind: 'fire', severity: 'high', location, description: 'smoke!' }, key), 422, 'other description');
  assert.equal(await incidentsOf(server, [civ]), before, 'the original incident is unchanged and nothing was added');
  assert.is(await keysOf(server, [civ]), 1);

  // The same report with its keys in another order is the same report.
  const replay = await post(server, token, { description: 'smoke', location, severity: 'high', kind: 'fire' }, key);
  assert.is(replay.status, 200);
  assert.is(replay.body.id, first.incident.id);
  assert.is(replay.body.severity, 'high');
  await settled(server, [first.incident.id]);
});

test('the same key from another civilian is another report', async ({ server }) => {
  const [a, b] = [uid('civ-a-'), uid('civ-b-')];
  const key = uid('shared-key-');
  const body = { kind: 'crime', severity: 'medium', location: area() };
  const first = await report(server, await server.token('civilian', a), body, key);
  const second = await report(server, await server.token('civilian', b), body, key);
  assert.is(first.status, 201);
  assert.is(second.status, 201);
  assert.is.not(second.incident.id, first.incident.id);
  assert.is(second.incident.reportedBy, b);
  const rows = await incidentsOf(server, [a, b]);
  assert.equal(rows.map((r) => r.reported_by).sort(), [a, b].sort());
  assert.is(await keysOf(server, [a, b]), 2);
  await settled(server, [first.incident.id, second.incident.id]);
});

test('a team report is 201 with a slot per unit (PROTOCOL v1.1 Teams); more than 10 heroes is 400', async ({ server }) => {
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  const base = { kind: 'disaster', severity: 'critical', location: area() };
  const created: string[] = [];
  for (const needs of [[{ skill: null, count: 2 }], [{ skill: 'fire', count: 1 }, { skill: null, count: 1 }]]) {
    const res = await post(server, token, { ...base, needs }, uid('key-'));
    assert.is(res.status, 201, `needs ${JSON.stringify(needs)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.slots, needs.flatMap((n) => Array.from({ length: n.count }, () => n.skill)).map((skill, slot) => ({ slot, skill, heroId: null })));
    created.push(res.body.id);
  }
  const over = await post(server, token, { ...base, needs: [{ skill: null, count: 6 }, { skill: 'medic', count: 5 }] }, uid('key-'));
  assertProblem(over, 400, 'total needs 11');
  assert.ok(Array.isArray(over.body.errors) && over.body.errors.some((e: { path: string }) => e.path === 'needs'), JSON.stringify(over.body.errors));
  const one = await post(server, token, { ...base, needs: [{ skill: null, count: 11 }] }, uid('key-'));
  assertProblem(one, 400, 'count 11');
  assert.ok(one.body.errors.some((e: { path: string }) => e.path.startsWith('needs')), JSON.stringify(one.body.errors));
  assert.equal((await incidentsOf(server, [civ])).map((r) => r.id).sort(), created.sort(), 'only the team reports were taken');
  assert.is(await keysOf(server, [civ]), 2);
  await settled(server, created);
});

test('invalid bodies are 400 with the field in `errors` and insert nothing', async ({ server }) => {
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  const good = { kind: 'medical', severity: 'low', location: area() };
  const { location: _, ...noLocation } = good;
  const cases: [string, unknown, RegExp][] = [
    ['wrong kind', { ...good, kind: 'alien' }, /^kind$/],
    ['wrong severity', { ...good, severity: 'urgent' }, /^severity$/],
    ['lat 91', { ...good, location: { lat: 91, lng: 0 } }, /^location\.lat$/],
    ['missing location', noLocation, /^location$/],
    ['unknown extra key', { ...good, priority: 1 }, /priority|\(root\)/],
    ['needs empty', { ...good, needs: [] }, /^needs$/],
  ];
  for (const [what, body, path] of cases) {
    const res = await post(server, token, body, uid('key-'));
    assertProblem(res, 400, what);
    assert.ok(Array.isArray(res.body.errors) && res.body.errors.length > 0, `${what}: no errors`);
    assert.ok(res.body.errors.some((e: { path: string; message: string }) => path.test(e.path) || path.test(e.message)), `${what}: ${JSON.stringify(res.body.errors)}`);
  }
  const raw = await http(server, 'POST', '/v1/incidents', { token, raw: '{"kind": "fire",', headers: { 'idempotency-key': uid('key-') } });
  assertProblem(raw, 400, 'broken JSON');
  assert.is((await incidentsOf(server, [civ])).length, 0);
  assert.is(await keysOf(server, [civ]), 0);
});

test('a report commits its incident, REPORTED as event 1, and the first dispatch round follows', async ({ server }) => {
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  const { status, incident } = await report(server, token, { kind: 'accident', severity: 'high', location: area(), description: 'two cars' });
  assert.is(status, 201);
  const [row] = await server.app.sql`select state, version, reported_by, deadline_at from incidents where id = ${incident.id}`;
  assert.ok(row, 'the incident row exists once 201 is answered');
  assert.ok(['reported', 'dispatching', 'escalated'].includes(row.state), row.state);
  assert.is(row.reported_by, civ);
  const first = await server.app.sql`select seq, type, from_state, to_state, actor from incident_events where incident_id = ${incident.id} and type = 'REPORTED'`;
  assert.equal([...first], [{ seq: 1, type: 'REPORTED', from_state: null, to_state: 'reported', actor: `civilian:${civ}` }]);

  // The outbox carried the dispatch job: a round ran (nobody near) and nothing is left queued.
  await settled(server, [incident.id]);
  const trail = await http(server, 'GET', `/v1/incidents/${incident.id}/events`, { token });
  assert.is(trail.status, 200);
  assert.equal(trail.body.items.slice(0, 2).map((e: { seq: number; type: string }) => [e.seq, e.type]), [[1, 'REPORTED'], [2, 'ROUND']]);
  const read = await http(server, 'GET', `/v1/incidents/${incident.id}`, { token });
  assert.is(read.body.state, 'dispatching');
});

test.run();

// A server of its own with a budget of 3 reports per civilian per minute.
const limited = serverSuite('report rate limit', { REPORTS_PER_MINUTE: 3, ...QUIET });

limited('the 4th report within a minute is 429 with Retry-After', async ({ server }) => {
  // The window is fixed per clock minute: do not start right at its edge.
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 55_000) await sleep(60_000 - intoMinute + 100);
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  const ids: string[] = [];
  const first = { kind: 'other', severity: 'low', location: area() };
  const firstKey = uid('key-');
  for (let i = 0; i < 3; i++) {
    const r = i === 0 ? await report(server, token, first, firstKey) : await report(server, token, { kind: 'other', severity: 'low', location: area() });
    assert.is(r.status, 201, `report ${i + 1}`);
    ids.push(r.incident.id);
  }
  const fourth = await post(server, token, { kind: 'other', severity: 'low', location: area() }, uid('key-'));
  assertProblem(fourth, 429, '4th report');
  const retryAfter = fourth.headers.get('retry-after') ?? '';
  assert.match(retryAfter, /^\d+$/, `Retry-After "${retryAfter}"`);
  assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, retryAfter);
  assert.is((await incidentsOf(server, [civ])).length, 3, 'the throttled report inserted nothing');
  // The window's counter expires with it (two windows at most): budgets leave nothing behind.
  const [budget] = await server.app.redis.keys(`${server.prefix}:rate:report:${civ}:*`);
  const ttl = await server.app.redis.ttl(budget!);
  assert.ok(ttl > 0 && ttl <= 120, `the budget key's TTL is ${ttl} s`);

  // A retry of an accepted report is answered even when the budget is spent, and
  // spelling out the default `needs` is the same report.
  for (const body of [first, { ...first, needs: [{ skill: null, count: 1 }] }]) {
    const replay = await report(server, token, body, firstKey);
    assert.is(replay.status, 200, JSON.stringify(replay.incident));
    assert.is(replay.incident.id, ids[0]);
  }

  // The budget is per civilian.
  const other = await report(server, await server.token('civilian', uid('civ-')), { kind: 'other', severity: 'low', location: area() });
  assert.is(other.status, 201);
  await settled(server, [...ids, other.incident.id]);
});

limited.run();
