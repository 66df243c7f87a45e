// At most `concurrency` tasks at once; waiting tasks start lowest rank first, then in
// arrival order. Optionally bounded: beyond `maxWaiting` a task is refused (or takes
// the place of the least urgent one waiting), and one that waits `maxWaitMs` is
// refused. Used where urgent work (critical incidents) must overtake a backlog: the
// report admission gate, the outbox carriers and the transaction slots.
//
// Going first in the queue is not enough in a burst: every slot is then held by less
// urgent work that started earlier, and an urgent task still waits for one of them to
// finish. `urgentReserve` slots beyond `concurrency` are for rank 0 alone, so an urgent
// task starts at once unless that many urgent tasks already run.
export interface LimiterOptions {
  concurrency: number;
  /** Slots beyond `concurrency` that only rank-0 tasks may take (default 0). */
  urgentReserve?: number;
  maxWaiting?: number;
  maxWaitMs?: number;
  /** The error a refused task of this rank rejects with. */
  refusal?: (rank: number) => Error;
}

interface Waiter { rank: number; start: () => void; refuse: (e: Error) => void; timer?: NodeJS.Timeout; refusal?: () => Error }

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
    while (this.queue.length > 0 && this.running < this.slotsFor(this.queue[0]!.rank)) {
      const next = this.queue.shift()!;
      clearTimeout(next.timer);
      this.running += 1;
      next.start();
    }
  }

  /** Slots a task of this rank may start in: the reserve too for rank 0. */
  private slotsFor(rank: number): number {
    return this.opts.concurrency + (rank === 0 ? this.opts.urgentReserve ?? 0 : 0);
  }

  /** Whether a task of this rank would be refused now (no slot, no room, nobody less urgent to displace). */
  wouldRefuse(rank: number): boolean {
    if (this.running < this.slotsFor(rank)) return false;
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

  /**
   * Runs `work` once a slot is free. `wait` bounds this task's wait (beyond the
   * limiter's own `maxWaitMs`): past it the task is dropped with `refusal`'s error, and
   * `work` never runs.
   */
  async run<T>(rank: number, work: () => Promise<T>, wait?: { maxWaitMs: number; refusal: () => Error }): Promise<T> {
    await this.acquire(rank, wait);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(rank: number, wait?: { maxWaitMs: number; refusal: () => Error }): Promise<void> {
    if (this.running < this.slotsFor(rank)) {
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
      const waiter: Waiter = { rank, start, refuse, ...(wait ? { refusal: wait.refusal } : {}) };
      const maxWaitMs = Math.min(this.opts.maxWaitMs ?? Infinity, wait?.maxWaitMs ?? Infinity);
      if (maxWaitMs !== Infinity) waiter.timer = setTimeout(() => this.drop(waiter), maxWaitMs);
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
    waiter.refuse(waiter.refusal?.() ?? this.refused(waiter.rank));
  }

  private release(): void {
    // Over a lowered limit (or in the urgent reserve, with no urgent task waiting), the
    // slot is given up instead of passed on.
    const first = this.queue[0];
    const next = first && this.running <= this.slotsFor(first.rank) ? this.queue.shift() : undefined;
    if (next) {
      clearTimeout(next.timer);
      next.start(); // the slot passes straight to the next task
    } else {
      this.running -= 1;
    }
  }
}
