// What the learned ranking knows about one hero for one incident (issue 16): the
// RankInput a dispatch round assembles, and the fixed feature vector both models read.
// Pure: no I/O. The outbox keeps the hero's history (server/store/hero-stats.store.ts);
// nothing here is computed from the database on the hot path.
//
// The features, in FEATURE_NAMES order (a model trained on another list is unusable):
//   distance_km        straight-line distance to the incident
//   mode_air           1 for an air hero, 0 for ground
//   physics_eta_min    today's ETA (server/geo/matcher.ts: distance × detour ÷ speed), minutes;
//                      also the base the ETA model corrects (scoreCandidate reads it back)
//   sev_critical, sev_high, sev_medium             severity, one-hot (low is the baseline)
//   kind_accident, kind_fire, kind_crime, kind_medical, kind_disaster
//                                                  kind, one-hot (other is the baseline)
//   hour_sin, hour_cos time of day: the UTC hour (with its fraction) on a circle
//   accept_rate        accepts ÷ offers, shrunk towards the prior (Beta, strength 4)
//   decline_rate       declines ÷ answered (accepts + declines), shrunk likewise
//   ignore_rate        expired unanswered ÷ offers, shrunk likewise
//   answer_s           mean time to answer, seconds, shrunk towards the prior (2 answers' weight)
//   recent_offers_1h   offers received in the last hour (capped at 20)
//   active_load        holds an active assignment elsewhere (0/1)
//   skill_match        has the slot's skill, or the slot needs none (0/1)
//   log_eta_ratio      log of the hero's actual ÷ physics arrival time, shrunk towards the
//                      prior ratio (2 arrivals' weight)
//
// Priors: a hero with no history (null, or 0 offers) gets exactly the prior values, the
// same as a hero whose record is the population's average, so a model cannot score a new
// hero below an average one. The history's size is deliberately not a feature: if it
// were, a model could learn "little history → less likely" and punish newcomers. A trained
// model carries the population's priors (its training data's rates, `model.priors`); until
// then DEFAULT_PRIORS apply: Beta(2,2) on the accept rate (0.5), and an ignore rate of 0.2
// and decline share of 0.375 that agree with it ((1 − 0.2) × (1 − 0.375) = 0.5), 5 s to
// answer, and an ETA ratio of 1 (the physics ETA is right).
import { z } from 'zod';
import { HERO_MODES, INCIDENT_KINDS, SEVERITIES } from '../../shared/domain.ts';
import type { HeroMode, IncidentKind, Severity } from '../../shared/domain.ts';

/** A hero's answers to recent offers, per sliding window, as kept by the outbox (server/store/hero-stats.store.ts). */
export interface HeroHistory {
  offers: number; // offers decided in the window (accepted + declined + expired)
  accepts: number;
  declines: number;
  ignores: number; // expired without an answer
  answerMsSum: number; // sum of time-to-answer over accepts + declines
  etaRatioSum: number; // sum over arrivals of actual assign→on_scene seconds / physics ETA seconds
  arrivals: number; // how many arrivals etaRatioSum covers
}

export interface RankInput {
  heroId: string;
  distanceKm: number;
  mode: HeroMode;
  physicsEtaS: number; // today's ETA (server/geo/matcher.ts etaMinutes * 60)
  severity: Severity;
  kind: IncidentKind;
  at: number; // epoch ms of the round (time of day features, UTC hour)
  history: HeroHistory | null; // null = a new hero: priors apply, never a penalty
  activeLoad: number; // 0/1: holds an active assignment elsewhere (normally 0: such heroes are not offered)
  recentOffers1h: number; // offers received in the last hour (activity)
  skillMatch: 0 | 1; // has the slot's skill (or the slot needs none)
}

export type FeatureName = string;

export const FEATURE_NAMES: readonly FeatureName[] = Object.freeze([
  'distance_km', 'mode_air', 'physics_eta_min',
  'sev_critical', 'sev_high', 'sev_medium',
  'kind_accident', 'kind_fire', 'kind_crime', 'kind_medical', 'kind_disaster',
  'hour_sin', 'hour_cos',
  'accept_rate', 'decline_rate', 'ignore_rate', 'answer_s',
  'recent_offers_1h', 'active_load', 'skill_match', 'log_eta_ratio',
]);
export const FEATURE_COUNT = FEATURE_NAMES.length;

/** Each feature's position in the vector (checked against FEATURE_NAMES by the tests). */
export const IDX = {
  distance: 0, air: 1, physicsEtaMin: 2, sevFirst: 3, kindFirst: 6, hourSin: 11, hourCos: 12,
  acceptRate: 13, declineRate: 14, ignoreRate: 15, answerS: 16, recentOffers: 17, activeLoad: 18, skillMatch: 19, logEtaRatio: 20,
} as const;

/** Population means that stand in for missing history. */
export interface Priors {
  acceptRate: number;
  declineRate: number; // share of answered offers declined
  ignoreRate: number;
  answerS: number;
  etaRatio: number;
}

/** How many observations' weight each prior carries (Beta(2,2) on the accept rate: 4). */
export const PRIOR_STRENGTH = Object.freeze({ rates: 4, answers: 2, arrivals: 2 });

