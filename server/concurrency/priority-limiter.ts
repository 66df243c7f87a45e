// At most `concurrency` tasks at once; waiting tasks start lowest rank first, then in
// arrival order. Used where urgent work (critical incidents) must overtake a backlog.
interface Waiting { rank: number; start: () => void }

export class PriorityLimiter {
  private running = 0;
  private readonly queue: Waiting[] = [];

  constructor(private readonly concurrency: number) {}

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  async run<T>(rank: number, work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      await new Promise<void>((start) => {
        const at = this.queue.findIndex((w) => w.rank > rank);
        if (at < 0) this.queue.push({ rank, start });
        else this.queue.splice(at, 0, { rank, start });
      });
    } else {
      this.running += 1;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next task (running stays the same), or free it.
      const next = this.queue.shift();
      if (next) next.start();
      else this.running -= 1;
    }
  }
}
