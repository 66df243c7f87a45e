// `npm run simulate -- --url http://127.0.0.1:3000 --heroes N --rate R/min [--minutes M] …`
// A city in motion against a running dispatch server, through the wire contract only
// (HTTP + Socket.IO): heroes patrol, answer offers like people, drive or fly to scenes,
// rescue, resolve, sometimes vanish; civilians report at a rate with hot spots. Prints a
// live summary every 2 s and, on Ctrl-C or after --minutes, a final report with checks.
// `--burst` adds a neighbourhood burst mid-run (sim/burst.ts) and its section and checks.
// `--ranking learned|distance` starts a server of its own ranking that way (sim/own-server.ts)
// with heroes of different personalities, and adds the ranking section; `--compare` runs
// both on the same seed and sets them side by side (sim/compare.ts).
// Exit code 0 when every check passes, 1 when one fails, 2 on bad usage or setup.
import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createAuth } from '../server/auth.ts';
import { loadConfig } from '../server/config.ts';
import { ownStreams, parseArgsOrExit, type SimOptions } from './sim/args.ts';
import { Burst, BURST_PATIENCE_MS } from './sim/burst.ts';
import { accountBurst } from './sim/burst-account.ts';
import { auditReports, judge, scanAssignments, type ReportAudit, type ScanResult } from './sim/checks.ts';
import { City, type Pt } from './sim/city.ts';
import { Civilians } from './sim/civilians.ts';
import { runCompare } from './sim/compare.ts';
import { DispatchObserver } from './sim/dispatch.ts';
import { Fleet } from './sim/fleet.ts';
import { http } from './sim/http.ts';
import { learnedEtas } from './sim/offers-view.ts';
import { type OwnServer, rankingState, startOwnServer } from './sim/own-server.ts';
import { mixLine } from './sim/personality.ts';
import { type RankingMeta, rankingLines, type RunSummary } from './sim/ranking-report.ts';
import { rankingSection } from './sim/ranking-stats.ts';
import { finalReport } from './sim/report.ts';
import { Rng, seedFrom } from './sim/rng.ts';
import { StatusLine, Stats, summaryLine } from './sim/stats.ts';
import { sleep } from './sim/types.ts';

const REPORT_GRACE_MS = 15_000; // retries of reports in flight at the stop
const CHECKS_BUDGET_MS = 90_000;
const SCAN_EVERY_MS = 15_000;

const opts = parseArgsOrExit(process.argv.slice(2));
if (opts.compare) process.exit(await runCompare(process.argv.slice(2), opts));
if (opts.model && !existsSync(opts.model)) {
  console.error(`simulate: --model ${opts.model}: no such file`);
  process.exit(2);
}
const line = new StatusLine();
/** A burst report outlives the run's stop by its patience at most (and a little slack). */
const BURST_DRAIN_MS = BURST_PATIENCE_MS + 2_000;

function secretOf(o: SimOptions): string {
  if (o.secret) return o.secret;
  try {
    return loadConfig(process.env).JWT_SECRET;
  } catch (e) {
    if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
    console.error(`simulate: cannot read the JWT secret from the environment (${(e as Error).message}); pass --secret`);
    process.exit(2);
  }
}

/** The burst's neighbourhood: --burst-spot, or the city's first hot spot. */
function burstSpot(): { p: Pt; where: string } | null {
  if (!opts.burst) return null;
  const given = opts.burst.spot;
  const p = given ? city.toPt(given) : (city.hotspots[0]?.p ?? { x: 0, y: 0 });
  if (Math.abs(p.x) > city.half || Math.abs(p.y) > city.half) {
    console.error(`simulate: --burst-spot ${given?.lat},${given?.lng} is outside the ${opts.cityKm} km city around ${opts.center.lat},${opts.center.lng}`);
    process.exit(2);
  }
  const at = city.toLatLng(p);
  return { p, where: given || !city.hotspots[0] ? `${at.lat},${at.lng}` : `${city.hotspots[0].name} (${at.lat},${at.lng})` };
}

