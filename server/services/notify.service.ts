// Notifications beyond the socket, as the dispatch domain sees them: who is still
// worth waking, what a dead letter means, and when an offer was seen.
import type { Message } from '../notify/providers.ts';
import type { NotifyRequest } from '../notify/notifier.ts';
import { enqueue } from '../store/outbox.store.ts';
import { inTx, type ServiceContext } from './context.ts';

/** The hero's app acknowledged the offer: no need to wake them another way. */
export async function markOfferSeen(ctx: ServiceContext, offerId: string): Promise<void> {
  await ctx.sql`update offers set seen_at = coalesce(seen_at, now()) where id = ${offerId}`;
}

/**
 * Keep escalating while the offer is unanswered. For a critical incident every channel
 * is used until the hero answers; otherwise only if the app never acknowledged it.
 */
export async function stillWanted(ctx: ServiceContext, req: NotifyRequest & { critical?: boolean }): Promise<boolean> {
  const [offer] = await ctx.sql<{ state: string; seen: boolean; critical: boolean }[]>`
    select o.state, o.seen_at is not null as seen, i.severity = 'critical' as critical
      from offers o join incidents i on i.id = o.incident_id where o.id = ${req.offerId}`;
  return offer !== undefined && offer.state === 'pending' && (offer.critical || !offer.seen);
}

export async function deadLetter(ctx: ServiceContext, msg: Message, error: string): Promise<void> {
  await inTx(ctx, 'dead letter', async (tx) => {
    const [fresh] = await tx`
      insert into notification_dead_letters (key, channel, hero_id, offer_id, incident_id, error)
      values (${msg.key}, ${msg.channel}, ${msg.heroId}, ${msg.offerId}, ${msg.incidentId}, ${error.slice(0, 1000)})
      on conflict do nothing returning key`;
    if (!fresh) return;
    enqueue(tx, 'alert', {
      type: 'delivery_failed', incidentId: msg.incidentId, heroId: msg.heroId, at: Date.now(),
      detail: `${msg.channel} to hero about offer ${msg.offerId} failed after every retry: ${error.slice(0, 200)}`,
    }, msg.incidentId);
  });
  ctx.metrics.notificationsTotal.inc({ channel: msg.channel, outcome: 'dead_letter' });
  ctx.log.error({ incidentId: msg.incidentId, heroId: msg.heroId, channel: msg.channel, key: msg.key, error }, 'notification dead-lettered');
}
