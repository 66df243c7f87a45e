// Admission control for reports in a burst. At most `concurrency` report transactions
// run at once; the rest wait in a queue ordered by severity (critical first). When the
// queue is full, or a report has waited too long, it is answered 503 with Retry-After:
// refused before anything was written, so nothing answered 2xx is ever dropped.
import type { Severity } from '../shared/domain.ts';
import { AppError } from './errors.ts';

const RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

interface Waiter { rank: number; admit: () => void; refuse: (e: Error) => void; timer: NodeJS.Timeout }

export class Admission {
  private running = 0;
  private queue: Waiter[] = [];

  constructor(private readonly opts: { concurrency: number; maxQueue: number; maxWaitMs: number }) {}

  get waiting(): number {
    return this.queue.length;
  }

  async run<T>(severity: Severity, work: () => Promise<T>): Promise<T> {
    await this.acquire(RANK[severity]);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(rank: number): Promise<void> {
    if (this.running < this.opts.concurrency) {
      this.running += 1;
      return Promise.resolve();
    }
    if (this.queue.length >= this.opts.maxQueue) {
      // Full: a more urgent report takes the place of the least urgent one waiting.
      const last = this.queue[this.queue.length - 1];
      if (!last || last.rank <= rank) return Promise.reject(overloaded());
      this.drop(last);
    }
    return new Promise<void>((admit, refuse) => {
      const waiter: Waiter = { rank, admit, refuse, timer: setTimeout(() => this.drop(waiter), this.opts.maxWaitMs) };
      // Sorted by severity, then arrival.
      const at = this.queue.findIndex((w) => w.rank > rank);
      if (at < 0) this.queue.push(waiter);
      else this.queue.splice(at, 0, waiter);
    });
  }

  private drop(waiter: Waiter): void {
    this.queue = this.queue.filter((w) => w !== waiter);
    clearTimeout(waiter.timer);
    waiter.refuse(overloaded());
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) {
      clearTimeout(next.timer);
      next.admit(); // the slot passes straight to the next report
    } else {
      this.running -= 1;
    }
  }
}

function overloaded(): AppError {
  return new AppError('unavailable', 'Too many reports are being processed right now; your report was NOT recorded. Retry in a moment with the same Idempotency-Key.', { retryAfterS: 1 });
}
