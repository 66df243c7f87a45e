// GET /v1/incidents in pages (an extension, see README): `?limit=<n>&before=<id>`, at
// most INCIDENTS_PAGE_MAX a page, newest first, answering `{ items, next? }`; `next`
// is the `before` of the following page. Bad paging parameters are 400 `invalid` and
// change nothing. The simulator's invariant scan walks these pages in a burst.
import fc from 'fast-check';
import postgres from 'postgres';
import * as assert from 'uvu/assert';
import { eventually, http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { scanAssignments } from '../scripts/sim/checks.ts';
import { area, cancelByDispatcher, closeAll, dispatcherToken, heroOffered, report } from './helpers/world.ts';

const PAGE_MAX = 2;
// No heroes: every incident stays `dispatching` (or escalates) until the test cancels it.
const test = serverSuite('incident list paging', { INCIDENTS_PAGE_MAX: PAGE_MAX, DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000 });

type Listed = { id: string; state: string; createdAt: number };

/** A low report by a civilian of its own (one civilian's reports are rate-limited). */
async function newIncident(server: TestServer, kind: string): Promise<string> {
  const { status, incident } = await report(server, await server.token('civilian', uid('c-')), { kind, severity: 'low', location: area() });
  assert.is(status, 201, JSON.stringify(incident));
  return incident.id;
}
const list = (server: TestServer, token: string, query: string) => http(server, 'GET', `/v1/incidents${query}`, { token });

/** Every page from the first, following `next`; each page's length is checked against `limit`. */
async function walk(server: TestServer, token: string, query: string, limit: number): Promise<Listed[][]> {
  const pages: Listed[][] = [];
  let before: string | undefined;
  for (let i = 0; i < 200; i++) {
    const res = await list(server, token, `?${query}${query ? '&' : ''}limit=${limit}${before ? `&before=${encodeURIComponent(before)}` : ''}`);
    assert.is(res.status, 200, JSON.stringify(res.body));
    const items = res.body.items as Listed[];
    pages.push(items);
    if (res.body.next === undefined) return pages;
    assert.is(items.length, limit, 'a page with a `next` is full');
    assert.is(res.body.next, items[items.length - 1]!.id, '`next` is the id that ended the page');
    before = res.body.next;
  }
  throw new Error('more than 200 pages');
}

test('pages follow `next` from the newest incident to the oldest: each one once, none longer than the limit', async ({ server }) => {
  const disp = await dispatcherToken(server);
  const mine: string[] = [];
  for (let i = 0; i < 7; i++) mine.push(await newIncident(server, 'other'));
  const stored = (await server.app.sql<{ id: string }[]>`select id from incidents order by created_at desc, id desc`).map((r) => r.id);
  assert.ok(stored.length >= 7);

  const first = await list(server, disp, '');
  assert.is(first.status, 200);
  assert.is(first.body.items.length, PAGE_MAX, 'without a limit, a page holds at most INCIDENTS_PAGE_MAX');
  assert.is(first.body.items[0].id, mine[mine.length - 1], 'the newest first');

  for (const limit of [1, PAGE_MAX]) {
    const pages = await walk(server, disp, '', limit);
    assert.ok(pages.every((p) => p.length <= limit));
    const ids = pages.flat().map((i) => i.id);
    assert.equal(ids, stored, `limit ${limit}: every incident once, newest first across pages`);
  }
  for (const id of mine) await cancelByDispatcher(server, id);
});

test('paging keeps the state filter, page after page', async ({ server }) => {
  const disp = await dispatcherToken(server);
  const made: string[] = [];
  for (let i = 0; i < 5; i++) made.push(await newIncident(server, 'disaster'));
  for (const id of made.slice(0, 3)) await cancelByDispatcher(server, id);
  const open = made.slice(3);
  const pages = await walk(server, disp, 'state=cancelled', 2);
  const listed = pages.flat();
  assert.ok(listed.every((i) => i.state === 'cancelled'), JSON.stringify(listed.map((i) => i.state)));
  const stored = (await server.app.sql<{ id: string }[]>`select id from incidents where state = 'cancelled' order by created_at desc, id desc`).map((r) => r.id);
  assert.equal(listed.map((i) => i.id), stored);
  for (const id of made.slice(0, 3)) assert.ok(listed.some((i) => i.id === id));
  for (const id of open) assert.not.ok(listed.some((i) => i.id === id));
  for (const id of open) await cancelByDispatcher(server, id);
});

test('bad paging parameters are 400 `invalid`, named, and change nothing', async ({ server }) => {
  const disp = await dispatcherToken(server);
  const incident = { id: await newIncident(server, 'other') };
  for (const q of ['?limit=0', `?limit=${PAGE_MAX + 1}`, '?limit=abc', '?limit=-1', '?limit=1.5', '?before=', `?before=${'x'.repeat(201)}`, `?before=${uid('nobody-')}`]) {
    const res = await list(server, disp, q);
    assert.is(res.status, 400, `${q}: ${JSON.stringify(res.body)}`);
    assert.is(res.body.code, 'invalid', q);
    assert.match(res.body.detail, /paging/, q);
  }
  const states = await list(server, disp, '?state=sleeping&limit=2');
  assert.is(states.status, 400);
  assert.match(states.body.detail, /sleeping/, 'an unknown state is still named');

  // Any query at all: 200 with a page no longer than the cap, or 400 `invalid`; never
  // anything else, and the incidents are as they were (once the report's first round,
  // which finds nobody and retries in ten minutes, is carried out).
  await eventually('the first round carried out', async () => (await server.app.sql`select 1 from outbox where incident_id = ${incident.id}`).length === 0
    && (await server.app.sql`select 1 from incident_events where incident_id = ${incident.id} and type = 'ROUND'`).length > 0);
  const before = await server.app.sql`select id, state, version from incidents order by id`;
  const value = fc.oneof(fc.string({ maxLength: 12 }), fc.integer({ min: -5, max: 9 }).map(String), fc.constant(incident.id), fc.constantFrom('dispatching', 'cancelled,assigned', ''));
  await fc.assert(fc.asyncProperty(
    fc.dictionary(fc.constantFrom('limit', 'before', 'state'), value, { maxKeys: 3 }),
    async (q) => {
      const res = await list(server, disp, `?${new URLSearchParams(q)}`);
      if (res.status === 200) return (res.body.items as unknown[]).length <= PAGE_MAX;
      return res.status === 400 && res.body.code === 'invalid';
    }), { numRuns: 60 });
  assert.equal(await server.app.sql`select id, state, version from incidents order by id`, before);
  await cancelByDispatcher(server, incident.id);
});

test('a page is one snapshot: an assignment changed between its two reads shows as it was', async ({ server }) => {
  const disp = await dispatcherToken(server);
  const { hero, incident, offer } = await heroOffered(server, 'medical');
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  const assignedAt = (await http(server, 'GET', `/v1/incidents/${incident.id}`, { token: disp })).body.assignments[0].assignedAt as number;
  // The test's own connection locks the assignments table: the page reads its incidents,
  // then waits to read their assignments while one of them is changed and committed.
  const holder = postgres(server.app.config.DATABASE_URL, { max: 2, onnotice: () => {}, connection: { search_path: server.app.config.DB_SCHEMA } });
  let page: ReturnType<typeof list> | undefined;
  let changed = false;
  try {
    await holder.begin(async (tx) => {
      await tx`lock table assignments in access exclusive mode`;
      page = list(server, disp, '?state=assigned');
      await eventually('the page waiting to read assignments', async () => (await holder`
        select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%from assignments a left join heroes%'`).length > 0);
      await tx`update assignments set assigned_at = assigned_at - interval '1 hour' where incident_id = ${incident.id}`;
    });
    changed = true;
    const res = await page!;
    assert.is(res.status, 200, JSON.stringify(res.body));
    const listed = (res.body.items as { id: string; assignments: { assignedAt: number }[] }[]).find((i) => i.id === incident.id);
    assert.ok(listed, 'the assigned incident is on the page');
    assert.is(listed!.assignments[0]!.assignedAt, assignedAt, 'the assignment as it was when the page began');
    const now = await http(server, 'GET', `/v1/incidents/${incident.id}`, { token: disp });
    assert.is(now.body.assignments[0].assignedAt, assignedAt - 3_600_000, 'the change did commit');
  } finally {
    await page?.catch(() => {});
    if (changed) await holder`update assignments set assigned_at = assigned_at + interval '1 hour' where incident_id = ${incident.id}`;
    await holder.end();
  }
  await cancelByDispatcher(server, incident.id);
  closeAll(hero);
});

test('the simulator\'s invariant scan walks every page of incidents holding heroes', async ({ server }) => {
  const disp = await dispatcherToken(server);
  const taken = [];
  for (let i = 0; i < 2 * PAGE_MAX + 1; i++) {
    const { hero, incident, offer } = await heroOffered(server, 'crime');
    assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
    taken.push({ hero, incident });
  }
  const scan = await scanAssignments(server.url, disp);
  const held = await server.app.sql`select distinct incident_id from assignments where state = 'active'`;
  assert.equal(scan, { incidents: held.length, truncated: false, violations: [] });
  assert.ok(scan.incidents >= taken.length && scan.incidents > PAGE_MAX, `${scan.incidents} incidents over pages of ${PAGE_MAX}`);
  for (const { hero, incident } of taken) {
    await cancelByDispatcher(server, incident.id);
    closeAll(hero);
  }
});

test.run();
