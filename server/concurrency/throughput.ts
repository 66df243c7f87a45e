// Completions per second over a sliding window, counted in quarter-second buckets: what
// the report gate uses to say how long a backlog will take to clear (Retry-After).
const BUCKET_MS = 250;

export class Throughput {
  private readonly counts: number[];
  private readonly stamps: number[];

  constructor(private readonly windowMs = 5_000, private readonly now: () => number = Date.now) {
    const n = Math.max(1, Math.ceil(windowMs / BUCKET_MS));
    this.counts = new Array(n).fill(0);
    this.stamps = new Array(n).fill(-1);
  }

  record(): void {
    const slot = Math.floor(this.now() / BUCKET_MS);
    const i = slot % this.counts.length;
    if (this.stamps[i] !== slot) { this.stamps[i] = slot; this.counts[i] = 0; }
    this.counts[i]! += 1;
  }

  /** Completions per second over the window, or null before the first completion in it. */
  perSecond(): number | null {
    const slot = Math.floor(this.now() / BUCKET_MS);
    let total = 0;
    for (let i = 0; i < this.counts.length; i++) if (slot - this.stamps[i]! < this.counts.length) total += this.counts[i]!;
    return total === 0 ? null : total / (this.windowMs / 1_000);
  }
}
