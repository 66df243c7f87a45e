// The postgres.js 3.4.9 patches in scripts/patches/ are applied: a transaction whose
// BEGIN is written at the pipeline boundary still reserves its connection
// (porsager/postgres #1189, #1207). Unpatched, every sql.begin with max_pipeline 0 fails
// (UNSAFE_TRANSACTION, or a TypeError); under load a few did, once in the 10-minute
// simulated city (a hero's `duty` answered `internal`).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import postgres from 'postgres';
import { loadConfig } from '../server/config.ts';
import { uid } from './helpers/server.ts';

const { DATABASE_URL } = loadConfig(process.env);
const test = suite('postgres.js patches');

test('a BEGIN at the pipeline boundary reserves its connection, and the transaction commits', async () => {
  const table = uid('t_pgpatch_');
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  // max_pipeline 0 puts every BEGIN at the boundary: the case the patch is for (an
  // option postgres.js reads but its types do not list).
  const boundary: Record<string, unknown> = { max_pipeline: 0 };
  const sql = postgres(DATABASE_URL, { max: 2, onnotice: () => {}, ...boundary });
  try {
    await admin.unsafe(`create table ${table} (n int)`);
    for (let n = 1; n <= 5; n++) {
      const rows = await sql.begin(async (tx) => {
        await tx.unsafe(`insert into ${table} values (${n})`);
        return tx.unsafe(`select count(*)::int as c from ${table}`);
      });
      assert.is(rows[0]!.c, n, 'the transaction saw its own insert');
    }
    // Committed, so another connection sees every row.
    const [seen] = await admin.unsafe(`select count(*)::int as c from ${table}`);
    assert.is(seen!.c, 5);
  } finally {
    await sql.end({ timeout: 5 });
    await admin.unsafe(`drop table if exists ${table}`);
    await admin.end({ timeout: 5 });
  }
});

test.run();
