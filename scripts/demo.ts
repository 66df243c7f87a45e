// `npm run demo`: a living city on one command. Uses the Postgres and Redis in
// DATABASE_URL / REDIS_URL when they answer; otherwise starts them from the installed
// Debian packages into .data/ (or says exactly what to install). Then starts the server
// and the simulator, prints the three pages' URLs with working tokens, and keeps the
// city alive until Ctrl-C.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createAuth } from '../server/auth.ts';
import { loadConfig } from '../server/config.ts';
import { call } from './lib/wire.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = `${ROOT}.data/`;
const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
const say = (line: string) => console.log(`[demo] ${line}`);

const reachable = (host: string, port: number) => new Promise<boolean>((resolve) => {
  const s = connect({ host, port, timeout: 1_000 }, () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
  s.on('timeout', () => { s.destroy(); resolve(false); });
});

async function waitFor(what: string, probe: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`${what} did not come up within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function ensurePostgres(url: string): Promise<string> {
  const u = new URL(url);
  if (await reachable(u.hostname, Number(u.port || 5432))) return url;
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort() : [];
  const bin = versions.length ? `/usr/lib/postgresql/${versions.at(-1)}/bin/` : null;
  if (!bin || !existsSync(`${bin}initdb`)) {
    throw new Error('No Postgres answers at DATABASE_URL and none is installed. Install it: sudo apt-get install -y postgresql (or: docker compose up -d postgres redis)');
  }
  const dir = `${DATA}postgres`;
  if (!existsSync(`${dir}/PG_VERSION`)) {
    say(`initialising a Postgres cluster in ${dir}`);
    mkdirSync(DATA, { recursive: true });
    const asRoot = process.getuid?.() === 0;
    // Postgres refuses to run as root; run it as the `postgres` user when we are root.
    const run = (cmd: string, args: string[]) => (asRoot
      ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'inherit' })
      : spawnSync(cmd, args, { stdio: 'inherit' }));
    if (asRoot) spawnSync('chown', ['-R', 'postgres', DATA]);
    const init = run(`${bin}initdb`, ['-D', dir, '-U', 'root', '--auth=trust', '-E', 'UTF8']);
    if (init.status !== 0) throw new Error('initdb failed');
  }
  const port = 5433;
  say(`starting Postgres from ${bin} on :${port}`);
  const asRoot = process.getuid?.() === 0;
  const args = ['-D', dir, '-l', `${DATA}postgres.log`, '-o', `-p ${port} -k /tmp`, '-w', 'start'];
  const started = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', `${bin}pg_ctl`, ...args], { stdio: 'inherit' }) : spawnSync(`${bin}pg_ctl`, args, { stdio: 'inherit' });
  if (started.status !== 0) throw new Error(`pg_ctl start failed; see ${DATA}postgres.log`);
  cleanups.push(() => { (asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', `${bin}pg_ctl`, '-D', dir, '-m', 'fast', 'stop']) : spawnSync(`${bin}pg_ctl`, ['-D', dir, '-m', 'fast', 'stop'])); });
  return `postgres://root@127.0.0.1:${port}/postgres`;
}

async function ensureRedis(url: string): Promise<string> {
  const u = new URL(url);
  if (await reachable(u.hostname, Number(u.port || 6379))) return url;
  if (spawnSync('which', ['redis-server']).status !== 0) {
    throw new Error('No Redis answers at REDIS_URL and none is installed. Install it: sudo apt-get install -y redis-server (or: docker compose up -d postgres redis)');
  }
  const port = 6380;
  mkdirSync(`${DATA}redis`, { recursive: true });
  say(`starting Redis on :${port} (keeps nothing on disk)`);
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--hz', '100', '--dir', `${DATA}redis`], { stdio: 'ignore' });
  children.push(redis);
  await waitFor('Redis', () => reachable('127.0.0.1', port));
  return `redis://127.0.0.1:${port}`;
}

function start(name: string, script: string, args: string[], env: Record<string, string>, quiet = false): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'] });
  child.on('exit', (code, signal) => { if (!stopping) { say(`${name} exited (${signal ?? code}); stopping`); stop(1); } });
  children.push(child);
  return child;
}

let stopping = false;
function stop(code = 0): void {
  if (stopping) return;
  stopping = true;
  for (const c of children.reverse()) c.kill('SIGTERM');
  // Whatever has not drained within the grace is stopped for good: Ctrl-C leaves nothing behind.
  setTimeout(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    cleanups.forEach((f) => f());
    process.exit(code);
  }, 5_000).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

const config = loadConfig(process.env);
const port = Number(process.env.PORT ?? 3000);
const base = `http://127.0.0.1:${port}`;
try {
  const env = { DATABASE_URL: await ensurePostgres(config.DATABASE_URL), REDIS_URL: await ensureRedis(config.REDIS_URL), PORT: String(port), LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  say(`starting the dispatch server on ${base}`);
  start('server', 'scripts/start.ts', [], env);
  await waitFor('the server', async () => (await call('GET', `${base}/readyz`, { timeoutMs: 2_000 }).catch(() => null))?.status === 200, 60_000);

  const auth = createAuth(config);
  const dispatcher = await auth.sign({ role: 'dispatcher', sub: 'demo-dispatcher' });
  const { body: hero } = await call<{ id: string }>('POST', `${base}/v1/heroes`, {
    token: dispatcher, body: { name: 'You (demo hero)', skills: ['rescue'], mode: 'ground' },
  });
  const heroes = process.env.DEMO_HEROES ?? '300';
  const rate = process.env.DEMO_RATE ?? '60';
  start('simulator', 'scripts/simulate.ts', ['--url', base, '--heroes', heroes, '--rate', rate, '--speedup', '3'], { JWT_SECRET: config.JWT_SECRET });
  console.log(`
  Superhero Dispatch is running, with a simulated city (${heroes} heroes, ${rate} reports/min).

  Dispatcher console:  ${base}/#token=${dispatcher}
  Report an emergency: ${base}/report#token=${await auth.sign({ role: 'civilian', sub: 'demo-civilian' })}
  Hero app:            ${base}/hero#token=${await auth.sign({ role: 'hero', sub: hero.id })}

  Ctrl-C stops everything.
`);
} catch (err) {
  console.error(`[demo] ${(err as Error).message}`);
  stop(1);
}
