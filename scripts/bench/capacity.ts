// capacity_incidents_per_s: how many new incidents a second one server turns into a
// first offer within 1 s. Heroes around one city accept and resolve at once; reports
// (the burst's mix: 10% critical) spread over a 6 km square ramp up step by step, as
// ingest ramps pings. The server runs with DEDUPE_RADIUS_M=0 so that every report is a
// new incident (over a 6 km square and a 5 min window, linking would otherwise grow
// step by step). Civilians retry as in the burst (civilian.ts), clocked from the first
// attempt; no attempt starts later than 1 s after a step's last report (it could no
// longer make the second), and the server settles before the next step. A step passes
// when ≥ 95% of the reports sent in it became new incidents offered within 1 s; the
// figure is the highest rate among passing steps (the rate the generator achieved, if
// lower). The ramp stops after two failed steps. No bare figure: nothing bare does
// what this measures end to end.
import { Redis } from 'ioredis';
import { redisKeys } from '../../server/redis.ts';
import { pct, round } from '../lib/stats.ts';
import { CIVILIAN_RETRY } from './civilian.ts';
import { around, CITY, civilians, config, metric, note, progress, sleep, type Metric, type Opts } from './common.ts';
import { othersShare } from './cpu.ts';
import { observer, type Loop, type Window } from './observe.ts';
import { outcomes, type Outcome } from './outcomes.ts';
import type { ReportsResult } from './report.ts';
import type { Child } from './ipc.ts';
import { withCivilians, withScenario, type Scenario } from './scenario.ts';

const FULL_RATES = [10, 20, 40, 60, 80, 100, 130, 160, 200, 250];
const QUICK_RATES = [10, 20, 40, 60, 100, 160, 250];
const WITHIN_MS = 1_000;
const PASS_SHARE = 0.95;
const MAX_FAILED = 2;
const SIDE_KM = 6;

interface Step { rate: number; achieved: number; rows: ReportsResult['rows']; ids: string[]; window: Window; available: number; share: number; passed: boolean }

const f0 = (x: number) => (Number.isFinite(x) ? String(Math.round(x)) : '∞');
const p99 = (l: Loop | null) => (l ? String(round(l.p99, 1)) : '?');

function judge(list: Outcome[]): { share: number; within: number } {
  const within = list.filter((x) => x.created && x.toOffer <= WITHIN_MS).length;
  return { share: list.length ? within / list.length : 0, within };
}

function describe(s: Step, list: Outcome[]): string {
  const attempts = s.rows.flatMap((r) => r.attempts);
  const times = list.map((x) => x.toOffer);
  const c = s.window.cpu;
  return `${s.rate}/s${s.achieved < 0.95 * s.rate ? ` (generator achieved ${round(s.achieved, 1)}/s)` : ''}: sent ${s.rows.length}, `
    + `2xx ${s.rows.filter((r) => r.status >= 200 && r.status < 300).length}, 503s ${attempts.filter((a) => a.status === 503).length} (of ${attempts.length} attempts), `
    + `no answer ${attempts.filter((a) => a.status === 0).length}; within 1 s ${(s.share * 100).toFixed(1)}%${s.passed ? '' : ' ✗'}; to offer p50 ${f0(pct(times, 0.5))} / p99 ${f0(pct(times, 0.99))} ms; `
    + `event-loop p99 ${p99(s.window.loop)} ms (generators' ${s.window.generators.map((g) => p99(g.loop)).join(', ')}); `
    + `CPU server ${Math.round(c.server)}% / generators ${Math.round(c.generators)}% / Postgres ${Math.round(c.postgres)}% / Redis ${Math.round(c.redis)}% / interrupts ${Math.round(c.irq)}% / everything else ${Math.round(othersShare(c))}%; `
    + `${s.available} heroes available at the step end`;
}

interface Plan { rates: number[]; stepS: number; settleMs: number }

