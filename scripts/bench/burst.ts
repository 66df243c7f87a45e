// The burst: 50× the design peak (25,000 reports/min) in one neighbourhood for 20 s
// (quick: 10 s), sent as civilians send: reports spread over a 2 km square, 10% critical
// and the rest high/medium/low alike, each from its own civilian with one
// Idempotency-Key, retried with that key after exactly the Retry-After of a 503 or 429
// and after 10 s without an answer, until 30 s after the first attempt (civilian.ts).
// Heroes within 3 km accept and resolve at once; their sockets and the civilians' HTTP
// are in separate processes, so neither's loop delays the other's clock. Every figure
// is clocked from a report's FIRST attempt, so being refused costs time: a critical
// report that created no incident (gave up, failed) or whose incident got no offer
// counts as ∞ in the percentiles, and refusing more cannot make them look better. After
// a grace period the database is asked about every 2xx answer: lost = no such incident,
// or still `reported`. Event-loop delay and CPU per process are read while the first
// attempts go out and while the retries finish (observe.ts).
import { pct, round } from '../lib/stats.ts';
import { CIVILIAN_RETRY } from './civilian.ts';
import { around, CITY, civilians, metric, note, progress, sleep, type Metric, type Opts, type ServerUnderTest } from './common.ts';
import type { Child } from './ipc.ts';
import { formatLoop, formatWindow, observer, type Window } from './observe.ts';
import { attemptAnswers, endings, lost, outcomes } from './outcomes.ts';
import { breakdown, type ReportsResult } from './report.ts';
import { withCivilians, withScenario } from './scenario.ts';

const RATE = 25_000;
const SIDE_KM = 2;

const f0 = (x: number) => (Number.isFinite(x) ? String(Math.round(x)) : '∞');

export async function burst(o: Opts): Promise<Metric[]> {
  const heroes = o.quick ? 300 : 600;
  const seconds = o.quick ? 10 : 20;
  const graceMs = o.quick ? 20_000 : 30_000;
  const total = Math.round((RATE / 60) * seconds);
  const civs = await civilians(total);

  return withScenario('burst', {}, { n: heroes, place: () => around(CITY, 3), behaviour: 'resolve' }, ({ server, agent }) => withCivilians('burst', async (civAgent) => {
    const obs = await observer(server, [{ label: 'heroes\' process', child: agent }, { label: 'civilians\' process', child: civAgent }]);
    try {
      await sleep(3_000);
      const idle = await obs.mark();
      progress(`burst: idle for 3 s (server event-loop delay ${formatLoop(idle.loop)}); ${total} reports at ${RATE}/min for ${seconds} s, retried up to 30 s each, then ${graceMs / 1000} s grace`);
      const pending = civAgent.call<ReportsResult>('reports', {
        url: server.url, civilians: civs.map((c) => c.token), perMinute: RATE, seconds, center: CITY, sideKm: SIDE_KM, settleMs: 0, mix: 'burst', retry: CIVILIAN_RETRY,
      });
      await Promise.race([sleep(seconds * 1_000), pending.catch(() => null)]);
      const sending = await obs.mark();
      const r = await pending;
      const tail = await obs.mark();
      progress(`burst: every civilian done ${tail.cpu.seconds.toFixed(1)} s after the last first attempt; ${graceMs / 1000} s grace`);
      await sleep(graceMs);
      return await judge(server, agent, r, { idle, sending, tail }, civs.map((c) => c.id), { heroes, graceMs });
    } finally {
      obs.close();
    }
  }));
}

