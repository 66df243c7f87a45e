// One dispatch round: find candidates, offer to a batch, record the round. Runs as a
// BullMQ job; safe to run twice or concurrently (the incident row lock serialises it,
// and a round with offers still pending does nothing).
import { isFinalState, type Severity } from '../../shared/domain.ts';
import { findCandidates } from '../geo/matcher.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import { getIncident, lockIncident, setDeadline, type IncidentRow } from '../store/incidents.store.ts';
import { countPending, insertOffers } from '../store/offers.store.ts';
import { enqueue, enqueueMany } from '../store/outbox.store.ts';
import { inTx, type ServiceContext } from './context.ts';
import { applyEvent } from './incident.runner.ts';

export type RoundOutcome = 'gone' | 'filled' | 'pending' | 'offered' | 'nobody';

/** States in which an incident still looks for heroes. */
export const DISPATCHABLE: ReadonlySet<string> = new Set(['reported', 'dispatching', 'escalated']);

/** The first slot nobody fills yet, or null when every slot is filled. */
export function openSlot(row: IncidentRow): number | null {
  const { slots, filled } = row.snapshot.context;
  const idx = slots.findIndex((_, i) => !filled.some((f) => f.slot === i));
  return idx < 0 ? null : idx;
}

// Postgres filters candidates by skill and by who already declined, so it needs a
// generous pool to choose from, not just the nearest few.
const candidatePool = (batch: number) => Math.max(batch * 4, 40);

function batchSize(ctx: ServiceContext, severity: Severity): number {
  const c = ctx.config;
  return { critical: c.OFFER_BATCH_CRITICAL, high: c.OFFER_BATCH_HIGH, medium: c.OFFER_BATCH_MEDIUM, low: c.OFFER_BATCH_LOW }[severity];
}

export async function runDispatchRound(ctx: ServiceContext, positions: HeroPositions, incidentId: string): Promise<RoundOutcome> {
  const [row, pendingBefore] = await Promise.all([getIncident(ctx.sql, incidentId), countPending(ctx.sql, incidentId)]);
  if (!row || isFinalState(row.state) || !DISPATCHABLE.has(row.state)) return 'gone';
  const slot = openSlot(row);
  if (slot === null) return 'filled';
  if (pendingBefore > 0) return 'pending';

  // Search outside the transaction: Redis round trips must not hold row locks.
  const { config } = ctx;
  const batch = batchSize(ctx, row.severity);
  let radiusKm = Math.min(config.DISPATCH_BASE_RADIUS_KM * 2 ** row.snapshot.context.round, config.DISPATCH_MAX_RADIUS_KM);
  const center = { lat: row.lat, lng: row.lng };
  let candidates = await findCandidates(positions, { center, radiusKm, limit: candidatePool(batch), freshMs: config.LOCATION_FRESH_MS });
  while (candidates.length === 0 && radiusKm < config.DISPATCH_MAX_RADIUS_KM) {
    radiusKm = Math.min(radiusKm * 2, config.DISPATCH_MAX_RADIUS_KM);
    candidates = await findCandidates(positions, { center, radiusKm, limit: candidatePool(batch), freshMs: config.LOCATION_FRESH_MS });
  }

  return inTx(ctx, 'dispatch round', async (tx): Promise<RoundOutcome> => {
    // Sent together, run in order: the count is read with the lock held.
    const [locked, pending] = await Promise.all([lockIncident(tx, incidentId), countPending(tx, incidentId)]);
    if (!locked || !DISPATCHABLE.has(locked.state)) return 'gone';
    const lockedSlot = openSlot(locked);
    if (lockedSlot === null) return 'filled';
    if (pending > 0) return 'pending';

    const expiresAt = new Date(Date.now() + config.OFFER_TIMEOUT_MS);
    const offers = await insertOffers(tx, {
      incidentId, slot: lockedSlot, round: locked.snapshot.context.round + 1,
      skill: locked.snapshot.context.slots[lockedSlot]?.skill ?? null,
      candidates: candidates.map((c) => ({ heroId: c.heroId, distanceKm: c.distanceKm })),
      batch, expiresAt, retryExpired: locked.state === 'escalated',
    });
    const offered = offers.map((o) => o.hero_id);
    if (offers.length === 0 && locked.state === 'escalated') {
      // Humans were alerted already; a retry that finds nobody again changes nothing
      // worth an audit row and a push to every screen.
      enqueue(tx, 'dispatch', { incidentId, delayMs: config.ESCALATED_RETRY_MS, severity: locked.severity }, incidentId);
      await setDeadline(tx, incidentId, new Date(Date.now() + config.ESCALATED_RETRY_MS + config.DISPATCH_DEADLINE_MS));
      return 'nobody';
    }
    const { row: saved, view } = await applyEvent(ctx, tx, locked, { type: 'ROUND', offered, radiusKm }, {
      actor: 'system:dispatch', deadlineAt: new Date(expiresAt.getTime() + config.DISPATCH_DEADLINE_MS), heroes: offered,
    });

    if (offers.length === 0) {
      // Nobody free in range: try again later, slower once humans have been alerted
      // (by the state after this round, which may just have escalated).
      const delayMs = saved.state === 'escalated' ? config.ESCALATED_RETRY_MS : config.DISPATCH_RETRY_MS;
      enqueue(tx, 'dispatch', { incidentId, delayMs, severity: locked.severity }, incidentId);
      await setDeadline(tx, incidentId, new Date(Date.now() + delayMs + config.DISPATCH_DEADLINE_MS));
      return 'nobody';
    }
    enqueueMany(tx, offers.flatMap((offer) => {
      const push = { offerId: offer.id, incident: view, distanceKm: Math.round(offer.distance_km * 1000) / 1000, expiresAt: offer.expires_at.getTime() };
      return [
        { topic: 'push:offer' as const, payload: { heroId: offer.hero_id, offer: push }, incidentId },
        { topic: 'offer:expire' as const, payload: { offerId: offer.id, incidentId, expiresAt: push.expiresAt }, incidentId },
      ];
    }));
    if (locked.snapshot.context.round === 0) ctx.metrics.reportToFirstOffer.observe((Date.now() - locked.created_at.getTime()) / 1000);
    ctx.metrics.offersTotal.inc({ outcome: 'sent' }, offers.length);
    ctx.log.info({ incidentId, offered, radiusKm, round: saved.snapshot.context.round }, 'offers sent');
    return 'offered';
  });
}
