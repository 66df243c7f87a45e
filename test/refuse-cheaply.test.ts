// In a burst a refusal must cost almost nothing: when the report gate is full, a report
// is refused before its per-civilian budget is looked up in Redis (and before anything
// touches Postgres), answered by the route itself rather than through an error. Shown by holding the one report slot with a Postgres advisory lock
// on the report's dedupe cell, then sending more: they are refused with 503 and their
// budget keys never appear in Redis.
import * as assert from 'uvu/assert';
import { http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area } from './helpers/world.ts';
import { holdCell } from './helpers/cell-lock.ts';

const test = serverSuite('refuse cheaply', {
  REPORTS_CONCURRENCY: 1, REPORTS_QUEUE_MAX: 0, REPORTS_QUEUE_WAIT_MS: 30_000, REPORTS_PER_MINUTE: 100_000,
  // No slot kept for critical reports: this gate is full for every severity.
  REPORTS_CRITICAL_RESERVE: 0,
  DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000,
});

const post = (server: TestServer, token: string, severity: string, at: { lat: number; lng: number }) =>
  http(server, 'POST', '/v1/incidents', { token, headers: { 'idempotency-key': uid('k-') }, body: { kind: 'fire', severity, location: at } });

test('a full gate refuses before the Redis budget: no budget key, 503 with Retry-After', async ({ server }) => {
  const at = area();
  // The first report waits on its cell's lock, in the only slot.
  const lock = await holdCell(server, 'fire', at);
  try {
    const first = post(server, await server.token('civilian', uid('civ-')), 'high', at);
    await lock.someoneWaits();
    const shed = async () => (await server.app.metrics.registry.getSingleMetric('dispatch_reports_total')!.get()).values
      .find((v) => v.labels.outcome === 'shed')?.value ?? 0;
    const shedBefore = await shed();

    for (const severity of ['low', 'critical'] as const) {
      const civ = uid('civ-');
      const res = await post(server, await server.token('civilian', civ), severity, area());
      assert.is(res.status, 503, `${severity}: ${JSON.stringify(res.body)}`);
      assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
      // The budget's keys are `<prefix>:rate:report:<civilian>:<window>`.
      const budget = await server.app.redis.keys(`${server.prefix}:rate:report:${civ}*`);
      assert.equal(budget, [], `${severity}: the budget was counted in Redis`);
      const [row] = await server.app.sql`select count(*)::int as n from idempotency_keys where actor = ${civ}`;
      assert.is(row!.n, 0, `${severity}: a key was written`);
    }
    // Counted for operators (and summed in a log line at most once a second, not one each).
    assert.is(await shed(), shedBefore + 2);
    await lock.release();
    assert.is((await first).status, 201, 'the held report lands once the lock is free');
  } finally {
    await lock.release();
  }
});

test.run();

// A statement that outlives DB_QUERY_TIMEOUT_MS (here: a report waiting on a lock) is
// cancelled by Postgres, and its transaction did not commit: the client is told to
// retry (503), never answered 500.
const slow = serverSuite('statement timeout', { DB_QUERY_TIMEOUT_MS: 300, REPORTS_PER_MINUTE: 100_000, DISPATCH_RETRY_MS: 600_000 });

slow('a report cancelled by statement_timeout is answered 503 with Retry-After, and nothing of it is kept', async ({ server }) => {
  const at = area();
  const lock = await holdCell(server, 'fire', at);
  try {
    const civ = uid('civ-');
    const res = await post(server, await server.token('civilian', civ), 'high', at);
    assert.is(res.status, 503, JSON.stringify(res.body));
    assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
    const [row] = await server.app.sql`select count(*)::int as n from idempotency_keys where actor = ${civ}`;
    assert.is(row!.n, 0, 'nothing of the report was kept');
  } finally {
    await lock.release();
  }
});

slow.run();

// An admitted report waits for a transaction slot behind critical work and accepts. It
// waits no longer than REPORTS_QUEUE_WAIT_MS: then it is answered 503 with Retry-After
// and nothing of it is written, instead of being left to its client's timeout (the
// burst's unanswered attempts). One transaction slot (DB_POOL_SIZE 3), held by a report
// waiting on its dedupe cell's lock.
const slot = serverSuite('transaction slot wait', {
  DB_POOL_SIZE: 3, REPORTS_QUEUE_WAIT_MS: 500, DB_QUERY_TIMEOUT_MS: 30_000, REPORTS_PER_MINUTE: 100_000, DISPATCH_RETRY_MS: 600_000,
});

slot('a report that cannot start its transaction within REPORTS_QUEUE_WAIT_MS is answered 503 with Retry-After, and nothing of it is kept', async ({ server }) => {
  const at = area();
  const lock = await holdCell(server, 'fire', at);
  try {
    const first = post(server, await server.token('civilian', uid('civ-')), 'high', at);
    await lock.someoneWaits();
    const civ = uid('civ-');
    const res = await post(server, await server.token('civilian', civ), 'high', area());
    assert.is(res.status, 503, JSON.stringify(res.body));
    assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
    assert.match(res.body.detail, /nothing was recorded/);
    const [row] = await server.app.sql`select count(*)::int as n from idempotency_keys where actor = ${civ}`;
    assert.is(row!.n, 0, 'nothing of the report was kept');
    await lock.release();
    assert.is((await first).status, 201, 'the held report lands once the lock is free');
  } finally {
    await lock.release();
  }
});

slot.run();
