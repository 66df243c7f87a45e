// Levels the /metrics gauges read from the truth at scrape time (server/metrics.ts),
// so every process reports the cluster's view.
import type { Sql } from '../db.ts';

export async function openIncidentsByState(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ state: string; n: number }[]>`
    select state, count(*)::int as n from incidents where state not in ('resolved', 'cancelled') group by state`;
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

export async function onDutyHeroIds(sql: Sql): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select id from heroes where on_duty`;
  return rows.map((r) => r.id);
}
