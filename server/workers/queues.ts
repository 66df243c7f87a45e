// BullMQ queues for dispatch rounds, offer expiry, sweeps and retention. BullMQ is at least once and a
// job id de-duplicates only while the job exists: every handler is idempotent.
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { SEVERITY_RANK, type Severity } from '../../shared/domain.ts';
import type { Logger } from '../log.ts';

export interface DispatchJob { incidentId: string }
export interface ExpiryJob { offerId: string; incidentId: string }

export interface QueueHandlers {
  dispatch: (job: DispatchJob) => Promise<unknown>;
  expire: (job: ExpiryJob) => Promise<unknown>;
  sweep: () => Promise<unknown>;
  retention: () => Promise<unknown>;
}


const JOB_DEFAULTS = {
  removeOnComplete: true,
  removeOnFail: 1000,
  attempts: 6,
  backoff: { type: 'exponential' as const, delay: 200 },
};

export class Queues {
  readonly dispatch: Queue<DispatchJob>;
  readonly expiry: Queue<ExpiryJob>;
  readonly sweeps: Queue;
  readonly retention: Queue;
  private workers: Worker[] = [];

  /**
   * `producer` fails fast (adds must not hang the outbox relay while Redis is away);
   * `connection` is for workers, whose blocking reads must wait forever.
   */
  constructor(producer: Redis, private readonly connection: Redis, private readonly prefix: string, private readonly log: Logger) {
    this.dispatch = new Queue<DispatchJob>('dispatch', { connection: producer, prefix });
    this.expiry = new Queue<ExpiryJob>('expiry', { connection: producer, prefix });
    this.sweeps = new Queue('sweep', { connection: producer, prefix });
    this.retention = new Queue('retention', { connection: producer, prefix });
    // Without a listener BullMQ prints every connection error while Redis is away.
    for (const q of [this.dispatch, this.expiry, this.sweeps, this.retention]) q.on('error', (err) => log.warn({ queue: q.name, err }, 'queue error'));
  }

  /**
   * One sweep per interval for the whole cluster. Every process checks, once per
   * interval, that the scheduler still exists: a Redis that restarted empty forgot it.
   * Returns true when it had to be created (Redis lost its data: sweep now).
   */
  async ensureSweeps(everyMs: number): Promise<boolean> {
    if (await this.sweeps.getJobScheduler('sweeper')) return false;
    await this.sweeps.upsertJobScheduler('sweeper', { every: everyMs }, { name: 'sweep', opts: { removeOnComplete: true, removeOnFail: 100 } });
    return true;
  }

  /** One retention run per interval for the whole cluster, kept scheduled as the sweeps are. */
  async ensureRetention(everyMs: number): Promise<boolean> {
    if (await this.retention.getJobScheduler('retention')) return false;
    await this.retention.upsertJobScheduler('retention', { every: everyMs }, { name: 'retention', opts: { removeOnComplete: true, removeOnFail: 100 } });
    return true;
  }

  /**
   * `key` makes the add idempotent: the outbox row id, so a re-relayed row adds nothing.
   * In a burst, waiting rounds run critical first (BullMQ: lower priority number first).
   */
  async addDispatch(incidentId: string, key: string, delayMs: number, severity: Severity): Promise<void> {
    await this.dispatch.add('round', { incidentId }, {
      ...JOB_DEFAULTS, jobId: `dispatch-${incidentId}-${key}`, delay: Math.max(0, delayMs), priority: SEVERITY_RANK[severity] + 1, // BullMQ: 0 is no priority
    });
  }

  async addExpiry(offerId: string, incidentId: string, expiresAt: number): Promise<void> {
    // The delay is computed from the deadline right before enqueueing (DESIGN §4).
    await this.expiry.add('expire', { offerId, incidentId }, { ...JOB_DEFAULTS, jobId: `offer-${offerId}`, delay: Math.max(0, expiresAt - Date.now()) });
  }

  startWorkers(handlers: QueueHandlers, concurrency = 16): void {
    const make = <T>(name: string, run: (data: T) => Promise<unknown>) => {
      const worker = new Worker<T>(name, async (job: Job<T>) => run(job.data), { connection: this.connection, prefix: this.prefix, concurrency });
      worker.on('failed', (job, err) => this.log.warn({ queue: name, jobId: job?.id, attempts: job?.attemptsMade, err }, 'job failed'));
      worker.on('error', (err) => this.log.error({ queue: name, err }, 'worker error'));
      this.workers.push(worker);
    };
    make<DispatchJob>('dispatch', handlers.dispatch);
    make<ExpiryJob>('expiry', handlers.expire);
    const sweeper = new Worker('sweep', () => handlers.sweep(), { connection: this.connection, prefix: this.prefix, concurrency: 1 });
    sweeper.on('error', (err) => this.log.error({ queue: 'sweep', err }, 'worker error'));
    this.workers.push(sweeper);
    const retention = new Worker('retention', () => handlers.retention(), { connection: this.connection, prefix: this.prefix, concurrency: 1 });
    retention.on('failed', (job, err) => this.log.warn({ queue: 'retention', jobId: job?.id, err }, 'retention run failed'));
    retention.on('error', (err) => this.log.error({ queue: 'retention', err }, 'worker error'));
    this.workers.push(retention);
  }

  async depths(): Promise<Record<string, Record<string, number>>> {
    const states = ['waiting', 'active', 'delayed', 'failed'] as const;
    const [dispatch, expiry] = await Promise.all([this.dispatch.getJobCounts(...states), this.expiry.getJobCounts(...states)]);
    return { dispatch, expiry };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.close()));
    await Promise.allSettled([this.dispatch.close(), this.expiry.close(), this.sweeps.close(), this.retention.close()]);
  }
}
