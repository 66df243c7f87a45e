// A real `npm start` (scripts/start.ts) as a child process: what it printed, when it
// exited, the port it announced, and bounded ways to stop it. The cluster script, the
// benchmark and the tests that need a process to kill for real all start servers so.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Exit { code: number | null; signal: NodeJS.Signals | null; at: number }

export interface ServerProcess {
  child: ChildProcess;
  /** Everything it printed (JSON log lines), chunk by chunk. */
  out: string[];
  /** Timed when this process hears of it: at most a little after the death. */
  exited: Promise<Exit>;
  /** The port of its "dispatch server listening" line, once printed (PORT=0 picks one). */
  port(): number | null;
  /** Waits for it to exit, SIGKILLing it after `ms`: never waits longer. */
  exitWithin(ms: number): Promise<Exit>;
  /** SIGKILLs it if still running and waits (bounded) until it is gone. */
  kill(): Promise<void>;
}

const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

export interface SpawnOptions {
  /** The tree whose scripts/start.ts runs (default this one): the benchmark's `--baseline` runs an older build. */
  root?: string;
}

/** `env` over this process's environment (so the same URLs and secret); undefined removes a variable. */
export function spawnServerProcess(env: Record<string, string | undefined>, opts: SpawnOptions = {}): ServerProcess {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
  // SERVER_CPU_PROF=DIR: each server writes a V8 CPU profile into DIR when it exits
  // (open it in Chrome's DevTools or speedscope): how the burst's profile was taken.
  const prof = process.env.SERVER_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.SERVER_CPU_PROF] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', 'scripts/start.ts'], { cwd: opts.root ?? ROOT, env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  // If this process dies without stopping it, the child must not outlive it.
  const onExit = () => { if (running(child)) child.kill('SIGKILL'); };
  process.on('exit', onExit);
  void exited.then(() => process.off('exit', onExit));

  let port: number | null = null;
  const exitWithin = async (ms: number) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    try { return await exited; } finally { clearTimeout(timer); }
  };
  return {
    child, out, exited, exitWithin,
    port() {
      const m = port === null ? /"port":(\d+)[^\n]*dispatch server listening/.exec(out.join('')) : null;
      if (m) port = Number(m[1]);
      return port;
    },
    async kill() {
      if (running(child)) child.kill('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    },
  };
}
