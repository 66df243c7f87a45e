// Dispatcher overrides and the reporter's cancel. Each locks the incident first, so
// an override racing a hero's accept has exactly one winner; the loser gets 409.
import type { IncidentView } from '../../shared/types.ts';
import type { TokenClaims } from '../../shared/types.ts';
import { isFinalState } from '../../shared/domain.ts';
import { uniqueViolation } from '../db.ts';
import { AppError } from '../errors.ts';
import { activeAssignmentOfHero, insertAssignment } from '../store/assignments.store.ts';
import { getHero } from '../store/heroes.store.ts';
import { incidentView, lockIncident, type IncidentRow } from '../store/incidents.store.ts';
import { withdrawPending } from '../store/offers.store.ts';
import { enqueue } from '../store/outbox.store.ts';
import type { Tx } from '../db.ts';
import { inTx, type ServiceContext } from './context.ts';
import { openSlot } from './dispatch.service.ts';
import { applyEvent } from './incident.runner.ts';
import { releaseHeroes } from './release.service.ts';

const actorOf = (who: TokenClaims) => `${who.role}:${who.sub}`;

async function lockOpen(tx: Tx, id: string): Promise<IncidentRow> {
  const row = await lockIncident(tx, id);
  if (!row) throw new AppError('not_found', 'no such incident');
  if (isFinalState(row.state)) throw new AppError('conflict', `incident is already ${row.state}`);
  return row;
}

async function viewAfter(ctx: ServiceContext, id: string): Promise<IncidentView> {
  const view = await incidentView(ctx.sql, id);
  if (!view) throw new AppError('internal', 'incident vanished');
  return view;
}

/**
 * A dispatcher's cancel cancels the incident. A civilian's withdraws only their own
 * report: the incident is cancelled with the last one (PROTOCOL v1.1 "Linked reports").
 * An incident older than linked reports is cancelled by its reporter, as before.
 */
export async function cancelIncident(ctx: ServiceContext, who: TokenClaims, id: string, reason: string): Promise<IncidentView> {
  await inTx(ctx, 'cancel', async (tx) => {
    const row = await lockIncident(tx, id);
    if (!row) throw new AppError('not_found', 'no such incident');
    const { reports } = row.snapshot.context;
    if (who.role === 'civilian') {
      const reported = row.reported_by === who.sub || (reports !== undefined && row.co_reporters.includes(who.sub));
      if (!reported) throw new AppError('forbidden', 'not your incident');
    }
    if (isFinalState(row.state)) throw new AppError('conflict', `incident is already ${row.state}`);
    if (who.role !== 'civilian' || reports === undefined) {
      await applyEvent(ctx, tx, row, { type: 'CANCEL', reason }, { actor: actorOf(who) });
      return;
    }
    if (!reports.some((r) => r.civilianId === who.sub)) throw new AppError('conflict', 'your report is already withdrawn');
    await applyEvent(ctx, tx, row, { type: 'WITHDRAW', civilianId: who.sub, reason }, { actor: actorOf(who) });
  });
  return viewAfter(ctx, id);
}

export async function assignByHand(ctx: ServiceContext, who: TokenClaims, id: string, heroId: string): Promise<IncidentView> {
  try {
    await inTx(ctx, 'manual assign', async (tx) => {
      const row = await lockOpen(tx, id);
      const { slots } = row.snapshot.context;
      const slot = openSlot(row);
      if (slot === null) throw new AppError('conflict', 'every slot is filled; reassign first');
      const hero = await getHero(tx, heroId);
      if (!hero) throw new AppError('not_found', 'no such hero');
      if (await activeAssignmentOfHero(tx, heroId)) throw new AppError('busy', 'hero already holds an active assignment');
      // The hero's pending offer elsewhere goes back to that incident's dispatch.
      for (const offer of await withdrawPending(tx, { heroId }, 'reassigned')) {
        enqueue(tx, 'push:withdrawn', { heroId, offerId: offer.id, reason: 'withdrawn' }, offer.incident_id);
        if (offer.incident_id !== id) enqueue(tx, 'dispatch', { incidentId: offer.incident_id, delayMs: 0 }, offer.incident_id);
      }
      await insertAssignment(tx, { incidentId: id, slot, heroId, skill: slots[slot]?.skill ?? null, offerId: null });
      await applyEvent(ctx, tx, row, { type: 'ASSIGN', heroId, slot, by: 'dispatcher' }, {
        actor: actorOf(who), heroes: [heroId], deadlineAt: new Date(Date.now() + ctx.config.PROGRESS_DEADLINE_MS),
      });
      // The hero app learns of a hand-made assignment by a fresh `session`.
      enqueue(tx, 'push:session', { heroId }, id);
    });
  } catch (e) {
    const constraint = uniqueViolation(e);
    if (constraint === 'assignments_one_per_hero') throw new AppError('busy', 'hero already holds an active assignment', { cause: e });
    if (constraint === 'assignments_one_per_slot') throw new AppError('conflict', 'slot already filled', { cause: e });
    throw e;
  }
  return viewAfter(ctx, id);
}

export async function reassign(ctx: ServiceContext, who: TokenClaims, id: string, reason: string): Promise<IncidentView> {
  await inTx(ctx, 'reassign', async (tx) => {
    const row = await lockOpen(tx, id);
    const { released } = await releaseHeroes(ctx, tx, row, { reason, notice: 'reassigned', actor: actorOf(who) });
    if (released.length === 0) throw new AppError('conflict', 'no hero holds this incident');
    ctx.log.info({ incidentId: id, released, reason }, 'heroes reassigned');
  });
  return viewAfter(ctx, id);
}
