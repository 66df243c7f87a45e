// Group commit (server/services/report.batcher.ts, report.service.ts): reports that
// wait while a batch transaction runs are written together in the next one, and each
// keeps its own outcome. The one batch lane is held by a report stuck on its dedupe
// cell's advisory lock (a connection of ours holds it); the reports sent meanwhile wait
// (the `dispatch_reports_waiting` gauge counts them), and the lock's release lets the
// next batch write them all. Incidents written in one transaction share `created_at`
// (Postgres's now() is the transaction's start), which shows what was written together.
import * as assert from 'uvu/assert';
import { eventually, http, type HttpAnswer } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, east } from './helpers/world.ts';
import { holdCell } from './helpers/cell-lock.ts';
import type { LatLng } from '../shared/types.ts';

const test = serverSuite('group commit', {
  REPORTS_BATCH_LANES: 1, REPORTS_BATCH_MAX: 32, REPORTS_PER_MINUTE: 100_000,
  DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000,
});

interface Body { kind: string; severity: string; location: LatLng; description?: string }
const post = (server: TestServer, token: string, key: string, body: Body): Promise<HttpAnswer> =>
  http(server, 'POST', '/v1/incidents', { token, headers: { 'idempotency-key': key }, body });

const waiting = async (server: TestServer) => (await server.app.metrics.reportsWaiting.get()).values[0]?.value ?? 0;

/**
 * Runs `send` while the only batch lane is held by a report stuck on a dedupe cell's
 * lock, then frees it. Returns the stuck report's answer.
 */
async function withLaneHeld(server: TestServer, send: () => Promise<void>): Promise<HttpAnswer> {
  const at = area();
  const lock = await holdCell(server, 'fire', at);
  try {
    const stuck = post(server, await server.token('civilian', uid('civ-')), uid('k-'), { kind: 'fire', severity: 'high', location: at });
    await lock.someoneWaits();
    await send();
    await lock.release();
    return await stuck;
  } finally {
    await lock.release();
  }
}

/** Sends a report and waits until it waits in the batcher: the next is sent after it. */
async function queued(server: TestServer, sent: Promise<HttpAnswer>[], token: string, key: string, body: Body): Promise<void> {
  const before = await waiting(server);
  sent.push(post(server, token, key, body));
  await eventually(`report ${sent.length} waiting for the batch`, async () => (await waiting(server)) === before + 1);
}

