// One dispatch round: find candidates, offer to a batch, record the round. Runs as a
// BullMQ job; safe to run twice or concurrently (the incident row lock serialises it,
// and a round offers only slots with no offer pending, unless a linked report raised
// the severity since its offers went out: then it tops them up to the new batch size).
//
// Teams (PROTOCOL v1.1): every open slot without a pending offer is offered in the same
// round, to heroes with the slot's skill chosen together (server/geo/team-matcher.ts):
// OFFER_BATCH_CRITICAL heroes per slot when critical, one per slot otherwise. All slots
// at once, not slot by slot: the team's arrival is what matters, and slot by slot would
// cost one offer window per slot before the last member even hears of it.
import { isPartialTeam, openSlots } from '../../machines/incident.team.ts';
import { isFinalState, SEVERITY_RANK, type Severity } from '../../shared/domain.ts';
import { findCandidates } from '../geo/matcher.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import { chooseTeam } from '../geo/team-matcher.ts';
import { enqueue, enqueueMany } from '../outbox/outbox.buffer.ts';
import { getIncident, lockIncident, setDeadline, type IncidentRow } from '../store/incidents.store.ts';
import {
  freeCandidates, insertOffers, insertSlotOffers, pendingBySlot, type OfferRow, type SlotPick,
} from '../store/offers.store.ts';
import type { Tx } from '../db.ts';
import type { IncidentView } from '../../shared/types.ts';
import { traced } from '../telemetry/tracing.ts';
import { inTx, type ServiceContext } from './context.ts';
import { applyEvent } from './incident.runner.ts';
import { completeRankings, rankRound, teamRanking, withRankings, type RoundRanking } from './ranking.service.ts';

export type RoundOutcome = 'gone' | 'filled' | 'pending' | 'offered' | 'nobody';

/** States in which an incident still looks for heroes. */
export const DISPATCHABLE: ReadonlySet<string> = new Set(['reported', 'dispatching', 'escalated']);

/** The first slot nobody fills yet, or null when every slot is filled. */
export function openSlot(row: IncidentRow): number | null {
  return openSlots(row.snapshot.context)[0] ?? null;
}

// Postgres filters candidates by skill and by who already declined, so it needs a
// generous pool to choose from, not just the nearest few.
const candidatePool = (batch: number) => Math.max(batch * 4, 40);

function batchSize(ctx: ServiceContext, severity: Severity): number {
  const c = ctx.config;
  return { critical: c.OFFER_BATCH_CRITICAL, high: c.OFFER_BATCH_HIGH, medium: c.OFFER_BATCH_MEDIUM, low: c.OFFER_BATCH_LOW }[severity];
}

/**
 * Offers per open slot: a single-hero incident keeps its batch per severity (a critical
 * one's sized by the model when it ranks: `sized`, see ranking.service.ts); a team gets
 * a batch per slot when critical, else one hero per slot (every slot at once).
 */
function perSlot(ctx: ServiceContext, row: IncidentRow, sized: number | null): number {
  const team = row.snapshot.context.slots.length > 1;
  if (team) return row.severity === 'critical' ? batchSize(ctx, row.severity) : 1;
  return row.severity === 'critical' && sized !== null ? sized : batchSize(ctx, row.severity);
}

interface Want { slot: number; skill: string | null; more: number }

/**
 * What the round should offer: a full batch to every open slot with no offer pending
 * (a ROUND), and, if a linked report raised the severity since the round's offers went
 * out, more to the slots whose offers are pending (a TOP_UP when that is all). Null
 * when nothing is wanted: an incident whose severity never rose keeps one batch per
 * slot per round, as before.
 */
function offersWanted(ctx: ServiceContext, row: IncidentRow, pending: Map<number, number>, sized: number | null = null): { event: 'ROUND' | 'TOP_UP'; wants: Want[] } | null {
  const { slots, severity, roundSeverity } = row.snapshot.context;
  const size = perSlot(ctx, row, sized);
  const rose = !!severity && !!roundSeverity && SEVERITY_RANK[severity] < SEVERITY_RANK[roundSeverity];
  const open = openSlots(row.snapshot.context);
  const wants = open
    .map((slot) => {
      const out = pending.get(slot) ?? 0;
      return { slot, skill: slots[slot]?.skill ?? null, more: out === 0 ? size : rose ? Math.max(0, size - out) : 0 };
    })
    .filter((w) => w.more > 0);
  if (wants.length === 0) return null;
  return { event: open.some((slot) => !pending.get(slot)) ? 'ROUND' : 'TOP_UP', wants };
}

