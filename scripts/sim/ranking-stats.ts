// The ranking section's figures (issue 16), computed from what the heroes saw: one record
// per offer (who got it, how they answered, what the server said) and one per arrival
// (accept to on the scene, beside the server's ETA). Pure, so it can be tested on a
// small constructed input; ranking-report.ts writes it out.
import { pct } from '../lib/stats.ts';
import { PERSONALITY_KINDS, type Answer, type PersonalityKind } from './personality.ts';
import { SEVERITIES, type Severity } from './types.ts';

/** How an offer ended, as the server said it: an ack, or an `offer:withdrawn`; null while open. */
export type OfferOutcome = 'accepted' | 'declined' | 'expired' | 'taken' | 'withdrawn' | 'other' | 'no_answer';

export interface OfferRecord {
  offerId: string;
  incidentId: string;
  heroId: string;
  personality: PersonalityKind | null;
  mode: 'ground' | 'air';
  distanceKm: number;
  /** performance.now() when the hero received it. */
  at: number;
  /** What the hero chose (null: it never got to choose, e.g. withdrawn first). */
  answer: Answer | null;
  outcome: OfferOutcome | null;
  /** performance.now() of the accept's ok ack: the assignment is committed. */
  acceptedAt: number | null;
}

export interface ArrivalRecord {
  offerId: string;
  incidentId: string;
  heroId: string;
  personality: PersonalityKind | null;
  mode: 'ground' | 'air';
  /** performance.now() of the accept's ok ack, and of reaching the scene. */
  assignedAt: number;
  arrivedAt: number;
  /** The server's physics ETA for the offer (server/geo/matcher.ts), seconds. */
  physicsEtaS: number;
}

export interface ReportView { t0: number; severity: string }

export interface RankingInput {
  /** Our incidents (answered 2xx) by id: when reported, and how severe. */
  reports: ReadonlyMap<string, ReportView>;
  offers: Iterable<OfferRecord>;
  arrivals: readonly ArrivalRecord[];
  /** Only incidents reported at or after this performance.now() count (the warm-up is left out); 0: all. */
  from: number;
  /** The learned ETA of an offer (seconds), by offer id, when the server has one. */
  learnedEtaS?: ReadonlyMap<string, number>;
  /** The N of "critical incidents accepted within N s". */
  withinS?: readonly number[];
}

/** Report → first accept (ms) of the incidents of one severity; `never`: no accept at all. */
export interface Times { incidents: number; accepted: number; never: number; p50: number | null; p95: number | null; max: number | null }

export interface EtaError {
  n: number;
  /** Mean |actual − ETA|, seconds. */
  maeS: number;
  /** Mean (actual − ETA): positive means heroes arrived later than the ETA said. */
  lateS: number;
  p50AbsS: number;
  p95AbsS: number;
  /** Median actual / ETA. */
  ratio: number;
  byMode: Partial<Record<'ground' | 'air', { n: number; maeS: number; ratio: number }>>;
  byPersonality: Partial<Record<PersonalityKind, { n: number; maeS: number; ratio: number }>>;
}

export interface OfferCounts {
  total: number;
  accepted: number;
  declined: number;
  /** Expired: left unanswered (ignored), or answered after the window closed. */
  expired: number;
  expiredUnanswered: number;
  expiredLate: number;
  taken: number;
  withdrawn: number;
  other: number;
  /** No outcome seen by the end (still pending, or the answer was never acknowledged). */
  open: number;
}

export interface RankingSection {
  incidents: number;
  toAccept: Record<Severity, Times>;
  /**
   * Report → the first hero on the scene, what the learned order optimises (there,
   * `accepted` counts the incidents someone reached and `never` those nobody did).
   */
  toArrival: Record<Severity, Times>;
  /** Offers made for incidents that got an accept, per accept; by severity too. */
  offersPerAssignment: { all: number | null; offers: number; accepts: number; bySeverity: Record<Severity, number | null> };
  offers: OfferCounts;
  byPersonality: Partial<Record<PersonalityKind, OfferCounts>>;
  eta: { physics: EtaError | null; learned: EtaError | null };
  criticalWithin: { s: number; within: number; of: number; share: number | null }[];
}

export const WITHIN_S = [5, 10, 15, 30] as const;

const emptyCounts = (): OfferCounts => ({ total: 0, accepted: 0, declined: 0, expired: 0, expiredUnanswered: 0, expiredLate: 0, taken: 0, withdrawn: 0, other: 0, open: 0 });

