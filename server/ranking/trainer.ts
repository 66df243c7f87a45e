// From offer history to a model file's contents (issue 16), without I/O so the tests
// can run it on synthetic data with a known answer: a time split (the oldest 80% of
// offers by offer time to fit, the newest 20% held out), the population priors, the
// acceptance fit (logistic.ts), the per-mode ETA fit (eta-model.ts), and the held-out
// metrics measured through the same scoring path the hot path uses (model.ts).
// `npm run train` (scripts/train.ts) reads the rows from Postgres and writes the file.
//
// Two guards learned from the simulator's first runs:
// - Time of day is fitted only when the fitted offers span at least a day. Within a few
//   hours the hour moves in one direction only, so its weights learn the run's drift
//   (heroes getting busy, history filling in) and a time split makes them extrapolate.
// - Arrivals get a time split of their own (the newest offers have not arrived yet when
//   the history is read), and a mode's learned ETA is kept only when it beats the
//   physics ETA on that mode's held-out arrivals, of which there must be enough to tell.
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
  /** Fewer fitted arrivals than this in a mode leave it on the physics ETA; default 20. */
  etaMinRows?: number;
  /** Fewer held-out arrivals than this in a mode leave it on the physics ETA (nothing could show the fit is better); default 10. */
  etaMinHeldOut?: number;
  /** `population` (default): the training split's own rates; or fixed priors. */
  priors?: Priors | 'population';
  now?: Date;
  onProgress?: (line: string) => void;
}

/** Physics ETAs shorter than this are left out of the ETA fit: the ratio of two tiny numbers is noise. */
export const MIN_PHYSICS_ETA_S = 5;

/** Time of day is fitted only when the fitted offers span at least this long (a full day: every hour seen). */
export const MIN_SPAN_FOR_TIME_OF_DAY_MS = 86_400_000;
const TIME_OF_DAY = [IDX.hourSin, IDX.hourCos] as const;

const clampRate = (x: number, fallback: number) => (Number.isFinite(x) ? Math.min(0.99, Math.max(0.01, x)) : fallback);
const iso = (ms: number) => new Date(ms).toISOString();
const finiteOr0 = (x: number) => (Number.isFinite(x) ? x : 0);

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
  const spanMs = train.at(-1)!.at - train[0]!.at;
  const frozen = spanMs < MIN_SPAN_FOR_TIME_OF_DAY_MS
    ? { features: TIME_OF_DAY.map((j) => FEATURE_NAMES[j]!), why: `the fitted offers span ${(spanMs / 3_600_000).toFixed(1)} h, under a day: time of day would learn the run's drift` }
    : null;
  if (frozen) say(`time of day not fitted: ${frozen.why}`);
  // A frozen feature is a constant 0 to the fits, so its weight stays 0 and scoring ignores it.
  const features = (e: TrainingExample) => {
    const x = extractFeatures(e.input, priors);
    if (frozen) for (const j of TIME_OF_DAY) x[j] = 0;
    return x;
  };
  const label = (e: TrainingExample) => (e.outcome === 'accepted' ? 1 : 0);

  say(`acceptance: fitting logistic regression on ${train.length} offers (${FEATURE_COUNT} features)`);
  const xTrain = train.map(features);
  const fit = fitLogistic(xTrain, train.map(label), FEATURE_COUNT, { lambda: opts.lambda ?? 1 });
  say(`acceptance: ${fit.converged ? 'converged' : 'stopped'} after ${fit.iterations} Newton steps`);

  const { eta, etaModes, etaTrainN, etaTestN } = fitEta(examples, features, opts, say);
  const trainedAt = (opts.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const draft: RankingModel = {
    version: `acceptance-logreg-${trainedAt}`,
    trainedAt,
    features: [...FEATURE_NAMES],
    acceptance: { intercept: fit.intercept, weights: fit.weights, mean: fit.mean, std: fit.std },
    eta,
    metrics: {
      acceptance: { auc: 0, logLoss: 0, calibration: [], n: 0 },
      eta: { maeS: 0, physicsMaeS: 0, n: 0, modes: etaModes },
      split: { trainUntil: iso(train.at(-1)!.at), testFrom: iso(test[0]!.at) },
    },
    priors,
  };

  say(`evaluating on the newest ${test.length} offers`);
  const xTest = test.map(features);
  const yTest = test.map(label);
  const pTest = xTest.map((x) => scoreCandidate(draft, x).pAccept);
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
    eta: etaSummary(etaModes),
    split: draft.metrics.split,
    rows: { train: train.length, test: test.length, etaTrain: etaTrainN, etaTest: etaTestN },
    ...(frozen ? { frozen } : {}),
  };
  // What is written is what a server will load: validated the same way.
  return parseModel(JSON.parse(JSON.stringify(draft)));
}

