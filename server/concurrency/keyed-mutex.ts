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
    return this.runAll([key], work);
  }

  /**
   * Runs `work` once every key's earlier work is done; later work on any of the keys
   * waits for it. Queues are joined at call time, so no two callers can wait for each
   * other: a batch of incidents' effects keeps each incident's order.
   */
  runAll<T>(keys: string[], work: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)];
    const befores = unique.map((key) => this.tails.get(key)).filter((p) => p !== undefined);
    const before = befores.length === 0 ? Promise.resolve() : befores.length === 1 ? befores[0]! : Promise.all(befores);
    const result = before.then(work);
    const tail = result.then(() => undefined, () => undefined);
    for (const key of unique) this.tails.set(key, tail);
    // The last one out forgets the key, so the map holds only keys in use.
    void tail.then(() => { for (const key of unique) if (this.tails.get(key) === tail) this.tails.delete(key); });
    return result;
  }
}
