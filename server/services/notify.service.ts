// Notifications beyond the socket, as the dispatch domain sees them: who is still
// worth waking, what a dead letter means, and when an offer was seen. The Notifier
// (server/notify/) asks these through notificationHooks.
import type { NotifierDeps, NotifyRequest } from '../notify/notifier.ts';
import type { Message } from '../notify/providers.ts';
import { enqueue } from '../outbox/outbox.buffer.ts';
import { insertDeadLetter } from '../store/dead-letters.store.ts';
import { TickBatch } from '../concurrency/tick-batch.ts';
import type { Sql } from '../db.ts';
import { markOffersSeen, offerWakeStates, type OfferWakeState } from '../store/offers.store.ts';
import { inTx, type ServiceContext } from './context.ts';

/** What the Notifier asks the dispatch domain while it escalates. */
export type NotificationHooks = Pick<NotifierDeps, 'stillWanted' | 'onDelivered' | 'onDeadLetter'>;

/**
 * Offer acks and wake checks, each turn's worth in one statement: a critical round's 50
 * offers bring 50 acks and 50 immediate push jobs back within milliseconds of each other.
 */
export class OfferWake {
  private readonly seen: TickBatch<string, true>;
  private readonly states: TickBatch<string, OfferWakeState>;

  constructor(db: Sql) {
    this.seen = new TickBatch(async (ids) => { await markOffersSeen(db, ids); return new Map(); });
    this.states = new TickBatch((ids) => offerWakeStates(db, ids));
  }

  /** The hero's app acknowledged the offer: no need to wake them another way. */
  async markSeen(offerId: string): Promise<void> {
    await this.seen.get(offerId);
  }

  state(offerId: string): Promise<OfferWakeState | undefined> {
    return this.states.get(offerId);
  }
}

export function notificationHooks(ctx: ServiceContext, wake: OfferWake): NotificationHooks {
  return {
    stillWanted: (req) => stillWanted(wake, req),
    onDelivered: (msg) => ctx.metrics.notificationsTotal.inc({ channel: msg.channel, outcome: 'delivered' }),
    onDeadLetter: (msg, error) => deadLetter(ctx, msg, error),
  };
}

/**
 * Keep escalating while the offer is unanswered. For a critical incident every channel
 * is used until the hero answers; otherwise only if the app never acknowledged it.
 */
export async function stillWanted(wake: OfferWake, req: NotifyRequest): Promise<boolean> {
  const offer = await wake.state(req.offerId);
  return offer !== undefined && offer.state === 'pending' && (offer.critical || !offer.seen);
}

export async function deadLetter(ctx: ServiceContext, msg: Message, error: string): Promise<void> {
  await inTx(ctx, 'dead letter', async (tx) => {
    if (!(await insertDeadLetter(tx, msg, error))) return;
    enqueue(tx, 'alert', {
      type: 'delivery_failed', incidentId: msg.incidentId, heroId: msg.heroId, at: Date.now(),
      detail: `${msg.channel} to hero about offer ${msg.offerId} failed after every retry: ${error.slice(0, 200)}`,
    }, msg.incidentId);
  });
  ctx.metrics.notificationsTotal.inc({ channel: msg.channel, outcome: 'dead_letter' });
  ctx.log.error({ incidentId: msg.incidentId, heroId: msg.heroId, channel: msg.channel, key: msg.key, error }, 'notification dead-lettered');
}
