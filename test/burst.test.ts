// A burst through the real server: reports beyond what the report path can take are
// refused with 503 + Retry-After before anything is written, so every 201 exists and a
// retry with the same key completes the set without duplicates; critical reports get
// through a full queue ahead of low ones.
import * as assert from 'uvu/assert';
import { http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area } from './helpers/world.ts';

const test = serverSuite('burst', {
  REPORTS_CONCURRENCY: 1, REPORTS_QUEUE_MAX: 3, REPORTS_QUEUE_WAIT_MS: 300, REPORTS_PER_MINUTE: 100_000,
  DISPATCH_RETRY_MS: 5_000, ESCALATED_RETRY_MS: 60_000,
});

const post = async (server: TestServer, token: string, key: string, severity: string, at = area()) =>
  http(server, 'POST', '/v1/incidents', { token, headers: { 'idempotency-key': key }, body: { kind: 'accident', severity, location: at } });

test('overload is refused with 503 + Retry-After, never accepted and dropped', async ({ server }) => {
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  const keys = Array.from({ length: 40 }, () => uid('k-'));
  const first = await Promise.all(keys.map((k) => post(server, token, k, 'medium')));
  const refused = first.filter((r) => r.status === 503);
  assert.ok(refused.length > 0, 'the burst overflowed the queue');
  assert.ok(first.every((r) => r.status === 201 || r.status === 503), JSON.stringify(first.map((r) => r.status)));
  for (const r of refused) assert.match(r.headers.get('retry-after') ?? '', /^\d+$/);
  const count = async () => (await server.app.sql`select count(*)::int as n from incidents where reported_by = ${civ}`)[0]!.n as number;
  assert.is(await count(), first.filter((r) => r.status === 201).length, 'exactly the 201s exist');

  // Clients retry refused reports with the same key until they land.
  let pending = keys.filter((_, i) => first[i]!.status === 503);
  for (let round = 0; pending.length && round < 40; round++) {
    const again = await Promise.all(pending.map((k) => post(server, token, k, 'medium')));
    pending = pending.filter((_, i) => again[i]!.status === 503);
  }
  assert.is(pending.length, 0, 'every report landed on retry');
  assert.is(await count(), keys.length, 'one incident per key, none lost, none doubled');
});

test('critical reports get through a full queue ahead of low ones', async ({ server }) => {
  const token = await server.token('civilian', uid('civ-'));
  const lows = Array.from({ length: 20 }, () => post(server, token, uid('k-'), 'low'));
  const criticals = Array.from({ length: 3 }, () => post(server, token, uid('k-'), 'critical'));
  const [lowAnswers, criticalAnswers] = await Promise.all([Promise.all(lows), Promise.all(criticals)]);
  assert.equal(criticalAnswers.map((r) => r.status), [201, 201, 201]);
  assert.ok(lowAnswers.some((r) => r.status === 503), 'low reports were refused to make room');
});

test.run();
