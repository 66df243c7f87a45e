// Admission control for reports in a burst. At most `concurrency` report transactions
// run at once; the rest wait in a queue ordered by severity (critical first). When the
// queue is full, or a report has waited too long, it is answered 503 with Retry-After:
// refused before anything was written, so nothing answered 2xx is ever dropped.
//
// Retry-After is the server's lever over the herd of retries: it is the time the work
// ahead of this report (as urgent or more, plus what runs now) takes to clear at the
// rate reports have been finishing, stretched by a random factor from 1 to 2 so that
// clients refused together come back spread out instead of all at once. Before any
// report has finished there is no rate to go by, and the answer is 1 s.
import { SEVERITY_RANK, type Severity } from '../shared/domain.ts';
import { PriorityLimiter } from './concurrency/priority-limiter.ts';
import { Throughput } from './concurrency/throughput.ts';
import { AppError } from './errors.ts';

/** What a refused report's client is told (a 503 problem's detail). */
export const SHED_DETAIL = 'Too many reports are being processed right now; your report was NOT recorded. Retry in a moment with the same Idempotency-Key.';

/** The longest Retry-After we send: a client is never told to stay away for long. */
export const MAX_RETRY_AFTER_S = 60;

export interface AdmissionOptions {
  concurrency: number;
  /** Critical reports written at once beyond `concurrency` (default 0). */
  criticalReserve?: number;
  maxQueue: number;
  maxWaitMs: number;
  /**
   * The event loop's delay (p99 of a window) the gate keeps under: above it, fewer
   * reports are written at once (down to `minConcurrency`); well below it, more (up to
   * `concurrency`). 0: a fixed concurrency.
   */
  loopDelayMs?: number;
  minConcurrency?: number;
  /** Told how many reports `shed` refused since it was last told, and over how long: at most once a second. */
  onShed?: (refused: number, overMs: number) => void;
  /** For tests: the clock of the throughput window and the jitter's source. */
  now?: () => number;
  random?: () => number;
}

/** Seconds until a refused report should come back: the backlog ahead over the rate, jittered ×[1, 2). */
export function retryAfterFor(ahead: number, perSecond: number | null, jitter: number): number {
  if (perSecond === null || perSecond <= 0) return 1;
  const clearS = ahead / perSecond;
  return Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(clearS * (1 + jitter))));
}

export class Admission {
  private readonly limiter: PriorityLimiter;
  private readonly finished: Throughput;
  private readonly random: () => number;
  private readonly now: () => number;
  private shedCount = 0;
  private shedToldAt = 0;

  constructor(private readonly opts: AdmissionOptions) {
    this.finished = new Throughput(5_000, opts.now);
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.shedToldAt = this.now();
    this.limiter = new PriorityLimiter({
      concurrency: opts.concurrency, urgentReserve: opts.criticalReserve ?? 0, maxWaiting: opts.maxQueue, maxWaitMs: opts.maxWaitMs,
      refusal: (rank) => this.overloaded(rank),
    });
  }

  get waiting(): number {
    return this.limiter.waiting;
  }

  /** Reports written at once now (lowered while the event loop is late). */
  get concurrency(): number {
    return this.limiter.limit;
  }

  /**
   * One window's event-loop delay (LoopDelay): over the target, a third fewer reports
   * are written at once; under half of it, a sixteenth of the maximum more. Critical
   * reports still go first in the queue, and a loop with room answers them sooner.
   */
  adjust(loopDelayP99Ms: number): void {
    const target = this.opts.loopDelayMs ?? 0;
    if (target <= 0) return;
    const max = this.opts.concurrency;
    const min = Math.min(max, this.opts.minConcurrency ?? 1);
    const now = this.limiter.limit;
    if (loopDelayP99Ms > target) this.limiter.setConcurrency(Math.max(min, Math.floor(now * 0.67)));
    else if (loopDelayP99Ms < target / 2 && now < max) this.limiter.setConcurrency(Math.min(max, now + Math.max(1, Math.ceil(max / 16))));
  }

  /**
   * When the gate would refuse this report anyway, the seconds its client should come
   * back after (Retry-After); otherwise null, and `run` still decides. Asked before any
   * work on the report: in a burst most reports end here, so a refusal costs no Redis or
   * Postgres round trip, and no error: nothing is thrown through the framework, and
   * nothing logged each time (`onShed` hears how many, at most once a second).
   */
  shed(severity: Severity): number | null {
    const rank = SEVERITY_RANK[severity];
    if (!this.limiter.wouldRefuse(rank) && !this.wouldTimeOut(rank)) return null;
    this.shedCount += 1;
    const now = this.now();
    if (now - this.shedToldAt >= 1_000) {
      this.opts.onShed?.(this.shedCount, now - this.shedToldAt);
      this.shedCount = 0;
      this.shedToldAt = now;
    }
    return this.retryAfter(rank);
  }

  /**
   * Whether a report of this rank would wait longer than `maxWaitMs` at the rate reports
   * finish: refused now, it costs nothing more; refused after its wait, it would have
   * held a place in the queue and told its client later. Critical reports wait.
   */
  private wouldTimeOut(rank: number): boolean {
    if (rank === 0) return false;
    const perSecond = this.finished.perSecond();
    if (perSecond === null) return false;
    const ahead = this.limiter.waitingAhead(rank) + Math.max(0, this.limiter.active - this.limiter.limit + 1);
    return (ahead / perSecond) * 1000 > this.opts.maxWaitMs;
  }

  async run<T>(severity: Severity, work: () => Promise<T>): Promise<T> {
    return this.limiter.run(SEVERITY_RANK[severity], async () => {
      try {
        return await work();
      } finally {
        this.finished.record();
      }
    });
  }

  private retryAfter(rank: number): number {
    const ahead = this.limiter.active + this.limiter.waitingAhead(rank);
    return retryAfterFor(ahead, this.finished.perSecond(), this.random());
  }

  private overloaded(rank: number): AppError {
    return new AppError('unavailable', SHED_DETAIL, { retryAfterS: this.retryAfter(rank) });
  }
}
