// A hero's answer to an offer, and the offer's expiry. Each is one transaction; the
// accept's ack reports exactly what that transaction committed.
import { openSlots } from '../../machines/incident.team.ts';
import { isFinalState, type RefusalReason } from '../../shared/domain.ts';
import { uniqueViolation, type Tx } from '../db.ts';
import { AppError } from '../errors.ts';
import { enqueue } from '../outbox/outbox.buffer.ts';
import { activeAssignmentOfHero, insertAssignment, latestAssignment } from '../store/assignments.store.ts';
import { lockIncident } from '../store/incidents.store.ts';
import { closeOffer, getOffer, lockOffer, type OfferRow } from '../store/offers.store.ts';
import { inTx, type ServiceContext } from './context.ts';
import { refreshHeroStatus } from './hero.status.ts';
import { applyEvent } from './incident.runner.ts';

/** Why a closed offer cannot be accepted any more. */
function closedReason(offer: OfferRow): RefusalReason {
  switch (offer.state) {
    case 'expired': return 'expired';
    case 'withdrawn':
      if (offer.reason === 'taken') return 'taken';
      // A dispatcher assigned this hero elsewhere: they hold an active assignment.
      return offer.reason === 'reassigned' ? 'busy' : 'withdrawn';
    default: return 'invalid_transition'; // declined: the hero already said no
  }
}

export async function acceptOffer(ctx: ServiceContext, heroId: string, offerId: string): Promise<{ incidentId: string }> {
  // An offer this process pushed: its hero and incident are known, so the racers of a
  // round go straight to their incident's queue. The transaction checks both again.
  const known = ctx.acceptGate.offerFacts(offerId);
  if (known) {
    if (known.heroId !== heroId) throw new AppError('not_found', 'no such offer for you');
    return ctx.acceptGate.run(known.incidentId, () => acceptPending(ctx, heroId, offerId, known.incidentId));
  }
  const first = await getOffer(ctx.sql, offerId);
  if (!first || first.hero_id !== heroId) throw new AppError('not_found', 'no such offer for you');
  // A closed offer never reopens: losers of a race are answered without queueing
  // behind the winner for the incident's lock.
  if (first.state !== 'pending' && first.state !== 'accepted') {
    ctx.metrics.acceptConflicts.inc({ reason: closedReason(first) });
    throw new AppError(closedReason(first), `offer is ${first.state}`);
  }
  // One accept per incident at a time in this process; those behind a winner are
  // answered from what its commit closed.
  return ctx.acceptGate.run(first.incident_id, () => acceptPending(ctx, heroId, offerId, first.incident_id));
}

async function acceptPending(ctx: ServiceContext, heroId: string, offerId: string, incidentId: string): Promise<{ incidentId: string }> {
  const known = ctx.acceptGate.refusal(offerId);
  if (known) {
    ctx.metrics.acceptConflicts.inc({ reason: known });
    throw new AppError(known, known === 'taken' ? 'slot already filled' : 'offer is closed');
  }
  let withdrawn: string[] = [];
  try {
    // Urgent: every racer of the round waits for this commit, and a hero stands ready;
    // it goes ahead of lower work waiting for a connection.
    const result = await inTx(ctx, 'accept', async (tx) => {
      withdrawn = []; // a retried attempt starts over
      // Lock order everywhere: incident, then offer, then heroes. The three are sent
      // together (postgres.js pipelines a transaction's queries) and run in this order.
      const [incident, offer, busy] = await Promise.all([lockIncident(tx, incidentId), lockOffer(tx, offerId), activeAssignmentOfHero(tx, heroId)]);
      if (!incident || !offer || offer.hero_id !== heroId || offer.incident_id !== incident.id) throw new AppError('not_found', 'no such offer for you');
      if (offer.state === 'accepted') {
        // A repeated accept: answer what the first one committed.
        const mine = await latestAssignment(tx, incident.id, heroId);
        if (mine && mine.state !== 'released') return { incidentId: incident.id };
        throw new AppError('released', 'you no longer hold this incident');
      }
      if (offer.state !== 'pending') throw new AppError(closedReason(offer), `offer is ${offer.state}`);
      if (offer.expires_at.getTime() <= Date.now()) throw new AppError('expired', 'offer expired');
      if (isFinalState(incident.state)) throw new AppError('withdrawn', `incident is ${incident.state}`);
      const open = openSlots(incident.snapshot.context);
      if (!open.includes(offer.slot)) throw new AppError('taken', 'slot already filled');
      // The index refuses a second active assignment anyway; this check gives the clear answer first.
      if (busy) throw new AppError('busy', 'you already hold an active assignment');

      // The last slot filled starts the wait for progress; before that the team's
      // dispatch deadline stands (dispatch.service.ts roundDeadline).
      const last = open.length === 1;
      // Sent together, run in order: the machine's step goes out right behind the
      // offer's close and the assignment's insert, not a round trip after them. If the
      // insert fails (a unique index: a winner elsewhere), everything after it fails too.
      const [accepted, , { row: saved }] = await Promise.all([
        closeOffer(tx, offer.id, 'accepted', null),
        insertAssignment(tx, {
          incidentId: incident.id, slot: offer.slot, heroId, skill: incident.snapshot.context.slots[offer.slot]?.skill ?? null,
          offerId: offer.id, etaS: offer.eta_s,
        }),
        applyEvent(ctx, tx, incident, { type: 'ASSIGN', heroId, slot: offer.slot, by: 'hero' }, {
          actor: `hero:${heroId}`, heroes: [heroId], onWithdrawn: (ids) => { withdrawn = ids; },
          ...(last ? { deadlineAt: new Date(Date.now() + ctx.config.PROGRESS_DEADLINE_MS) } : {}),
        }),
      ]);
      if (accepted) recordDecision(tx, accepted, 'accepted');
      if (saved.state === 'assigned') ctx.metrics.reportToAssigned.observe((Date.now() - saved.created_at.getTime()) / 1000);
      return { incidentId: incident.id };
    }, { priority: 'urgent' });
    ctx.acceptGate.remember(withdrawn, 'taken');
    ctx.metrics.offersTotal.inc({ outcome: 'accepted' });
    if (ctx.config.FAULT_INJECTION === 'kill-after-accept-commit') process.kill(process.pid, 'SIGKILL');
    return result;
  } catch (e) {
    // The unique indexes are the last line: a concurrent assignment elsewhere wins.
    const constraint = uniqueViolation(e);
    const refusal = constraint === 'assignments_one_per_hero' ? 'busy' : constraint === 'assignments_one_per_slot' ? 'taken' : null;
    const code = refusal ?? (e instanceof AppError ? e.code : null);
    if (code === 'busy' || code === 'taken') ctx.metrics.acceptConflicts.inc({ reason: code });
    if (refusal) throw new AppError(refusal, refusal === 'busy' ? 'you already hold an active assignment' : 'slot already filled', { cause: e });
    throw e;
  }
}

