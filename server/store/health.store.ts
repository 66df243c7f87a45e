// What readiness asks Postgres: that it answers at all.
import type { Db } from '../db.ts';

/** One round trip; rejects when Postgres does not answer. */
export async function pingDatabase(db: Db): Promise<void> {
  await db`select 1`;
}
