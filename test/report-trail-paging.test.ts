// GET /v1/incidents/:id/events is capped at EVENTS_PAGE_MAX and paged with
// `?after=<seq>&limit=<n>`, answering `{ items, next? }` oldest first; bad paging
// parameters are 400 `invalid`.
import * as assert from 'uvu/assert';
import { eventually, http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, dispatcherToken, east, report } from './helpers/world.ts';

// No heroes and retries far out: every trail stays still once its report is carried out.
const test = serverSuite('audit trail paging', { EVENTS_PAGE_MAX: 3, DEDUPE_RADIUS_M: 100, DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000 });

/** An incident with a trail of REPORTED, ROUND and four LINKED events (ROUND may come after a LINKED). */
async function longTrail(server: TestServer): Promise<{ id: string; reporter: string; seqs: number[] }> {
  const center = area();
  const reporter = await server.token('civilian', uid('a-'));
  const { incident } = await report(server, reporter, { kind: 'disaster', severity: 'high', location: center });
  for (let i = 1; i <= 4; i++) {
    const linked = await report(server, await server.token('civilian', uid('b-')), { kind: 'disaster', severity: 'medium', location: east(center, i * 0.01), description: `report ${i}` });
    assert.is(linked.incident.id, incident.id);
  }
  await eventually('trail still', async () => (await server.app.sql`select 1 from outbox where incident_id = ${incident.id}`).length === 0);
  const rows = await server.app.sql`select seq from incident_events where incident_id = ${incident.id} order by seq`;
  return { id: incident.id, reporter, seqs: rows.map((r) => r.seq as number) };
}

const events = (server: TestServer, token: string, id: string, query = '') =>
  http(server, 'GET', `/v1/incidents/${id}/events${query}`, { token });

test('pages follow `next` from the first event to the last, none longer than the cap', async ({ server }) => {
  const { id, seqs } = await longTrail(server);
  assert.ok(seqs.length >= 6, `trail of ${seqs.length}`);
  const disp = await dispatcherToken(server);

  const first = await events(server, disp, id);
  assert.is(first.status, 200);
  assert.equal(first.body.items.map((e: { seq: number }) => e.seq), [1, 2, 3], 'capped at EVENTS_PAGE_MAX, oldest first');
  assert.is(first.body.next, 3);

  for (const limit of [1, 2, 3]) {
    const seen: number[] = [];
    let after: number | undefined = 0;
    let pages = 0;
    while (after !== undefined && pages++ < 20) {
      const page = await events(server, disp, id, `?after=${after}&limit=${limit}`);
      assert.is(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.items.length <= limit);
      seen.push(...page.body.items.map((e: { seq: number }) => e.seq));
      after = page.body.next;
      if (after !== undefined) assert.is(after, seen[seen.length - 1]);
    }
    assert.equal(seen, seqs, `limit ${limit}`);
  }
  const last = await events(server, disp, id, `?after=${seqs.length - 3}`);
  assert.equal(last.body.items.length, 3);
  assert.not.ok('next' in last.body, 'no next once the last event is on the page');
  assert.equal((await events(server, disp, id, `?after=${seqs.length}`)).body, { items: [] });
});

test('a civilian pages their trail too, and bad paging parameters are 400 invalid', async ({ server }) => {
  const { id, reporter } = await longTrail(server);
  const page = await events(server, reporter, id, '?after=2&limit=2');
  assert.is(page.status, 200);
  assert.equal(page.body.items.map((e: { seq: number }) => e.seq), [3, 4]);
  assert.is(page.body.next, 4);

  const disp = await dispatcherToken(server);
  const bad = ['?limit=0', '?limit=4', '?limit=abc', '?limit=1.5', '?limit=', '?after=-1', '?after=x', '?after=1e3', '?after=1&after=2', '?after=99999999999'];
  for (const query of bad) {
    const res = await events(server, disp, id, query);
    assert.is(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.ok(Array.isArray(res.body.errors) && res.body.errors.length > 0, `${query}: ${JSON.stringify(res.body)}`);
  }
  assert.is((await events(server, disp, uid('nope-'), '?limit=2')).status, 404);
});

test.run();