async function judge(server: ServerUnderTest, agent: Child, r: ReportsResult, w: { idle: Window; sending: Window; tail: Window }, civilianIds: string[],
  o: { heroes: number; graceMs: number }): Promise<Metric[]> {
  const out = await outcomes(server, agent, r.rows, civilianIds);
  const l = lost(out);
  const critical = out.list.filter((x) => x.row.severity === 'critical' && !x.linked);
  const times = critical.map((x) => x.toOffer);
  const never = critical.filter((x) => !Number.isFinite(x.toOffer));
  const newIncidents = out.list.filter((x) => x.created);
  const orphans = newIncidents.filter((x) => !(x.row.status >= 200 && x.row.status < 300)).length;
  const attempts = r.rows.map((x) => x.attempts.length);
  const http = r.rows.flatMap((x) => x.attempts.filter((a) => a.status > 0).map((a) => a.ms));
  const noAnswer = r.rows.reduce((n, x) => n + x.attempts.filter((a) => a.status === 0).length, 0);
  const gaveUp = r.rows.filter((x) => x.gaveUp).length;
  const stateCounts: Record<string, number> = {};
  for (const s of out.states.values()) stateCounts[s] = (stateCounts[s] ?? 0) + 1;
  const split = await breakdown(server, agent, critical.flatMap((x) => (x.created ? [{ id: x.created, sentAt: x.row.sentAt }] : [])));
  const { resolved } = await agent.call<{ resolved: number }>('counts');
  const [p50, p99] = [pct(times, 0.5), pct(times, 0.99)];

  note(`burst: ${r.rows.length} reports (one civilian each; 10% critical; ${SIDE_KM} km square), first attempts over ${r.sendS.toFixed(1)} s (${Math.round(r.rows.length / r.sendS * 60)}/min achieved); `
    + `attempts per report mean ${round(attempts.reduce((a, b) => a + b, 0) / attempts.length, 2)} / p50 ${pct(attempts, 0.5)} / p99 ${pct(attempts, 0.99)} / max ${Math.max(...attempts)}; `
    + `answers by status over all attempts ${JSON.stringify(attemptAnswers(r.rows))}; HTTP per answered attempt p50 ${round(pct(http, 0.5), 0)} / p99 ${round(pct(http, 0.99), 0)} ms; `
    + `reports ended ${JSON.stringify(endings(out.list))} (linked = joined an incident already open nearby, DEDUPE_RADIUS_M; ${orphans} incidents were created by an attempt whose answer the civilian never got). `
    + `After ${o.graceMs / 1000} s grace the ${out.states.size} incidents behind them were ${JSON.stringify(stateCounts)}${l.missing ? `, ${l.missing} 2xx answers name no incident` : ''}${out.doubled ? `, ${out.doubled} civilians have two incidents for one report` : ''}.`);
  note(`burst critical: ${critical.length} critical reports not linked; first attempt → first offer p50 ${f0(p50)} / p90 ${f0(pct(times, 0.9))} / p99 ${f0(p99)} ms; ${never.length} never offered (∞: ${never.filter((x) => !x.created).length} created no incident, ${never.filter((x) => x.created).length} incidents never offered); `
    + `all severities' new incidents p50 ${f0(pct(newIncidents.map((x) => x.toOffer), 0.5))} ms; critical ${split} (sent = the first attempt); ${resolved} incidents resolved by the ${o.heroes} heroes.`);
  note(`burst machine: while first attempts were sent: ${formatWindow(w.sending)}. Retries after that (${w.tail.cpu.seconds.toFixed(1)} s): ${formatWindow(w.tail)}. Idle before: server event-loop ${formatLoop(w.idle.loop)}.`);
  return [
    metric('burst_critical_to_offer_p50_ms', round(p50, 1), 'ms', null, '≤ 300', p50 <= 300),
    metric('burst_critical_to_offer_p99_ms', round(p99, 1), 'ms', null, '≤ 1,000', p99 <= 1000),
    metric('burst_lost', l.lost, 'reports', null, '0', l.lost === 0),
    metric('burst_gave_up', gaveUp, 'reports', null, `— (of ${r.rows.length}; critical ones are ∞ above)`, null),
    metric('burst_no_answer', noAnswer, 'attempts', null, '— (no HTTP answer: 10 s timeout or connection error)', null),
    metric('burst_event_loop_p99_ms', w.sending.loop ? round(w.sending.loop.p99, 1) : null, 'ms', null, '— (while sending; idle reads ~10)', null),
  ];
}
