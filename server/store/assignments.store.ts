// Assignments: one row per hero per slot filled. The partial unique indexes make a
// second active row for a slot or a hero impossible (invariants I1, I2).
import type { Db, Tx } from '../db.ts';
import type { AssignmentState } from '../../shared/domain.ts';

export interface AssignmentRow {
  id: string;
  incident_id: string;
  slot: number;
  hero_id: string;
  skill: string | null;
  offer_id: string | null;
  state: AssignmentState;
  reason: string | null;
  assigned_at: Date;
  ended_at: Date | null;
}

export async function insertAssignment(tx: Tx, a: { incidentId: string; slot: number; heroId: string; skill: string | null; offerId: string | null }): Promise<AssignmentRow> {
  const [row] = await tx<AssignmentRow[]>`
    insert into assignments (incident_id, slot, hero_id, skill, offer_id)
    values (${a.incidentId}, ${a.slot}, ${a.heroId}, ${a.skill}, ${a.offerId})
    returning *`;
  return row!;
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
     where incident_id = ${incidentId} and state = 'active'
       ${heroIds ? tx`and hero_id = any(${heroIds})` : tx``}
    returning *`;
}
