// The burst's figures and checks, from its rows (one per report, burst.ts). Pure, so
// they can be tested: a report's clock starts at its FIRST attempt; one that gave up,
// was refused or whose incident was never offered waits for ever (Infinity, the slowest
// in a percentile); a 2xx answer whose incident is gone or still `reported` at the end
// is lost.
import { summary } from '../lib/stats.ts';
import { fmtMs } from './stats.ts';
import type { CheckResult } from './check-result.ts';
import type { Severity } from './types.ts';

export type BurstOutcome = 'sending' | 'created' | 'linked' | 'refused' | 'gaveUp';

export interface BurstRow {
  severity: Severity;
  /** performance.now() of the first attempt. */
  firstAt: number;
  attempts: number;
  outcome: BurstOutcome;
  /** Status of the last answer; 0 when the last attempt got none (network, timeout). */
  status: number | null;
  /** The incident a 2xx answer named. */
  id: string | null;
}

/** Failed attempts by cause (a report may have several), and every Retry-After given. */
export interface BurstFailures { overloaded: number; throttled: number; server: number; network: number; retryAfterMs: number[] }

/** What the final audit said about incidents (ids); null when it could not run. */
export interface AuditView { lost: readonly string[]; stillReported: readonly string[]; unverified: readonly string[] }

export interface BurstAccount {
  sent: number;
  created: number;
  linked: number;
  refused: number;
  gaveUp: number;
  /** Gave up after a last attempt answered 503 or 429 (told to come back after their patience ran out), or not answered at all. */
  gaveUpRefused: number;
  gaveUpUnanswered: number;
  /** Neither answered nor given up when the run's wait for them ended. */
  unsettled: number;
  answeredAfterRetry: number;
  /** Attempts of each settled report. */
  attempts: number[];
  failures: BurstFailures;
  /** Distinct incidents behind the 2xx answers. */
  incidents: string[];
  /** 2xx answers whose incident was 404, still `reported`, or could not be read at the end. */
  lost: { answers: number; notFound: string[]; stillReported: string[]; unread: string[] };
  verified: boolean;
  /** Waits of every critical report, of those answered 2xx, and of those answered 201 (a new incident, not linked). */
  critical: { sent: number; waits: number[]; answeredWaits: number[]; createdWaits: number[]; answered: number; gaveUp: number; refused: number; neverOffered: number };
}

const answered = (r: BurstRow) => r.outcome === 'created' || r.outcome === 'linked';

/** Report → first offer of its incident, timed from the first attempt; Infinity if none came. */
export function toFirstOffer(row: BurstRow, offerAt: number | undefined): number {
  if (!answered(row) || row.id === null || offerAt === undefined) return Number.POSITIVE_INFINITY;
  // Linked to an incident offered before this report was made: it waited for nothing.
  return Math.max(0, offerAt - row.firstAt);
}

export function accountBurst(rows: readonly BurstRow[], o: { offerAt: (id: string) => number | undefined; audit: AuditView | null; failures: BurstFailures }): BurstAccount {
  const count = (k: BurstOutcome) => rows.filter((r) => r.outcome === k).length;
  const ok = rows.filter(answered);
  const incidents = [...new Set(ok.map((r) => r.id!))];
  const pick = (xs: readonly string[] | undefined) => {
    const set = new Set(xs ?? []);
    return incidents.filter((id) => set.has(id));
  };
  const notFound = pick(o.audit?.lost);
  const stillReported = pick(o.audit?.stillReported);
  const unread = o.audit ? pick(o.audit.unverified) : incidents;
  const bad = new Set([...notFound, ...stillReported, ...unread]);
  const critical = rows.filter((r) => r.severity === 'critical');
  const waits = critical.map((r) => toFirstOffer(r, r.id === null ? undefined : o.offerAt(r.id)));
  return {
    sent: rows.length,
    created: count('created'),
    linked: count('linked'),
    refused: count('refused'),
    gaveUp: count('gaveUp'),
    gaveUpRefused: rows.filter((r) => r.outcome === 'gaveUp' && (r.status === 503 || r.status === 429)).length,
    gaveUpUnanswered: rows.filter((r) => r.outcome === 'gaveUp' && r.status === 0).length,
    unsettled: count('sending'),
    answeredAfterRetry: ok.filter((r) => r.attempts > 1).length,
    attempts: rows.filter((r) => r.outcome !== 'sending').map((r) => r.attempts),
    failures: o.failures,
    incidents,
    lost: { answers: ok.filter((r) => bad.has(r.id!)).length, notFound, stillReported, unread },
    verified: o.audit !== null,
    critical: {
      sent: critical.length,
      waits,
      answered: critical.filter(answered).length,
      gaveUp: critical.filter((r) => r.outcome === 'gaveUp').length,
      refused: critical.filter((r) => r.outcome === 'refused').length,
      neverOffered: critical.filter((r, i) => answered(r) && !Number.isFinite(waits[i]!)).length,
      answeredWaits: waits.filter((_, i) => answered(critical[i]!)),
      createdWaits: waits.filter((_, i) => critical[i]!.outcome === 'created'),
    },
  };
}

