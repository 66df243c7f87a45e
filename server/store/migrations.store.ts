// The SQL of schema migrations (the runner is server/migrate.ts): the lock that lets
// one process at a time apply them, the schema_migrations ledger, and the files' text.
import type { Sql, Tx } from '../db.ts';

/** Holds the migration lock for `schema` until the transaction ends. */
export async function lockMigrations(tx: Tx, lockKey: number, schema: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(${lockKey}, hashtext(${schema}))`;
}

/** Creates the schema and the ledger of applied migrations if missing. */
export async function ensureLedger(tx: Tx, schema: string): Promise<void> {
  await tx.unsafe(`create schema if not exists "${schema}"`);
  await tx`create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())`;
}

export async function appliedMigrations(tx: Tx): Promise<Set<string>> {
  return new Set((await tx<{ name: string }[]>`select name from schema_migrations`).map((r) => r.name));
}

/** Runs one migration file's statements and records it as applied. */
export async function applyMigration(tx: Tx, name: string, text: string): Promise<void> {
  await tx.unsafe(text);
  await tx`insert into schema_migrations (name) values (${name})`;
}

/** Migrations recorded as applied; 0 when the ledger does not exist yet. */
export async function countApplied(sql: Sql): Promise<number> {
  const rows = await sql<{ n: number }[]>`select count(*)::int as n from schema_migrations`.catch(() => [{ n: 0 }]);
  return rows[0]?.n ?? 0;
}
