// The server `--ranking` runs against: `npm start` (scripts/start.ts) as a child process
// on a free port, in a fresh schema and Redis prefix, with RANKING_MODE (and
// RANKING_MODEL_PATH) set and this environment otherwise (same Postgres, Redis and JWT
// secret; OFFER_TIMEOUT_MS and the like pass through). It runs in a process group of its
// own, so the Ctrl-C that asks the simulator to finish does not drain the server first.
// Stopping it drops the schema unless it is kept for `npm run train`.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deletePrefix, dropSchemas } from '../lib/lifecycle.ts';
import { call } from '../lib/wire.ts';
import { sleep } from './types.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TAIL_CHARS = 4_000;

export interface OwnServer {
  url: string;
  schema: string;
  prefix: string;
  pid: number;
  /** The last few KB it printed (warnings and errors: it logs at LOG_LEVEL warn unless told otherwise). */
  tail(): string;
  /** SIGTERM (SIGKILL after 15 s), then drops the schema unless `keep`, and the prefix's keys always. */
  stop(o: { keep: boolean }): Promise<void>;
}

export interface OwnServerOptions {
  ranking: 'learned' | 'distance';
  /** RANKING_MODEL_PATH, resolved from the simulator's working directory. */
  model: string | null;
  /** Names the schema (`sim_<id>`) and the prefix (`sim<id>`): lower-case letters, digits. */
  id: string;
  readyMs?: number;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

/** The environment the server gets: ours, then the run's own names and ranking. */
export function ownServerEnv(o: OwnServerOptions, port: number): Record<string, string> {
  return {
    PORT: String(port), HOST: '127.0.0.1', DB_SCHEMA: `sim_${o.id}`, REDIS_PREFIX: `sim${o.id}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', RANKING_MODE: o.ranking,
    ...(o.model ? { RANKING_MODEL_PATH: resolve(o.model) } : {}),
  };
}

/** Starts it and waits until /readyz answers 200; a port taken meanwhile is tried again elsewhere. */
export async function startOwnServer(o: OwnServerOptions): Promise<OwnServer> {
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const env = ownServerEnv(o, port);
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let out = '';
    const keep = (d: Buffer) => { out = (out + d.toString()).slice(-TAIL_CHARS); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // Whatever ends this process, the server must not outlive it.
    const onExit = () => { if (running(child)) child.kill('SIGKILL'); };
    process.on('exit', onExit);
    void exited.then(() => process.off('exit', onExit));

    const url = `http://127.0.0.1:${port}`;
    const until = performance.now() + (o.readyMs ?? 60_000);
    let ready = false;
    while (performance.now() < until && running(child)) {
      try {
        if ((await call('GET', `${url}/readyz`, { timeoutMs: 1_000 })).status === 200) { ready = true; break; }
      } catch { /* not listening yet */ }
      await sleep(150);
    }
    if (!ready) {
      if (running(child)) child.kill('SIGKILL');
      await Promise.race([exited, sleep(5_000)]);
      lastError = `${running(child) ? 'not ready in time' : `exited (${child.exitCode ?? child.signalCode})`}: ${out.slice(-1_500)}`;
      if (/EADDRINUSE/.test(out)) continue;
      break;
    }
    return {
      url, schema: env.DB_SCHEMA!, prefix: env.REDIS_PREFIX!, pid: child.pid!,
      tail: () => out,
      async stop({ keep: keepSchema }) {
        if (running(child)) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await Promise.race([exited, sleep(20_000)]);
          clearTimeout(timer);
        }
        if (!keepSchema) await dropSchemas([env.DB_SCHEMA!]);
        await deletePrefix(env.REDIS_PREFIX!);
      },
    };
  }
  throw new Error(`the ${o.ranking} server did not start: ${lastError}`);
}

/**
 * What ranking the server says is in force: `details.ranking` of /readyz (its state, and
 * the model's version when one ranks), else the `dispatch_ranking_model{state=…}` gauge
 * at 1; null when it says neither (a server without issue 16's wiring).
 */
export async function rankingState(url: string): Promise<string | null> {
  try {
    const r = await call('GET', `${url}/readyz`, { timeoutMs: 5_000 });
    const found = findKey(r.body, 'ranking', 3) as { state?: unknown; version?: unknown; error?: unknown } | string | undefined;
    if (typeof found === 'string') return found;
    if (found && typeof found.state === 'string') {
      const extra = [found.version, found.error].filter((x) => typeof x === 'string' && x).join('; ');
      return extra ? `${found.state} (${extra})` : found.state;
    }
    const m = await call('GET', `${url}/metrics`, { timeoutMs: 5_000 });
    if (m.status === 200 && typeof m.body === 'string') {
      for (const line of m.body.split('\n')) {
        const hit = /^dispatch_ranking_model\{[^}]*state="([^"]*)"[^}]*\}\s+1(?:\.0*)?\s*$/.exec(line);
        if (hit) return hit[1]!;
      }
    }
  } catch { /* says nothing */ }
  return null;
}

function findKey(x: unknown, key: string, depth: number): unknown {
  if (depth < 0 || typeof x !== 'object' || x === null) return undefined;
  const o = x as Record<string, unknown>;
  if (key in o) return o[key];
  for (const v of Object.values(o)) {
    const f = findKey(v, key, depth - 1);
    if (f !== undefined) return f;
  }
  return undefined;
}
