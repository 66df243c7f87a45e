// Carries out outbox rows after their transaction commits. Wakes on NOTIFY (and on a
// local kick), polls as a backstop, and claims rows with SKIP LOCKED so every process
// of a cluster can relay at once. A row is deleted only after its effect succeeded:
// effects run at least once and are idempotent.
import type { Sql } from '../db.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { claimOutbox, deleteOutbox, type OutboxRow } from '../store/outbox.store.ts';

export type OutboxExecutor = (rows: OutboxRow[]) => Promise<Set<string>>; // ids carried out

const BATCH = 200;

export class OutboxRelay {
  private running = false;
  private again = false;
  private stopped = false;
  private poll: NodeJS.Timeout | undefined;
  private current: Promise<void> = Promise.resolve();

  constructor(
    private readonly sql: Sql,
    private readonly execute: OutboxExecutor,
    private readonly opts: { pollMs: number; log: Logger; metrics: Metrics },
  ) {}

  start(): void {
    this.poll = setInterval(() => this.kick(), this.opts.pollMs);
    this.kick();
  }

  /** Runs a relay pass now, or right after the one under way. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) { this.again = true; return; }
    this.running = true;
    this.current = this.drain().finally(() => { this.running = false; });
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      try {
        while (!this.stopped && (await this.relayOnce()) === BATCH) { /* a full batch: more may wait */ }
      } catch (err) {
        this.opts.log.error({ err }, 'outbox relay pass failed; will retry');
      }
    } while (this.again && !this.stopped);
  }

  private async relayOnce(): Promise<number> {
    return (await this.sql.begin(async (tx) => {
      const rows = await claimOutbox(tx, BATCH);
      if (rows.length === 0) return 0;
      const done = await this.execute(rows);
      await deleteOutbox(tx, [...done]);
      for (const row of rows) {
        if (done.has(row.id)) this.opts.metrics.outboxRelayed.inc({ topic: row.topic });
        else this.opts.metrics.outboxFailures.inc({ topic: row.topic });
      }
      return done.size;
    })) as number;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    await this.current;
  }
}
