// What a hero does besides answering offers: duty, progress, and the `session` that a
// (re)connecting hero app resumes from.
import type { IncidentEvent } from '../../machines/incident.machine.ts';
import { isPartialTeam } from '../../machines/incident.team.ts';
import type { IncidentState, ProgressState } from '../../shared/domain.ts';
import type { HeroSession } from '../../shared/types.ts';
import { AppError } from '../errors.ts';
import { enqueue } from '../outbox/outbox.buffer.ts';
import type { Tx } from '../db.ts';
import { activeAssignmentOfHero, latestAssignment, type AssignmentRow } from '../store/assignments.store.ts';
import { getHero, setDuty } from '../store/heroes.store.ts';
import { getIncident, incidentViews, lockIncident } from '../store/incidents.store.ts';
import { pendingOffersOf, withdrawPending } from '../store/offers.store.ts';
import { inTx, type ServiceContext } from './context.ts';
import { refreshHeroStatus } from './hero.status.ts';
import { applyEvent } from './incident.runner.ts';

export async function setHeroDuty(ctx: ServiceContext, heroId: string, onDuty: boolean): Promise<void> {
  await inTx(ctx, 'duty', async (tx) => {
    if (!onDuty && await activeAssignmentOfHero(tx, heroId)) throw new AppError('busy', 'finish or hand back your assignment first');
    // Offers before the hero row: the same lock order as an accept (offer, then hero).
    if (!onDuty) {
      for (const offer of await withdrawPending(tx, { heroId }, 'off_duty')) {
        enqueue(tx, 'push:withdrawn', { heroId, offerId: offer.id, reason: 'withdrawn' }, offer.incident_id);
        enqueue(tx, 'dispatch', { incidentId: offer.incident_id, delayMs: 0 }, offer.incident_id);
      }
    }
    await setDuty(tx, heroId, onDuty);
    await refreshHeroStatus(tx, [heroId]);
  });
}

export async function heroSession(ctx: ServiceContext, heroId: string): Promise<HeroSession> {
  const hero = await getHero(ctx.sql, heroId);
  if (!hero) throw new AppError('not_found', 'no such hero');
  const [offers, assignment] = await Promise.all([pendingOffersOf(ctx.sql, heroId), activeAssignmentOfHero(ctx.sql, heroId)]);
  const incidentIds = [...new Set([...offers.map((o) => o.incident_id), ...(assignment ? [assignment.incident_id] : [])])];
  const rows = (await Promise.all(incidentIds.map((id) => getIncident(ctx.sql, id)))).filter((r) => r !== null);
  const views = new Map((await incidentViews(ctx.sql, rows)).map((v) => [v.id, v]));
  return {
    onDuty: hero.on_duty,
    offers: offers.flatMap((o) => {
      const incident = views.get(o.incident_id);
      return incident ? [{
        offerId: o.id, incident, distanceKm: o.distance_km, expiresAt: o.expires_at.getTime(),
        slot: o.slot, skill: incident.slots[o.slot]?.skill ?? null,
      }] : [];
    }),
    assignment: assignment && views.get(assignment.incident_id)
      ? { incidentId: assignment.incident_id, incident: views.get(assignment.incident_id)! }
      : null,
  };
}

/** Below this physics ETA the ratio would measure reaction time, not travel: not recorded. */
const ARRIVAL_MIN_ETA_S = 10;

/**
 * The hero's ranking history (issue 16) learns how long they really took: assign →
 * on_scene seconds over the physics ETA they were offered with, through the outbox, in
 * this transaction.
 */
function recordArrival(tx: Tx, a: AssignmentRow): void {
  if (a.eta_s === null || a.eta_s < ARRIVAL_MIN_ETA_S) return;
  const at = Date.now();
  enqueue(tx, 'stats:arrival', { heroId: a.hero_id, at, ratio: Math.max(0, at - a.assigned_at.getTime()) / 1000 / a.eta_s }, null);
}

const PROGRESS_EVENT: Record<ProgressState, (heroId: string) => IncidentEvent> = {
  en_route: (heroId) => ({ type: 'EN_ROUTE', heroId }),
  on_scene: (heroId) => ({ type: 'ARRIVE', heroId }),
  resolved: (heroId) => ({ type: 'RESOLVE', heroId }),
};

/**
 * Moves the sender's own progress (PROTOCOL v1.1 "Teams"; incidents started before
 * teams move as a whole). The answer is the incident's state after the step.
 */
export async function reportProgress(ctx: ServiceContext, heroId: string, incidentId: string, state: ProgressState): Promise<{ state: IncidentState }> {
  return inTx(ctx, 'progress', async (tx) => {
    // Sent together and run in this order: the assignment is read once the lock is held.
    const [row, mine] = await Promise.all([lockIncident(tx, incidentId), latestAssignment(tx, incidentId, heroId)]);
    if (!row) throw new AppError('not_found', 'no such incident');
    // The assignment row is the fence: a released hero may not touch the incident.
    if (!mine) throw new AppError('not_found', 'this incident is not yours');
    if (mine.state === 'released') throw new AppError('released', 'you no longer hold this incident');
    const { members } = row.snapshot.context;
    const already = members ? (mine.state === 'completed' ? 'resolved' : mine.progress) : row.state;
    if (already === state) return { state: row.state }; // a repeat changes nothing
    if (mine.state === 'completed') throw new AppError('invalid_transition', `you resolved your part; the incident is ${row.state}`);
    // While the team is assembled its dispatch deadline stands; after, progress is watched.
    const partial = isPartialTeam(row.snapshot.context);
    const { row: saved } = await applyEvent(ctx, tx, row, PROGRESS_EVENT[state](heroId), {
      actor: `hero:${heroId}`, ...(partial ? {} : { deadlineAt: new Date(Date.now() + ctx.config.PROGRESS_DEADLINE_MS) }),
    });
    if (state === 'on_scene') recordArrival(tx, mine);
    return { state: saved.state };
  });
}
