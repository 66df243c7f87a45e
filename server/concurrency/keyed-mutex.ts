// One in-process queue per key (an incident): work for the same key runs one at a time,
// in arrival order; different keys run side by side. Postgres row locks still decide
// every race between processes; this keeps one process from queueing dozens of
// transactions on the same row lock, each holding a pooled connection while it waits.
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Keys with work running or waiting (for metrics and tests). */
  get size(): number {
    return this.tails.size;
  }

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const result = before.then(work);
    const tail = result.then(() => undefined, () => undefined);
    this.tails.set(key, tail);
    // The last one out forgets the key, so the map holds only keys in use.
    void tail.then(() => { if (this.tails.get(key) === tail) this.tails.delete(key); });
    return result;
  }
}
