// The final report: totals, percentiles, what the heroes saw, and the checks.
import type { SimOptions } from './args.ts';
import { type BurstAccount, type BurstPlanView, type BurstSeen, burstLines } from './burst-account.ts';
import type { CheckResult, ReportAudit } from './checks.ts';
import type { City } from './city.ts';
import type { DispatchObserver } from './dispatch.ts';
import type { Fleet } from './fleet.ts';
import { summary } from '../lib/stats.ts';
import { fmtMs, severityTable, type Milestone, type Stats } from './stats.ts';

const pcts = (xs: number[]) => summary(xs, [0.5, 0.95, 0.99, 1], fmtMs);
const share = (n: number, of: number) => (of > 0 ? ` (${((100 * n) / of).toFixed(1)}%)` : '');
const states = (m: Map<string, number>) => [...m].filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';

export interface FinalInput {
  opts: SimOptions;
  city: City;
  stats: Stats;
  fleet: Fleet;
  observer: DispatchObserver | null;
  audit: ReportAudit | null;
  checks: CheckResult[];
  reportingS: number;
  stopReason: string;
  onDutyAtEnd: number;
  /** Our incidents by state on /dispatch when the checks ended. */
  statesAtCheck: Map<string, number>;
  burst?: { account: BurstAccount; plan: BurstPlanView; seen: BurstSeen } | null;
  /** The ranking section's lines (ranking-report.ts), with personalities or --ranking. */
  ranking?: string[] | null;
}

