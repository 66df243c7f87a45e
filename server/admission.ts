// Admission control for reports in a burst. At most `concurrency` report transactions
// run at once; the rest wait in a queue ordered by severity (critical first). When the
// queue is full, or a report has waited too long, it is answered 503 with Retry-After:
// refused before anything was written, so nothing answered 2xx is ever dropped.
import { SEVERITY_RANK, type Severity } from '../shared/domain.ts';
import { PriorityLimiter } from './concurrency/priority-limiter.ts';
import { AppError } from './errors.ts';

export class Admission {
  private readonly limiter: PriorityLimiter;

  constructor(opts: { concurrency: number; maxQueue: number; maxWaitMs: number }) {
    this.limiter = new PriorityLimiter({ concurrency: opts.concurrency, maxWaiting: opts.maxQueue, maxWaitMs: opts.maxWaitMs, refusal: overloaded });
  }

  get waiting(): number {
    return this.limiter.waiting;
  }

  run<T>(severity: Severity, work: () => Promise<T>): Promise<T> {
    return this.limiter.run(SEVERITY_RANK[severity], work);
  }
}

function overloaded(): AppError {
  return new AppError('unavailable', 'Too many reports are being processed right now; your report was NOT recorded. Retry in a moment with the same Idempotency-Key.', { retryAfterS: 1 });
}