// Ctrl-C once: stop reporting, finish, check, report. Twice: leave now.
let stopReason: string | null = null;
let stopAt = 0;
let wakeStop: () => void = () => {};
const stopRequested = new Promise<void>((r) => { wakeStop = r; });
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopReason && performance.now() - stopAt < 1_000) return; // one keypress, relayed twice
    if (stopReason) {
      line.log(`simulate: ${sig} again, exiting without the final report`);
      process.exit(130);
    }
    stopReason = sig === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM';
    stopAt = performance.now();
    line.log(`simulate: ${stopReason}, finishing (again to quit at once)…`);
    wakeStop();
  });
}
const stopOr = (ms: number) => Promise.race([sleep(ms), stopRequested]);

const auth = createAuth(secretOf(opts));
const stats = new Stats();
// A stray rejection is a bug of ours to report, not a reason to lose the run's report.
process.on('unhandledRejection', (e) => stats.note('unhandled rejection (simulator bug)', String((e as Error)?.stack ?? e).slice(0, 300)));
const rng = new Rng(seedFrom(opts.seed));
const city = new City(opts.center, opts.cityKm, rng);
const burstAt = burstSpot();
const runId = randomUUID().slice(0, 8);
const dispatcherToken = await auth.sign({ role: 'dispatcher', sub: `sim-${runId}-dispatcher` });

// `--ranking`: our own server, fresh schema, ranking as asked. Every way out stops it.
let own: OwnServer | null = null;
let ranking: string | null = null;
if (opts.ranking) {
  try {
    own = await startOwnServer({ ranking: opts.ranking, model: opts.model, id: runId.replace(/[^a-z0-9]/g, '') });
  } catch (e) {
    console.error(`simulate: ${(e as Error).message}`);
    process.exit(2);
  }
  opts.url = own.url; // everything below talks to it
  ranking = await rankingState(own.url);
  line.log(`simulate: started a server ranking by ${opts.ranking} on ${own.url} (pid ${own.pid}, schema ${own.schema}${opts.model ? `, model ${opts.model}` : ''}); it says: ${ranking ?? 'nothing about ranking'}`);
}
/** Stops our server (schema dropped unless --keep) and says what became of the schema. */
async function stopOwn(): Promise<string[]> {
  if (!own) return [];
  const { schema } = own;
  try {
    await Promise.race([own.stop({ keep: opts.keep }), sleep(40_000)]);
  } catch (e) {
    return [`server     could not stop or clean up (${(e as Error).message}); schema ${schema} may be left behind`];
  }
  return opts.keep
    ? [`server     schema ${schema} kept: train on it with`, `             DB_SCHEMA=${schema} npm run train`, `           and drop it afterwards: psql -c 'drop schema ${schema} cascade'`]
    : [`server     schema ${schema} dropped (--keep leaves it for npm run train)`];
}
async function bail(code: number): Promise<never> {
  for (const l of await stopOwn()) console.error(l);
  process.exit(code);
}

// The server must answer before anything else happens.
try {
  const ready = await http('GET', `${opts.url}/readyz`, { token: dispatcherToken, timeoutMs: 5_000 });
  if (ready.status !== 200) line.log(`simulate: ${opts.url}/readyz answered ${ready.status}; going on anyway`);
} catch (e) {
  console.error(`simulate: cannot reach ${opts.url} (${(e as Error).message})`);
  await bail(2);
}

line.log(`simulate: run ${runId}, seed ${opts.seed}: ${opts.heroes} heroes, ${opts.ratePerMin}/min for ${opts.warmupMin > 0 ? `${opts.warmupMin} min of warm-up + ` : ''}${opts.minutes} min, speedup ${opts.speedup}, city ${opts.cityKm} km around ${opts.center.lat},${opts.center.lng}${opts.teams > 0 ? `, ${Math.round(opts.teams * 100)}% of reports need a team` : ''}`);
const teams = opts.teams > 0;
const observer = new DispatchObserver(opts.url, dispatcherToken, stats, teams);
try {
  await observer.start();
} catch (e) {
  observer.close();
  console.error(`simulate: ${(e as Error).message}`);
  await bail(2);
}

