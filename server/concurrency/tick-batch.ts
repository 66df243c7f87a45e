// Calls made in the same turn of the event loop, answered by one batched call. A round
// of 50 critical offers brings 50 offer acks and 50 push notifications back within a
// few milliseconds; one statement for each kind costs Postgres and this thread far
// less than fifty, and the accept race that follows lands on a quieter server.
interface Waiter<V> { resolve(v: V | undefined): void; reject(err: unknown): void }

export class TickBatch<K, V> {
  private pending = new Map<K, Waiter<V>[]>();
  private scheduled = false;

  /** `load` answers the keys it knows; a key it leaves out is answered `undefined`. */
  constructor(private readonly load: (keys: K[]) => Promise<Map<K, V>>, private readonly max = 500) {}

  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (this.pending.size >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // After this turn's I/O callbacks: every ack read in the same poll joins.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.load([...batch.keys()]).then(
      (found) => { for (const [key, waiters] of batch) for (const w of waiters) w.resolve(found.get(key)); },
      (err) => { for (const waiters of batch.values()) for (const w of waiters) w.reject(err); },
    );
  }
}
