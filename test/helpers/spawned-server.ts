// A real `npm start` child process (scripts/start.ts) on port 0, for tests that need a
// process that can die for real (SIGKILL, FAULT_INJECTION). It inherits this process's
// environment (same URLs and JWT secret) plus `env`; `url` resolves once it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually, sleep } from './clients.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface SpawnedServer {
  child: ChildProcess;
  url: Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** The last few KB it printed, for failure messages. */
  tail(): string;
  /** SIGKILLs it if still running and waits (bounded) until it is gone. */
  kill(): Promise<void>;
}

export function spawnServer(env: Record<string, string>, readyMs = 30_000): SpawnedServer {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT, env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  let port: number | null = null;
  const onData = (d: Buffer) => {
    buf = (buf + d.toString()).slice(-20_000);
    const m = port === null ? /"port":(\d+)[^\n]*dispatch server listening/.exec(buf) : null;
    if (m) port = Number(m[1]);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  // The exit is timed when this process hears of it: at most a little after the death.
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const url = eventually('the spawned server to listen', () => port ?? (child.exitCode !== null ? Promise.reject(new Error(`exited: ${buf.slice(-2_000)}`)) : null), readyMs)
    .then((p) => `http://127.0.0.1:${p}`);
  url.catch(() => {}); // awaited by the caller; never an unhandled rejection
  // If the test process dies without its `after`, the child must not outlive it.
  const onExit = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.on('exit', onExit);
  void exit.then(() => process.off('exit', onExit));
  return {
    child, url, exit,
    tail: () => buf.slice(-3_000),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await Promise.race([exit, sleep(10_000)]);
    },
  };
}