export const DEFAULT_PRIORS: Readonly<Priors> = Object.freeze({
  acceptRate: 0.5, declineRate: 0.375, ignoreRate: 0.2, answerS: 5, etaRatio: 1,
});

/** The most recent-offer count the feature distinguishes (outliers would dominate a linear term). */
export const RECENT_OFFERS_CAP = 20;
const MS_PER_DAY = 86_400_000;
const SEV_INDEX: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: -1 };
const KIND_INDEX: Record<IncidentKind, number> = { accident: 0, fire: 1, crime: 2, medical: 3, disaster: 4, other: -1 };

const finite = (x: number, fallback = 0): number => (Number.isFinite(x) ? x : fallback);
const shrink = (hits: number, n: number, prior: number, strength: number): number => (hits + prior * strength) / (n + strength);

let lastAt = Number.NaN;
let lastSin = 0;
let lastCos = 1;

/** Writes the features of `input` into `out` (length FEATURE_COUNT), allocating nothing. */
export function extractInto(input: RankInput, out: Float64Array, priors: Readonly<Priors> = DEFAULT_PRIORS): Float64Array {
  out.fill(0);
  out[IDX.distance] = Math.max(0, finite(input.distanceKm));
  out[IDX.air] = input.mode === 'air' ? 1 : 0;
  out[IDX.physicsEtaMin] = Math.max(0, finite(input.physicsEtaS)) / 60;
  const sev = SEV_INDEX[input.severity];
  if (sev >= 0) out[IDX.sevFirst + sev] = 1;
  const kind = KIND_INDEX[input.kind];
  if (kind >= 0) out[IDX.kindFirst + kind] = 1;
  // A round's candidates share its `at`: the circle is computed once per round.
  const at = finite(input.at);
  if (at !== lastAt) {
    const angle = (2 * Math.PI * (((at % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY)) / MS_PER_DAY;
    lastAt = at;
    lastSin = Math.sin(angle);
    lastCos = Math.cos(angle);
  }
  out[IDX.hourSin] = lastSin;
  out[IDX.hourCos] = lastCos;

  const h = input.history;
  const offers = h ? Math.max(0, finite(h.offers)) : 0;
  const accepts = h ? Math.max(0, finite(h.accepts)) : 0;
  const declines = h ? Math.max(0, finite(h.declines)) : 0;
  const ignores = h ? Math.max(0, finite(h.ignores)) : 0;
  const answered = accepts + declines;
  const { rates, answers, arrivals: arrivalWeight } = PRIOR_STRENGTH;
  out[IDX.acceptRate] = shrink(Math.min(accepts, offers), offers, priors.acceptRate, rates);
  out[IDX.declineRate] = shrink(declines, answered, priors.declineRate, rates);
  out[IDX.ignoreRate] = shrink(Math.min(ignores, offers), offers, priors.ignoreRate, rates);
  const answerSSum = h ? Math.max(0, finite(h.answerMsSum)) / 1000 : 0;
  out[IDX.answerS] = shrink(answerSSum, answered, priors.answerS, answers);
  out[IDX.recentOffers] = Math.min(RECENT_OFFERS_CAP, Math.max(0, finite(input.recentOffers1h)));
  out[IDX.activeLoad] = input.activeLoad > 0 ? 1 : 0;
  out[IDX.skillMatch] = input.skillMatch === 1 ? 1 : 0;
  const arrivals = h ? Math.max(0, finite(h.arrivals)) : 0;
  const ratioSum = h && arrivals > 0 ? Math.max(0, finite(h.etaRatioSum)) : 0;
  out[IDX.logEtaRatio] = Math.log(Math.max(0.05, shrink(ratioSum, arrivals, priors.etaRatio, arrivalWeight)));
  return out;
}

/** The features of `input`, in FEATURE_NAMES order; priors fill missing history. */
export function extractFeatures(input: RankInput, priors: Readonly<Priors> = DEFAULT_PRIORS): Float64Array {
  return extractInto(input, new Float64Array(FEATURE_COUNT), priors);
}

/** True when the hero has nothing on record: every history feature is its prior. */
export const isNewHero = (input: Pick<RankInput, 'history'>): boolean => !input.history || input.history.offers <= 0;

const count = z.number().finite().min(0);
export const heroHistorySchema = z.object({
  offers: count, accepts: count, declines: count, ignores: count, answerMsSum: count, etaRatioSum: count, arrivals: count,
});

/** A RankInput as stored with its offer (`offers.rank_input`): everything but heroId, which the row has. */
export const storedRankInputSchema = z.object({
  distanceKm: count,
  mode: z.enum(HERO_MODES),
  physicsEtaS: count,
  severity: z.enum(SEVERITIES),
  kind: z.enum(INCIDENT_KINDS),
  at: z.number().finite(),
  history: heroHistorySchema.nullable(),
  activeLoad: count,
  recentOffers1h: count,
  skillMatch: z.union([z.literal(0), z.literal(1)]),
});
export type StoredRankInput = z.infer<typeof storedRankInputSchema>;

export const priorsSchema = z.strictObject({
  acceptRate: z.number().min(0.001).max(0.999),
  declineRate: z.number().min(0.001).max(0.999),
  ignoreRate: z.number().min(0.001).max(0.999),
  answerS: z.number().positive().finite(),
  etaRatio: z.number().positive().finite(),
});
