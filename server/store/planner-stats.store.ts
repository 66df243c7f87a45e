// The planner's statistics of the tables every dispatch step reads. Autovacuum analyzes a
// table once a tenth of it changed, looking once a minute; a table that grows from
// nothing within that minute (a new deployment, a city's first burst) keeps plans made
// for an empty table. postgres.js prepares every statement, and Postgres keeps a
// prepared statement's generic plan until the table is analyzed: auto_explain showed
// primary-key lookups answered by sequential scans, 3–15 ms a statement instead of 0.3,
// for the first minute of every benchmark run on a fresh schema.
import type { Sql } from '../db.ts';

/** Read on every report, round and accept; the outbox churns and is read by its own indexes. */
const HOT_TABLES = ['incidents', 'offers', 'assignments', 'heroes', 'hero_offer_stats'];

/**
 * Analyzes the hot tables of this schema that changed by half their size (and by at
 * least `floor` rows) since their last analysis; returns their names. A table that only
 * grows is analyzed a logarithmic number of times; a large one is left to autovacuum.
 */
export async function analyzeGrownTables(sql: Sql, floor: number): Promise<string[]> {
  const grown = await sql<{ relname: string }[]>`
    select s.relname from pg_stat_user_tables s join pg_class c on c.oid = s.relid
     where s.schemaname = current_schema() and s.relname = any(${HOT_TABLES})
       and s.n_mod_since_analyze >= greatest(${floor}, 0.5 * greatest(c.reltuples, 0))`;
  // SKIP_LOCKED: an analysis already running (autovacuum's, another process's) is enough.
  for (const { relname } of grown) await sql`analyze (skip_locked) ${sql(relname)}`;
  return grown.map((r) => r.relname);
}
