// burst_critical_to_offer_p99_ms and burst_lost: 50× the design peak (25,000 reports/min)
// in one neighbourhood (a 1 km square, heroes within 3 km who accept and resolve at
// once) for 20 s (quick: 10 s). Report → first offer is read for the critical quarter.
// Then a grace period, and the database is asked about every report answered 2xx:
// lost = never became an incident, or still `reported` (no dispatch round ever ran).
// 503 + Retry-After answers (admission control) are refusals, counted separately.
import { pct, round } from '../lib/stats.ts';
import { around, CITY, civilianTokens, metric, note, progress, type Metric, type Opts } from './common.ts';
import { answers, breakdown, offerTimes, type ReportsResult } from './report.ts';
import { withScenario } from './scenario.ts';

const RATE = 25_000;

export async function burst(o: Opts): Promise<Metric[]> {
  const heroes = o.quick ? 300 : 600;
  const seconds = o.quick ? 10 : 20;
  const graceMs = o.quick ? 20_000 : 30_000;
  const total = Math.round((RATE / 60) * seconds);
  const civilians = await civilianTokens(Math.ceil(total / 3)); // ≤ 3 reports each: far below REPORTS_PER_MINUTE

  return withScenario('burst', {}, { n: heroes, place: () => around(CITY, 3), behaviour: 'resolve' }, async ({ server, agent }) => {
    progress(`burst: ${total} reports at ${RATE}/min for ${seconds} s, then ${graceMs / 1000} s grace`);
    const r = await agent.call<ReportsResult>('reports', { url: server.url, civilians, perMinute: RATE, seconds, center: CITY, sideKm: 1, settleMs: graceMs });

    const byStatus = answers(r.rows);
    const ok = r.rows.filter((x) => x.status >= 200 && x.status < 300);
    const ids = ok.map((x) => x.id).filter((id): id is string => !!id);
    const states = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 5_000) {
      const rows = await server.sql<{ id: string; state: string }[]>`select id, state from incidents where id = any(${ids.slice(i, i + 5_000)})`;
      for (const row of rows) states.set(row.id, row.state);
    }
    const missing = ok.length - ids.filter((id) => states.has(id)).length;
    const stillReported = [...states.values()].filter((s) => s === 'reported').length;
    const lost = missing + stillReported;
    const stateCounts: Record<string, number> = {};
    for (const s of states.values()) stateCounts[s] = (stateCounts[s] ?? 0) + 1;

    const critical = offerTimes(r.rows.filter((x) => x.severity === 'critical'));
    const never = critical.filter((x) => !Number.isFinite(x)).length;
    const all = offerTimes(r.rows);
    const p99 = pct(critical, 0.99);
    const http = r.rows.map((x) => x.httpMs);
    const split = await breakdown(server, agent, r.rows.filter((x) => x.severity === 'critical'));
    note(`burst: ${r.rows.length} reports sent in ${r.sendS.toFixed(1)} s (${Math.round(r.rows.length / r.sendS * 60)}/min achieved); answers ${JSON.stringify(byStatus)} (200 = linked to an incident already open nearby, DEDUPE_RADIUS_M); `
      + `HTTP p50 ${round(pct(http, 0.5), 0)} / p99 ${round(pct(http, 0.99), 0)} ms. After ${graceMs / 1000} s grace the ${states.size} distinct incidents behind the 2xx answers were ${JSON.stringify(stateCounts)}`
      + `${missing ? `, ${missing} missing` : ''}. Critical new-incident report→offer p50 ${round(pct(critical, 0.5), 0)} / p90 ${round(pct(critical, 0.9), 0)} ms over ${critical.length}, ${never} never offered (counted as ∞); `
      + `all severities p50 ${round(pct(all, 0.5), 0)} ms; critical ${split}; ${r.resolved} incidents resolved by the ${heroes} heroes.`);
    return [
      metric('burst_critical_to_offer_p99_ms', round(p99, 1), 'ms', null, '≤ 1,000', p99 <= 1000),
      metric('burst_lost', lost, 'reports', null, '0', lost === 0),
      metric('burst_refused_503', byStatus['503'] ?? 0, 'reports', null, '— (not lost; counted apart)', null),
    ];
  });
}