/**
 * The incident's deadline after a round. While a team is being assembled (a member
 * committed, a slot open) the deadline is the team's: rounds leave it be, and the
 * sweeper raises `team_incomplete` when it passes (server/workers/sweeper.ts).
 */
const roundDeadline = (row: IncidentRow, proposed: Date): Date | undefined =>
  isPartialTeam(row.snapshot.context) && row.deadline_at ? undefined : proposed;

/** The pace of retries: slower once humans were alerted (escalated, or an incomplete team). */
const retryDelay = (ctx: ServiceContext, row: IncidentRow, state: string): number =>
  state === 'escalated' || row.team_alerted_at ? ctx.config.ESCALATED_RETRY_MS : ctx.config.DISPATCH_RETRY_MS;

async function queueRetry(ctx: ServiceContext, tx: Tx, row: IncidentRow, delayMs: number): Promise<void> {
  enqueue(tx, 'dispatch', { incidentId: row.id, delayMs, severity: row.severity }, row.id);
  const deadline = roundDeadline(row, new Date(Date.now() + delayMs + ctx.config.DISPATCH_DEADLINE_MS));
  if (deadline) await setDeadline(tx, row.id, deadline);
}

export function runDispatchRound(ctx: ServiceContext, positions: HeroPositions, incidentId: string): Promise<RoundOutcome> {
  return traced('dispatch.round', { 'incident.id': incidentId }, async (span) => {
    const outcome = await round(ctx, positions, incidentId);
    span.setAttribute('dispatch.outcome', outcome);
    return outcome;
  });
}

async function round(ctx: ServiceContext, positions: HeroPositions, incidentId: string): Promise<RoundOutcome> {
  const [row, pendingBefore] = await Promise.all([getIncident(ctx.sql, incidentId), pendingBySlot(ctx.sql, incidentId)]);
  if (!row || isFinalState(row.state) || !DISPATCHABLE.has(row.state)) return 'gone';
  if (openSlot(row) === null) return 'filled';
  const planned = offersWanted(ctx, row, pendingBefore);
  if (!planned) return 'pending';

  // Search outside the transaction: Redis round trips must not hold row locks.
  const { config } = ctx;
  const pool = candidatePool(planned.wants.reduce((n, w) => n + w.more, 0));
  let radiusKm = roundRadiusKm(ctx, row.snapshot.context.round);
  const center = { lat: row.lat, lng: row.lng };
  const candidates = await traced('dispatch.search', { 'incident.id': incidentId }, async (span) => {
    let found = await findCandidates(positions, { center, radiusKm, limit: pool, freshMs: config.LOCATION_FRESH_MS });
    while (found.length === 0 && radiusKm < config.DISPATCH_MAX_RADIUS_KM) {
      radiusKm = Math.min(radiusKm * 2, config.DISPATCH_MAX_RADIUS_KM);
      found = await findCandidates(positions, { center, radiusKm, limit: pool, freshMs: config.LOCATION_FRESH_MS });
    }
    span.setAttributes({ 'dispatch.candidates': found.length, 'dispatch.radius_km': radiusKm });
    return found;
  });
  const batch = Math.max(...planned.wants.map((w) => w.more));

  return traced('dispatch.transaction', { 'incident.id': incidentId }, () => inTx(ctx, 'dispatch round', async (tx): Promise<RoundOutcome> => {
    // Sent together, run in order: the counts are read with the lock held, and the
    // candidates' histories (issue 16) ride along instead of costing a round trip
    // before the transaction; scoring them is a fraction of a millisecond.
    const [locked, pending, ranking] = await Promise.all([
      lockIncident(tx, incidentId), pendingBySlot(tx, incidentId),
      traced('dispatch.rank', { 'incident.id': incidentId }, () => rankRound(ctx, tx, row, candidates, batch)),
    ]);
    if (!locked || !DISPATCHABLE.has(locked.state)) return 'gone';
    return offerRound(ctx, tx, locked, pending, ranking, radiusKm);
  }, { priority: row.severity === 'critical' ? 'critical' : 'normal' }));
}