function count(c: OfferCounts, o: OfferRecord): void {
  c.total += 1;
  switch (o.outcome) {
    case 'accepted': c.accepted += 1; break;
    case 'declined': c.declined += 1; break;
    case 'expired':
      c.expired += 1;
      if (o.answer === 'accept' || o.answer === 'decline') c.expiredLate += 1;
      else c.expiredUnanswered += 1;
      break;
    case 'taken': c.taken += 1; break;
    case 'withdrawn': c.withdrawn += 1; break;
    case 'other': c.other += 1; break;
    default: c.open += 1;
  }
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function etaError(pairs: { actualS: number; etaS: number; mode: 'ground' | 'air'; personality: PersonalityKind | null }[]): EtaError | null {
  const ok = pairs.filter((p) => p.etaS > 0 && Number.isFinite(p.actualS));
  if (ok.length === 0) return null;
  const part = (xs: typeof ok) => ({ n: xs.length, maeS: mean(xs.map((p) => Math.abs(p.actualS - p.etaS))), ratio: pct(xs.map((p) => p.actualS / p.etaS), 0.5) });
  const abs = ok.map((p) => Math.abs(p.actualS - p.etaS));
  const byMode: EtaError['byMode'] = {};
  for (const m of ['ground', 'air'] as const) {
    const xs = ok.filter((p) => p.mode === m);
    if (xs.length) byMode[m] = part(xs);
  }
  const byPersonality: EtaError['byPersonality'] = {};
  for (const k of PERSONALITY_KINDS) {
    const xs = ok.filter((p) => p.personality === k);
    if (xs.length) byPersonality[k] = part(xs);
  }
  return {
    n: ok.length, maeS: mean(abs), lateS: mean(ok.map((p) => p.actualS - p.etaS)),
    p50AbsS: pct(abs, 0.5), p95AbsS: pct(abs, 0.95), ratio: pct(ok.map((p) => p.actualS / p.etaS), 0.5), byMode, byPersonality,
  };
}

const orNull = (x: number) => (Number.isFinite(x) ? x : null);

export function rankingSection(input: RankingInput): RankingSection {
  const inScope = (id: string) => {
    const r = input.reports.get(id);
    return r !== undefined && r.t0 >= input.from ? r : null;
  };
  const offers = [...input.offers].filter((o) => inScope(o.incidentId));
  const firstAccept = new Map<string, number>();
  const byIncident = new Map<string, { offers: number; accepts: number }>();
  const counts = emptyCounts();
  const byPersonality: RankingSection['byPersonality'] = {};
  for (const o of offers) {
    count(counts, o);
    if (o.personality) {
      const c = byPersonality[o.personality] ?? emptyCounts();
      count(c, o);
      byPersonality[o.personality] = c;
    }
    const inc = byIncident.get(o.incidentId) ?? { offers: 0, accepts: 0 };
    inc.offers += 1;
    if (o.outcome === 'accepted' && o.acceptedAt !== null) {
      inc.accepts += 1;
      const prev = firstAccept.get(o.incidentId);
      if (prev === undefined || o.acceptedAt < prev) firstAccept.set(o.incidentId, o.acceptedAt);
    }
    byIncident.set(o.incidentId, inc);
  }

  const reports = [...input.reports].filter(([, r]) => r.t0 >= input.from);
  /** Report → the time `first` gives per incident, by severity. */
  const timesBySeverity = (first: ReadonlyMap<string, number>): Record<Severity, Times> => {
    const out = {} as Record<Severity, Times>;
    for (const sev of SEVERITIES) {
      const mine = reports.filter(([, r]) => r.severity === sev);
      const waits = mine.flatMap(([id, r]) => {
        const at = first.get(id);
        return at === undefined ? [] : [Math.max(0, at - r.t0)];
      });
      out[sev] = {
        incidents: mine.length, accepted: waits.length, never: mine.length - waits.length,
        p50: orNull(pct(waits, 0.5)), p95: orNull(pct(waits, 0.95)), max: orNull(pct(waits, 1)),
      };
    }
    return out;
  };
  const toAccept = timesBySeverity(firstAccept);

  const perAssignment = (sev: Severity | null) => {
    let o = 0;
    let a = 0;
    for (const [id, inc] of byIncident) {
      if (inc.accepts === 0 || (sev !== null && input.reports.get(id)?.severity !== sev)) continue;
      o += inc.offers;
      a += inc.accepts;
    }
    return { offers: o, accepts: a, ratio: a > 0 ? o / a : null };
  };
  const all = perAssignment(null);
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, perAssignment(s).ratio])) as Record<Severity, number | null>;

  const arrivals = input.arrivals.filter((a) => inScope(a.incidentId));
  const firstArrival = new Map<string, number>();
  for (const a of arrivals) {
    const prev = firstArrival.get(a.incidentId);
    if (prev === undefined || a.arrivedAt < prev) firstArrival.set(a.incidentId, a.arrivedAt);
  }
  const toArrival = timesBySeverity(firstArrival);
  const actual = (a: ArrivalRecord) => (a.arrivedAt - a.assignedAt) / 1000;
  const physics = etaError(arrivals.map((a) => ({ actualS: actual(a), etaS: a.physicsEtaS, mode: a.mode, personality: a.personality })));
  const learnedEta = input.learnedEtaS;
  const learned = learnedEta
    ? etaError(arrivals.flatMap((a) => {
      const etaS = learnedEta.get(a.offerId);
      return etaS === undefined ? [] : [{ actualS: actual(a), etaS, mode: a.mode, personality: a.personality }];
    }))
    : null;

  const critical = reports.filter(([, r]) => r.severity === 'critical');
  const criticalWithin = (input.withinS ?? WITHIN_S).map((s) => {
    const within = critical.filter(([id, r]) => {
      const at = firstAccept.get(id);
      return at !== undefined && at - r.t0 <= s * 1000;
    }).length;
    return { s, within, of: critical.length, share: critical.length ? within / critical.length : null };
  });

  return {
    incidents: reports.length, toAccept, toArrival,
    offersPerAssignment: { all: all.ratio, offers: all.offers, accepts: all.accepts, bySeverity },
    offers: counts, byPersonality, eta: { physics, learned }, criticalWithin,
  };
}
