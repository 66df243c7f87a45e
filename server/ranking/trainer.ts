// From offer history to a model file's contents (issue 16), without I/O so the tests
// can run it on synthetic data with a known answer: a time split (the oldest 80% of
// offers by offer time to fit, the newest 20% held out), the population priors, the
// acceptance fit (logistic.ts), the per-mode ETA fit (eta-model.ts), and the held-out
// metrics measured through the same scoring path the hot path uses (model.ts).
// `npm run train` (scripts/train.ts) reads the rows from Postgres and writes the file.
import { physicsOnly, fitEtaRatio, predictLogRatio } from './eta-model.ts';
import { auc, calibration, logLoss, mae } from './evaluation.ts';
import { DEFAULT_PRIORS, extractFeatures, FEATURE_COUNT, FEATURE_NAMES, IDX, type Priors, type RankInput } from './features.ts';
import { fitLogistic } from './logistic.ts';
import { parseModel, scoreCandidate, type RankingModel } from './model.ts';

/** One decided offer, as the history gives it. */
export interface TrainingExample {
  /** When the offer was made (epoch ms): the split is by this. */
  at: number;
  /** The RankInput used when the offer was made. */
  input: RankInput;
  outcome: 'accepted' | 'declined' | 'expired';
  /** Offer → answer, for accepted and declined offers. */
  answerMs: number | null;
  /** The offer's physics ETA (offers.eta_s), the base of the ETA ratio. */
  physicsEtaS: number;
  /** Assignment → arrival on scene, for accepted offers whose hero arrived. */
  actualEtaS: number | null;
}

export interface TrainOptions {
  /** Share of the newest offers held out for the metrics; default 0.2. */
  testShare?: number;
  /** L2 strength of the acceptance fit; default 1. */
  lambda?: number;
  /** Ridge strength of the ETA fit; default 1. */
  etaLambda?: number;
  /** Fewer arrivals than this in a mode leave it on the physics ETA; default 20. */
  etaMinRows?: number;
  /** `population` (default): the training split's own rates; or fixed priors. */
  priors?: Priors | 'population';
  now?: Date;
  onProgress?: (line: string) => void;
}

/** Physics ETAs shorter than this are left out of the ETA fit: the ratio of two tiny numbers is noise. */
export const MIN_PHYSICS_ETA_S = 5;

const clampRate = (x: number, fallback: number) => (Number.isFinite(x) ? Math.min(0.99, Math.max(0.01, x)) : fallback);
const iso = (ms: number) => new Date(ms).toISOString();

const isArrival = (e: TrainingExample): boolean =>
  e.outcome === 'accepted' && e.actualEtaS !== null && e.actualEtaS > 0 && e.physicsEtaS >= MIN_PHYSICS_ETA_S;

/** The training split's own rates, the priors a new hero's features are filled with. */
export function populationPriors(train: readonly TrainingExample[]): Priors {
  const n = train.length;
  const accepted = train.filter((e) => e.outcome === 'accepted').length;
  const declined = train.filter((e) => e.outcome === 'declined').length;
  const expired = n - accepted - declined;
  const answers = train.filter((e) => e.outcome !== 'expired' && e.answerMs !== null && e.answerMs >= 0);
  const arrivals = train.filter(isArrival);
  return {
    acceptRate: clampRate(accepted / n, DEFAULT_PRIORS.acceptRate),
    declineRate: clampRate(declined / (accepted + declined), DEFAULT_PRIORS.declineRate),
    ignoreRate: clampRate(expired / n, DEFAULT_PRIORS.ignoreRate),
    answerS: answers.length ? Math.max(0.1, answers.reduce((s, e) => s + e.answerMs!, 0) / answers.length / 1000) : DEFAULT_PRIORS.answerS,
    etaRatio: arrivals.length
      ? Math.min(20, Math.max(0.05, arrivals.reduce((s, e) => s + e.actualEtaS! / e.physicsEtaS, 0) / arrivals.length))
      : DEFAULT_PRIORS.etaRatio,
  };
}

/** Oldest first by offer time (input order among equals), cut into the older (1 − testShare) and the newer testShare. */
export function timeSplit<T extends { at: number }>(rows: readonly T[], testShare = 0.2): { train: T[]; test: T[] } {
  const sorted = rows.map((r, i) => ({ r, i })).sort((a, b) => a.r.at - b.r.at || a.i - b.i).map((x) => x.r);
  const cut = Math.min(sorted.length - 1, Math.max(1, Math.round(sorted.length * (1 - testShare))));
  return { train: sorted.slice(0, cut), test: sorted.slice(cut) };
}

