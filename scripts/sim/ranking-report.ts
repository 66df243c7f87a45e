// The ranking section of the final report (issue 16), and two runs of the same seeded
// city side by side (`--compare`): time to first accept by severity, offers per
// assignment, expired offers, ETA error and the share of critical incidents accepted in
// time. The figures come from ranking-stats.ts; this only writes them.
import { type CityPrint, sameCity } from './fingerprint.ts';
import type { EtaError, OfferCounts, RankingSection, Times } from './ranking-stats.ts';
import { PERSONALITY_KINDS } from './personality.ts';
import { fmtMs } from './stats.ts';
import { SEVERITIES } from './types.ts';

export interface RankingMeta {
  /** `--ranking` (null: a server someone else started, at --url). */
  ranking: 'learned' | 'distance' | null;
  /** What the server said was in force (its dispatch_ranking_model gauge or /readyz), if it says. */
  serverState: string | null;
  /** The personality mix, null when personalities are off. */
  personalities: string | null;
  warmupMin: number;
  speedup: number;
}

/** One run as `--json` writes it and `--compare` reads it. */
export interface RunSummary {
  seed: string;
  meta: RankingMeta;
  section: RankingSection;
  checks: { name: string; ok: boolean; detail: string }[];
  ok: boolean;
  /** The server's schema when the simulator started it; `kept` when --keep left it for `npm run train`. */
  schema: { name: string; kept: boolean } | null;
  /** What the seed decided, to show two runs met the same city. */
  city: CityPrint;
}

