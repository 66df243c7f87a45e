// The sweep analyzes a hot table that grew fast (server/store/planner-stats.store.ts):
// autovacuum looks once a minute, and until a table is analyzed Postgres keeps the
// prepared plans it made while the table was empty. Manual analyses (`last_analyze`)
// are told apart from autovacuum's (`last_autoanalyze`), so only the sweep's count.
import * as assert from 'uvu/assert';
import { analyzeGrownTables } from '../server/store/planner-stats.store.ts';
import { eventually } from './helpers/clients.ts';
import type { TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { registerHero } from './helpers/world.ts';

const test = serverSuite('planner statistics', { SWEEP_INTERVAL_MS: 300 });

interface TableStats { analyzed: Date | null; mods: number; tuples: number }

async function tableStats(server: TestServer, table: string): Promise<TableStats> {
  const [row] = await server.app.sql<TableStats[]>`
    select s.last_analyze as analyzed, s.n_mod_since_analyze::int as mods, c.reltuples::int as tuples
      from pg_stat_user_tables s join pg_class c on c.oid = s.relid
     where s.schemaname = current_schema() and s.relname = ${table}`;
  return row!;
}

test('heroes registered faster than autovacuum looks are analyzed by the sweep; tables that did not grow are left alone', async ({ server }) => {
  assert.is((await tableStats(server, 'heroes')).analyzed, null, 'a fresh schema: never analyzed by hand');
  const HEROES = 600;
  for (let i = 0; i < HEROES; i += 30) await Promise.all(Array.from({ length: 30 }, () => registerHero(server)));

  const heroes = await eventually('the sweep analyzed the heroes table', async () => {
    const now = await tableStats(server, 'heroes');
    return now.analyzed !== null && now.tuples >= HEROES && now;
  }, 20_000);
  assert.ok(heroes.tuples >= HEROES, `the planner now counts ${heroes.tuples} heroes`);
  assert.is((await tableStats(server, 'incidents')).analyzed, null, 'incidents, barely changed, were not analyzed');
  // Nothing changed since: the next look analyzes nothing.
  assert.not.ok((await analyzeGrownTables(server.app.sql, 500)).includes('heroes'));
});

test.run();
