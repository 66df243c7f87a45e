// Failed dispatch rounds per incident (migration 005): the count of consecutive
// failures, the last cause, and whether dispatchers were told about this episode.
import type { Db, Sql, Tx } from '../db.ts';

export interface DispatchFailure {
  incident_id: string;
  failures: number;
  cause: string;
  last_error: string;
  first_failed_at: Date;
  last_failed_at: Date;
  alerted_at: Date | null;
}

/**
 * Counts one more failure. A failure after `quietMs` without one starts a new episode
 * (count 1, not alerted): the incident recovered in between, perhaps in another process.
 */
export async function recordFailure(tx: Tx, f: { incidentId: string; cause: string; error: string; quietMs: number }): Promise<DispatchFailure> {
  const [row] = await tx<DispatchFailure[]>`
    insert into dispatch_failures as d (incident_id, failures, cause, last_error)
    values (${f.incidentId}, 1, ${f.cause}, ${f.error})
    on conflict (incident_id) do update set
      failures        = case when d.last_failed_at < now() - make_interval(secs => ${f.quietMs / 1000}) then 1 else d.failures + 1 end,
      first_failed_at = case when d.last_failed_at < now() - make_interval(secs => ${f.quietMs / 1000}) then now() else d.first_failed_at end,
      alerted_at      = case when d.last_failed_at < now() - make_interval(secs => ${f.quietMs / 1000}) then null else d.alerted_at end,
      cause = excluded.cause, last_error = excluded.last_error, last_failed_at = now()
    returning *`;
  return row!;
}

export async function getFailure(db: Db, incidentId: string): Promise<DispatchFailure | null> {
  const [row] = await db<DispatchFailure[]>`select * from dispatch_failures where incident_id = ${incidentId}`;
  return row ?? null;
}

export async function markAlerted(db: Db, incidentId: string): Promise<void> {
  await db`update dispatch_failures set alerted_at = now() where incident_id = ${incidentId}`;
}

export async function clearFailure(db: Db, incidentId: string): Promise<void> {
  await db`delete from dispatch_failures where incident_id = ${incidentId}`;
}

/**
 * Removes records of episodes that are over: the incident is gone, final or no longer
 * looking for heroes, or it has not failed for `quietMs` and is not overdue (so some
 * round succeeded since, possibly in a process whose memory did not know the record).
 */
export async function purgeSettledFailures(sql: Sql, q: { dispatchable: string[]; quietMs: number; limit: number }): Promise<number> {
  const rows = await sql`
    delete from dispatch_failures where incident_id in (
      select d.incident_id from dispatch_failures d left join incidents i on i.id = d.incident_id
       where i.id is null or not (i.state = any(${q.dispatchable}))
          or (d.last_failed_at < now() - make_interval(secs => ${q.quietMs / 1000})
              and (i.deadline_at is null or i.deadline_at > now()))
       limit ${q.limit})
    returning incident_id`;
  return rows.length;
}
