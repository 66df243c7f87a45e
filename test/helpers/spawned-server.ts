// A real `npm start` child process (scripts/lib/server-process.ts) on port 0, for tests
// that need a process that can die for real (SIGKILL, FAULT_INJECTION). It inherits this
// process's environment (same URLs and JWT secret) plus `env`; `url` resolves once it listens.
import type { ChildProcess } from 'node:child_process';
import { spawnServerProcess, type Exit } from '../../scripts/lib/server-process.ts';
import { eventually } from './clients.ts';

export interface SpawnedServer {
  child: ChildProcess;
  url: Promise<string>;
  exit: Promise<Exit>;
  /** The last few KB it printed, for failure messages. */
  tail(): string;
  /** SIGKILLs it if still running and waits (bounded) until it is gone. */
  kill(): Promise<void>;
}

export function spawnServer(env: Record<string, string>, readyMs = 30_000): SpawnedServer {
  const p = spawnServerProcess({ PORT: '0', HOST: '127.0.0.1', ...env, LOG_LEVEL: 'info' });
  const url = eventually('the spawned server to listen', () => p.port() ?? (p.child.exitCode !== null ? Promise.reject(new Error(`exited: ${p.out.join('').slice(-2_000)}`)) : null), readyMs)
    .then((port) => `http://127.0.0.1:${port}`);
  url.catch(() => {}); // awaited by the caller; never an unhandled rejection
  return { child: p.child, url, exit: p.exited, tail: () => p.out.join('').slice(-3_000), kill: p.kill };
}