export function finalReport(f: FinalInput): string {
  const { opts, stats: s, fleet, observer, audit } = f;
  const r = s.reports;
  const o = s.offers;
  const answered = o.accepted + o.declined + o.ignored + o.taken + o.expired + o.withdrawn + o.other + o.noAnswer;
  const air = fleet.heroes.filter((h) => h.mode === 'air').length;
  const held = [...s.vanishedHolding.keys()];
  const lines = [
    '',
    '=== city simulation: final report ===',
    `run        ${opts.heroes} heroes requested, ${opts.ratePerMin}/min for up to ${opts.warmupMin > 0 ? `${opts.warmupMin} + ` : ''}${opts.minutes} min, ${opts.personalities ? 'answers by personality' : `accept/decline/ignore ${opts.accept.toFixed(2)}/${opts.decline.toFixed(2)}/${opts.ignore.toFixed(2)}`}, vanish ${opts.vanish}, speedup ${opts.speedup}, seed ${opts.seed}`,
    `city       ${opts.cityKm} km square around ${opts.center.lat},${opts.center.lng}; hot spots ${f.city.hotspots.map((h) => h.name).join(', ')}`,
    `stopped    ${f.stopReason}; reported for ${f.reportingS.toFixed(1)} s, ${((performance.now() - s.createdAt) / 1000).toFixed(1)} s in all (setup and checks included)`,
    '',
    ...(f.burst ? ['note       `reports` counts the city\'s civilians (the burst\'s are under `burst`); incidents, times and offers include the burst\'s'] : []),
    `reports    sent ${r.sent}: 201 ${r.created}, 200 ${r.replayed} (linked to an earlier incident: duplicate report or replay), refused ${r.refused}, unanswered ${r.unanswered}; retries ${r.retries} (429 ${r.throttled}, 5xx ${r.serverErrors} of which 503 ${r.overloaded}, network/timeout ${r.networkErrors}; ${r.answeredAfterRetry} answered after a retry); double taps ${r.doubleTaps}`,
    `           HTTP latency ${pcts(s.reportMs)}`,
    `incidents  ${s.reported.size} distinct; by GET at the end: ${audit ? states(audit.finalStates) : 'not read'}`,
    `           by /dispatch then: ${states(f.statesAtCheck)}`,
    '',
    `report → first offer (seen by heroes)   ${pcts(samples(s.firstOffer))}`,
    `report → assigned (seen on /dispatch)   ${pcts(samples(s.assigned))}`,
    ...severityTable(s.assigned).map((l) => `    ${l}`),
    `report → resolved (seen on /dispatch)   ${pcts(samples(s.resolved))}`,
    ...(opts.teams > 0 ? ['', ...teamLines(s, r.sent)] : []),
    ...(f.burst ? ['', ...burstLines(f.burst.account, f.burst.plan, f.burst.seen)] : []),
    ...(f.ranking ? ['', ...f.ranking] : []),
    '',
    `offers     received ${o.received}: accepted ${o.accepted}${share(o.accepted, answered)}, declined ${o.declined}${share(o.declined, answered)}, ignored ${o.ignored}${share(o.ignored, answered)}, taken ${o.taken}${share(o.taken, answered)}, expired ${o.expired}${share(o.expired, answered)}, withdrawn ${o.withdrawn}, other ${o.other}, no answer ${o.noAnswer}`,
    `progress   en_route ${s.progress.en_route}, on_scene ${s.progress.on_scene}, resolved ${s.progress.resolved}, refused ${s.progress.refused}, no answer ${s.progress.noAnswer}`,
    `heroes     registered ${s.heroes.registered} (${air} air), on duty at the end ${f.onDutyAtEnd}, vanished ${s.heroes.vanished}, released ${s.heroes.released}, resumed from session ${s.heroes.adopted}, disconnects ${s.heroes.disconnects}, pings ${s.heroes.pings}`,
    `           incidents held by a vanished hero: ${held.length}${audit?.vanishedChecked ? `; still held at the end: ${audit.heldByVanished} of ${audit.vanishedChecked} (the server releases after HERO_LOST_AFTER_MS)` : ''}`,
  ];
  if (observer) {
    const alerts = [...observer.alerts].map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
    lines.push(`dispatcher ${observer.events} incident events, ${observer.disconnects} disconnects; alerts: ${alerts}`);
  }
  if (s.notes.size) {
    lines.push('', 'notes');
    for (const [kind, n] of s.notes) lines.push(`  ${kind}: ${n.count}  e.g. ${n.examples.join(' | ').slice(0, 240)}`);
  }
  lines.push('', 'checks');
  for (const c of f.checks) lines.push(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name} — ${c.detail}`);
  const failed = f.checks.filter((c) => !c.ok).length;
  lines.push('', failed ? `RESULT: FAIL (${failed} check${failed > 1 ? 's' : ''} failed)` : 'RESULT: PASS');
  return lines.join('\n');
}

function samples(m: Milestone): number[] {
  return m.samples;
}

/** Time to full team (every slot filled: `assigned` or later on /dispatch) by team size. */
function teamLines(s: Stats, sent: number): string[] {
  const reported = s.reportedBySize();
  const sizes = [...new Set([...reported.keys(), ...s.assigned.bySize.keys()])].sort((a, b) => a - b);
  const teamSent = [...s.teamsSent.values()].reduce((a, b) => a + b, 0);
  const bySent = [...s.teamsSent].sort(([a], [b]) => a - b).map(([k, n]) => `${k} heroes ${n}`).join(', ');
  const firstOfTeams = [...s.firstMember.bySize].filter(([k]) => k > 1).flatMap(([, xs]) => xs);
  const rows = sizes.map((k) => {
    const xs = s.assigned.bySize.get(k) ?? [];
    const n = reported.get(k) ?? 0;
    const label = `${k} hero${k > 1 ? 'es' : ''}`.padEnd(9);
    return `    ${label} ${summary(xs, [0.5, 0.9, 0.99, 1], fmtMs, true)}, never full ${n - xs.length} of ${n}`;
  });
  return [
    `teams      ${teamSent} team reports sent${share(teamSent, sent)}: ${bySent || 'none'}; offers for a skill the hero lacks ${s.offers.misfit}`,
    'time to full team (report → every slot filled, seen on /dispatch), by heroes needed',
    ...rows,
    `report → first member, teams of 2+      ${pcts(firstOfTeams)}`,
  ];
}
