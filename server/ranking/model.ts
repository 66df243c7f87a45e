// A trained ranking model (issue 16) and what the hot path does with it: validate the
// JSON `npm run train` wrote, score one candidate in microseconds, and explain a score
// in words a dispatcher reads ("close: 0.8 km by ground, arrives in ~2 min (P(accept)
// 72%)", "accepts often (9 of 10 offers in 7 days)", "slow to answer (avg 9 s)").
// Pure: no I/O (model.file.ts reads and writes the file).
//
// The score ranks by the expected time until an accepted hero arrives:
//
//   expectedS = answerS + etaS + (1 − p) / p × offerWindowS,   p = P(accept) clamped to [0.02, 0.98]
//
// Why: a hero who declines or lets the offer expire costs the incident about one offer
// window before the next round asks someone else. Treating the rounds as repeated tries
// with this hero's p, the number of failures before an accept is geometric with mean
// (1 − p) / p, each costing one window; the accepted hero then needs answerS to say yes
// (their mean time to answer, the answer_s feature: the prior for a new hero) and etaS
// to arrive. Without answerS, a near hero who accepts after 12 s outranked one who
// accepts after 3 s from a few seconds further, and the simulator's critical incidents
// waited for them (README, "In the simulator").
// So a hero 2 min further away but twice as likely to accept can rank first, and the
// exchange rate between seconds of driving and probability is the offer window, not a
// tuned constant. The clamp keeps a p near 0 from producing an infinite wait (and a p
// near 1 from being trusted blindly). etaS is the physics ETA times the ETA model's
// learned factor for the hero's mode.
import { z } from 'zod';
import { MAX_LOG_RATIO } from './eta-model.ts';
import type { RankInput } from './features.ts';
import { DEFAULT_PRIORS, FEATURE_COUNT, FEATURE_NAMES, IDX, isNewHero, priorsSchema, type Priors } from './features.ts';

export interface RankingModel {
  version: string; // e.g. "acceptance-logreg-2026-12-07T10:00:00Z"
  trainedAt: string; // ISO
  features: string[]; // FEATURE_NAMES at training time (a mismatch = unusable model)
  acceptance: { intercept: number; weights: number[]; mean: number[]; std: number[] }; // standardised logistic regression
  eta: { ground: { intercept: number; weights: number[] }; air: { intercept: number; weights: number[] } }; // predicts log(actual/physics) ETA ratio
  metrics: {
    acceptance: {
      auc: number; logLoss: number; calibration: { bin: string; predicted: number; observed: number; n: number }[]; n: number;
      /** Held-out AUC of simpler scorers beside the model's (a one-feature ranking by the hero's accept rate, by distance). */
      baselines?: { name: string; auc: number }[];
    };
    /**
     * The ETA the server uses (each mode learned or physics) against physics, on held-out
     * arrivals. n = 0: none held out, so nothing was measured (both MAEs are then 0).
     */
    eta: {
      maeS: number; physicsMaeS: number; n: number;
      /** Per mode: which ETA is in use and why, on how many fitted and held-out arrivals. */
      modes?: Record<'ground' | 'air', { used: 'learned' | 'physics'; why?: string; n: number; fitted: number; maeS: number; physicsMaeS: number }>;
    };
    split: { trainUntil: string; testFrom: string };
    /** Rows the fit saw (older 80%) and held out (newer 20%); arrivals are split on their own. */
    rows?: { train: number; test: number; etaTrain: number; etaTest: number };
    /** Features held at 0 in both fits, and why (time of day, when the history spans under a day). */
    frozen?: { features: string[]; why: string };
  };
  /** The population's rates that stand in for missing history (features.ts); DEFAULT_PRIORS when absent. */
  priors?: Priors;
}

