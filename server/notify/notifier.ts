// Escalation beyond the socket (DESIGN §3 "Notify"): push, then SMS, then voice.
// One BullMQ job per channel message; the job for the next channel is added only
// once the current one settled (delivered, or dead-lettered after its attempts),
// so the order holds and a failed push never stops the SMS.
//
// BullMQ is at least once and a job id de-duplicates only while the job exists
// (DESIGN §4), and ioredis may re-send a write after a reconnect. So: every message
// carries an idempotency key for the provider, and each "do this once per offer"
// step (add a channel's job, raise a dead letter) first claims a Redis marker that
// outlives the removed job.
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { CHANNELS, createProvider, type Channel, type Message, type Provider } from './providers.ts';

export interface NotifyRequest { heroId: string; offerId: string; incidentId: string; text: string }

export interface NotifierDeps {
  /** ioredis with `maxRetriesPerRequest: null` (the worker blocks on it). */
  connection: Redis;
  /**
   * Adds and markers: a connection that fails fast, so an escalation started from the
   * outbox fails its row for a later pass while Redis is away instead of hanging. The
   * worker's connection when absent.
   */
  producer?: Redis;
  prefix: string;
  provider: Provider;
  log: Logger;
  /** Wait before moving on to the next channel. */
  stepMs: number;
  /** Provider calls per message, first one included. */
  attempts: number;
  /** Exponential backoff base between attempts of one message. */
  backoffMs: number;
  /** E.g. "the offer is still pending"; checked before every attempt of every channel. */
  stillWanted(req: NotifyRequest): Promise<boolean>;
  onDelivered?(msg: Message): void;
  /** Called once per message that exhausted its attempts (raise a dispatcher alert). */
  onDeadLetter(msg: Message, error: string): Promise<void>;
}

/** The provider and the escalation's pace, as configured. */
export function notifierSettings(config: Config, log: Logger): Pick<NotifierDeps, 'provider' | 'stepMs' | 'attempts' | 'backoffMs'> {
  return {
    provider: createProvider(config.NOTIFY_PROVIDER, { log, url: config.NOTIFY_WEBHOOK_URL, timeoutMs: config.NOTIFY_TIMEOUT_MS }),
    stepMs: config.NOTIFY_STEP_MS, attempts: config.NOTIFY_ATTEMPTS, backoffMs: config.NOTIFY_BACKOFF_MS,
  };
}

interface NotifyJob { req: NotifyRequest; channel: Channel }
type Outcome = 'delivered' | 'dead-letter' | 'unwanted';

const QUEUE = 'notify';
/** Markers outlive any chain by far; they only guard against late duplicates. */
const MARKER_TTL_MS = 24 * 3_600_000;

export const messageKey = (offerId: string, channel: Channel): string => `${offerId}-${channel}`;
// BullMQ refuses ':' in custom job ids.
export const notifyJobId = (offerId: string, channel: Channel): string => `notify-${offerId}-${channel}`;

export class Notifier {
  private readonly queue: Queue<NotifyJob>;
  /** The BullMQ queue, for read-only views (the operators' queue page). */
  get bullQueue(): Queue { return this.queue; }
  private worker: Worker<NotifyJob, Outcome> | undefined;
  private get producer(): Redis { return this.deps.producer ?? this.deps.connection; }

  constructor(private readonly deps: NotifierDeps) {
    if (!(deps.attempts >= 1)) throw new Error('Notifier needs attempts >= 1');
    this.queue = new Queue<NotifyJob>(QUEUE, { connection: this.producer, prefix: deps.prefix });
    this.queue.on('error', (err) => deps.log.error({ err }, 'notify queue error'));
  }

  start(concurrency = 8): void {
    if (this.worker) return;
    const { connection, prefix, log } = this.deps;
    const worker = new Worker<NotifyJob, Outcome>(QUEUE, (job) => this.run(job), { connection, prefix, concurrency });
    // Emitted for every failed attempt, retried or not; the final one is handled in run().
    worker.on('failed', (job, err) => log.warn({
      incidentId: job?.data.req.incidentId, offerId: job?.data.req.offerId, channel: job?.data.channel,
      jobId: job?.id, attemptsMade: job?.attemptsMade, err: err.message,
    }, 'notification attempt failed'));
    worker.on('error', (err) => log.error({ err }, 'notify worker error'));
    this.worker = worker;
  }

