// `npm run cluster -- [N] [--base-port P]`: N `npm start` processes on ports P..P+N-1
// against the same Postgres and Redis, which makes one dispatch cluster. Ctrl-C stops
// them all. Tests import `startCluster` to run the same thing.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnServerProcess } from './lib/server-process.ts';
import { call } from './lib/wire.ts';

export interface Member {
  index: number;
  port: number;
  url: string;
  child: ChildProcess;
  /** Everything the process printed (JSON log lines). */
  output: string[];
  exited: Promise<number | null>;
}

export interface Cluster {
  members: Member[];
  /** Restarts member `i` (after a kill) on the same port. */
  restart(i: number): Promise<Member>;
  stop(): Promise<void>;
}

function launch(index: number, port: number, env: Record<string, string>, root?: string): Member {
  const p = spawnServerProcess({ ...env, PORT: String(port) }, { root });
  return { index, port, url: `http://127.0.0.1:${port}`, child: p.child, output: p.out, exited: p.exited.then((e) => e.code) };
}

async function ready(m: Member, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (m.child.exitCode !== null) throw new Error(`member ${m.index} exited: ${m.output.join('').slice(-2000)}`);
    try {
      if ((await call('GET', `${m.url}/readyz`, { timeoutMs: 1_000 })).status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`member ${m.index} on :${m.port} not ready after ${ms} ms: ${m.output.join('').slice(-2000)}`);
}

/** `root`: the tree whose scripts/start.ts runs (default this one). */
export async function startCluster(n: number, basePort: number, env: Record<string, string> = {}, readyMs = 30_000, root?: string): Promise<Cluster> {
  const members = Array.from({ length: n }, (_, i) => launch(i, basePort + i, env, root));
  try {
    await Promise.all(members.map((m) => ready(m, readyMs)));
  } catch (e) {
    members.forEach((m) => m.child.kill('SIGKILL'));
    throw e;
  }
  return {
    members,
    async restart(i) {
      const old = members[i]!;
      if (old.child.exitCode === null && old.child.signalCode === null) { old.child.kill('SIGKILL'); await old.exited; }
      const fresh = launch(i, old.port, env, root);
      members[i] = fresh;
      await ready(fresh, readyMs);
      return fresh;
    },
    async stop() {
      await Promise.all(members.map(async (m) => {
        if (m.child.exitCode !== null || m.child.signalCode !== null) return;
        m.child.kill('SIGTERM');
        const timer = setTimeout(() => m.child.kill('SIGKILL'), 15_000);
        await m.exited;
        clearTimeout(timer);
      }));
    },
  };
}

/**
 * `startCluster` on a random base port, tried again on another when it fails (a port in
 * the range may be taken) up to `attempts` times; the last failure is thrown.
 */
export async function startClusterAnyPort(n: number, env: Record<string, string> = {},
  opts: { readyMs?: number; attempts?: number; root?: string; onRetry?: (basePort: number, e: unknown) => void } = {}): Promise<Cluster> {
  for (let attempt = 1; ; attempt++) {
    const basePort = 20_000 + Math.floor(Math.random() * 30_000);
    try {
      return await startCluster(n, basePort, env, opts.readyMs, opts.root);
    } catch (e) {
      if (attempt >= (opts.attempts ?? 4)) throw e;
      opts.onRetry?.(basePort, e);
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
  const baseFlag = args.indexOf('--base-port');
  const base = baseFlag >= 0 ? Number(args[baseFlag + 1]) : Number(process.env.PORT ?? 3001);
  const cluster = await startCluster(n, base);
  for (const m of cluster.members) {
    m.child.stdout!.pipe(process.stdout);
    m.child.stderr!.pipe(process.stderr);
  }
  console.log(`dispatch cluster of ${n}: ${cluster.members.map((m) => m.url).join('  ')}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    cluster.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await Promise.race(cluster.members.map((m) => m.exited));
  if (!stopping) { console.error('a member exited; stopping the cluster'); stop(); }
}
