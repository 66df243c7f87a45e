// POST /v1/incidents: one transaction claims the idempotency key, inserts the
// incident with its first audit event, and the outbox row that starts dispatch.
import { createHash, randomUUID } from 'node:crypto';
import { startIncident } from '../../machines/incident.logic.ts';
import type { Slot } from '../../machines/incident.machine.ts';
import type { ReportInput } from '../../shared/schemas.ts';
import type { IncidentView, Need } from '../../shared/types.ts';
import { AppError } from '../errors.ts';
import { enqueue } from '../outbox/outbox.buffer.ts';
import { claimIdempotencyKey, pointKeyAt, priorClaim } from '../store/idempotency.store.ts';
import {
  addCoReporter, findDuplicate, incidentView, insertIncident, lockDedupeCell, toIncidentView, type IncidentRow,
} from '../store/incidents.store.ts';
import { traced } from '../telemetry/tracing.ts';
import { inTx, type ServiceContext } from './context.ts';
import { applyEvent } from './incident.runner.ts';
import { incidentFor } from './views.ts';

/** A stable digest of the parsed body: key order and absent defaults do not matter. */
const DEFAULT_NEEDS: Need[] = [{ skill: null, count: 1 }];

function requestHash(input: ReportInput): string {
  const canonical = JSON.stringify({
    kind: input.kind, severity: input.severity, lat: input.location.lat, lng: input.location.lng,
    description: input.description ?? '',
    needs: (input.needs ?? DEFAULT_NEEDS).map((n) => ({ skill: n.skill, count: n.count })),
  });
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Whether the incident's slots can take every hero this report asks for: each skilled
 * need by slots of that skill, the rest by any slots left. A report that asks for more
 * (more heroes, or a skill nobody was sent for) is a different or a bigger emergency
 * than the one under way, and is never linked: a false split costs a hero, a false link
 * may leave someone without the help they asked for.
 */
export function slotsCover(slots: Slot[], needs: Need[]): boolean {
  const free = slots.map((s) => s.skill);
  const take = (ok: (skill: string | null) => boolean) => {
    const i = free.findIndex(ok);
    if (i >= 0) free.splice(i, 1);
    return i >= 0;
  };
  const skilled = needs.filter((n) => n.skill !== null);
  const any = needs.filter((n) => n.skill === null);
  for (const n of skilled) for (let k = 0; k < n.count; k++) if (!take((s) => s === n.skill)) return false;
  for (const n of any) for (let k = 0; k < n.count; k++) if (!take(() => true)) return false;
  return true;
}

/** An open incident this report may join (see slotsCover); incidents older than linked reports are never joined. */
const linkable = (row: IncidentRow, needs: Need[]) =>
  row.snapshot.context.reports !== undefined && slotsCover(row.snapshot.context.slots, needs);

/** Whether this civilian already used this key (the HTTP layer asks before queueing a report). */
export { idempotencyKeyExists } from '../store/idempotency.store.ts';

export async function reportIncident(ctx: ServiceContext, civilianId: string, key: string, input: ReportInput): Promise<{ created: boolean; incident: IncidentView }> {
  // Every unit of every need is a slot of its own (PROTOCOL v1.1 "Teams"); the schema
  // bounds the total at MAX_NEEDED_HEROES.
  const needs: Need[] = input.needs ?? DEFAULT_NEEDS;
  const hash = requestHash(input);
  const outcome = await traced('report.transaction', { 'civilian.id': civilianId }, () => inTx(ctx, 'report', async (tx) => {
    const id = randomUUID();
    if (!(await claimIdempotencyKey(tx, { actor: civilianId, key, requestHash: hash, incidentId: id }))) {
      const prior = await priorClaim(tx, civilianId, key);
      if (!prior) throw new AppError('unavailable', 'idempotency key vanished; retry');
      if (prior.request_hash !== hash) {
        throw new AppError('idempotency_mismatch', 'This Idempotency-Key was already used for a different report.');
      }
      return { created: false as const, id: prior.incident_id };
    }
    // The same emergency reported again (same kind, close by, recently): link this
    // civilian to it instead of sending more heroes. Reports in one ~1 km cell and kind
    // are serialised so two reports at once cannot both miss each other.
    if (ctx.config.DEDUPE_RADIUS_M > 0) {
      const cell = `${input.kind}:${Math.round(input.location.lat * 100)}:${Math.round(input.location.lng * 100)}`;
      // Sent together, run in order: the search starts once the lock is held. A
      // postgres.js query is sent when first awaited, so the lock is sent explicitly
      // (lockDedupeCell) before findDuplicate (which awaits its own query at once) is called.
      const locked = lockDedupeCell(tx, cell);
      const [, same] = await Promise.all([locked, findDuplicate(tx, {
        kind: input.kind, ...input.location, radiusM: ctx.config.DEDUPE_RADIUS_M, windowMs: ctx.config.DEDUPE_WINDOW_MS,
      })]);
      if (same && linkable(same, needs)) {
        // The report joins through the machine, under findDuplicate's row lock: an audit
        // event LINKED keeps what this civilian said, severity rises to the highest
        // report, and dispatchers are pushed the change.
        await addCoReporter(tx, same.id, civilianId);
        await pointKeyAt(tx, civilianId, key, same.id);
        const { view } = await applyEvent(ctx, tx, same, {
          type: 'LINK', civilianId, severity: input.severity, description: input.description ?? '', key,
        }, { actor: `civilian:${civilianId}` });
        ctx.log.info({ incidentId: same.id, civilianId, severity: input.severity, now: view.severity }, 'duplicate report linked');
        return { created: false as const, id: same.id, incident: view };
      }
    }
    const slots = needs.flatMap((n) => Array.from({ length: n.count }, () => ({ skill: n.skill })));
    const machineInput = { slots, maxRounds: ctx.config.DISPATCH_MAX_ROUNDS, severity: input.severity, reporter: civilianId, perMember: true };
    const snapshot = startIncident(machineInput);
    const inserted = await insertIncident(tx, {
      id, kind: input.kind, severity: input.severity, location: input.location, description: input.description ?? '',
      needs, reportedBy: civilianId, snapshot, deadlineAt: new Date(Date.now() + ctx.config.DISPATCH_DEADLINE_MS),
      input: machineInput,
    });
    const incident = toIncidentView(inserted, []);
    enqueue(tx, 'dispatch', { incidentId: id, delayMs: 0, severity: input.severity }, id);
    enqueue(tx, 'push:incident', { incident }, id);
    return { created: true as const, id, incident };
  }));
  ctx.metrics.reportsTotal.inc({ outcome: outcome.created ? 'created' : 'incident' in outcome ? 'linked' : 'replayed' });
  const who = { role: 'civilian' as const, sub: civilianId };
  if (outcome.created) {
    // Answered as this request committed it; dispatch may already be under way.
    ctx.log.info({ incidentId: outcome.id, kind: input.kind, severity: input.severity }, 'incident reported');
    return { created: true, incident: outcome.incident };
  }
  // A linked report: answered as it committed. A replay: the incident as it is now.
  // Either may be another civilian's incident, so it is shown without their identity.
  const incident = 'incident' in outcome ? outcome.incident : await incidentView(ctx.sql, outcome.id);
  if (!incident) throw new AppError('internal', `incident ${outcome.id} missing after commit`);
  return { created: false, incident: incidentFor(who, incident) };
}
