// Notifications beyond the socket, as the dispatch domain sees them: who is still
// worth waking, what a dead letter means, and when an offer was seen. The Notifier
// (server/notify/) asks these through notificationHooks.
import type { NotifierDeps, NotifyRequest } from '../notify/notifier.ts';
import type { Message } from '../notify/providers.ts';
import { enqueue } from '../outbox/outbox.buffer.ts';
import { insertDeadLetter } from '../store/dead-letters.store.ts';
import { markOfferSeen as markSeen, offerWakeState } from '../store/offers.store.ts';
import { inTx, type ServiceContext } from './context.ts';

/** What the Notifier asks the dispatch domain while it escalates. */
export type NotificationHooks = Pick<NotifierDeps, 'stillWanted' | 'onDelivered' | 'onDeadLetter'>;

export function notificationHooks(ctx: ServiceContext): NotificationHooks {
  return {
    stillWanted: (req) => stillWanted(ctx, req),
    onDelivered: (msg) => ctx.metrics.notificationsTotal.inc({ channel: msg.channel, outcome: 'delivered' }),
    onDeadLetter: (msg, error) => deadLetter(ctx, msg, error),
  };
}

/** The hero's app acknowledged the offer: no need to wake them another way. */
export async function markOfferSeen(ctx: ServiceContext, offerId: string): Promise<void> {
  await markSeen(ctx.sql, offerId);
}

/**
 * Keep escalating while the offer is unanswered. For a critical incident every channel
 * is used until the hero answers; otherwise only if the app never acknowledged it.
 */
export async function stillWanted(ctx: ServiceContext, req: NotifyRequest & { critical?: boolean }): Promise<boolean> {
  const offer = await offerWakeState(ctx.sql, req.offerId);
  return offer !== null && offer.state === 'pending' && (offer.critical || !offer.seen);
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
