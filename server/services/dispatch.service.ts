// One dispatch round: find candidates, offer to a batch, record the round. Runs as a
// BullMQ job; safe to run twice or concurrently (the incident row lock serialises it,
// and a round with offers still pending does nothing, unless a linked report raised
// the severity since its offers went out: then it tops them up to the new batch size).
import { isFinalState, SEVERITY_RANK, type Severity } from '../../shared/domain.ts';
import { findCandidates } from '../geo/matcher.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import { getIncident, lockIncident, setDeadline, type IncidentRow } from '../store/incidents.store.ts';
import { countPending, insertOffers, type Candidate, type OfferRow } from '../store/offers.store.ts';
import { enqueue, enqueueMany } from '../store/outbox.store.ts';
import type { Tx } from '../db.ts';
import type { IncidentView } from '../../shared/types.ts';
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

/**
 * Offers still wanted for the pending round: none, unless a linked report raised the
 * severity since its offers went out (the machine keeps the severity a round was sized
 * for). An incident whose severity never rose keeps one batch per round, as before.
 */
function topUpWanted(ctx: ServiceContext, row: IncidentRow, pending: number): number {
  const { severity, roundSeverity } = row.snapshot.context;
  if (pending === 0 || !severity || !roundSeverity || SEVERITY_RANK[severity] >= SEVERITY_RANK[roundSeverity]) return 0;
  return Math.max(0, batchSize(ctx, severity) - pending);
}

export async function runDispatchRound(ctx: ServiceContext, positions: HeroPositions, incidentId: string): Promise<RoundOutcome> {
  const [row, pendingBefore] = await Promise.all([getIncident(ctx.sql, incidentId), countPending(ctx.sql, incidentId)]);
  if (!row || isFinalState(row.state) || !DISPATCHABLE.has(row.state)) return 'gone';
  const slot = openSlot(row);
  if (slot === null) return 'filled';
  if (pendingBefore > 0 && topUpWanted(ctx, row, pendingBefore) === 0) return 'pending';

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
    if (pending > 0) {
      const more = topUpWanted(ctx, locked, pending);
      return more > 0 ? topUp(ctx, tx, locked, lockedSlot, more, candidates, radiusKm) : 'pending';
    }

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
    sendOffers(tx, offers, view);
    if (locked.snapshot.context.round === 0) ctx.metrics.reportToFirstOffer.observe((Date.now() - locked.created_at.getTime()) / 1000);
    ctx.metrics.offersTotal.inc({ outcome: 'sent' }, offers.length);
    ctx.log.info({ incidentId, offered, radiusKm, round: saved.snapshot.context.round }, 'offers sent');
    return 'offered';
  });
}

function sendOffers(tx: Tx, offers: OfferRow[], view: IncidentView): void {
  enqueueMany(tx, offers.flatMap((offer) => {
    const push = { offerId: offer.id, incident: view, distanceKm: Math.round(offer.distance_km * 1000) / 1000, expiresAt: offer.expires_at.getTime() };
    return [
      { topic: 'push:offer' as const, payload: { heroId: offer.hero_id, offer: push }, incidentId: offer.incident_id },
      { topic: 'offer:expire' as const, payload: { offerId: offer.id, incidentId: offer.incident_id, expiresAt: push.expiresAt }, incidentId: offer.incident_id },
    ];
  }));
}

/**
 * The pending round's slot gets `more` offers at once, carrying the raised severity
 * (a critical offer starts the notification chain without delay). It stays the same
 * round: the rounds that lead to escalation are not spent faster.
 */
async function topUp(ctx: ServiceContext, tx: Tx, row: IncidentRow, slot: number, more: number, candidates: Candidate[], radiusKm: number): Promise<RoundOutcome> {
  const { config } = ctx;
  const expiresAt = new Date(Date.now() + config.OFFER_TIMEOUT_MS);
  const offers = await insertOffers(tx, {
    incidentId: row.id, slot, round: row.snapshot.context.round,
    skill: row.snapshot.context.slots[slot]?.skill ?? null,
    candidates: candidates.map((c) => ({ heroId: c.heroId, distanceKm: c.distanceKm })),
    batch: more, expiresAt, retryExpired: row.state === 'escalated',
  });
  // Nobody else free: the pending offers stand; the next round is sized for the new severity.
  if (offers.length === 0) return 'pending';
  const offered = offers.map((o) => o.hero_id);
  const deadlineAt = new Date(Math.max(expiresAt.getTime() + config.DISPATCH_DEADLINE_MS, row.deadline_at?.getTime() ?? 0));
  const { view } = await applyEvent(ctx, tx, row, { type: 'TOP_UP', offered, radiusKm }, { actor: 'system:dispatch', deadlineAt, heroes: offered });
  sendOffers(tx, offers, view);
  ctx.metrics.offersTotal.inc({ outcome: 'sent' }, offers.length);
  ctx.log.info({ incidentId: row.id, offered, severity: row.severity }, 'offers topped up after a severity rise');
  return 'offered';
}
