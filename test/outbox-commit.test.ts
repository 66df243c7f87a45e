// A transaction's outbox rows go out with its COMMIT, not awaited before it
// (outbox/outbox.buffer.ts WrittenRows). If that insert fails, Postgres turns the COMMIT
// into a rollback and postgres.js still resolves it: inTx must read the insert's own
// answer, refuse, and carry nothing out. Real Postgres; the failure is a payload that
// JSON allows and jsonb refuses (a NUL character).
import * as assert from 'uvu/assert';
import { PriorityLimiter } from '../server/concurrency/priority-limiter.ts';
import { AcceptGate } from '../server/services/accept.gate.ts';
import { enqueue } from '../server/outbox/outbox.buffer.ts';
import type { Written } from '../server/outbox/outbox.sink.ts';
import { inTx, type ServiceContext } from '../server/services/context.ts';
import { uid } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';

const test = serverSuite('outbox rows sent with the commit', { OUTBOX_POLL_MS: 60_000 });

/** The server's config, pool and logger, with a sink that records what it is handed instead of carrying it out. */
function recording(app: Pick<ServiceContext, 'config' | 'log' | 'metrics' | 'sql'>) {
  const carried: Written[] = [];
  const ctx: ServiceContext = {
    config: app.config, sql: app.sql, log: app.log, metrics: app.metrics,
    outbox: { carrier: () => null, carry: (w) => { carried.push(...w); } },
    acceptGate: new AcceptGate(), transactions: new PriorityLimiter({ concurrency: 1, urgentReserve: 0 }),
  };
  return { ctx, carried };
}

test('a failed outbox insert rolls the whole transaction back, inTx refuses, and nothing is carried', async ({ server }) => {
  const app = server.app;
  const sql = app.sql;
  await sql`create table if not exists outbox_commit_probe (id text primary key)`;
  const { ctx, carried } = recording(app);
  const good = uid('row-');
  const bad = uid('row-');
  const alert = (detail: string) => ({ type: 'no_hero_found' as const, incidentId: uid('inc-'), at: Date.now(), detail });

  await inTx(ctx, 'probe', async (tx) => {
    await tx`insert into outbox_commit_probe values (${good})`;
    enqueue(tx, 'alert', alert(`probe ${good}`), null);
  });
  assert.is(carried.length, 1, 'the committed row was handed to the sink once');

  let refused: unknown = null;
  try {
    await inTx(ctx, 'probe', async (tx) => {
      await tx`insert into outbox_commit_probe values (${bad})`;
      enqueue(tx, 'alert', alert(`probe ${bad} \u0000`), null);
    });
  } catch (e) {
    refused = e;
  }
  assert.ok(refused, 'inTx refused the transaction whose outbox insert failed');
  assert.is((refused as { code?: string }).code, '22P05', 'the refusal is the insert\'s own error (jsonb refuses NUL)');
  const rows = await sql<{ id: string }[]>`select id from outbox_commit_probe where id = any(${[good, bad]}) order by id`;
  assert.equal(rows.map((r) => r.id), [good], 'the failed transaction\'s own write was rolled back');
  const outbox = await sql<{ n: number }[]>`select count(*)::int as n from outbox where payload->>'detail' like ${`probe ${bad}%`}`;
  assert.is(outbox[0]!.n, 0);
  assert.is(carried.length, 1, 'nothing more was handed to the sink');
  await sql`delete from outbox where payload->>'detail' = ${`probe ${good}`}`;
});

test.run();
