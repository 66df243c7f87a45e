// Applies server/migrations/*.sql in name order, each once, under a transaction-level
// advisory lock: several processes starting together apply each migration exactly once.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Sql } from './db.ts';

const DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const LOCK_KEY = 7_042_001; // any constant shared by every process of the cluster

export async function migrate(sql: Sql, schema: string): Promise<string[]> {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.sql')).sort();
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK_KEY}, hashtext(${schema}))`;
    await tx.unsafe(`create schema if not exists "${schema}"`);
    await tx`create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())`;
    const done = new Set((await tx<{ name: string }[]>`select name from schema_migrations`).map((r) => r.name));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      await tx.unsafe(await readFile(DIR + file, 'utf8'));
      await tx`insert into schema_migrations (name) values (${file})`;
      applied.push(file);
    }
    return applied;
  });
}

export async function pendingMigrations(sql: Sql): Promise<number> {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.sql'));
  const rows = await sql<{ n: number }[]>`select count(*)::int as n from schema_migrations`.catch(() => [{ n: 0 }]);
  return files.length - (rows[0]?.n ?? 0);
}