/** The ramp: one step per rate until MAX_FAILED steps failed; each step's civilians are its own. */
async function ramp(sc: Scenario, civAgent: Child, civs: { id: string; token: string }[], plan: Plan, redis: Redis): Promise<Step[]> {
  const { server, agent } = sc;
  const steps: Step[] = [];
  const obs = await observer(server, [{ label: 'heroes\' process', child: agent }, { label: 'civilians\' process', child: civAgent }]);
  try {
    let used = 0;
    for (const rate of plan.rates) {
      const mine = civs.slice(used, used + rate * plan.stepS);
      used += mine.length;
      await obs.mark(); // the settle before the step is left out of its window
      const pending = civAgent.call<ReportsResult>('reports', {
        url: server.url, civilians: mine.map((c) => c.token), perMinute: rate * 60, seconds: plan.stepS, center: CITY, sideKm: SIDE_KM,
        settleMs: 0, mix: 'burst', retry: CIVILIAN_RETRY, cutAfterMs: WITHIN_MS,
      });
      await Promise.race([sleep(plan.stepS * 1_000), pending.catch(() => null)]);
      const window = await obs.mark();
      const r = await pending;
      await sleep(plan.settleMs);
      const available = await redis.zcard(redisKeys(server.prefix).available).catch(() => NaN);
      const ids = mine.map((c) => c.id);
      const list = (await outcomes(server, agent, r.rows, ids)).list;
      const { share } = judge(list);
      const step: Step = { rate, achieved: r.rows.length / r.sendS, rows: r.rows, ids, window, available, share, passed: share >= PASS_SHARE };
      steps.push(step);
      progress(`capacity: ${describe(step, list)}`);
      if (steps.filter((x) => !x.passed).length >= MAX_FAILED) break;
    }
    return steps;
  } finally {
    obs.close();
  }
}

export async function capacity(o: Opts): Promise<Metric[]> {
  const plan: Plan = { rates: o.quick ? QUICK_RATES : FULL_RATES, stepS: o.quick ? 5 : 8, settleMs: o.quick ? 2_000 : 3_000 };
  const heroes = o.quick ? 600 : 1_000;
  const civs = await civilians(plan.rates.reduce((n, r) => n + r * plan.stepS, 0));
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
  try {
    return await withScenario('capacity', { DEDUPE_RADIUS_M: '0' }, { n: heroes, place: () => around(CITY, SIDE_KM + 2), behaviour: 'resolve' },
      (sc) => withCivilians('capacity', async (civAgent) => {
        const steps = await ramp(sc, civAgent, civs, plan, redis);
        // Read again at the end: offers that came after a step's settle count for its p50/p99 (never for the 1 s share).
        const lines: string[] = [];
        for (const s of steps) lines.push(describe(s, (await outcomes(sc.server, sc.agent, s.rows, s.ids)).list));
        const passed = steps.filter((s) => s.passed);
        const figure = passed.length ? Math.max(...passed.map((s) => Math.min(s.rate, s.achieved))) : 0;
        note(`capacity: ${heroes} heroes (accept, en_route, on_scene, resolved at once) in a ${SIDE_KM + 2} km square, reports in a ${SIDE_KM} km square, the burst's mix and retries, DEDUPE_RADIUS_M=0; `
          + `${plan.stepS} s steps, ${plan.settleMs / 1000} s settle; a step passes at ≥ ${PASS_SHARE * 100}% of its reports new incidents offered within 1 s of the first attempt; the ramp stops after ${MAX_FAILED} failed steps; figure = highest passing step. `
          + `${figure === 0 ? `No step passed: the figure is below the lowest step (${plan.rates[0]}/s), written 0. ` : ''}`
          + `Steps: ${lines.join(' | ')}. (An idle event loop reads ~10 ms: prom-client samples it every 10 ms.)`);
        return [{ ...metric('capacity_incidents_per_s', round(figure, 1), 'incidents/s', null, '≥ 3× baseline', null), timesBaseline: 3 }];
      }));
  } finally {
    redis.disconnect();
  }
}