  /** Starts the chain with push after `firstDelayMs`. Idempotent per offer. */
  async escalate(req: NotifyRequest, firstDelayMs: number): Promise<void> {
    await this.enqueueOnce(req, CHANNELS[0]!, firstDelayMs);
  }

  async close(): Promise<void> {
    // The worker first: it finishes (or gives up on) its active jobs before the queue goes.
    await this.worker?.close();
    await this.queue.close();
  }

  private async run(job: Job<NotifyJob>): Promise<Outcome> {
    const { req, channel } = job.data;
    const { heroId, offerId, incidentId, text } = req;
    const msg: Message = { key: messageKey(offerId, channel), channel, heroId, offerId, incidentId, text };
    // attemptsMade counts finished attempts, so this run is the last when it reaches attempts - 1.
    const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    try {
      // Asked on every attempt: an accept during the retries stops the chain at once.
      if (!(await this.deps.stillWanted(req))) {
        this.deps.log.info({ incidentId, offerId, channel }, 'notification no longer wanted: chain stops');
        return 'unwanted';
      }
      await this.deps.provider.send(msg);
    } catch (err) {
      if (!last) throw err; // BullMQ retries with exponential backoff
      // Handled here rather than in the 'failed' event, which is local and lost on a
      // crash; a job that completes also leaves nothing behind in the failed set.
      await this.deadLetter(msg, err instanceof Error ? err.message : String(err));
      await this.next(req, channel);
      return 'dead-letter';
    }
    try {
      this.deps.onDelivered?.(msg);
    } catch (err) {
      this.deps.log.error({ incidentId, err }, 'onDelivered threw'); // must not re-send
    }
    await this.next(req, channel);
    return 'delivered';
  }

  private async next(req: NotifyRequest, channel: Channel): Promise<void> {
    const following = CHANNELS[CHANNELS.indexOf(channel) + 1];
    if (!following) {
      this.deps.log.info({ incidentId: req.incidentId, offerId: req.offerId }, 'notification chain finished');
      return;
    }
    await this.enqueueOnce(req, following, this.deps.stepMs);
  }

  private async enqueueOnce(req: NotifyRequest, channel: Channel, delayMs: number): Promise<void> {
    const jobId = notifyJobId(req.offerId, channel);
    // The job id alone stops duplicates only while the job exists: a repeat after push
    // completed (and was removed) would start a second chain.
    const marker = await this.claimOnce('once', jobId);
    if (!marker) return;
    try {
      await this.queue.add(channel, { req, channel }, {
        jobId, delay: Math.max(0, delayMs),
        attempts: this.deps.attempts, backoff: { type: 'exponential', delay: this.deps.backoffMs },
        removeOnComplete: true, removeOnFail: 1000,
      });
    } catch (err) {
      // Let the caller's retry (or this job's retry) add it again.
      await this.producer.del(marker).catch(() => undefined);
      throw err;
    }
  }

  private async deadLetter(msg: Message, error: string): Promise<void> {
    // A final attempt re-run after a stall must not raise a second alert.
    if (!(await this.claimOnce('dead', msg.key))) return;
    this.deps.log.error({ incidentId: msg.incidentId, offerId: msg.offerId, channel: msg.channel, key: msg.key, error }, 'notification dead-lettered');
    try {
      await this.deps.onDeadLetter(msg, error);
    } catch (err) {
      // The next channel matters more than the alert: log it and keep escalating.
      this.deps.log.error({ incidentId: msg.incidentId, key: msg.key, err }, 'dead-letter handler failed');
    }
  }

  /** SET NX with our own token: a re-sent SET after a reconnect still finds it ours. */
  private async claimOnce(kind: 'once' | 'dead', id: string): Promise<string | null> {
    const key = `${this.deps.prefix}:notify-${kind}:${id}`;
    const token = randomUUID();
    const set = await this.producer.set(key, token, 'PX', MARKER_TTL_MS, 'NX');
    if (set === 'OK' || (await this.producer.get(key)) === token) return key;
    return null;
  }
}