type EtaModeMetrics = NonNullable<RankingModel['metrics']['eta']['modes']>['ground'];

/**
 * The per-mode ETA fits: arrivals split by offer time on their own (oldest 80% fitted),
 * each mode's correction kept only when it has enough arrivals on both sides and beats
 * the physics ETA's MAE on the held-out ones; otherwise that mode keeps physics (zeros).
 */
function fitEta(
  examples: readonly TrainingExample[], features: (e: TrainingExample) => Float64Array, opts: TrainOptions, say: (line: string) => void,
): { eta: RankingModel['eta']; etaModes: Record<'ground' | 'air', EtaModeMetrics>; etaTrainN: number; etaTestN: number } {
  const minRows = opts.etaMinRows ?? 20;
  const minHeldOut = opts.etaMinHeldOut ?? 10;
  const arrivals = examples.filter(isArrival);
  const { train, test } = arrivals.length >= 2 ? timeSplit(arrivals, opts.testShare ?? 0.2) : { train: arrivals, test: [] };
  const eta = { ground: physicsOnly(FEATURE_COUNT), air: physicsOnly(FEATURE_COUNT) };
  const etaModes = {} as Record<'ground' | 'air', EtaModeMetrics>;
  for (const mode of ['ground', 'air'] as const) {
    const fitRows = train.filter((e) => e.input.mode === mode);
    const heldOut = test.filter((e) => e.input.mode === mode);
    const actual = heldOut.map((e) => e.actualEtaS!);
    const physicsMaeS = mae(heldOut.map((e) => e.physicsEtaS), actual);
    const physics = (why: string): EtaModeMetrics => {
      say(`eta ${mode}: keeps the physics ETA: ${why}`);
      return { used: 'physics', why, n: heldOut.length, fitted: fitRows.length, maeS: finiteOr0(physicsMaeS), physicsMaeS: finiteOr0(physicsMaeS) };
    };
    if (fitRows.length < minRows) {
      etaModes[mode] = physics(`${fitRows.length} fitted arrivals (< ${minRows})`);
      continue;
    }
    if (heldOut.length < minHeldOut) {
      etaModes[mode] = physics(`${heldOut.length} held-out arrivals (< ${minHeldOut}): nothing could show a correction is better`);
      continue;
    }
    say(`eta ${mode}: fitting the log ratio on ${fitRows.length} arrivals, ${heldOut.length} held out`);
    const fit = fitEtaRatio(fitRows.map(features), fitRows.map((e) => Math.log(e.actualEtaS! / e.physicsEtaS)), FEATURE_COUNT, {
      lambda: opts.etaLambda ?? 1, minRows,
    });
    const learnedMaeS = mae(heldOut.map((e) => e.physicsEtaS * Math.exp(predictLogRatio(fit, features(e)))), actual);
    if (!(learnedMaeS < physicsMaeS)) {
      etaModes[mode] = physics(`the learned correction's held-out MAE ${learnedMaeS.toFixed(1)} s is no better than physics ${physicsMaeS.toFixed(1)} s`);
      continue;
    }
    eta[mode] = fit;
    etaModes[mode] = { used: 'learned', n: heldOut.length, fitted: fitRows.length, maeS: learnedMaeS, physicsMaeS };
  }
  return { eta, etaModes, etaTrainN: train.length, etaTestN: test.length };
}

/** Both modes together: the held-out MAE of the ETA the server will use, beside physics. */
function etaSummary(modes: Record<'ground' | 'air', EtaModeMetrics>): RankingModel['metrics']['eta'] {
  const n = modes.ground.n + modes.air.n;
  const weighted = (k: 'maeS' | 'physicsMaeS') => (n ? (modes.ground[k] * modes.ground.n + modes.air[k] * modes.air.n) / n : 0);
  return { maeS: weighted('maeS'), physicsMaeS: weighted('physicsMaeS'), n, modes };
}