/**
 * The hero's ranking history (issue 16) learns how the offer was decided through the
 * outbox, in the transaction that decided it: never counted on a round's hot path.
 */
function recordDecision(tx: Tx, offer: OfferRow, outcome: 'accepted' | 'declined' | 'expired'): void {
  const at = (offer.decided_at ?? new Date()).getTime();
  const answerMs = outcome === 'expired' ? null : Math.max(0, at - offer.created_at.getTime());
  enqueue(tx, 'stats:offer', { heroId: offer.hero_id, at, outcome, answerMs }, null);
}

/** Closes an offer and asks for the next round; the round itself checks whether one is due. */
async function closeAndRedispatch(ctx: ServiceContext, tx: Tx, offer: OfferRow, outcome: 'declined' | 'expired'): Promise<void> {
  recordDecision(tx, offer, outcome);
  await refreshHeroStatus(tx, [offer.hero_id]);
  enqueue(tx, 'dispatch', { incidentId: offer.incident_id, delayMs: 0 }, offer.incident_id);
  ctx.metrics.offersTotal.inc({ outcome });
}

export async function declineOffer(ctx: ServiceContext, heroId: string, offerId: string): Promise<void> {
  const offer = await getOffer(ctx.sql, offerId);
  if (!offer || offer.hero_id !== heroId) throw new AppError('not_found', 'no such offer for you');
  await inTx(ctx, 'decline', async (tx) => {
    const closed = await closeOffer(tx, offerId, 'declined', 'declined');
    if (!closed) {
      const now = await getOffer(tx, offerId);
      if (now?.state === 'declined') return; // repeated decline
      if (now?.state === 'accepted') throw new AppError('invalid_transition', 'you accepted this offer');
      throw new AppError(now ? closedReason(now) : 'not_found', 'offer is closed');
    }
    ctx.log.info({ incidentId: offer.incident_id, heroId, offerId }, 'offer declined');
    await closeAndRedispatch(ctx, tx, closed, 'declined');
  });
}

/** The delayed job's handler. Idempotent: an offer already closed is left alone. */
export async function expireOffer(ctx: ServiceContext, offerId: string): Promise<boolean> {
  return inTx(ctx, 'expire offer', async (tx) => {
    const closed = await closeOffer(tx, offerId, 'expired', 'expired', { onlyIfDue: true });
    if (!closed) return false;
    ctx.log.info({ incidentId: closed.incident_id, heroId: closed.hero_id, offerId }, 'offer expired');
    enqueue(tx, 'push:withdrawn', { heroId: closed.hero_id, offerId, reason: 'expired' }, closed.incident_id);
    await closeAndRedispatch(ctx, tx, closed, 'expired');
    return true;
  });
}