/**
 * The model for `examples`. Throws when they cannot make one (fewer than two rows, or
 * a split without an accept or without a refusal: a classifier needs both).
 */
export function trainModel(examples: readonly TrainingExample[], opts: TrainOptions = {}): RankingModel {
  const say = opts.onProgress ?? (() => {});
  if (examples.length < 2) throw new Error(`cannot train on ${examples.length} offer(s)`);
  const { train, test } = timeSplit(examples, opts.testShare ?? 0.2);
  for (const [name, part] of [['training', train], ['held-out', test]] as const) {
    const accepts = part.filter((e) => e.outcome === 'accepted').length;
    if (accepts === 0 || accepts === part.length) {
      throw new Error(`the ${name} split (${part.length} offers) has ${accepts === 0 ? 'no accepted offer' : 'only accepted offers'}: a classifier needs both`);
    }
  }
  const priors = opts.priors === undefined || opts.priors === 'population' ? populationPriors(train) : opts.priors;
  const features = (e: TrainingExample) => extractFeatures(e.input, priors);
  const label = (e: TrainingExample) => (e.outcome === 'accepted' ? 1 : 0);

  say(`acceptance: fitting logistic regression on ${train.length} offers (${FEATURE_COUNT} features)`);
  const xTrain = train.map(features);
  const fit = fitLogistic(xTrain, train.map(label), FEATURE_COUNT, { lambda: opts.lambda ?? 1 });
  say(`acceptance: ${fit.converged ? 'converged' : 'stopped'} after ${fit.iterations} Newton steps`);

  const etaMinRows = opts.etaMinRows ?? 20;
  const eta = { ground: physicsOnly(FEATURE_COUNT), air: physicsOnly(FEATURE_COUNT) };
  const etaTrain = train.filter(isArrival);
  for (const mode of ['ground', 'air'] as const) {
    const rows = etaTrain.filter((e) => e.input.mode === mode);
    if (rows.length < etaMinRows) {
      say(`eta ${mode}: ${rows.length} arrivals (< ${etaMinRows}): keeps the physics ETA`);
      continue;
    }
    say(`eta ${mode}: fitting the log ratio on ${rows.length} arrivals`);
    eta[mode] = fitEtaRatio(rows.map(features), rows.map((e) => Math.log(e.actualEtaS! / e.physicsEtaS)), FEATURE_COUNT, {
      lambda: opts.etaLambda ?? 1, minRows: etaMinRows,
    });
  }

  const trainedAt = (opts.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const draft: RankingModel = {
    version: `acceptance-logreg-${trainedAt}`,
    trainedAt,
    features: [...FEATURE_NAMES],
    acceptance: { intercept: fit.intercept, weights: fit.weights, mean: fit.mean, std: fit.std },
    eta,
    metrics: {
      acceptance: { auc: 0, logLoss: 0, calibration: [], n: 0 },
      eta: { maeS: 0, physicsMaeS: 0, n: 0 },
      split: { trainUntil: iso(train.at(-1)!.at), testFrom: iso(test[0]!.at) },
    },
    priors,
  };

  say(`evaluating on the newest ${test.length} offers`);
  const xTest = test.map(features);
  const yTest = test.map(label);
  const pTest = xTest.map((x) => scoreCandidate(draft, x).pAccept);
  const etaTest = test.filter(isArrival);
  const predicted = etaTest.map((e) => e.physicsEtaS * Math.exp(predictLogRatio(eta[e.input.mode], features(e))));
  const actual = etaTest.map((e) => e.actualEtaS!);
  const finiteOr0 = (x: number) => (Number.isFinite(x) ? x : 0);
  draft.metrics = {
    acceptance: {
      auc: finiteOr0(auc(pTest, yTest)),
      logLoss: finiteOr0(logLoss(pTest, yTest)),
      calibration: calibration(pTest, yTest),
      n: test.length,
      baselines: [
        { name: 'accept_rate only', auc: finiteOr0(auc(xTest.map((x) => x[IDX.acceptRate]!), yTest)) },
        { name: 'nearest first', auc: finiteOr0(auc(xTest.map((x) => -x[IDX.distance]!), yTest)) },
      ],
    },
    eta: {
      maeS: finiteOr0(mae(predicted, actual)),
      physicsMaeS: finiteOr0(mae(etaTest.map((e) => e.physicsEtaS), actual)),
      n: etaTest.length,
    },
    split: draft.metrics.split,
    rows: { train: train.length, test: test.length, etaTrain: etaTrain.length, etaTest: etaTest.length },
  };
  // What is written is what a server will load: validated the same way.
  return parseModel(JSON.parse(JSON.stringify(draft)));
}