/**
 * A new single-hero incident's first search, as its first round would make it: the base
 * radius, a pool for one batch of its severity, and that batch (what ranking sizes).
 */
export function firstSearch(ctx: ServiceContext, severity: Severity): { radiusKm: number; limit: number; batch: number } {
  const batch = batchSize(ctx, severity);
  return { radiusKm: roundRadiusKm(ctx, 0), limit: candidatePool(batch), batch };
}

/** Where a round after `round` earlier ones starts looking: doubling from the base, up to the maximum. */
function roundRadiusKm(ctx: ServiceContext, round: number): number {
  return Math.min(ctx.config.DISPATCH_BASE_RADIUS_KM * 2 ** round, ctx.config.DISPATCH_MAX_RADIUS_KM);
}

/**
 * The round itself, in the caller's transaction, on the incident as locked there with
 * its pending offers per slot: the candidates as ranked, offers to the wanted slots,
 * the machine's ROUND (or TOP_UP), the retries and the pushes. The dispatch round runs
 * it; so does a lone new report's own transaction (report.service.ts), on the row it
 * just inserted.
 */
export async function offerRound(ctx: ServiceContext, tx: Tx, locked: IncidentRow, pending: Map<number, number>, ranking: RoundRanking, radiusKm: number): Promise<RoundOutcome> {
  const { config } = ctx;
  const incidentId = locked.id;
  if (openSlot(locked) === null) return 'filled';
  const plan = offersWanted(ctx, locked, pending, ranking.criticalBatch);
  if (!plan) return 'pending';
  const round = plan.event === 'ROUND';
  const expiresAt = new Date(Date.now() + config.OFFER_TIMEOUT_MS);
  const offers = await makeOffers(tx, locked, plan.wants, ranking, {
    round: locked.snapshot.context.round + (round ? 1 : 0), expiresAt, retryExpired: locked.state === 'escalated',
  });
  const offered = offers.map((o) => o.hero_id);
  // Slots this round could not offer to (nobody fitting and free): tried again later.
  const unserved = plan.wants.some((w) => !offers.some((o) => o.slot === w.slot));

  if (!round) return topUp(ctx, tx, locked, offers, radiusKm, expiresAt);
  if (offers.length === 0 && locked.state === 'escalated') {
    // Humans were alerted already; a retry that finds nobody again changes nothing
    // worth an audit row and a push to every screen.
    await queueRetry(ctx, tx, locked, retryDelay(ctx, locked, locked.state));
    return 'nobody';
  }
  const { row: saved, view } = await applyEvent(ctx, tx, locked, { type: 'ROUND', offered, radiusKm }, {
    actor: 'system:dispatch', heroes: offered,
    deadlineAt: roundDeadline(locked, new Date(expiresAt.getTime() + config.DISPATCH_DEADLINE_MS)),
  });

  if (offers.length === 0) {
    // Nobody free in range: try again later, slower once humans have been alerted
    // (by the state after this round, which may just have escalated).
    await queueRetry(ctx, tx, locked, retryDelay(ctx, locked, saved.state));
    return 'nobody';
  }
  // Some slot got nobody while others got offers: its own retry, at the same pace.
  if (unserved) enqueue(tx, 'dispatch', { incidentId, delayMs: retryDelay(ctx, locked, saved.state), severity: locked.severity }, incidentId);
  sendOffers(tx, offers, view);
  if (locked.snapshot.context.round === 0) ctx.metrics.reportToFirstOffer.observe((Date.now() - locked.created_at.getTime()) / 1000);
  ctx.metrics.offersTotal.inc({ outcome: 'sent' }, offers.length);
  ctx.log.info({ incidentId, offered, radiusKm, round: saved.snapshot.context.round }, 'offers sent');
  return 'offered';
}