const fleet = new Fleet({
  url: opts.url, city, rng, stats, opts, dispatcherToken,
  signHero: (id) => auth.sign({ role: 'hero', sub: id }),
});
const setupEnd = performance.now() + 120_000 + opts.heroes * 100;
const setupGiveUp = () => (stopReason ? 0 : setupEnd);
const failed = await fleet.register(opts.heroes, setupGiveUp);
line.log(`simulate: ${fleet.heroes.length} heroes registered${failed ? `, ${failed} failed` : ''}; connecting…`);
await fleet.connect(() => Math.min(setupGiveUp(), performance.now() + 30_000 + opts.heroes * 10));
line.log(`simulate: ${fleet.onDuty()} of ${fleet.heroes.length} heroes on duty${opts.personalities ? ` (${mixLine(fleet.heroes.map((h) => h.personality))})` : ''}; civilians start reporting`);

// With own streams the civilians' schedule is theirs alone (civilians.ts).
const civilians = new Civilians({
  url: opts.url, ratePerMin: opts.ratePerMin, city, stats, runId, teams: opts.teams,
  ...(ownStreams(opts) ? { rng: new Rng(seedFrom(`${opts.seed}/civilians`)), retries: new Rng(seedFrom(`${opts.seed}/civilians/retries`)) } : { rng }),
  signCivilian: (id) => auth.sign({ role: 'civilian', sub: id }),
});
const burst = opts.burst && burstAt ? new Burst({
  url: opts.url, plan: opts.burst, spot: burstAt.p, where: burstAt.where, city, rng: new Rng(seedFrom(`${opts.seed}/burst`)), stats, runId,
  signCivilian: (id) => auth.sign({ role: 'civilian', sub: id }),
  freeHeroes: () => fleet.free(),
}) : null;
if (burst && opts.burst) {
  await burst.prepare();
  line.log(`simulate: burst of ${Math.round(opts.burst.ratePerMin)}/min for ${opts.burst.seconds} s, ${opts.burst.atS.toFixed(1)} s after reporting starts, in a ${opts.burst.km} km square around ${burstAt?.where}`);
}
let phase = '';
const live = () => {
  const now = [phase, burst?.progress()].filter(Boolean).join(' ');
  line.show(summaryLine(stats, { states: observer.countStates(stats.reported.keys()), onDuty: fleet.onDuty(), heroes: fleet.heroes.length, phase: now }, line.width));
};
const summary = setInterval(live, 2_000);

// Invariant scans while the city runs, one at a time.
let scanning = false;
const scanner = setInterval(() => {
  if (scanning) return;
  scanning = true;
  scanAssignments(opts.url, dispatcherToken, { teams }).then(
    (s) => {
      stats.scans.runs += 1;
      if (s.truncated) stats.scans.truncated += 1;
      for (const v of s.violations) if (!stats.scans.violations.includes(v)) stats.scans.violations.push(v);
    },
    (e: unknown) => { stats.scans.failed += 1; stats.note('invariant scan failed', (e as Error).message); },
  ).finally(() => { scanning = false; });
}, SCAN_EVERY_MS);

// A hard stop whatever happens below: every later step has its own deadline too.
const reportingMs = (opts.warmupMin + opts.minutes) * 60_000;
const hardStopMs = reportingMs + opts.drainS * 1000 + Math.max(REPORT_GRACE_MS, burst ? BURST_DRAIN_MS : 0) + CHECKS_BUDGET_MS + 75_000;
setTimeout(() => {
  line.log(`simulate: hard stop reached before the report was done; exiting${own ? ` (schema ${own.schema} is left behind)` : ''}`);
  process.exit(3);
}, hardStopMs).unref();

const reportingStarted = performance.now();
stats.measureFrom = reportingStarted + opts.warmupMin * 60_000;
if (!stopReason) {
  stats.begin();
  civilians.start();
  if (burst && opts.burst) burst.schedule(opts.burst.atS * 1000);
  if (opts.warmupMin > 0) {
    phase = 'warm-up';
    setTimeout(() => { if (phase === 'warm-up') phase = ''; }, opts.warmupMin * 60_000).unref();
  }
  await stopOr(reportingMs);
}
stopReason ??= `after ${opts.warmupMin > 0 ? `${opts.warmupMin} + ` : ''}${opts.minutes} min`;
civilians.stop(REPORT_GRACE_MS);
burst?.stop();
const reportingS = (performance.now() - reportingStarted) / 1000;
phase = 'draining';
live();
await Promise.all([
  Promise.race([civilians.drain(), sleep(REPORT_GRACE_MS + 11_000)]),
  burst && Promise.race([burst.drain(), sleep(BURST_DRAIN_MS)]),
]);
clearInterval(scanner);
await Promise.race([(async () => { while (scanning) await sleep(100); })(), sleep(16_000)]);
if (opts.drainS > 0) await sleep(opts.drainS * 1000);

