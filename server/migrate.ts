// Applies server/migrations/*.sql in name order, each once, under a transaction-level
// advisory lock: several processes starting together apply each migration exactly once.
// The SQL it runs is in server/store/migrations.store.ts.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Sql } from './db.ts';
import { appliedMigrations, applyMigration, countApplied, ensureLedger, lockMigrations } from './store/migrations.store.ts';

const DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const LOCK_KEY = 7_042_001; // any constant shared by every process of the cluster

export async function migrate(sql: Sql, schema: string): Promise<string[]> {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.sql')).sort();
  return sql.begin(async (tx) => {
    await lockMigrations(tx, LOCK_KEY, schema);
    await ensureLedger(tx, schema);
    const done = await appliedMigrations(tx);
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      await applyMigration(tx, file, await readFile(DIR + file, 'utf8'));
      applied.push(file);
    }
    return applied;
  });
}

export async function pendingMigrations(sql: Sql): Promise<number> {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.sql'));
  return files.length - (await countApplied(sql));
}
