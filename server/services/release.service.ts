// Taking heroes off an incident: a dispatcher's reassign (of everyone, or of one member),
// or the sweeper releasing a hero who went silent. One transaction; the incident goes
// back to dispatch, and the released assignment rows fence the heroes out of it.
import type { Tx } from '../db.ts';
import { enqueueMany } from '../outbox/outbox.buffer.ts';
import { endAssignments } from '../store/assignments.store.ts';
import type { IncidentRow } from '../store/incidents.store.ts';
import type { ServiceContext } from './context.ts';
import { applyEvent } from './incident.runner.ts';

export async function releaseHeroes(ctx: ServiceContext, tx: Tx, row: IncidentRow, opts: {
  heroIds?: string[];
  /** Recorded in the audit trail and on the assignment row. */
  reason: string;
  /** What the hero app is told (`assignment:released` reason); defaults to `reason`. */
  notice?: string;
  actor: string;
}): Promise<{ row: IncidentRow; released: string[] }> {
  const ended = await endAssignments(tx, row.id, 'released', opts.reason, opts.heroIds);
  const released = ended.map((a) => a.hero_id);
  if (released.length === 0) return { row, released };
  enqueueMany(tx, released.map((heroId) => ({
    topic: 'push:released' as const, payload: { heroId, incidentId: row.id, reason: opts.notice ?? opts.reason }, incidentId: row.id,
  })));
  // Only the released members' slots reopen (PROTOCOL v1.1 "Teams"). A team that keeps
  // members gives the reopened slots one offer window before its dispatch deadline
  // (then `team_incomplete`, sweeper.ts); an emptied incident is dispatched as new.
  const { filled, members } = row.snapshot.context;
  const keeps = filled.some((f) => !released.includes(f.heroId)) || (members ?? []).some((m) => m?.progress === 'resolved');
  const { config } = ctx;
  const { row: saved } = await applyEvent(ctx, tx, row, { type: 'RELEASE', heroIds: released, reason: opts.reason }, {
    actor: opts.actor, heroes: released, deadlineAt: new Date(Date.now() + (keeps ? config.OFFER_TIMEOUT_MS : 0) + config.DISPATCH_DEADLINE_MS),
  });
  return { row: saved, released };
}