phase = 'checking';
live();
const checksEnd = performance.now() + CHECKS_BUDGET_MS;
// The burst's incidents are all read at the end, never a sample: its check is exact.
const burstIds = new Set(burst?.rows.flatMap((r) => (r.id === null ? [] : [r.id])) ?? []);
let audit: ReportAudit | null = null;
let auditError: string | null = null;
let scan: ScanResult | null = null;
let scanError: string | null = null;
await Promise.all([
  auditReports({ url: opts.url, token: dispatcherToken, stats, rng, max: opts.checkMax, giveUpAt: checksEnd - 10_000, patienceMs: 20_000, always: burstIds })
    .then((a) => { audit = a; }, (e: unknown) => { auditError = (e as Error).message; }),
  scanAssignments(opts.url, dispatcherToken, { teams }).then((s) => { scan = s; }, (e: unknown) => { scanError = (e as Error).message; }),
]);
const statesAtCheck = observer.countStates(stats.reported.keys());
clearInterval(summary);
live();
line.end();

const onDutyAtEnd = fleet.onDuty();
const burstReport = burst && opts.burst && burstAt ? {
  account: accountBurst(burst.rows, { offerAt: (id) => stats.firstOffer.seen.get(id), audit: audit as ReportAudit | null, failures: burst.failures }),
  plan: { ...opts.burst, where: burstAt.where },
  seen: { free: { atStart: burst.freeAtStart, fewest: burst.fewestFree, atEnd: fleet.free() }, loopDelayMs: burst.loopDelayMs() },
} : null;
const checks = judge({ stats, audit, auditError, scan, scanError, overfilled: observer.overfilled.size, teams, burst: burstReport?.account ?? null });

// The ranking section: what the heroes saw, beside the learned ETAs the server kept (if any).
let rankingReport: { section: ReturnType<typeof rankingSection>; meta: RankingMeta } | null = null;
if (ownStreams(opts) || opts.json !== null) {
  if (own) ranking = (await rankingState(own.url)) ?? ranking;
  const learnedEtaS = await learnedEtas(opts.url, dispatcherToken, stats.arrivals, { giveUpAt: performance.now() + 20_000 }).catch(() => undefined);
  const section = rankingSection({ reports: stats.reported, offers: stats.offerLog.values(), arrivals: stats.arrivals, from: stats.measureFrom, learnedEtaS });
  const meta: RankingMeta = {
    ranking: opts.ranking, serverState: ranking, personalities: opts.personalities ? mixLine(fleet.heroes.map((h) => h.personality)) : null,
    warmupMin: opts.warmupMin, speedup: opts.speedup,
  };
  rankingReport = { section, meta };
}
await Promise.race([fleet.stop(), sleep(10_000)]);
observer.close();
console.log(finalReport({ opts, city, stats, fleet, observer, audit, checks, reportingS, stopReason, onDutyAtEnd, statesAtCheck, burst: burstReport,
  ranking: rankingReport && rankingLines(rankingReport.section, rankingReport.meta) }));
const ok = checks.every((c) => c.ok);
const schema = own ? { name: own.schema, kept: opts.keep } : null;
for (const l of await stopOwn()) console.log(l);
if (opts.json && rankingReport) {
  const summary: RunSummary = { seed: opts.seed, meta: rankingReport.meta, section: rankingReport.section, checks, ok, schema, city: { fleet: fleet.print, reports: stats.schedule } };
  writeFileSync(opts.json, `${JSON.stringify(summary, null, 2)}\n`);
}
process.exit(ok ? 0 : 1);
