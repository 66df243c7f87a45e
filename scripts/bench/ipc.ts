// Parent <-> child plumbing for the benchmark's own processes (load generators, bare
// servers). Requests are `{ id, cmd, args }`, answers `{ id, result }` or `{ id, error }`;
// a child may also send `{ progress }` lines, which the parent prints.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

type Handler = (args: any) => Promise<unknown> | unknown;

interface Request { id: number; cmd: string; args: unknown }
interface Answer { id?: number; result?: unknown; error?: string; progress?: string }

/** Child side: answers the parent's commands until told to exit or the parent goes away. */
export function serve(handlers: Record<string, Handler>): void {
  process.on('message', (raw) => {
    const msg = raw as Request;
    const handler = handlers[msg.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${msg.cmd}`);
        return handler(msg.args);
      })
      .then(
        (result) => process.send?.({ id: msg.id, result: result ?? null }),
        (err: unknown) => process.send?.({ id: msg.id, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
      );
  });
  // The parent died or let go: nothing left to do here.
  process.on('disconnect', () => process.exit(0));
}

export function childProgress(line: string): void {
  process.send?.({ progress: line });
}

/** Parent side: one forked TypeScript child running `serve`. */
export class Child {
  readonly proc: ChildProcess;
  private seq = 0;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exitedWith: string | null = null;

  constructor(file: string, readonly label: string, onProgress: (line: string) => void) {
    const path = fileURLToPath(new URL(file, import.meta.url));
    this.proc = fork(path, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (raw) => {
      const msg = raw as Answer;
      if (msg.progress !== undefined) { onProgress(`${label}: ${msg.progress}`); return; }
      const waiter = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id!);
      if (msg.error !== undefined) waiter.reject(new Error(`${label}: ${msg.error}`));
      else waiter.resolve(msg.result);
    });
    this.proc.on('exit', (code, signal) => {
      this.exitedWith = `exited (${signal ?? code})`;
      for (const w of this.pending.values()) w.reject(new Error(`${label} ${this.exitedWith}`));
      this.pending.clear();
    });
  }

  get pid(): number { return this.proc.pid ?? -1; }

  call<T>(cmd: string, args: unknown = {}): Promise<T> {
    if (this.exitedWith) return Promise.reject(new Error(`${this.label} ${this.exitedWith}`));
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, cmd, args });
    });
  }

  /** Disconnects (the child exits on its own), then kills it if it lingers. */
  async stop(): Promise<void> {
    if (this.exitedWith) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    try { this.proc.disconnect(); } catch { /* already gone */ }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }
}
