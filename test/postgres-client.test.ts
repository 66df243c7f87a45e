// The Postgres client as the server sets it up (server/db.ts), with the postgres.js 3.4.9
// patches in scripts/patches/ applied:
// - a transaction whose BEGIN is written at the pipeline boundary still reserves its
//   connection (porsager/postgres #1189, #1207). Unpatched, every sql.begin with
//   max_pipeline 0 fails (UNSAFE_TRANSACTION, or a TypeError); under load a few did, once
//   in the 10-minute simulated city (a hero's `duty` answered `internal`);
// - the statement count (a debug function) keeps a failed query's parameters out of the
//   logs and takes no stack per query;
// - a pooled connection ends after DB_CONN_LIFETIME_S, and with it the plans Postgres
//   made for tables that have since grown.
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import postgres from 'postgres';
import { loadConfig } from '../server/config.ts';
import { createSql, type Sql, type Tx } from '../server/db.ts';
import { uid } from './helpers/server.ts';

const config = loadConfig(process.env);
const { DATABASE_URL } = config;
const test = suite('postgres client');

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

test('with the statement count on, a failed query keeps its text and parameters off its logged fields, and every statement is counted', async () => {
  const counted: boolean[] = [];
  const sql = createSql(config, { onStatement: (transaction) => counted.push(transaction) });
  const secret = uid('what-a-civilian-wrote-');
  try {
    const err = await sql`select ${secret}::text as said, 1 / 0 as n`.then(() => null, (e: unknown) => e as Error & Record<string, unknown>);
    assert.ok(err, 'the division fails');
    assert.is(err!.code, '22012');
    // What the server's logger writes of an error: pino's serializer (message, stack and
    // every enumerable field).
    const logged = JSON.stringify(pino.stdSerializers.err(err!));
    assert.not.ok(logged.includes(secret), `no parameter in the logged error: ${logged}`);
    assert.equal(Object.keys(err!).filter((k) => ['query', 'parameters', 'args', 'types', 'stack'].includes(k)), []);
    assert.ok(counted.length >= 1 && !counted.includes(true), `the failed select counted as a statement: ${counted}`);
    counted.length = 0;
    await sql.begin((tx) => tx`select 1`);
    assert.equal(counted, [true, false, false], 'BEGIN (a transaction), its select and COMMIT');
  } finally {
    await sql.end({ timeout: 5 });
  }
});

test('the pool\'s connections end after DB_CONN_LIFETIME_S, and Postgres\'s plans made on a small table go with them', async () => {
  const table = uid('t_plans_');
  const sql = createSql({ ...config, DB_CONN_LIFETIME_S: 1 });
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  // A key that is never there: an index lookup reads nothing, a seq scan reads every row.
  const lookup = (db: Sql | Tx) => db`select n from ${db(table)} where k = ${'absent'}`;
  const seqRead = () => sql.begin(async (tx) => {
    for (let i = 0; i < 20; i++) await lookup(tx);
    const [r] = await tx<{ read: string }[]>`select seq_tup_read::text as read from pg_stat_xact_user_tables where relname = ${table}`;
    return Number(r?.read ?? -1);
  });
  try {
    // Five rows, analyzed: a seq scan is the best plan, and after five executions
    // Postgres keeps it as the statement's generic plan on this connection.
    await admin.unsafe(`create table ${table} (k text, n int); create index on ${table} (k)`);
    await admin.unsafe(`insert into ${table} select 'k' || i, i from generate_series(1, 5) i; analyze ${table}`);
    const backend = async () => (await sql<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
    const first = await backend();
    for (let i = 0; i < 8; i++) await lookup(sql);
    // The table grows, as a new server's tables do in their first minutes.
    await admin.unsafe(`insert into ${table} select 'k' || i, i from generate_series(6, 50000) i`);
    // Within the connection's life the plan stands (the reason for the lifetime)...
    const stale = await seqRead();
    // ...and once it ended, a new connection plans for the table as it is.
    await sleep(1_700);
    const fresh = await seqRead();
    assert.is.not(await backend(), first, 'a new connection');
    assert.ok(stale >= 50_000, `within its life the connection kept its seq scan: ${stale} rows read`);
    assert.ok(fresh < 50_000, `the 20 lookups on 50,000 rows read ${fresh} rows by seq scan`);
  } finally {
    await sql.end({ timeout: 5 });
    await admin.unsafe(`drop table if exists ${table}`);
    await admin.end({ timeout: 5 });
  }
});

test.run();
