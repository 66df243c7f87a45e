// Applies one machine event to one incident: pure step, guarded update, audit event,
// and the effects the step asked for, all inside the caller's transaction.
import { auditType, stepIncident } from '../../machines/incident.logic.ts';
import type { IncidentEffect, IncidentEvent } from '../../machines/incident.machine.ts';
import { isFinalState } from '../../shared/domain.ts';
import type { Tx } from '../db.ts';
import { AppError } from '../errors.ts';
import { enqueue, enqueueMany } from '../outbox/outbox.buffer.ts';
import { endAssignments, recordProgress } from '../store/assignments.store.ts';
import { assignmentsOf, saveStep, toIncidentView, type IncidentRow } from '../store/incidents.store.ts';
import { withdrawPending } from '../store/offers.store.ts';
import type { ServiceContext } from './context.ts';
import { refreshHeroStatus } from './hero.status.ts';
import type { IncidentView } from '../../shared/types.ts';

export interface ApplyOptions {
  actor: string;
  /** Next deadline; default: keep it (final states clear it). */
  deadlineAt?: Date | null;
  /** Heroes whose status the caller changed too: refreshed with the rest, in one locked pass. */
  heroes?: string[];
  /** Told which offers this step withdrew (they are closed once the transaction commits). */
  onWithdrawn?: (offerIds: string[]) => void;
}

/**
 * What the machine's step decided about the incident: all an effect needs. Effects run
 * on it rather than on the saved row so that their statements go out right behind the
 * guarded update, in one round trip (postgres.js pipelines a transaction's queries);
 * if the guard fails, the step throws and the whole transaction rolls back.
 */
type Decided = Pick<IncidentRow, 'id' | 'kind' | 'severity' | 'snapshot'>;

type EffectRunner = (tx: Tx, row: Decided, event: IncidentEvent, touched: Set<string>, opts: ApplyOptions) => Promise<void>;

const EFFECTS: Record<IncidentEffect, EffectRunner> = {
  async requestDispatch(tx, row) {
    enqueue(tx, 'dispatch', { incidentId: row.id, delayMs: 0, severity: row.severity }, row.id);
  },
  async withdrawOffers(tx, row, event, touched, opts) {
    // A cancel, or the withdrawal of the last report, closes the incident itself.
    const reason = event.type === 'CANCEL' || event.type === 'WITHDRAW' ? 'cancelled' : 'taken';
    const withdrawn = await withdrawPending(tx, { incidentId: row.id }, reason);
    opts.onWithdrawn?.(withdrawn.map((o) => o.id));
    for (const offer of withdrawn) touched.add(offer.hero_id);
    enqueueMany(tx, withdrawn.map((offer) => ({
      topic: 'push:withdrawn' as const, payload: { heroId: offer.hero_id, offerId: offer.id, reason }, incidentId: row.id,
    })));
  },
  async releaseAssignments(tx, row, _event, touched) {
    // Only a cancel releases every assignment at once (the machine asks for it on CANCEL,
    // and on the WITHDRAW of the last report).
    const reason = 'cancelled';
    for (const a of await endAssignments(tx, row.id, 'released', reason)) {
      touched.add(a.hero_id);
      enqueue(tx, 'push:released', { heroId: a.hero_id, incidentId: row.id, reason }, row.id);
    }
  },
  async completeAssignments(tx, row, _event, touched) {
    for (const a of await endAssignments(tx, row.id, 'completed', 'resolved')) touched.add(a.hero_id);
  },
  // Teams: a member filled a slot while others are still open. Only that slot's other
  // offers are closed (`taken`); the other slots' offers stand.
  async withdrawSlotOffers(tx, row, event, touched, opts) {
    if (event.type !== 'ASSIGN') return;
    const withdrawn = await withdrawPending(tx, { incidentId: row.id, slot: event.slot }, 'taken');
    opts.onWithdrawn?.(withdrawn.map((o) => o.id));
    for (const offer of withdrawn) touched.add(offer.hero_id);
    enqueueMany(tx, withdrawn.map((offer) => ({
      topic: 'push:withdrawn' as const, payload: { heroId: offer.hero_id, offerId: offer.id, reason: 'taken' }, incidentId: row.id,
    })));
  },
  async recordProgress(tx, row, event) {
    if (event.type === 'EN_ROUTE' || event.type === 'ARRIVE') {
      await recordProgress(tx, row.id, event.heroId, event.type === 'EN_ROUTE' ? 'en_route' : 'on_scene');
    }
  },
  // Teams: the member who resolved is free again; the others carry on.
  async completeMember(tx, row, event, touched) {
    if (event.type !== 'RESOLVE') return;
    for (const a of await endAssignments(tx, row.id, 'completed', 'resolved', [event.heroId])) touched.add(a.hero_id);
  },
  // A linked report raised the severity of an incident still looking for heroes: a
  // round now, queued at the new severity. It tops up pending offers to the new batch
  // size (dispatch.service.ts), or starts the round if none are pending.
  async reprioritise(tx, row) {
    enqueue(tx, 'dispatch', { incidentId: row.id, delayMs: 0, severity: row.severity }, row.id);
  },
  async alertNoHeroFound(tx, row) {
    enqueue(tx, 'alert', {
      type: 'no_hero_found', incidentId: row.id, at: Date.now(),
      detail: `No hero accepted ${row.severity} ${row.kind} incident after ${row.snapshot.context.round} rounds; assign by hand.`,
    }, row.id);
  },
};

/** The incident as the step saved it, and the view every screen is sent. */
export interface Applied { row: IncidentRow; view: IncidentView }

/**
 * Throws `invalid_transition` if the machine refuses the event. The caller holds the
 * incident's row lock, so the guarded update failing means a bug, not a race.
 */
export async function applyEvent(ctx: ServiceContext, tx: Tx, row: IncidentRow, event: IncidentEvent, opts: ApplyOptions): Promise<Applied> {
  const step = stepIncident(row.snapshot, event);
  if (!step.ok) throw new AppError('invalid_transition', `${event.type} is not allowed while the incident is ${row.state}`);
  const { type, ...data } = event;
  const final = isFinalState(step.next.value);
  const saving = saveStep(tx, row, {
    next: step.next, eventType: auditType(type), eventData: data, actor: opts.actor,
    deadlineAt: final ? null : opts.deadlineAt,
  });
  const decided: Decided = { id: row.id, kind: row.kind, severity: step.next.context.severity ?? row.severity, snapshot: step.next };
  const touched = new Set<string>(opts.heroes);
  // The statuses and the view's assignments follow the effects' statements without
  // waiting for the guard's answer: a step with no effect costs one round trip, not
  // two. Run in order behind the update (postgres.js pipelines a transaction's queries);
  // a failed guard throws below and the transaction rolls back whatever they read.
  const after = (async () => {
    for (const effect of step.effects) await EFFECTS[effect](tx, decided, event, touched, opts);
    return Promise.all([refreshHeroStatus(tx, [...touched]), assignmentsOf(tx, [row.id])]);
  })();
  const [saved, [, assignments]] = await Promise.all([saving, after]);
  if (!saved) throw new AppError('conflict', `incident ${row.id} changed underneath us`);
  const view = toIncidentView(saved, assignments.get(saved.id) ?? []);
  enqueue(tx, 'push:incident', { incident: view, coReporters: saved.co_reporters }, saved.id);
  if (saved.state !== row.state) {
    ctx.log.info({ incidentId: saved.id, from: row.state, to: saved.state, event: type, actor: opts.actor }, 'incident moved');
  }
  return { row: saved, view };
}