const num = z.number().finite();
const vec = z.array(num).length(FEATURE_COUNT);
const etaFit = z.strictObject({ intercept: num, weights: vec });
const iso = z.iso.datetime({ offset: true });
const count = z.number().int().min(0);
const etaMode = z.strictObject({
  used: z.enum(['learned', 'physics']), why: z.string().optional(), n: count, fitted: count, maeS: num, physicsMaeS: num,
});
const modelSchema = z.strictObject({
  version: z.string().min(1).max(200),
  trainedAt: iso,
  features: z.array(z.string()),
  acceptance: z.strictObject({ intercept: num, weights: vec, mean: vec, std: z.array(num.positive()).length(FEATURE_COUNT) }),
  eta: z.strictObject({ ground: etaFit, air: etaFit }),
  metrics: z.strictObject({
    acceptance: z.strictObject({
      auc: num, logLoss: num, n: z.number().int().min(0),
      calibration: z.array(z.strictObject({ bin: z.string(), predicted: num, observed: num, n: z.number().int().min(0) })),
      baselines: z.array(z.strictObject({ name: z.string(), auc: num })).optional(),
    }),
    eta: z.strictObject({
      maeS: num, physicsMaeS: num, n: z.number().int().min(0),
      modes: z.strictObject({ ground: etaMode, air: etaMode }).optional(),
    }),
    split: z.strictObject({ trainUntil: iso, testFrom: iso }),
    rows: z.strictObject({
      train: z.number().int().min(0), test: z.number().int().min(0), etaTrain: z.number().int().min(0), etaTest: z.number().int().min(0),
    }).optional(),
    frozen: z.strictObject({ features: z.array(z.string()), why: z.string() }).optional(),
  }),
  priors: priorsSchema.optional(),
});

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * The model in `json`, validated, or an Error saying what is wrong (a field, or features
 * that are not this build's FEATURE_NAMES: such a model would score the wrong columns).
 * The result is frozen: scoring caches per model object.
 */
export function parseModel(json: unknown): RankingModel {
  const parsed = modelSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid ranking model: ${issues.join('; ')}`);
  }
  const m = parsed.data;
  if (m.features.length !== FEATURE_COUNT || m.features.some((f, i) => f !== FEATURE_NAMES[i])) {
    throw new Error(`invalid ranking model: trained on features [${m.features.join(', ')}], this build uses [${FEATURE_NAMES.join(', ')}]; retrain with npm run train`);
  }
  return deepFreeze(structuredClone(m) as RankingModel);
}

/** How old the model is at `now`, by its trainedAt. */
export const modelAgeMs = (model: Pick<RankingModel, 'trainedAt'>, now = Date.now()): number => now - Date.parse(model.trainedAt);

/** Why the model may not be used at `now` (older than maxAgeMs), or null when it is fresh. */
export function staleReason(model: Pick<RankingModel, 'trainedAt' | 'version'>, maxAgeMs: number, now = Date.now()): string | null {
  const age = modelAgeMs(model, now);
  if (age <= maxAgeMs) return null;
  const days = (ms: number) => `${Math.round((ms / 86_400_000) * 10) / 10} days`;
  return `model ${model.version} is stale: trained ${days(age)} ago, the limit is ${days(maxAgeMs)}`;
}

export interface Contribution {
  feature: string;
  /** Log-odds of acceptance this feature adds against the training average (w · z). */
  value: number;
  /** How far the feature is from the training average, in standard deviations. */
  z: number;
}
export interface Score { pAccept: number; etaS: number; expectedS: number; contributions: Contribution[] }

/** OFFER_TIMEOUT_MS's default, in seconds: what a refused offer costs when the caller names no window. */
export const DEFAULT_OFFER_WINDOW_S = 15;
export const P_FLOOR = 0.02;
export const P_CEIL = 0.98;

/** What scoring needs, precomputed once per model object. */
interface Compiled {
  /** logit = offset + Σ scaled[j]·x[j]: weights divided by std, the means folded into the offset. */
  offset: number;
  scaled: Float64Array;
  mean: Float64Array;
  std: Float64Array;
  etaGround: Float64Array;
  etaAir: Float64Array;
  etaGroundB: number;
  etaAirB: number;
}
const compiled = new WeakMap<RankingModel, Compiled>();

function compile(model: RankingModel): Compiled {
  const { intercept, weights, mean, std } = model.acceptance;
  const scaled = Float64Array.from(weights, (w, j) => w / std[j]!);
  let offset = intercept;
  for (let j = 0; j < FEATURE_COUNT; j++) offset -= scaled[j]! * mean[j]!;
  const c: Compiled = {
    offset, scaled, mean: Float64Array.from(mean), std: Float64Array.from(std),
    etaGround: Float64Array.from(model.eta.ground.weights), etaAir: Float64Array.from(model.eta.air.weights),
    etaGroundB: model.eta.ground.intercept, etaAirB: model.eta.air.intercept,
  };
  compiled.set(model, c);
  return c;
}

const MAX_LR = MAX_LOG_RATIO;

// Module-level copies of features.ts's constants for the loops below: under tsx an
// imported binding is a getter, called on every read (measured: half of the scoring time).
const D = FEATURE_COUNT;
const NAMES: readonly string[] = FEATURE_NAMES;
const AIR = IDX.air;
const ETA_MIN = IDX.physicsEtaMin;
const DIST = IDX.distance;
const ANSWER_S = IDX.answerS;

/** Each feature's log-odds against the training average, and its distance from it in deviations. */
function contributionsOf(c: Compiled, x: ArrayLike<number>): Contribution[] {
  const { scaled, mean, std } = c;
  const out: Contribution[] = new Array(D);
  for (let j = 0; j < D; j++) {
    const d = x[j]! - mean[j]!;
    out[j] = { feature: NAMES[j]!, value: scaled[j]! * d, z: d / std[j]! };
  }
  return out;
}

/**
 * P(accept), the corrected ETA, the expected time to an accepted arrival (formula
 * above) and each feature's contribution, for features `x` (extractFeatures). Allocates
 * only the result: a copy of x, and the contributions when first read (a round reads
 * them only for the candidates it explains).
 */
export function scoreCandidate(model: RankingModel, x: Float64Array, offerWindowS = DEFAULT_OFFER_WINDOW_S): Score {
  return scoreFeatures(model, x.slice(), offerWindowS);
}

/**
 * scoreCandidate for features the caller never changes afterwards: `x` is kept, not
 * copied, for the contributions (ranking.ts passes the copy it stores with the offer).
 */
export function scoreFeatures(model: RankingModel, x: ArrayLike<number>, offerWindowS = DEFAULT_OFFER_WINDOW_S): Score {
  if (x.length !== D) throw new Error(`scoreCandidate: ${x.length} features, the model reads ${D}`);
  const c = compiled.get(model) ?? compile(model);
  const { scaled } = c;
  let logit = c.offset;
  for (let j = 0; j < D; j++) logit += scaled[j]! * x[j]!;
  const pAccept = logit >= 0 ? 1 / (1 + Math.exp(-logit)) : Math.exp(logit) / (1 + Math.exp(logit));
  const air = x[AIR]! > 0.5;
  const w = air ? c.etaAir : c.etaGround;
  let logRatio = air ? c.etaAirB : c.etaGroundB;
  for (let j = 0; j < D; j++) logRatio += w[j]! * x[j]!;
  logRatio = Math.max(-MAX_LR, Math.min(MAX_LR, logRatio));
  const etaS = x[ETA_MIN]! * 60 * Math.exp(logRatio);
  const p = Math.min(P_CEIL, Math.max(P_FLOOR, Number.isFinite(pAccept) ? pAccept : 0.5));
  const expectedS = Math.max(0, x[ANSWER_S]!) + etaS + ((1 - p) / p) * offerWindowS;
  return new ScoreOf(pAccept, etaS, expectedS, c, x);
}

/**
 * A Score whose contributions are computed when first read (a round reads them only for
 * the candidates it explains). A class, not an object literal with a getter: V8 builds
 * those slowly, one map each, and the garbage collector paid for it.
 * JSON.stringify includes the contributions (toJSON).
 */
class ScoreOf implements Score {
  #c: Compiled;
  #x: ArrayLike<number>;
  #contributions: Contribution[] | undefined;

  constructor(readonly pAccept: number, readonly etaS: number, readonly expectedS: number, c: Compiled, x: ArrayLike<number>) {
    this.#c = c;
    this.#x = x;
  }

  get contributions(): Contribution[] {
    this.#contributions ??= contributionsOf(this.#c, this.#x);
    return this.#contributions;
  }

  toJSON(): { pAccept: number; etaS: number; expectedS: number; contributions: Contribution[] } {
    return { pAccept: this.pAccept, etaS: this.etaS, expectedS: this.expectedS, contributions: this.contributions };
  }
}

/** The priors a model's features are extracted with. */
export const priorsOf = (model: RankingModel | null): Readonly<Priors> => model?.priors ?? DEFAULT_PRIORS;

const round1 = (x: number) => Math.round(x * 10) / 10;
const minutes = (s: number) => (s < 60 ? `${Math.max(0, Math.round(s))} s` : `${round1(s / 60)} min`);
/** Contributions smaller than this (log-odds) are not worth a line. */
const NEGLIGIBLE = 0.05;

/** One feature's contribution in words (zj: its distance from the training average), or null when it says nothing about this hero. */
type Phrase = (zj: number, input: RankInput, window: string) => string | null;
const answeredOf = (input: RankInput) => (input.history ? input.history.accepts + input.history.declines : 0);
const PHRASES: Partial<Record<keyof typeof IDX, Phrase>> = {
  acceptRate: (zj, { history: h }, window) =>
    `${zj >= 0 ? 'accepts often' : 'accepts rarely'} (${h?.accepts ?? 0} of ${h?.offers ?? 0} ${window === 'recent' ? 'recent offers' : `offers in ${window}`})`,
  declineRate: (zj, input) => {
    const answered = answeredOf(input);
    return answered ? `${zj > 0 ? 'declines often' : 'rarely declines'} (${input.history?.declines ?? 0} of ${answered} answered)` : null;
  },
  ignoreRate: (zj, { history: h }) => `${zj > 0 ? 'lets offers expire' : 'answers nearly every offer'} (${h?.ignores ?? 0} of ${h?.offers ?? 0} unanswered)`,
  answerS: (zj, input) => {
    const answered = answeredOf(input);
    return answered ? `${zj > 0 ? 'slow to answer' : 'quick to answer'} (avg ${round1((input.history?.answerMsSum ?? 0) / answered / 1000)} s)` : null;
  },
  logEtaRatio: (_zj, { history: h }) => {
    if (!h?.arrivals) return null;
    const ratio = round1(h.etaRatioSum / h.arrivals);
    return `${ratio > 1 ? 'usually arrives later than the estimate' : 'usually arrives on time or early'} (×${ratio} over ${h.arrivals} trips)`;
  },
  recentOffers: (zj, { recentOffers1h: n }) => `${zj > 0 ? 'busy' : 'quiet'}: ${n} offer${n === 1 ? '' : 's'} in the last hour`,
  activeLoad: (_zj, input) => (input.activeLoad > 0 ? 'holds another assignment' : null),
  skillMatch: (_zj, input) => (input.skillMatch ? 'has the needed skill' : 'lacks the needed skill'),
};
/** Per feature index: its phrase (null for the incident's own features and the distance, said first), and whether it is history. */
const REASON: (Phrase | null)[] = new Array(D).fill(null);
const IS_HISTORY: boolean[] = new Array(D).fill(false);
for (const [key, phrase] of Object.entries(PHRASES)) REASON[IDX[key as keyof typeof IDX]] = phrase;
for (const j of [IDX.acceptRate, IDX.declineRate, IDX.ignoreRate, IDX.answerS, IDX.logEtaRatio]) IS_HISTORY[j] = true;

/**
 * The top reasons behind a score, in plain words: first where the hero is and when
 * they would arrive (the ETA drives the order), then the hero's own features that moved
 * P(accept) most, and for a hero with no record, that the prior was used. Features of
 * the incident itself (severity, kind, hour) are the same for every candidate and are
 * never a reason. `window` names the history's span ("7 days"; default "recent").
 */
export function explain(score: Score, input: RankInput, top = 3, window = 'recent'): string[] {
  const limit = Math.max(1, top);
  const cs = score.contributions;
  // Close or far against the average candidate the model was trained on.
  const nearer = (cs[DIST]?.z ?? 0) <= 0;
  const out = [`${nearer ? 'close' : 'far'}: ${round1(input.distanceKm)} km ${input.mode === 'air' ? 'by air' : 'by ground'}, `
    + `arrives in ~${minutes(score.etaS)} (P(accept) ${Math.round(score.pAccept * 100)}%)`];
  const isNew = isNewHero(input);
  if (isNew && out.length < limit) out.push('new hero: no history yet, prior used');
  // The largest remaining contribution each time (a few picks among ~10 reasons: no sort, no copies).
  let used = 0;
  while (out.length < limit) {
    let best = -1;
    let bestAbs = NEGLIGIBLE;
    for (let j = 0; j < D; j++) {
      if (!REASON[j] || (used & (1 << j)) || (isNew && IS_HISTORY[j])) continue;
      const a = Math.abs(cs[j]?.value ?? 0);
      if (a >= bestAbs && (best < 0 || a > bestAbs)) {
        best = j;
        bestAbs = a;
      }
    }
    if (best < 0) break;
    used |= 1 << best;
    const words = REASON[best]!(cs[best]!.z, input, window);
    if (words) out.push(words);
  }
  return out;
}