/**
 * Offers for the wanted slots. One slot: its best `more` candidates by the round's
 * ranking (the model's, or ETA) that Postgres agrees are free and skilled. Several: the
 * team is chosen together among the candidates Postgres agrees are free (bottleneck ETA,
 * no hero in two slots), then each pick is offered its slot. Every offer stores what it
 * was ranked on.
 */
async function makeOffers(tx: Tx, row: IncidentRow, wants: Want[], ranking: RoundRanking, o: { round: number; expiresAt: Date; retryExpired: boolean }): Promise<OfferRow[]> {
  if (wants.length === 1) {
    const [w] = wants as [Want];
    const offers = await insertOffers(tx, {
      incidentId: row.id, slot: w.slot, round: o.round, skill: w.skill, candidates: withRankings(ranking.ranked, w.more),
      batch: w.more, expiresAt: o.expiresAt, retryExpired: o.retryExpired,
    });
    return completeRankings(tx, offers, ranking);
  }
  // Teams keep today's choice by ETA (the model does not rank them).
  const candidates = ranking.byEta;
  const free = new Map((await freeCandidates(tx, { incidentId: row.id, heroIds: candidates.map((c) => c.heroId), retryExpired: o.retryExpired }))
    .map((h) => [h.id, h.skills]));
  const fit = candidates.filter((c) => free.has(c.heroId));
  const byId = new Map(fit.map((c) => [c.heroId, c]));
  const picks = chooseTeam(
    wants.map((w) => ({ slot: w.slot, skill: w.skill })),
    fit.map((c) => ({ heroId: c.heroId, skills: free.get(c.heroId)!, etaMin: c.etaS / 60 })),
    Math.max(...wants.map((w) => w.more)),
  );
  const slotPicks: SlotPick[] = picks.flatMap((p) => {
    const w = wants.find((x) => x.slot === p.slot)!;
    return p.heroIds.slice(0, w.more).map((id, i) => ({ ...byId.get(id)!, slot: p.slot, skill: w.skill, ranking: teamRanking(ranking, id, i + 1) }));
  });
  return insertSlotOffers(tx, { incidentId: row.id, round: o.round, picks: slotPicks, expiresAt: o.expiresAt, retryExpired: o.retryExpired });
}

function sendOffers(tx: Tx, offers: OfferRow[], view: IncidentView): void {
  enqueueMany(tx, offers.flatMap((offer) => {
    const push = {
      offerId: offer.id, incident: view, distanceKm: Math.round(offer.distance_km * 1000) / 1000, expiresAt: offer.expires_at.getTime(),
      slot: offer.slot, skill: view.slots[offer.slot]?.skill ?? null,
    };
    return [
      { topic: 'push:offer' as const, payload: { heroId: offer.hero_id, offer: push }, incidentId: offer.incident_id },
      { topic: 'offer:expire' as const, payload: { offerId: offer.id, incidentId: offer.incident_id, expiresAt: push.expiresAt }, incidentId: offer.incident_id },
    ];
  }));
}

/**
 * The pending round's slots got more offers at once, carrying the raised severity (a
 * critical offer starts the notification chain without delay). It stays the same
 * round: the rounds that lead to escalation are not spent faster.
 */
async function topUp(ctx: ServiceContext, tx: Tx, row: IncidentRow, offers: OfferRow[], radiusKm: number, expiresAt: Date): Promise<RoundOutcome> {
  const { config } = ctx;
  // Nobody else free: the pending offers stand; the next round is sized for the new severity.
  if (offers.length === 0) return 'pending';
  const offered = offers.map((o) => o.hero_id);
  const deadlineAt = roundDeadline(row, new Date(Math.max(expiresAt.getTime() + config.DISPATCH_DEADLINE_MS, row.deadline_at?.getTime() ?? 0)));
  const { view } = await applyEvent(ctx, tx, row, { type: 'TOP_UP', offered, radiusKm }, { actor: 'system:dispatch', deadlineAt, heroes: offered });
  sendOffers(tx, offers, view);
  ctx.metrics.offersTotal.inc({ outcome: 'sent' }, offers.length);
  ctx.log.info({ incidentId: row.id, offered, severity: row.severity }, 'offers topped up after a severity rise');
  return 'offered';
}
