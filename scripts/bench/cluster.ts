// cluster_*: the same load against one server process and against a cluster of three
// (scripts/cluster.ts) on one schema and key prefix, one after the other. Heroes and
// reports are spread over the processes in turn; heroes accept every offer and resolve
// at once, so they are free for the next. Here `bare` is the one-process figure: ratio
// is three processes over one (for latency lower is better, for throughput higher).
import { pct, round, summary } from '../lib/stats.ts';
import { around, CITY, civilianTokens, metric, note, progress, type Metric, type Opts } from './common.ts';
import { answers, offerTimes, type ReportsResult } from './report.ts';
import { withScenario } from './scenario.ts';

const SIDE_KM = 10;
const SETTLE_MS = 5_000; // for the last offers to land and be answered
// Budgets out of the way: the load is the benchmark's, not a client's to be refused.
const ENV = { REPORTS_PER_MINUTE: '1000000', PINGS_PER_10S: '1000', DB_POOL_SIZE: '10' };

interface Load { heroes: number; rate: number; seconds: number }
interface Run { processes: number; res: ReportsResult; offerMs: number[]; httpMs: number[]; resolvedPerS: number }

async function run(processes: number, load: Load, civilians: string[]): Promise<Run> {
  const label = `cluster x${processes}`;
  const res = await withScenario(label, ENV, { n: load.heroes, place: () => around(CITY, SIDE_KM), behaviour: 'resolve' },
    ({ server, agent }) => {
      progress(`${label}: ${load.rate}/min for ${load.seconds} s, spread over ${server.urls.length} process(es)`);
      return agent.call<ReportsResult>('reports', {
        url: server.urls, civilians, perMinute: load.rate, seconds: load.seconds, center: CITY, sideKm: SIDE_KM, settleMs: SETTLE_MS,
      });
    }, processes);
  const resolvedPerS = res.resolved / (res.sendS + SETTLE_MS / 1000);
  return { processes, res, offerMs: offerTimes(res.rows), httpMs: res.rows.map((r) => r.httpMs), resolvedPerS };
}

const line = (r: Run) => `${r.processes} process(es): ${r.res.rows.length} reports ${JSON.stringify(answers(r.res.rows))}, `
  + `${r.res.resolved} resolved (${round(r.resolvedPerS, 1)}/s); report→first offer ${summary(r.offerMs, [0.5, 0.95, 0.99])} ms; `
  + `HTTP report ${summary(r.httpMs, [0.5, 0.99])} ms`;

export async function clusterScaling(o: Opts): Promise<Metric[]> {
  const load: Load = {
    heroes: o.cluster?.heroes ?? (o.quick ? 150 : 300),
    rate: o.cluster?.rate ?? 600,
    seconds: o.cluster?.seconds ?? (o.quick ? 10 : 30),
  };
  const civilians = await civilianTokens(50);
  const one = await run(1, load, civilians);
  progress(line(one));
  const three = await run(3, load, civilians);
  progress(line(three));
  note(`cluster: ${load.heroes} heroes, ${load.rate} reports/min for ${load.seconds} s, severities in turn, in a ${SIDE_KM} km square; `
    + `heroes and reports spread over the processes; bare = 1 process. ${line(one)}. ${line(three)}. `
    + 'Both on this one machine: a cluster here buys availability (a process may die), not throughput.');
  const row = (name: string, unit: string, value: number, bare: number) => metric(name, round(value, 1), unit, round(bare, 1), '— (3 processes vs 1)', null);
  return [
    row('cluster_report_to_offer_p50_ms', 'ms', pct(three.offerMs, 0.5), pct(one.offerMs, 0.5)),
    row('cluster_report_to_offer_p99_ms', 'ms', pct(three.offerMs, 0.99), pct(one.offerMs, 0.99)),
    row('cluster_http_report_p99_ms', 'ms', pct(three.httpMs, 0.99), pct(one.httpMs, 0.99)),
    row('cluster_resolved_per_s', '/s', three.resolvedPerS, one.resolvedPerS),
  ];
}