test('one batch keeps every outcome exact: replays, key mismatches, links, repeats of a key, mixed severities', async ({ server }) => {
  const tok = async (civ: string) => server.token('civilian', civ);
  const [a, c, d, e, f, g] = ['a', 'c', 'd', 'e', 'f', 'g'].map((x) => uid(`civ-${x}-`)) as [string, string, string, string, string, string];
  // Written before the batch: the key civilian A replays and misuses inside it.
  const earlier: Body = { kind: 'crime', severity: 'high', location: area(), description: 'before the batch' };
  const keyA = uid('kA-');
  const first = await post(server, await tok(a), keyA, earlier);
  assert.is(first.status, 201, JSON.stringify(first.body));

  const spot = area();
  const sent: Promise<HttpAnswer>[] = [];
  const keyE = uid('kE-');
  const keyF = uid('kF-');
  const repeat: Body = { kind: 'crime', severity: 'high', location: area() };
  const stuck = await withLaneHeld(server, async () => {
    await queued(server, sent, await tok(a), keyA, { ...earlier, description: 'another body' }); // 0: key mismatch
    await queued(server, sent, await tok(a), keyA, earlier); // 1: replay of an earlier batch's key
    await queued(server, sent, await tok(c), uid('kC-'), { kind: 'medical', severity: 'low', location: spot }); // 2: links to 3
    // 3: new, and more urgent than 2 (not critical: a critical report has a lane of its own).
    await queued(server, sent, await tok(d), uid('kD-'), { kind: 'medical', severity: 'high', location: east(spot, 0.02) });
    await queued(server, sent, await tok(e), keyE, repeat); // 4: new
    await queued(server, sent, await tok(e), keyE, repeat); // 5: the same key again: a replay of 4
    await queued(server, sent, await tok(f), keyF, { kind: 'accident', severity: 'low', location: area() }); // 6: new
    // 7: same key, another body, more urgent: it goes first in the batch, but 6 came first.
    await queued(server, sent, await tok(f), keyF, { kind: 'accident', severity: 'high', location: area() });
    await queued(server, sent, await tok(g), uid('kG-'), { kind: 'fire', severity: 'low', location: area() }); // 8: new, low
  });
  assert.is(stuck.status, 201, JSON.stringify(stuck.body));
  const r = await Promise.all(sent);
  const statuses = r.map((x) => x.status);
  assert.equal(statuses, [422, 200, 200, 201, 201, 200, 201, 422, 201], JSON.stringify(r.map((x) => x.body)));
  assert.is(r[0]!.body.code, 'idempotency_mismatch');
  assert.is(r[1]!.body.id, first.body.id, 'a replay answers the incident its key made');
  assert.is(r[7]!.body.code, 'idempotency_mismatch');
  // Most urgent first in the batch: the high report made the incident the low one joined.
  assert.is(r[3]!.body.severity, 'high');
  assert.is(r[2]!.body.id, r[3]!.body.id, 'the low report is linked to the high incident close by');
  assert.is(r[2]!.body.reports, 2);
  assert.is(r[5]!.body.id, r[4]!.body.id, 'a key repeated inside one batch is one report');

  const made = [3, 4, 6, 8].map((i) => r[i]!.body.id as string);
  const rows = await server.app.sql<{ id: string; created_at: Date; severity: string }[]>`
    select id, created_at, severity from incidents where id = any(${[...made, stuck.body.id]}::text[])`;
  const at = new Map(rows.map((x) => [x.id, x.created_at.getTime()]));
  assert.is(new Set(made.map((id) => at.get(id))).size, 1, 'the four new incidents were written in one transaction');
  assert.is.not(at.get(stuck.body.id), at.get(made[0]!), 'the stuck report was its own batch');
  // Nothing else was made: A, C and E's repeats and F's misuse created no incident.
  const [count] = await server.app.sql<{ n: number }[]>`
    select count(*)::int as n from incidents where reported_by = any(${[a, c, d, e, f, g]}::text[])`;
  assert.is(count!.n, 5, 'A before the batch; D, E, F and G in it');
  const keys = await server.app.sql<{ actor: string; incident_id: string }[]>`
    select actor, incident_id from idempotency_keys where actor = any(${[c, e, f]}::text[]) order by actor`;
  assert.equal(new Map(keys.map((k) => [k.actor, k.incident_id])), new Map([[c, r[3]!.body.id], [e, r[4]!.body.id], [f, r[6]!.body.id]]));
  const trail = await server.app.sql<{ type: string; actor: string }[]>`
    select type, actor from incident_events where incident_id = ${r[3]!.body.id} order by seq`;
  assert.equal(trail.slice(0, 2), [{ type: 'REPORTED', actor: `civilian:${d}` }, { type: 'LINKED', actor: `civilian:${c}` }]);
});

test('a critical report is written at once in a lane of its own while low ones wait for theirs', async ({ server }) => {
  const lows: Promise<HttpAnswer>[] = [];
  let critical!: HttpAnswer;
  const max = server.app.config.REPORTS_BATCH_MAX;
  await withLaneHeld(server, async () => {
    // More low reports than one batch takes, all waiting before the critical one comes.
    for (let i = 0; i < max + 8; i++) {
      lows.push(post(server, await server.token('civilian', uid('civ-')), uid('k-'), { kind: 'crime', severity: 'low', location: area() }));
    }
    await eventually('the low reports waiting', async () => (await waiting(server)) === max + 8);
    // Answered while the only lane is still held: it did not wait behind them.
    critical = await post(server, await server.token('civilian', uid('civ-')), uid('k-'), { kind: 'medical', severity: 'critical', location: area() });
    assert.is(await waiting(server), max + 8, 'the low reports still wait');
  });
  assert.is(critical.status, 201, JSON.stringify(critical.body));
  const answers = await Promise.all(lows);
  assert.ok(answers.every((x) => x.status === 201), JSON.stringify(answers.map((x) => x.status)));
  const ids = answers.map((x) => x.body.id as string);
  const rows = await server.app.sql<{ id: string; created_at: Date }[]>`select id, created_at from incidents where id = any(${[critical.body.id, ...ids]}::text[])`;
  const at = new Map(rows.map((x) => [x.id, x.created_at.getTime()]));
  const lowBatches = [...new Set(ids.map((id) => at.get(id)!))].sort();
  assert.is(lowBatches.length, 2, 'the low reports went in two batches of at most REPORTS_BATCH_MAX');
  assert.ok(at.get(critical.body.id)! < lowBatches[0]!, 'the critical report was written before them');
});

test.run();
