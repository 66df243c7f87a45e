// The ranking model's round trip (issue 16), pure: offers generated from known
// logistic coefficients and a known ETA ratio per mode (server/ranking/synthetic.ts),
// trained with the code `npm run train` uses (server/ranking/trainer.ts), must give back
// the coefficients within tolerance, an AUC within a hair of the generator's own (Bayes)
// AUC, an ETA closer than physics; and a model written to a file and read back must score
// exactly as before. Also the evaluation functions on cases worked by hand.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../scripts/sim/rng.ts';
import { predictLogRatio } from '../server/ranking/eta-model.ts';
import { auc, calibration, logLoss, mae } from '../server/ranking/evaluation.ts';
import { extractFeatures, FEATURE_COUNT, FEATURE_NAMES } from '../server/ranking/features.ts';
import { fitLogistic } from '../server/ranking/logistic.ts';
import { loadModelFile, writeModelFile } from '../server/ranking/model.file.ts';
import { parseModel, scoreCandidate, type RankingModel } from '../server/ranking/model.ts';
import { DEFAULT_TRUTH, syntheticExamples } from '../server/ranking/synthetic.ts';
import { populationPriors, timeSplit, trainModel } from '../server/ranking/trainer.ts';

const seeded = (seed: number) => {
  const rng = new Rng(seed);
  return () => rng.next();
};

// One draw, one fit, shared by the tests below (about a second).
const N = 30_000;
const data = syntheticExamples(N, seeded(16));
const truth = DEFAULT_TRUTH;
const model = trainModel(data.examples, { priors: truth.priors, now: new Date('2026-12-07T10:00:00Z') });

/** The fitted acceptance model on the raw feature scale: intercept and one weight per feature. */
function rawCoefficients(m: RankingModel): { intercept: number; weights: number[] } {
  const { intercept, weights, mean, std } = m.acceptance;
  const raw = weights.map((w, j) => w / std[j]!);
  return { intercept: intercept - raw.reduce((s, w, j) => s + w * mean[j]!, 0), weights: raw };
}