const ms = (x: number | null) => (x === null ? '—' : fmtMs(x));
const s1 = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${Math.round(x)}s`);
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(Math.round(x))}s`;
const pc = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(1)}%`);
const ratio = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(2));
const share = (n: number, of: number) => (of > 0 ? `${((100 * n) / of).toFixed(1)}%` : '—');

/** `verb`: what happened to the incidents counted (accepted, or reached on the scene). */
function timesLine(t: Times, verb = 'accepted'): string {
  return `n=${String(t.incidents).padEnd(5)} ${verb} ${String(t.accepted).padEnd(5)} p50 ${ms(t.p50).padEnd(7)} p95 ${ms(t.p95).padEnd(7)} max ${ms(t.max).padEnd(7)} never ${verb} ${t.never}`;
}

function countsLine(c: OfferCounts): string {
  return `${c.total} offers: accepted ${share(c.accepted, c.total)}, declined ${share(c.declined, c.total)}, expired ${share(c.expired, c.total)}, taken or withdrawn ${share(c.taken + c.withdrawn, c.total)}`;
}

function etaLine(e: EtaError | null): string {
  if (!e) return 'no arrivals to compare';
  const modes = (['ground', 'air'] as const).filter((m) => e.byMode[m]).map((m) => `${m} ${ratio(e.byMode[m]!.ratio)} (n=${e.byMode[m]!.n})`).join(', ');
  const kinds = PERSONALITY_KINDS.filter((k) => e.byPersonality[k]).map((k) => `${k} ${ratio(e.byPersonality[k]!.ratio)}`).join(', ');
  return `n=${e.n} MAE ${s1(e.maeS)}, mean actual − ETA ${signed(e.lateS)}, |error| p50 ${s1(e.p50AbsS)} p95 ${s1(e.p95AbsS)}; actual/ETA median ${ratio(e.ratio)}: ${modes}${kinds ? `; ${kinds}` : ''}`;
}

export function rankingLines(s: RankingSection, m: RankingMeta): string[] {
  const head = [
    m.ranking ? `--ranking ${m.ranking}` : 'ranking set by the server at --url',
    m.serverState ? `server says: ${m.serverState}` : null,
    m.personalities ? `personalities ${m.personalities}` : 'personalities off (every hero answers alike)',
  ].filter(Boolean).join('; ');
  const scope = m.warmupMin > 0 ? `the ${s.incidents} incidents reported after the ${m.warmupMin}-min warm-up` : `all ${s.incidents} incidents`;
  const o = s.offers;
  const lines = [
    `ranking    ${head}`,
    `           figures over ${scope}; times from the report to the first accepted offer (the assignment committed)`,
    'report → first accept, by severity',
    ...SEVERITIES.map((sev) => `    ${sev.padEnd(8)} ${timesLine(s.toAccept[sev])}`),
    'report → first hero on scene, by severity (what the learned order optimises)',
    ...SEVERITIES.map((sev) => `    ${sev.padEnd(8)} ${timesLine(s.toArrival[sev], 'reached')}`),
    `critical accepted within ${s.criticalWithin.map((c) => `${c.s} s ${pc(c.share)}`).join(', ')} (of ${s.criticalWithin[0]?.of ?? 0})`,
    `offers per assignment   ${ratio(s.offersPerAssignment.all)} (${s.offersPerAssignment.offers} offers for ${s.offersPerAssignment.accepts} accepts); ${SEVERITIES.map((sev) => `${sev} ${ratio(s.offersPerAssignment.bySeverity[sev])}`).join(', ')}`,
    `expired offers          ${o.expired} of ${o.total} (${share(o.expired, o.total)}): ${o.expiredUnanswered} never answered, ${o.expiredLate} answered too late`,
    `offers by outcome       accepted ${o.accepted}, declined ${o.declined}, expired ${o.expired}, taken ${o.taken}, withdrawn ${o.withdrawn}, other ${o.other}, open at the end ${o.open}`,
  ];
  const kinds = PERSONALITY_KINDS.filter((k) => s.byPersonality[k]);
  if (kinds.length) {
    lines.push('offers by personality');
    for (const k of kinds) lines.push(`    ${k.padEnd(12)} ${countsLine(s.byPersonality[k]!)}`);
  }
  lines.push(`ETA error, physics      ${etaLine(s.eta.physics)}`);
  lines.push(`ETA error, learned      ${s.eta.learned ? etaLine(s.eta.learned) : 'none: the server gave no learned ETA for these offers'}`);
  if (m.speedup !== 1) lines.push(`           (--speedup ${m.speedup}: heroes move ${m.speedup}× faster than the physics ETA assumes; compare ETAs at --speedup 1)`);
  return lines;
}

/** Row label, then one cell per run. */
function rows(a: RunSummary, b: RunSummary): [string, string, string][] {
  const out: [string, string, string][] = [];
  const both = (label: string, f: (r: RunSummary) => string) => out.push([label, f(a), f(b)]);
  both('ranking in force', (r) => r.meta.serverState ?? `${r.meta.ranking ?? '?'} (the server did not say)`);
  for (const sev of SEVERITIES) {
    both(`${sev} → first accept p50`, (r) => ms(r.section.toAccept[sev].p50));
    both(`${sev} → first accept p95`, (r) => ms(r.section.toAccept[sev].p95));
    both(`${sev} never accepted`, (r) => `${r.section.toAccept[sev].never} of ${r.section.toAccept[sev].incidents}`);
  }
  for (const sev of SEVERITIES) {
    both(`${sev} → first on scene p50`, (r) => ms(r.section.toArrival[sev].p50));
    both(`${sev} → first on scene p95`, (r) => ms(r.section.toArrival[sev].p95));
  }
  for (let i = 0; i < (a.section.criticalWithin.length); i++) {
    both(`critical accepted within ${a.section.criticalWithin[i]!.s} s`, (r) => pc(r.section.criticalWithin[i]?.share ?? null));
  }
  both('offers per assignment', (r) => ratio(r.section.offersPerAssignment.all));
  both('critical offers per assignment', (r) => ratio(r.section.offersPerAssignment.bySeverity.critical));
  both('expired offers', (r) => `${r.section.offers.expired} of ${r.section.offers.total} (${share(r.section.offers.expired, r.section.offers.total)})`);
  both('offers to picky + ghost heroes', (r) => {
    const c = r.section.byPersonality;
    const n = (c.picky?.total ?? 0) + (c.ghost?.total ?? 0);
    return `${n} (${share(n, r.section.offers.total)})`;
  });
  both('ETA MAE, physics', (r) => s1(r.section.eta.physics?.maeS));
  both('ETA MAE, learned', (r) => s1(r.section.eta.learned?.maeS));
  both('checks', (r) => (r.ok ? 'PASS' : `FAIL (${r.checks.filter((c) => !c.ok).length})`));
  return out;
}

/**
 * Does learned beat distance on critical time to first accept? Both p50 and p95 no
 * worse, one of them better, and no more critical incidents left without an accept.
 */
export function criticalVerdict(distance: RankingSection, learned: RankingSection): { better: boolean; detail: string } {
  const d = distance.toAccept.critical;
  const l = learned.toAccept.critical;
  if (d.p50 === null || l.p50 === null || d.p95 === null || l.p95 === null) return { better: false, detail: 'not enough critical incidents accepted in one of the runs to tell' };
  const better = l.p50 <= d.p50 && l.p95 <= d.p95 && (l.p50 < d.p50 || l.p95 < d.p95) && l.never <= d.never;
  return {
    better,
    detail: `critical report → first accept p50 ${ms(d.p50)} → ${ms(l.p50)}, p95 ${ms(d.p95)} → ${ms(l.p95)}, never accepted ${d.never} → ${l.never}`,
  };
}

export function compareLines(distance: RunSummary, learned: RunSummary): string[] {
  const table = rows(distance, learned);
  const w = Math.max(...table.map(([l]) => l.length)) + 2;
  const c = Math.max(12, ...table.map(([, x]) => x.length)) + 2;
  const v = criticalVerdict(distance.section, learned.section);
  const city = sameCity(distance.city, learned.city);
  const lines = [
    '',
    `=== ranking comparison: seed ${distance.seed} ===`,
    `same city, fleet and report schedule: ${city.same ? 'yes' : 'NO'} (${city.detail})`,
    `${''.padEnd(w)}${'distance'.padEnd(c)}learned`,
    ...table.map(([l, x, y]) => `${l.padEnd(w)}${x.padEnd(c)}${y}`),
    '',
    `learned beats distance on critical time to first accept: ${v.better ? 'YES' : 'NO'} (${v.detail})`,
  ];
  if (learned.meta.serverState && !/^learned/.test(learned.meta.serverState)) {
    lines.push(`note: the learned run was ranked by "${learned.meta.serverState}", not by a model; train one (npm run train) or pass --model FILE`);
  }
  return lines;
}
