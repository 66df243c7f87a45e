// Dispatcher overrides and the reporter's cancel. Each locks the incident first, so
// an override racing a hero's accept has exactly one winner; the loser gets 409.
import { openSlots } from '../../machines/incident.team.ts';
import type { IncidentView, LatLng, TokenClaims } from '../../shared/types.ts';
import { isFinalState } from '../../shared/domain.ts';
import { uniqueViolation } from '../db.ts';
import { AppError } from '../errors.ts';
import { enqueue } from '../outbox/outbox.buffer.ts';
import { activeAssignmentOfHero, insertAssignment } from '../store/assignments.store.ts';
import { getHero, type HeroRow } from '../store/heroes.store.ts';
import { etaMinutes } from '../geo/matcher.ts';
import { incidentView, lockIncident, type IncidentRow } from '../store/incidents.store.ts';
import { withdrawPending } from '../store/offers.store.ts';
import type { Tx } from '../db.ts';
import { inTx, type ServiceContext } from './context.ts';
import { applyEvent } from './incident.runner.ts';
import { releaseHeroes } from './release.service.ts';
import { haversineKm } from './views.ts';

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

const skillName = (skill: string | null) => skill ?? 'any hero';

/**
 * The slot a dispatcher's assign fills: the one asked for, or the first open slot whose
 * skill the hero has (PROTOCOL v1.1 "Teams"). A hero without the skill is refused: the
 * team would arrive without it, and the dispatcher may pick another hero or slot.
 */
function chooseSlot(row: IncidentRow, hero: HeroRow, asked: number | undefined): number {
  const { slots } = row.snapshot.context;
  const open = openSlots(row.snapshot.context);
  const fits = (slot: number) => slots[slot]!.skill === null || hero.skills.includes(slots[slot]!.skill!);
  if (asked !== undefined) {
    if (asked >= slots.length) throw new AppError('conflict', `this incident has ${slots.length} slot(s), numbered from 0; there is no slot ${asked}`);
    if (!open.includes(asked)) throw new AppError('conflict', `slot ${asked} is already filled; reassign its member first`);
    if (!fits(asked)) throw new AppError('conflict', `slot ${asked} needs ${skillName(slots[asked]!.skill)} and this hero's skills are: ${hero.skills.join(', ') || 'none'}`);
    return asked;
  }
  if (open.length === 0) throw new AppError('conflict', 'every slot is filled; reassign first');
  const slot = open.find(fits);
  if (slot === undefined) {
    const needed = open.map((s) => `slot ${s} needs ${skillName(slots[s]!.skill)}`).join(', ');
    throw new AppError('conflict', `no open slot fits this hero (${needed}; the hero's skills are: ${hero.skills.join(', ') || 'none'})`);
  }
  return slot;
}

/** Seconds to the scene from where the hero was last seen, or null if unknown. */
function etaFrom(row: IncidentRow, hero: HeroRow, at: LatLng | null): number | null {
  if (!at) return null;
  return Math.round(etaMinutes({ distanceKm: haversineKm(at, { lat: row.lat, lng: row.lng }), mode: hero.mode }) * 60);
}

/**
 * A dispatcher puts a hero into a slot (`slot`, or the first open one that fits).
 * `location` is where the hero was last seen, if known: the assignment's ETA.
 */
export async function assignByHand(ctx: ServiceContext, who: TokenClaims, id: string, a: { heroId: string; slot?: number; location?: LatLng | null }): Promise<IncidentView> {
  const { heroId } = a;
  try {
    await inTx(ctx, 'manual assign', async (tx) => {
      const row = await lockOpen(tx, id);
      const { slots } = row.snapshot.context;
      if (a.slot === undefined && openSlots(row.snapshot.context).length === 0) throw new AppError('conflict', 'every slot is filled; reassign first');
      const hero = await getHero(tx, heroId);
      if (!hero) throw new AppError('not_found', 'no such hero');
      const slot = chooseSlot(row, hero, a.slot);
      if (await activeAssignmentOfHero(tx, heroId)) throw new AppError('busy', 'hero already holds an active assignment');
      if ((row.snapshot.context.members ?? []).some((m) => m?.heroId === heroId)) throw new AppError('conflict', 'this hero already filled a slot of this incident');
      // The hero's pending offer goes back to its incident's dispatch: another incident,
      // or another slot of this one (a round finds nothing to do if its slot is filled).
      for (const offer of await withdrawPending(tx, { heroId }, 'reassigned')) {
        enqueue(tx, 'push:withdrawn', { heroId, offerId: offer.id, reason: 'withdrawn' }, offer.incident_id);
        if (offer.incident_id !== id || offer.slot !== slot) enqueue(tx, 'dispatch', { incidentId: offer.incident_id, delayMs: 0 }, offer.incident_id);
      }
      const last = openSlots(row.snapshot.context).length === 1;
      await insertAssignment(tx, { incidentId: id, slot, heroId, skill: slots[slot]?.skill ?? null, offerId: null, etaS: etaFrom(row, hero, a.location ?? null) });
      // As an accept: the last slot filled starts the wait for progress, else the team's deadline stands.
      await applyEvent(ctx, tx, row, { type: 'ASSIGN', heroId, slot, by: 'dispatcher' }, {
        actor: actorOf(who), heroes: [heroId], ...(last ? { deadlineAt: new Date(Date.now() + ctx.config.PROGRESS_DEADLINE_MS) } : {}),
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

/** Releases every active member, or only `heroId` (PROTOCOL v1.1 "Teams"): their slots reopen. */
export async function reassign(ctx: ServiceContext, who: TokenClaims, id: string, reason: string, heroId?: string): Promise<IncidentView> {
  await inTx(ctx, 'reassign', async (tx) => {
    const row = await lockOpen(tx, id);
    const { released } = await releaseHeroes(ctx, tx, row, { reason, notice: 'reassigned', actor: actorOf(who), ...(heroId !== undefined ? { heroIds: [heroId] } : {}) });
    if (released.length === 0) throw new AppError('conflict', heroId === undefined ? 'no hero holds this incident' : 'this hero holds no active assignment on this incident');
    ctx.log.info({ incidentId: id, released, reason }, 'heroes reassigned');
  });
  return viewAfter(ctx, id);
}
