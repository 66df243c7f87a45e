// `npm start` as a real child process: it validates its config, migrates under an
// advisory lock (two processes racing on one fresh schema), serves /readyz, and
// drains on SIGTERM.
import { readdirSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { dropStores, pg } from '../scripts/lib/lifecycle.ts';
import { spawnServerProcess, type ServerProcess } from '../scripts/lib/server-process.ts';
import { eventually } from './helpers/clients.ts';
import { uid } from './helpers/server.ts';

const test = suite('npm start');
const start = (env: Record<string, string>) => spawnServerProcess({ LOG_LEVEL: 'info', ...env });
/** Its exit code, SIGKILLing it after `ms`. */
const exitWithin = async (p: ServerProcess, ms: number) => (await p.exitWithin(ms)).code;

// Each real server's schema and Redis prefix (its BullMQ schedulers stay after it stops).
const stores: { schema: string; prefix: string }[] = [];
test.after(async () => { await dropStores(stores); });

test('invalid and unknown settings stop the start with a message naming them', async () => {
  const bad = start({ OFFER_TIMEOUT_MS: 'soon' });
  assert.is(await exitWithin(bad, 15_000), 2);
  assert.match(bad.out.join(''), /OFFER_TIMEOUT_MS/);
  const unknown = start({ DISPATCH_MAX_ROUND: '3' });
  assert.is(await exitWithin(unknown, 15_000), 2);
  assert.match(unknown.out.join(''), /unknown setting\(s\) DISPATCH_MAX_ROUND/);
});

test('two processes migrate one fresh schema at once, both serve /readyz 200, SIGTERM drains', async () => {
  const store = { schema: uid('t_start_'), prefix: uid('ts') };
  stores.push(store);
  const env = { PORT: '0', DB_SCHEMA: store.schema, REDIS_PREFIX: store.prefix };
  const procs = [start(env), start(env)];
  try {
    for (const p of procs) {
      const port = await eventually('server to listen', () => p.port(), 20_000);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5_000) });
      assert.is(res.status, 200, p.out.join(''));
      assert.equal(((await res.json()) as { checks: unknown }).checks, { postgres: true, redis: true, migrations: true, draining: false });
    }
    const sql = pg(undefined, 1);
    const applied = await sql.unsafe(`select count(*)::int as n from "${store.schema}".schema_migrations`);
    await sql.end();
    const files = readdirSync(new URL('../server/migrations/', import.meta.url)).filter((f) => f.endsWith('.sql'));
    assert.is(applied[0]?.n, files.length, 'each migration applied exactly once');
    for (const p of procs) {
      p.child.kill('SIGTERM');
      assert.is(await exitWithin(p, 15_000), 0, 'SIGTERM drains and exits cleanly');
      assert.match(p.out.join(''), /dispatch server stopped/);
    }
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
});

test.run();
