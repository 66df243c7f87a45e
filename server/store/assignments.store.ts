// Assignments: one row per hero per slot filled. The partial unique indexes make a
// second active row for a slot or a hero impossible (invariants I1, I2).
import type { Db, Tx } from '../db.ts';
import type { AssignmentState, MemberProgress } from '../../shared/domain.ts';

export interface AssignmentRow {
  id: string;
  incident_id: string;
  slot: number;
  hero_id: string;
  skill: string | null;
  offer_id: string | null;
  state: AssignmentState;
  /** The member's own progress (v1.1 Teams). */
  progress: MemberProgress;
  /** Estimated seconds to the scene when assigned; null if the hero's position was unknown. */
  eta_s: number | null;
  reason: string | null;
  assigned_at: Date;
  ended_at: Date | null;
}

export async function insertAssignment(tx: Tx, a: { incidentId: string; slot: number; heroId: string; skill: string | null; offerId: string | null; etaS: number | null }): Promise<AssignmentRow> {
  const [row] = await tx<AssignmentRow[]>`
    insert into assignments (incident_id, slot, hero_id, skill, offer_id, eta_s)
    values (${a.incidentId}, ${a.slot}, ${a.heroId}, ${a.skill}, ${a.offerId}, ${a.etaS})
    returning *`;
  return row!;
}

/** Copies a member's progress, as the machine just moved it, onto their active assignment. */
export async function recordProgress(tx: Tx, incidentId: string, heroId: string, progress: MemberProgress): Promise<void> {
  await tx`update assignments set progress = ${progress}
            where incident_id = ${incidentId} and hero_id = ${heroId} and state = 'active'`;
}


export async function activeAssignmentOfHero(db: Db, heroId: string): Promise<AssignmentRow | null> {
  const [row] = await db<AssignmentRow[]>`select * from assignments where hero_id = ${heroId} and state = 'active'`;
  return row ?? null;
}

/** The hero's most recent assignment on the incident, whatever its state: the fence. */
export async function latestAssignment(db: Db, incidentId: string, heroId: string): Promise<AssignmentRow | null> {
  const [row] = await db<AssignmentRow[]>`
    select * from assignments where incident_id = ${incidentId} and hero_id = ${heroId} order by id desc limit 1`;
  return row ?? null;
}

export async function endAssignments(tx: Tx, incidentId: string, state: 'released' | 'completed', reason: string | null, heroIds?: string[]): Promise<AssignmentRow[]> {
  return tx<AssignmentRow[]>`
    update assignments set state = ${state}, reason = ${reason}, ended_at = now()
           ${state === 'completed' ? tx`, progress = 'resolved'` : tx``}
     where incident_id = ${incidentId} and state = 'active'
       ${heroIds ? tx`and hero_id = any(${heroIds})` : tx``}
    returning *`;
}

/** Every active assignment: who holds which incident, since when (the sweeper's lost-hero check). */
export async function activeAssignments(db: Db): Promise<Pick<AssignmentRow, 'incident_id' | 'hero_id' | 'assigned_at'>[]> {
  return db<Pick<AssignmentRow, 'incident_id' | 'hero_id' | 'assigned_at'>[]>`
    select incident_id, hero_id, assigned_at from assignments where state = 'active'`;
}
