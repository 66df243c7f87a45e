// A private `redis-server` child for tests that flush, stop or kill Redis: a free port
// on 127.0.0.1, nothing saved, a temporary directory. The configured Redis (REDIS_URL)
// may serve someone else's data and is never touched by such tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { eventually, sleep } from './clients.ts';

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** One command on a short-lived connection (e.g. `call('FLUSHALL')`). */
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** True when it answers PING within a second. */
  up(): Promise<boolean>;
  /** SIGTERM, then SIGKILL if still running after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL: a crash, nothing flushed. */
  kill(): Promise<void>;
  /** Starts it again on the same port (after stop or kill), empty. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. Safe to call twice. */
  cleanup(): Promise<void>;
}

const START_MS = 10_000;
const STOP_MS = 5_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function ping(port: number): Promise<boolean> {
  const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {}); // a refused connection is the answer, not an event to report
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const running = (c: ChildProcess | null): boolean => !!c && c.exitCode === null && c.signalCode === null;

/** Starts a private Redis and waits (bounded) until it answers PING. */
export async function startRedisServer(): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'sd-redis-'));
  let port = 0;
  let child: ChildProcess | null = null;
  let log = '';
  // If the test process dies without its `after`, the child must not outlive it.
  const onExit = () => { if (running(child)) child!.kill('SIGKILL'); };
  process.on('exit', onExit);

  const launch = async (): Promise<void> => {
    log = '';
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const keep = (d: Buffer) => { log = (log + d.toString()).slice(-4_000); };
    c.stdout!.on('data', keep);
    c.stderr!.on('data', keep);
    c.on('error', (err) => { log += `\n${err.message}`; });
    await eventually(`redis-server on port ${port} to answer PING`, async () => {
      if (!running(c)) throw new Error(`redis-server exited (${c.exitCode ?? c.signalCode}): ${log.trim().split('\n').slice(-3).join(' | ')}`);
      return ping(port);
    }, START_MS);
  };

  const gone = async (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    const c = child;
    if (!c || !running(c)) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    await Promise.race([exited, sleep(graceMs)]);
    if (running(c)) {
      c.kill('SIGKILL');
      await Promise.race([exited, sleep(STOP_MS)]);
    }
    if (running(c)) throw new Error(`redis-server on port ${port} (pid ${c.pid}) did not exit`);
  };

  // A free port can be taken between the probe and the bind: try another.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      await gone('SIGKILL', 0).catch(() => {});
      if (attempt >= 3) {
        process.off('exit', onExit);
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  let cleaned = false;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async call(command, ...args) {
      const conn = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      conn.on('error', () => {});
      try {
        await conn.connect();
        return await conn.call(command, ...args);
      } finally {
        conn.disconnect();
      }
    },
    up: () => ping(port),
    stop: (graceMs = STOP_MS) => gone('SIGTERM', graceMs),
    kill: () => gone('SIGKILL', STOP_MS),
    async restart() {
      await gone('SIGTERM', STOP_MS);
      await launch();
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      try {
        await gone('SIGTERM', STOP_MS);
      } finally {
        process.off('exit', onExit);
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