test('evaluation: AUC with ties counted half, log loss, calibration bins and MAE, worked by hand', () => {
  assert.is(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  assert.is(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5, 'all tied: chance');
  assert.is(auc([0.2, 0.5, 0.5, 0.9], [0, 0, 1, 1]), 0.875, 'one tied pair counts half');
  assert.is(auc([3, 2, 1], [1, 1, 0]), 1);
  assert.ok(Number.isNaN(auc([1, 2], [1, 1])), 'one class: undefined');
  assert.ok(Math.abs(logLoss([0.8, 0.3], [1, 0]) - -(Math.log(0.8) + Math.log(0.7)) / 2) < 1e-12);
  assert.ok(Number.isFinite(logLoss([0, 1], [1, 0])), 'clamped, never infinite');
  assert.equal(calibration([0.05, 0.07, 0.55, 0.95], [0, 1, 1, 1]), [
    { bin: '0.0-0.1', predicted: 0.060000000000000005, observed: 0.5, n: 2 },
    { bin: '0.5-0.6', predicted: 0.55, observed: 1, n: 1 },
    { bin: '0.9-1.0', predicted: 0.95, observed: 1, n: 1 },
  ]);
  assert.is(mae([1, 5, 10], [2, 5, 7]), 4 / 3);
});

test('time split: the oldest 80% by offer time are fitted, the newest 20% held out, whatever the input order', () => {
  const rows = [5, 1, 4, 2, 3, 9, 7, 8, 6, 10].map((at) => ({ at }));
  const { train, test: held } = timeSplit(rows, 0.2);
  assert.equal(train.map((r) => r.at), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(held.map((r) => r.at), [9, 10]);
  assert.is(model.metrics.rows!.train, N * 0.8);
  assert.is(model.metrics.rows!.test, N * 0.2);
  assert.ok(Date.parse(model.metrics.split.trainUntil) <= Date.parse(model.metrics.split.testFrom));
});

test('acceptance: the generator\'s coefficients come back within 0.1 log-odds per standard deviation', () => {
  const fitted = rawCoefficients(model);
  const { std } = model.acceptance;
  // Distance and the physics ETA are one quantity within a mode (ETA = distance × a
  // mode's minutes per km), so only their sum per km of each mode is identifiable: that is
  // what is checked for them, within the same tolerance per standard deviation of distance.
  const jd = FEATURE_NAMES.indexOf('distance_km');
  const je = FEATURE_NAMES.indexOf('physics_eta_min');
  for (const [mode, minPerKm] of [['ground', (1.4 / 50) * 60], ['air', 60 / 120]] as const) {
    const perKm = (w: number[]) => w[jd]! + w[je]! * minPerKm;
    const gap = Math.abs(perKm(fitted.weights) - perKm(truth.acceptance.weights)) * std[jd]!;
    assert.ok(gap < 0.1, `${mode}: log-odds per km fitted ${perKm(fitted.weights)}, true ${perKm(truth.acceptance.weights)}`);
  }
  // Likewise the three history rates: accepts, declines and ignores share one count of
  // offers, so the accept rate is nearly (1 − ignore rate) × (1 − decline share) and the
  // data cannot tell their weights apart, only their joint effect: checked as a group, by
  // the log-odds it adds to each offer against the average one (mean gap under 0.1).
  const rates = ['accept_rate', 'decline_rate', 'ignore_rate'].map((n) => FEATURE_NAMES.indexOf(n));
  const xs = data.examples.slice(0, 5_000).map((e) => extractFeatures(e.input, truth.priors));
  const groupGap = xs.reduce((sum, x) => sum + Math.abs(rates.reduce((g, j) =>
    g + (fitted.weights[j]! - truth.acceptance.weights[j]!) * (x[j]! - model.acceptance.mean[j]!), 0)), 0) / xs.length;
  assert.ok(groupGap < 0.1, `history rates: mean log-odds gap ${groupGap}`);
  const off = FEATURE_NAMES.flatMap((name, j) => {
    if (j === jd || j === je || rates.includes(j)) return [];
    const gap = Math.abs(fitted.weights[j]! - truth.acceptance.weights[j]!) * std[j]!;
    return gap > 0.1 ? [`${name}: fitted ${fitted.weights[j]!.toFixed(3)}, true ${truth.acceptance.weights[j]}, gap ${gap.toFixed(3)}/sd`] : [];
  });
  assert.equal(off, []);
  // The strongest well-separated signals, closely: within 20% of their value.
  for (const name of ['skill_match', 'active_load', 'recent_offers_1h', 'sev_critical']) {
    const j = FEATURE_NAMES.indexOf(name);
    const rel = Math.abs(fitted.weights[j]! / truth.acceptance.weights[j]! - 1);
    assert.ok(rel < 0.2, `${name}: fitted ${fitted.weights[j]}, true ${truth.acceptance.weights[j]}`);
  }
  // The fitted log-odds of each held-out offer against the generator's.
  const logit = (p: number) => Math.log(p / (1 - p));
  const heldOut = data.examples.slice(N * 0.8);
  const gap = heldOut.reduce((s, e, i) => s + Math.abs(logit(scoreCandidate(model, extractFeatures(e.input, truth.priors)).pAccept) - logit(data.pTrue[N * 0.8 + i]!)), 0) / heldOut.length;
  assert.ok(gap < 0.1, `mean |fitted − true| log-odds ${gap}`);
});

test('acceptance: held-out AUC within 0.01 of the generator\'s Bayes AUC, above the one-feature baselines, and calibrated', () => {
  const cut = N * 0.8;
  const heldOut = data.examples.slice(cut);
  const bayes = auc(data.pTrue.slice(cut), heldOut.map((e) => (e.outcome === 'accepted' ? 1 : 0)));
  const got = model.metrics.acceptance.auc;
  assert.ok(got > bayes - 0.01 && got <= bayes + 0.005, `model AUC ${got} vs Bayes ${bayes}`);
  for (const b of model.metrics.acceptance.baselines!) assert.ok(got > b.auc + 0.03, `${b.name} ${b.auc} vs ${got}`);
  assert.is(model.metrics.acceptance.n, N * 0.2);
  // Each bin's observed rate within three standard errors (plus a hair) of its mean prediction.
  const bins = model.metrics.acceptance.calibration;
  assert.ok(bins.length >= 8, `${bins.length} bins`);
  for (const bin of bins) {
    const se = Math.sqrt((bin.predicted * (1 - bin.predicted)) / bin.n);
    assert.ok(Math.abs(bin.predicted - bin.observed) < 3 * se + 0.01, `bin ${bin.bin}: ${bin.predicted} vs ${bin.observed} (n ${bin.n})`);
  }
});

test('ETA: the ratio per mode comes back (mean error under 0.02 in log), and beats the physics ETA\'s MAE', () => {
  for (const mode of ['ground', 'air'] as const) {
    const rows = data.examples.map((e, i) => ({ e, i })).filter(({ e }) => e.input.mode === mode).slice(0, 2_000);
    const gap = rows.reduce((s, { e, i }) => s + Math.abs(predictLogRatio(model.eta[mode], extractFeatures(e.input, truth.priors)) - data.logRatioTrue[i]!), 0) / rows.length;
    assert.ok(gap < 0.02, `${mode}: mean |predicted − true| log ratio ${gap}`);
  }
  const { eta } = model.metrics;
  assert.ok(eta.n > 1_000, `${eta.n} held-out arrivals`);
  assert.ok(eta.maeS < eta.physicsMaeS * 0.7, `learned MAE ${eta.maeS} s vs physics ${eta.physicsMaeS} s`);
});

test('the fit is deterministic: the same rows give the same coefficients, bit for bit', () => {
  const x = data.examples.slice(0, 3_000).map((e) => extractFeatures(e.input));
  const y = data.examples.slice(0, 3_000).map((e) => (e.outcome === 'accepted' ? 1 : 0));
  const a = fitLogistic(x, y, FEATURE_COUNT);
  const b = fitLogistic(x, y, FEATURE_COUNT);
  assert.equal(a, b);
  assert.ok(a.converged, `converged in ${a.iterations} steps`);
});

test('written to a file and read back, the model parses and scores exactly as before', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ranking-model-'));
  try {
    const path = join(dir, 'model.json');
    writeModelFile(path, model);
    const loaded = loadModelFile(path, Date.parse('2026-12-08T10:00:00Z'));
    assert.is(loaded.error, null);
    assert.is(loaded.ageMs, 86_400_000);
    assert.equal(loaded.model, model);
    for (const e of data.examples.slice(0, 500)) {
      const x = extractFeatures(e.input, truth.priors);
      const [a, b] = [scoreCandidate(loaded.model!, x), scoreCandidate(model, x)];
      assert.equal(a, b);
      assert.equal(a.contributions, b.contributions);
    }
    assert.is(model.version, 'acceptance-logreg-2026-12-07T10:00:00Z');

    writeFileSync(path, '{ not json');
    assert.match(loadModelFile(path).error!, /not JSON/);
    writeFileSync(path, JSON.stringify({ ...model, features: [...model.features].reverse() }));
    assert.match(loadModelFile(path).error!, /trained on features .* this build uses/);
    writeFileSync(path, JSON.stringify({ ...model, acceptance: { ...model.acceptance, weights: [1, 2] } }));
    assert.match(loadModelFile(path).error!, /acceptance\.weights/);
    assert.match(loadModelFile(join(dir, 'absent.json')).error!, /no model file at/);
    assert.throws(() => parseModel({ ...model, trainedAt: 'yesterday' }), /trainedAt/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new hero\'s priors are the fitted offers\' own rates: never the held-out ones', () => {
  const some = data.examples.slice(0, 2_000);
  const fitted = trainModel(some);
  const { train, test: held } = timeSplit(some, 0.2);
  assert.equal(fitted.priors, populationPriors(train));
  assert.not.equal(populationPriors(train), populationPriors(some), 'the held-out offers would change them');
  const accepted = train.filter((e) => e.outcome === 'accepted').length;
  const declined = train.filter((e) => e.outcome === 'declined').length;
  assert.ok(Math.abs(fitted.priors!.acceptRate - accepted / train.length) < 1e-12);
  assert.ok(Math.abs(fitted.priors!.declineRate - declined / (accepted + declined)) < 1e-12);
  assert.ok(Math.abs(fitted.priors!.ignoreRate - (train.length - accepted - declined) / train.length) < 1e-12);
  // Rates that agree: (1 − ignore) × (1 − decline share) = accept.
  const p = fitted.priors!;
  assert.ok(Math.abs((1 - p.ignoreRate) * (1 - p.declineRate) - p.acceptRate) < 1e-12);
  assert.ok(held.length === 400);
});

test('training refuses a split with one class only, and keeps a mode with few arrivals on the physics ETA', () => {
  const all = data.examples.slice(0, 400).map((e) => ({ ...e, outcome: 'declined' as const, actualEtaS: null }));
  assert.throws(() => trainModel(all), /no accepted offer/);
  const few = trainModel(data.examples.slice(0, 400).map((e) => (e.input.mode === 'air' ? { ...e, actualEtaS: null } : e)));
  assert.equal(few.eta.air, { intercept: 0, weights: new Array(FEATURE_COUNT).fill(0) });
  assert.not.equal(few.eta.ground.intercept, 0);
});

test('time of day is fitted from a day of history or more, and held at 0 from less: within hours it learns the run\'s drift', () => {
  // Six hours of offers whose acceptance falls as the run goes on (the city filling up),
  // whatever the hero: within the run the hour tracks that drift and nothing else.
  const six = syntheticExamples(360, seeded(61), truth, Date.UTC(2026, 0, 1, 6)).examples.map((e, i) => ({
    ...e, outcome: (i / 360 < 0.5 ? e.outcome : e.outcome === 'accepted' && i % 2 === 0 ? 'declined' : e.outcome) as typeof e.outcome,
  }));
  const short = trainModel(six, { priors: truth.priors });
  const hours = ['hour_sin', 'hour_cos'].map((f) => FEATURE_NAMES.indexOf(f));
  for (const j of hours) {
    assert.is(short.acceptance.weights[j], 0, `${FEATURE_NAMES[j]} acceptance weight`);
    assert.is(short.eta.ground.weights[j], 0, `${FEATURE_NAMES[j]} ground ETA weight`);
    assert.is(short.eta.air.weights[j], 0, `${FEATURE_NAMES[j]} air ETA weight`);
  }
  assert.equal(short.metrics.frozen?.features, ['hour_sin', 'hour_cos']);
  assert.match(short.metrics.frozen!.why, /span 4\.\d h, under a day/);
  // The same kind of offers over 20 days: the generator's hour_sin weight (0.2) is fitted.
  assert.is(model.metrics.frozen, undefined);
  assert.ok(Math.abs(rawCoefficients(model).weights[hours[0]!]! - 0.2) < 0.1, `hour_sin ${rawCoefficients(model).weights[hours[0]!]}`);
});

test('arrivals are split on their own: held-out arrivals exist even when the newest offers have not arrived yet', () => {
  // As when a run's history is read: the newest quarter of offers has no arrival yet.
  const some = data.examples.slice(0, 4_000).map((e, i) => (i >= 3_000 ? { ...e, actualEtaS: null } : e));
  const m = trainModel(some, { priors: truth.priors });
  const arrivals = some.filter((e) => e.outcome === 'accepted' && e.actualEtaS !== null && e.physicsEtaS >= 5).length;
  assert.is(m.metrics.rows!.etaTrain + m.metrics.rows!.etaTest, arrivals);
  assert.is(m.metrics.rows!.etaTest, Math.round(arrivals * 0.2));
  for (const mode of ['ground', 'air'] as const) {
    const got = m.metrics.eta.modes![mode];
    assert.is(got.used, 'learned', `${mode}: ${got.why}`);
    assert.ok(got.n >= 10 && got.maeS < got.physicsMaeS, `${mode}: ${got.maeS} vs ${got.physicsMaeS} on ${got.n}`);
  }
  assert.is(m.metrics.eta.n, m.metrics.rows!.etaTest);
});

test('a mode keeps the physics ETA when its correction loses to physics on held-out arrivals, or too few are held out to tell', () => {
  // Ground heroes arrived twice as late as physics said, until the roads cleared: the
  // newest arrivals match physics, and a correction fitted on the old ones is wrong.
  const some = data.examples.slice(0, 4_000).map((e, i) => {
    if (e.actualEtaS === null) return e;
    if (e.input.mode === 'ground') return { ...e, actualEtaS: e.physicsEtaS * (i < 3_200 ? 2 : 1) };
    return i >= 2_800 && i % 50 !== 0 ? { ...e, actualEtaS: null } : e; // air: a handful of recent arrivals
  });
  const m = trainModel(some, { priors: truth.priors });
  const { ground, air } = m.metrics.eta.modes!;
  assert.is(ground.used, 'physics');
  assert.match(ground.why!, /held-out MAE [\d.]+ s is no better than physics [\d.]+ s/);
  assert.ok(ground.n >= 10 && ground.maeS === ground.physicsMaeS, `ground: ${ground.maeS} on ${ground.n}`);
  assert.equal(m.eta.ground, { intercept: 0, weights: new Array(FEATURE_COUNT).fill(0) });
  assert.is(air.used, 'physics');
  assert.match(air.why!, /held-out arrivals \(< 10\)/);
  assert.ok(air.n < 10 && air.fitted >= 20, `air: ${air.n} held out, ${air.fitted} fitted`);
  // What the file says is what the server uses: physics for both, so the same MAE.
  assert.is(m.metrics.eta.maeS, m.metrics.eta.physicsMaeS);
});

test('the committed model (server/ranking/trained) loads in this build, and its metrics are the ones its README gives', () => {
  // A change of features makes it unusable: this test then says to retrain it (trained/README.md has the commands).
  const trained = (name: string) => fileURLToPath(new URL(`../server/ranking/trained/${name}`, import.meta.url));
  const path = trained('sim-train2.model.json');
  const loaded = loadModelFile(path, Date.parse('2026-12-07T13:00:00Z'));
  assert.is(loaded.error, null, `${loaded.error}: retrain it with the commands in server/ranking/trained/README.md`);
  const m = loaded.model!.metrics;
  const r = (x: number, digits: number) => Number(x.toFixed(digits));
  assert.equal([r(m.acceptance.auc, 3), r(m.acceptance.baselines![0]!.auc, 3), r(m.acceptance.logLoss, 3), m.acceptance.n], [0.811, 0.803, 0.468, 286]);
  const { ground, air } = m.eta.modes!;
  assert.equal([ground.used, r(ground.maeS, 1), r(ground.physicsMaeS, 1), ground.n], ['learned', 12.8, 16.9, 79]);
  assert.equal([air.used, r(air.maeS, 1), r(air.physicsMaeS, 1), air.n], ['learned', 3.6, 5.0, 88]);
  assert.equal(m.frozen?.features, ['hour_sin', 'hour_cos']);
  const readme = readFileSync(trained('README.md'), 'utf8');
  for (const figure of ['0.811', '0.803', '0.468', '12.8 s', '16.9 s', '3.6 s', '5.0 s', loaded.model!.version]) {
    assert.ok(readme.includes(figure), `the README gives ${figure}`);
  }
});

test.run();
