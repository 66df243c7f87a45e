// At most `concurrency` tasks at once; waiting tasks start lowest rank first, then in
// arrival order. Optionally bounded: beyond `maxWaiting` a task is refused (or takes
// the place of the least urgent one waiting), and one that waits `maxWaitMs` is
// refused. Used where urgent work (critical incidents) must overtake a backlog: the
// report admission gate and the outbox carriers.
export interface LimiterOptions {
  concurrency: number;
  maxWaiting?: number;
  maxWaitMs?: number;
  /** The error a refused task of this rank rejects with. */
  refusal?: (rank: number) => Error;
}

interface Waiter { rank: number; start: () => void; refuse: (e: Error) => void; timer?: NodeJS.Timeout }

export class PriorityLimiter {
  private running = 0;
  private queue: Waiter[] = [];

  private readonly opts: LimiterOptions;

  constructor(opts: LimiterOptions) {
    this.opts = { ...opts };
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** How many tasks may run at once now. */
  get limit(): number {
    return this.opts.concurrency;
  }

  /**
   * Changes how many may run at once. Raised: waiting tasks start in the new slots.
   * Lowered: running tasks finish, and no new one starts until fewer than `n` run.
   */
  setConcurrency(n: number): void {
    this.opts.concurrency = Math.max(1, Math.floor(n));
    while (this.running < this.opts.concurrency && this.queue.length > 0) {
      const next = this.queue.shift()!;
      clearTimeout(next.timer);
      this.running += 1;
      next.start();
    }
  }

  /** Whether a task of this rank would be refused now (no slot, no room, nobody less urgent to displace). */
  wouldRefuse(rank: number): boolean {
    if (this.running < this.opts.concurrency) return false;
    if (this.queue.length < (this.opts.maxWaiting ?? Infinity)) return false;
    const last = this.queue[this.queue.length - 1];
    return !last || last.rank <= rank;
  }

  /** Waiting tasks that start before a new task of this rank would (as urgent or more). */
  waitingAhead(rank: number): number {
    let n = 0;
    for (const w of this.queue) if (w.rank <= rank) n += 1;
    return n;
  }

  async run<T>(rank: number, work: () => Promise<T>): Promise<T> {
    await this.acquire(rank);
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
    if (this.queue.length >= (this.opts.maxWaiting ?? Infinity)) {
      // Full: a more urgent task takes the place of the least urgent one waiting.
      const last = this.queue[this.queue.length - 1];
      if (!last || last.rank <= rank) return Promise.reject(this.refused(rank));
      this.drop(last);
    }
    return new Promise<void>((start, refuse) => {
      const waiter: Waiter = { rank, start, refuse };
      if (this.opts.maxWaitMs !== undefined) waiter.timer = setTimeout(() => this.drop(waiter), this.opts.maxWaitMs);
      const at = this.queue.findIndex((w) => w.rank > rank);
      if (at < 0) this.queue.push(waiter);
      else this.queue.splice(at, 0, waiter);
    });
  }

  private refused(rank: number): Error {
    return this.opts.refusal?.(rank) ?? new Error('too many tasks waiting');
  }

  private drop(waiter: Waiter): void {
    this.queue = this.queue.filter((w) => w !== waiter);
    clearTimeout(waiter.timer);
    waiter.refuse(this.refused(waiter.rank));
  }

  private release(): void {
    // Over a lowered limit, the slot is given up instead of passed on.
    const next = this.running > this.opts.concurrency ? undefined : this.queue.shift();
    if (next) {
      clearTimeout(next.timer);
      next.start(); // the slot passes straight to the next task
    } else {
      this.running -= 1;
    }
  }
}
