// Who is asked first (issue 16): a round's candidates ordered by the expected time to
// an accepted arrival (model.ts), with the rules the model never overrides, the
// fallback to today's ETA order, exploration, and the batch size that reaches a target
// P(at least one accept). Pure: the caller passes the model, the inputs and a random
// source, so a seeded source replays every decision.
//
// Rules before the model: a hero with the slot's skill (skillMatch 1) always comes
// before one without; severity decides the batch size, which the caller chooses
// (batchForTarget for critical rounds), never the model.
//
// Exploration: in a share of rounds (RANKING_EXPLORATION_SHARE, 10% by default), the
// last place of the batch goes to a candidate picked uniformly among those ranked below
// it (with the same skill match), marked `explored`. A model only learns about heroes it
// asks: one that scores a hero low stops offering to them, so it never sees them accept
// again, and the low score becomes permanent (a feedback loop, and unfair to the hero).
// Namma Yatri's driver pool mixes a share of random drivers into its offers for this
// reason. Exploration puts a floor under every eligible hero within the search radius:
// at least share ÷ (candidates below the batch) per round, whatever their score. It takes
// only the last place, so the best-ranked heroes are still asked in every round. A
// critical incident is never explored: its batch is sized to reach P(at least one
// accept), and a random last place would spend part of that on a hero the model expects
// to refuse (in the simulator, critical rounds were a twentieth of all rounds, so
// fairness loses little). Without a model there is no score to starve anyone by, and the
// order is today's.
import { extractInto, FEATURE_COUNT, type RankInput } from './features.ts';
import { DEFAULT_OFFER_WINDOW_S, explain, priorsOf, scoreFeatures, type RankingModel, type Score } from './model.ts';

export interface Ranked {
  heroId: string;
  /** 1 for the first to ask. */
  rank: number;
  score: Score | null;
  features: number[] | null;
  modelVersion: string | null;
  explored: boolean;
  why: string[];
}

export interface RankOptions {
  /** Probability that a round explores (0 turns exploration off). */
  explorationShare: number;
  /** Uniform in [0, 1): Math.random, or a seeded generator for a replayable run. */
  random: () => number;
  /** What a refused offer costs, in seconds (OFFER_TIMEOUT_MS ÷ 1000); default 15. */
  offerWindowS?: number;
  /** How many of the ranked the caller offers at once: exploration takes the last of these places; default 1. */
  batchSize?: number;
  /** Why no model is in force, for a fallback's `why` (default "no model loaded"), e.g. staleReason(). */
  fallbackReason?: string;
  /** The history window's name in explanations ("7 days"); default "recent". */
  historyWindow?: string;
}

/**
 * The candidates in the order to ask them. With a model: skill first, then ascending
 * expected time to an accepted arrival (ties by physics ETA, then input order), with
 * exploration. Without: skill first, then ascending physics ETA (today's order), no
 * score, and `why` saying so.
 */
export function rankCandidates(model: RankingModel | null, inputs: RankInput[], opts: RankOptions): Ranked[] {
  const n = inputs.length;
  if (!model) {
    const why = [`nearest by ETA (${opts.fallbackReason ?? 'no model loaded'})`];
    const order = inputs.map((_, i) => i).sort((a, b) =>
      inputs[b]!.skillMatch - inputs[a]!.skillMatch || inputs[a]!.physicsEtaS - inputs[b]!.physicsEtaS);
    return order.map((i, pos) => ({
      heroId: inputs[i]!.heroId, rank: pos + 1, score: null, features: null, modelVersion: null, explored: false, why: [...why],
    }));
  }
  const priors = priorsOf(model);
  const window = opts.offerWindowS ?? DEFAULT_OFFER_WINDOW_S;
  const scratch = new Float64Array(FEATURE_COUNT);
  const scores: Score[] = new Array(n);
  const features: number[][] = new Array(n);
  const expected = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    extractInto(inputs[i]!, scratch, priors);
    const f = new Array<number>(scratch.length);
    for (let j = 0; j < f.length; j++) f[j] = scratch[j]!;
    features[i] = f;
    const s = scoreFeatures(model, f, window);
    scores[i] = s;
    expected[i] = Number.isFinite(s.expectedS) ? s.expectedS : Number.POSITIVE_INFINITY;
  }
  const skill = new Int8Array(n);
  const physics = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    skill[i] = inputs[i]!.skillMatch;
    physics[i] = inputs[i]!.physicsEtaS;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
    skill[b]! - skill[a]! || expected[a]! - expected[b]! || physics[a]! - physics[b]! || a - b);

  let explored = -1;
  const batch = Math.min(n, Math.max(1, Math.floor(opts.batchSize ?? 1)));
  const critical = inputs[0]?.severity === 'critical';
  if (opts.explorationShare > 0 && batch < n && !critical && opts.random() < opts.explorationShare) {
    const last = batch - 1;
    const lastSkill = skill[order[last]!];
    const pool: number[] = [];
    for (let pos = batch; pos < n; pos++) if (skill[order[pos]!] === lastSkill) pool.push(pos);
    if (pool.length > 0) {
      const from = pool[Math.min(pool.length - 1, Math.floor(opts.random() * pool.length))]!;
      const [picked] = order.splice(from, 1);
      order.splice(last, 0, picked!);
      explored = picked!;
    }
  }

  const exploredWhy = `explored: picked at random from lower-ranked heroes (exploration share ${Math.round(opts.explorationShare * 100)}%), `
    + 'so no hero is starved of offers';
  return order.map((i, pos) => new RankedBy(model.version, inputs[i]!, pos + 1, scores[i]!, features[i]!, i === explored ? exploredWhy : null, opts.historyWindow));
}

/**
 * A candidate ranked by a model. `why` is put in words when first read: a round reads
 * it for the heroes it offers, not for the thirty below them (explaining every candidate
 * was half the cost of a ranking). JSON.stringify includes it (toJSON).
 */
class RankedBy implements Ranked {
  readonly heroId: string;
  readonly explored: boolean;
  #input: RankInput;
  #exploredWhy: string | null;
  #window: string | undefined;
  #why: string[] | undefined;

  constructor(readonly modelVersion: string, input: RankInput, readonly rank: number, readonly score: Score, readonly features: number[],
    exploredWhy: string | null, window: string | undefined) {
    this.heroId = input.heroId;
    this.explored = exploredWhy !== null;
    this.#input = input;
    this.#exploredWhy = exploredWhy;
    this.#window = window;
  }

  get why(): string[] {
    if (!this.#why) {
      this.#why = explain(this.score, this.#input, 3, this.#window);
      if (this.#exploredWhy) this.#why.unshift(this.#exploredWhy);
    }
    return this.#why;
  }

  toJSON(): Ranked {
    const { heroId, rank, score, features, modelVersion, explored, why } = this;
    return { heroId, rank, score, features, modelVersion, explored, why };
  }
}

/**
 * The smallest k such that asking the best k (in list order) gives P(at least one
 * accepts) = 1 − Π(1 − p_i) ≥ target, clamped to [min, max]; max when no k reaches it.
 */
export function batchForTarget(pAccepts: number[], target: number, min: number, max: number): number {
  const lo = Math.max(1, Math.floor(min));
  const hi = Math.max(lo, Math.floor(max));
  let none = 1;
  for (let k = 1; k <= pAccepts.length && k <= hi; k++) {
    const p = pAccepts[k - 1]!;
    none *= 1 - (Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0);
    if (1 - none >= target) return Math.max(lo, k);
  }
  return hi;
}
