// Synthetic offer histories with a known answer (issue 16), for the round-trip tests
// and the match benchmark: candidates drawn at random, labels drawn from a known
// logistic model on their features, arrival times from a known ETA ratio per mode. A
// fit that recovers the known coefficients shows the training code right; the known
// probabilities give the best AUC any model could reach on the same draw (the "Bayes
// AUC"). Pure: the caller passes the random source, so a seed replays the data.
import { clampLogRatio, type EtaFit } from './eta-model.ts';
import { DEFAULT_PRIORS, extractFeatures, FEATURE_COUNT, FEATURE_NAMES, type HeroHistory, type Priors, type RankInput } from './features.ts';
import type { TrainingExample } from './trainer.ts';
import { INCIDENT_KINDS, SEVERITIES } from '../../shared/domain.ts';

/** The generator's model, on raw features (extracted with `priors`). */
export interface SyntheticTruth {
  acceptance: { intercept: number; weights: number[] };
  /** log(actual ÷ physics) = intercept + weights·x + N(0, etaNoise). */
  eta: { ground: EtaFit; air: EtaFit };
  etaNoise: number;
  priors: Priors;
}

const weights = (named: Record<string, number>): number[] => {
  for (const k of Object.keys(named)) if (!FEATURE_NAMES.includes(k)) throw new Error(`no feature ${k}`);
  return FEATURE_NAMES.map((n) => named[n] ?? 0);
};

/** A plausible truth: near and reliable heroes accept; ground heroes arrive 30% late, air ones 10% early. */
export const DEFAULT_TRUTH: SyntheticTruth = {
  acceptance: {
    intercept: 0.2,
    weights: weights({
      distance_km: -0.25, mode_air: 0.3, sev_critical: 0.6, sev_high: 0.3, sev_medium: 0.1, kind_fire: -0.3, hour_sin: 0.2,
      accept_rate: 2.5, decline_rate: -1, ignore_rate: -1.5, answer_s: -0.05, recent_offers_1h: -0.15, active_load: -1, skill_match: 0.8,
    }),
  },
  eta: {
    ground: { intercept: Math.log(1.3), weights: weights({ log_eta_ratio: 0.8 }) },
    air: { intercept: Math.log(0.9), weights: weights({ log_eta_ratio: 0.5 }) },
  },
  etaNoise: 0.15,
  priors: { ...DEFAULT_PRIORS },
};

const SPEED_KMH = { air: 120, ground: 50 } as const;
const DETOUR = { air: 1, ground: 1.4 } as const;

function binomial(random: () => number, n: number, p: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (random() < p) k++;
  return k;
}

function gaussian(random: () => number): number {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** A hero's record: null for 15% (new heroes), else up to 30 offers answered with the hero's own habits. */
function history(random: () => number): HeroHistory | null {
  if (random() < 0.15) return null;
  const offers = Math.floor(random() * 31);
  const ignoreP = 0.05 + 0.4 * random();
  const acceptP = 0.15 + 0.8 * random();
  const ignores = binomial(random, offers, ignoreP);
  const answered = offers - ignores;
  const accepts = binomial(random, answered, acceptP);
  const arrivals = Math.floor(random() * (accepts + 1));
  return {
    offers, accepts, declines: answered - accepts, ignores,
    answerMsSum: answered * (1_000 + 11_000 * random()),
    etaRatioSum: arrivals * (0.7 + 0.9 * random()),
    arrivals,
  };
}

/** One candidate for a round at `at`. */
export function syntheticInput(random: () => number, heroId: string, at: number): RankInput {
  const mode = random() < 0.3 ? 'air' : 'ground';
  const distanceKm = 0.1 + 9.9 * random();
  return {
    heroId, distanceKm, mode,
    physicsEtaS: ((distanceKm * DETOUR[mode]) / SPEED_KMH[mode]) * 3600,
    severity: SEVERITIES[Math.floor(random() * SEVERITIES.length)]!,
    kind: INCIDENT_KINDS[Math.floor(random() * INCIDENT_KINDS.length)]!,
    at,
    history: history(random),
    activeLoad: random() < 0.1 ? 1 : 0,
    recentOffers1h: Math.floor(random() * 6),
    skillMatch: random() < 0.9 ? 1 : 0,
  };
}

const dot = (w: readonly number[], x: ArrayLike<number>) => {
  let s = 0;
  for (let j = 0; j < FEATURE_COUNT; j++) s += w[j]! * x[j]!;
  return s;
};

export interface SyntheticData {
  examples: TrainingExample[];
  /** The generator's P(accept) for each example: the best any model could predict. */
  pTrue: number[];
  /** The generator's log(actual ÷ physics) before noise, for each example (accepted or not). */
  logRatioTrue: number[];
}

/** `n` decided offers, one a minute from `startAt`, labelled by `truth`. */
export function syntheticExamples(n: number, random: () => number, truth: SyntheticTruth = DEFAULT_TRUTH, startAt = Date.UTC(2026, 0, 1)): SyntheticData {
  const examples: TrainingExample[] = [];
  const pTrue: number[] = [];
  const logRatioTrue: number[] = [];
  for (let i = 0; i < n; i++) {
    const at = startAt + i * 60_000 + Math.floor(random() * 60_000);
    const input = syntheticInput(random, `h-${i % 997}`, at);
    const x = extractFeatures(input, truth.priors);
    const p = 1 / (1 + Math.exp(-(truth.acceptance.intercept + dot(truth.acceptance.weights, x))));
    const fit = truth.eta[input.mode];
    const lr = clampLogRatio(fit.intercept + dot(fit.weights, x));
    const accepted = random() < p;
    const ignored = !accepted && random() < 0.4;
    examples.push({
      at, input,
      outcome: accepted ? 'accepted' : ignored ? 'expired' : 'declined',
      answerMs: ignored ? null : Math.floor(500 + random() * 12_000),
      physicsEtaS: input.physicsEtaS,
      actualEtaS: accepted ? input.physicsEtaS * Math.exp(lr + truth.etaNoise * gaussian(random)) : null,
    });
    pTrue.push(p);
    logRatioTrue.push(lr);
  }
  return { examples, pTrue, logRatioTrue };
}
