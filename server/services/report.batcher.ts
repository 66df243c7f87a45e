// Group commit for reports. Reports admitted at once are written together: while a
// batch's transaction runs, the reports that arrive wait, and the next batch takes them
// all (most urgent first, up to a bound). A lone report is written at once, with no
// timer to wait for: batching costs nothing when it is quiet and saves a transaction
// per report when it is not.
import { SEVERITY_RANK } from '../../shared/domain.ts';
import type { IncidentView } from '../../shared/types.ts';
import { AppError, isAppError } from '../errors.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import type { ServiceContext } from './context.ts';
import { commitReports, type Report, type ReportOutcome } from './report.service.ts';

export interface BatcherOptions {
  /** Reports in one transaction. */
  maxBatch: number;
  /** Batch transactions at once. */
  lanes: number;
  /** Where a lone report's heroes are searched for beside its transaction (report.first-round.ts). */
  positions?: HeroPositions;
}

interface Waiting { report: Report; rank: number; settle: (o: ReportOutcome) => void }

type Commit = (ctx: ServiceContext, reports: Report[], positions?: HeroPositions) => Promise<ReportOutcome[]>;

export class ReportBatcher {
  private queue: Waiting[] = [];
  private running = 0;
  private arrivals = 0;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly opts: BatcherOptions,
    private readonly commit: Commit = commitReports,
  ) {}

  /** Writes the report with whatever else is waiting. Rejects with the report's own refusal. */
  async submit(report: Report): Promise<{ created: boolean; incident: IncidentView }> {
    const outcome = await new Promise<ReportOutcome>((settle) => {
      const rank = SEVERITY_RANK[report.input.severity];
      const at = this.queue.findIndex((w) => w.rank > rank);
      const waiting = { report: { ...report, arrival: this.arrivals++ }, rank, settle };
      if (at < 0) this.queue.push(waiting);
      else this.queue.splice(at, 0, waiting);
      this.pump();
      this.ctx.metrics.reportsWaiting.set(this.queue.length);
    });
    if (!outcome.ok) throw outcome.error;
    return outcome;
  }

  private pump(): void {
    for (;;) {
      const batch = this.next();
      if (!batch) return;
      this.ctx.metrics.reportsWaiting.set(this.queue.length);
      this.running += 1;
      this.ctx.metrics.reportBatchSize.observe(batch.length);
      void this.write(batch).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  /**
   * The next batch to write, if a lane is free: everything waiting, most urgent first,
   * up to the bound. Critical reports have a lane of their own beyond the others: one
   * never waits behind a batch of thirty linked reports being written.
   */
  private next(): Waiting[] | null {
    if (this.queue.length === 0) return null;
    if (this.running < this.opts.lanes) return this.queue.splice(0, this.opts.maxBatch);
    if (this.running > this.opts.lanes || this.queue[0]!.rank !== 0) return null;
    const critical = this.queue.findIndex((w) => w.rank !== 0);
    return this.queue.splice(0, Math.min(this.opts.maxBatch, critical < 0 ? this.queue.length : critical));
  }

  private async write(batch: Waiting[]): Promise<void> {
    try {
      const outcomes = await this.commit(this.ctx, batch.map((w) => w.report), this.opts.positions);
      for (const [k, w] of batch.entries()) w.settle(outcomes[k]!);
    } catch (err) {
      // Nothing of the batch was written. When the database is away every report is told
      // to come back; otherwise one report may be what failed it, and the others must
      // not pay for it: each is written alone.
      if (batch.length === 1 || (isAppError(err) && err.code === 'unavailable')) {
        for (const w of batch) w.settle({ ok: false, error: asAppError(err) });
        return;
      }
      this.ctx.log.warn({ err, reports: batch.length }, 'a batch of reports failed; writing each alone');
      for (const w of batch) await this.write([w]);
    }
  }
}

function asAppError(err: unknown): AppError {
  return isAppError(err) ? err : new AppError('internal', 'the report could not be recorded', { cause: err });
}