const fmtWait = (ms: number) => (ms === Number.POSITIVE_INFINITY ? '∞' : fmtMs(ms));
const share = (n: number, of: number) => (of > 0 ? ` (${((100 * n) / of).toFixed(1)}%)` : '');
const ids = (xs: string[]) => (xs.length ? `: ${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ', …' : ''}` : '');

export interface BurstPlanView { ratePerMin: number; seconds: number; atS: number; km: number; where: string }
/**
 * What the simulator saw around the burst: our free heroes (Fleet.free) when it began,
 * the fewest while it lasted and at the end; and its own event-loop delay meanwhile, to
 * tell a slow server from a simulator that could not keep up.
 */
export interface BurstSeen { free: { atStart: number | null; fewest: number | null; atEnd: number }; loopDelayMs: { p99: number; max: number } | null }

export function burstLines(a: BurstAccount, plan: BurstPlanView, seen: BurstSeen): string[] {
  const free = seen.free;
  const loop = seen.loopDelayMs;
  const f = a.failures;
  const c = a.critical;
  const mean = a.attempts.length ? (a.attempts.reduce((s, n) => s + n, 0) / a.attempts.length).toFixed(2) : '—';
  const lost = a.lost.notFound.length + a.lost.stillReported.length + a.lost.unread.length;
  return [
    `burst      ${Math.round(plan.ratePerMin)}/min for ${plan.seconds} s from ${plan.atS.toFixed(1)} s, ${plan.km} km square around ${plan.where}; 10% critical; each report retried with its Idempotency-Key (Retry-After honoured) until 30 s after its first attempt`,
    `           sent ${a.sent}: answered 2xx ${a.created + a.linked}${share(a.created + a.linked, a.sent)} (201 ${a.created}, 200 linked or replayed ${a.linked}; ${a.answeredAfterRetry} after a retry), refused ${a.refused}, `
      + `gave up ${a.gaveUp}${share(a.gaveUp, a.sent)} (last attempt 503/429 ${a.gaveUpRefused}, unanswered ${a.gaveUpUnanswered})${a.unsettled ? `, still unsettled ${a.unsettled}` : ''}`,
    `           attempts per report ${summary(a.attempts, [0.5, 0.9, 0.99, 1], (x) => (Number.isFinite(x) ? String(x) : '—'))}, mean ${mean}; failed attempts: 503 ${f.overloaded}, 429 ${f.throttled}, other 5xx ${f.server}, network/timeout ${f.network}`,
    `           Retry-After given with 503/429 ${summary(f.retryAfterMs, [0.5, 0.9, 1], fmtMs)}`,
    '           critical → first offer, timed from the first attempt (∞: gave up, refused or never offered)',
    `             every report           ${summary(c.waits, [0.5, 0.9, 0.99], fmtWait)}`,
    `             answered 2xx           ${summary(c.answeredWaits, [0.5, 0.9, 0.99], fmtWait)}`,
    `             new incident (201)     ${summary(c.createdWaits, [0.5, 0.9, 0.99], fmtWait)}`,
    `           critical: ${c.sent} sent, ${c.answered} answered 2xx, ${c.gaveUp} gave up, ${c.refused} refused, ${c.neverOffered} answered but never offered`,
    `           lost ${lost}: ${a.incidents.length} distinct incidents behind the 2xx answers, ${a.lost.notFound.length} not found, ${a.lost.stillReported.length} still \`reported\`, ${a.lost.unread.length} unread${a.verified ? '' : ' (no audit)'}`,
    `           our heroes free: ${free.atStart ?? '—'} when it began, fewest while it lasted ${free.fewest ?? '—'}, ${free.atEnd} at the end; `
      + `simulator event-loop delay meanwhile ${loop ? `p99 ${fmtMs(loop.p99)}, max ${fmtMs(loop.max)}` : '—'}`,
  ];
}

/**
 * The burst's own checks. Giving up is not a failure (it is what a civilian does after
 * 30 s refused), so its figures are reported, not judged; latency is reported too.
 */
export function burstChecks(a: BurstAccount): CheckResult[] {
  const ok = a.created + a.linked;
  return [
    {
      name: 'burst: reports answered 2xx',
      // A burst refused whole would lose nothing and prove nothing.
      ok: ok > 0,
      detail: a.sent ? `${ok} of ${a.sent} answered 2xx, ${a.gaveUp} gave up after 30 s, ${a.unsettled} unsettled` : 'no burst report was sent (the run stopped before the burst?)',
    },
    {
      name: 'burst: incidents lost = 0',
      ok: ok > 0 && a.verified && a.lost.answers === 0 && a.lost.unread.length === 0,
      detail: `${a.lost.answers} of ${ok} 2xx answers name an incident that is gone or still \`reported\` (${a.lost.notFound.length} not found${ids(a.lost.notFound)}; `
        + `${a.lost.stillReported.length} still reported${ids(a.lost.stillReported)}); ${a.lost.unread.length} of ${a.incidents.length} incidents unread${ids(a.lost.unread)}${a.verified ? '' : ' (no audit)'}`,
    },
    { name: 'burst: valid reports never refused', ok: a.refused === 0, detail: `${a.refused} answered 4xx other than 429` },
  ];
}
