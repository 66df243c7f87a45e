// The ranking's features (issue 16), pure: what extractFeatures makes of a RankInput,
// feature by feature; that a new hero (no history, or none in the window) gets exactly
// the priors, the same vector as a hero whose record is the population's average, so no
// model can score them lower (a property over random models); that shrinkage keeps one
// bad answer from sinking a hero; and the words explain() gives.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DEFAULT_PRIORS, extractFeatures, FEATURE_COUNT, FEATURE_NAMES, IDX, PRIOR_STRENGTH, storedRankInputSchema,
  type HeroHistory, type Priors, type RankInput,
} from '../server/ranking/features.ts';
import { explain, parseModel, scoreCandidate, type RankingModel } from '../server/ranking/model.ts';

const at = Date.UTC(2026, 5, 1, 6, 0, 0); // 06:00 UTC
const base: RankInput = {
  heroId: 'h1', distanceKm: 2.5, mode: 'ground', physicsEtaS: 252, severity: 'high', kind: 'fire', at,
  history: { offers: 10, accepts: 6, declines: 2, ignores: 2, answerMsSum: 24_000, etaRatioSum: 3.6, arrivals: 3 },
  activeLoad: 0, recentOffers1h: 3, skillMatch: 1,
};
const close = (a: number, b: number, eps = 1e-9) => Math.abs(a - b) < eps;

test('the index table names the same positions as FEATURE_NAMES', () => {
  assert.is(FEATURE_COUNT, 21);
  const named: Record<string, string> = {
    distance: 'distance_km', air: 'mode_air', physicsEtaMin: 'physics_eta_min', sevFirst: 'sev_critical', kindFirst: 'kind_accident',
    hourSin: 'hour_sin', hourCos: 'hour_cos', acceptRate: 'accept_rate', declineRate: 'decline_rate', ignoreRate: 'ignore_rate',
    answerS: 'answer_s', recentOffers: 'recent_offers_1h', activeLoad: 'active_load', skillMatch: 'skill_match', logEtaRatio: 'log_eta_ratio',
  };
  for (const [key, name] of Object.entries(named)) assert.is(FEATURE_NAMES[IDX[key as keyof typeof IDX]], name, key);
});

test('extraction, feature by feature', () => {
  const x = extractFeatures(base);
  const f = (name: string) => x[FEATURE_NAMES.indexOf(name)]!;
  assert.is(f('distance_km'), 2.5);
  assert.is(f('mode_air'), 0);
  assert.is(f('physics_eta_min'), 4.2);
  assert.equal(['sev_critical', 'sev_high', 'sev_medium'].map(f), [0, 1, 0]);
  assert.equal(['kind_accident', 'kind_fire', 'kind_crime', 'kind_medical', 'kind_disaster'].map(f), [0, 1, 0, 0, 0]);
  assert.ok(close(f('hour_sin'), 1) && close(f('hour_cos'), 0), '06:00 UTC is a quarter turn');
  const s = PRIOR_STRENGTH.rates;
  assert.ok(close(f('accept_rate'), (6 + 0.5 * s) / (10 + s)));
  assert.ok(close(f('decline_rate'), (2 + 0.375 * s) / (8 + s)), 'declines over answered offers');
  assert.ok(close(f('ignore_rate'), (2 + 0.2 * s) / (10 + s)));
  assert.ok(close(f('answer_s'), (24 + 5 * PRIOR_STRENGTH.answers) / (8 + PRIOR_STRENGTH.answers)));
  assert.is(f('recent_offers_1h'), 3);
  assert.is(f('active_load'), 0);
  assert.is(f('skill_match'), 1);
  assert.ok(close(f('log_eta_ratio'), Math.log((3.6 + 1 * PRIOR_STRENGTH.arrivals) / (3 + PRIOR_STRENGTH.arrivals))));

  const other = extractFeatures({ ...base, mode: 'air', severity: 'low', kind: 'other', at: at + 12 * 3_600_000, recentOffers1h: 99, activeLoad: 1, skillMatch: 0 });
  const g = (name: string) => other[FEATURE_NAMES.indexOf(name)]!;
  assert.is(g('mode_air'), 1);
  assert.equal(['sev_critical', 'sev_high', 'sev_medium', 'kind_accident', 'kind_fire', 'kind_crime', 'kind_medical', 'kind_disaster'].map(g),
    [0, 0, 0, 0, 0, 0, 0, 0], 'low and other are the baselines');
  assert.ok(close(g('hour_sin'), -1), '18:00 UTC');
  assert.is(g('recent_offers_1h'), 20, 'capped');
  assert.is(g('active_load'), 1);
  assert.is(g('skill_match'), 0);
  const broken = extractFeatures({ ...base, distanceKm: Number.NaN, physicsEtaS: -5 });
  assert.ok(broken.every(Number.isFinite), 'no NaN reaches a model');
});

test('a new hero gets exactly the priors: history null, or a window with no offers', () => {
  const fresh = extractFeatures({ ...base, history: null });
  const empty = extractFeatures({ ...base, history: { offers: 0, accepts: 0, declines: 0, ignores: 0, answerMsSum: 0, etaRatioSum: 0, arrivals: 0 } });
  assert.equal(fresh, empty);
  assert.is(fresh[IDX.acceptRate], DEFAULT_PRIORS.acceptRate);
  assert.is(fresh[IDX.declineRate], DEFAULT_PRIORS.declineRate);
  assert.is(fresh[IDX.ignoreRate], DEFAULT_PRIORS.ignoreRate);
  assert.is(fresh[IDX.answerS], DEFAULT_PRIORS.answerS);
  assert.is(fresh[IDX.logEtaRatio], 0, 'the physics ETA is trusted: ratio 1');
  const population: Priors = { acceptRate: 0.7, declineRate: 0.2, ignoreRate: 0.1, answerS: 3.5, etaRatio: 1.25 };
  const withPop = extractFeatures({ ...base, history: null }, population);
  assert.equal([IDX.acceptRate, IDX.declineRate, IDX.ignoreRate, IDX.answerS].map((j) => withPop[j]), [0.7, 0.2, 0.1, 3.5]);
  assert.ok(close(withPop[IDX.logEtaRatio]!, Math.log(1.25)));
});

/** A hero whose record is exactly the population's: n offers answered at the priors' rates. */
function averageHero(p: Priors, n: number): HeroHistory {
  const ignores = p.ignoreRate * n;
  const answered = n - ignores;
  const declines = p.declineRate * answered;
  return {
    offers: n, accepts: answered - declines, declines, ignores, answerMsSum: p.answerS * 1000 * answered, etaRatioSum: p.etaRatio * 10, arrivals: 10,
  };
}

function randomModel(weights: number[], intercept: number, priors: Priors, opts: { mean?: number[]; eta?: number[] } = {}): RankingModel {
  const eta = opts.eta ?? weights;
  return parseModel({
    version: 'random', trainedAt: '2026-01-01T00:00:00Z', features: [...FEATURE_NAMES],
    acceptance: { intercept, weights, mean: opts.mean ?? new Array(FEATURE_COUNT).fill(0.3), std: new Array(FEATURE_COUNT).fill(1.5) },
    eta: { ground: { intercept: 0.1, weights: eta }, air: { intercept: -0.1, weights: eta } },
    metrics: {
      acceptance: { auc: 0.5, logLoss: 0.7, calibration: [], n: 0 }, eta: { maeS: 0, physicsMaeS: 0, n: 0 },
      split: { trainUntil: '2026-01-01T00:00:00Z', testFrom: '2026-01-01T00:00:00Z' },
    },
    priors,
  });
}

test('property: under any model, a new hero scores exactly as an average hero (never lower), whatever the weights', () => {
  const weight = fc.double({ min: -3, max: 3, noNaN: true });
  const rate = fc.double({ min: 0.05, max: 0.95, noNaN: true });
  fc.assert(fc.property(
    fc.array(weight, { minLength: FEATURE_COUNT, maxLength: FEATURE_COUNT }), weight, rate, rate,
    fc.double({ min: 0.5, max: 20, noNaN: true }), fc.double({ min: 0.5, max: 2, noNaN: true }), fc.integer({ min: 1, max: 200 }),
    (weights, intercept, declineRate, ignoreRate, answerS, etaRatio, n) => {
      // Population rates agree with each other, as the trainer's do (acceptRate follows from the other two).
      const priors: Priors = { acceptRate: (1 - ignoreRate) * (1 - declineRate), declineRate, ignoreRate, answerS, etaRatio };
      const model = randomModel(weights.map((w) => w / 10), intercept, priors);
      const fresh = scoreCandidate(model, extractFeatures({ ...base, history: null }, priors));
      const average = scoreCandidate(model, extractFeatures({ ...base, history: averageHero(priors, n) }, priors));
      return Math.abs(fresh.pAccept - average.pAccept) < 1e-9 && Math.abs(fresh.expectedS - average.expectedS) < 1e-6;
    },
  ), { numRuns: 300 });
});

test('shrinkage: one declined offer moves the accept rate from the prior by a fifth, not to zero', () => {
  const once = extractFeatures({ ...base, history: { offers: 1, accepts: 0, declines: 1, ignores: 0, answerMsSum: 4_000, etaRatioSum: 0, arrivals: 0 } });
  assert.ok(close(once[IDX.acceptRate]!, 2 / 5), `${once[IDX.acceptRate]}`);
  const veteran = extractFeatures({ ...base, history: { offers: 200, accepts: 0, declines: 200, ignores: 0, answerMsSum: 800_000, etaRatioSum: 0, arrivals: 0 } });
  assert.ok(veteran[IDX.acceptRate]! < 0.02, 'a long record outweighs the prior');
});

test('explain: where and when first, then the hero\'s own strongest reasons in words; a new hero is told as such', () => {
  const w = new Array(FEATURE_COUNT).fill(0);
  w[IDX.acceptRate] = 2;
  w[IDX.answerS] = -0.8;
  w[IDX.distance] = -0.5;
  w[IDX.sevFirst + 1] = 3; // severity: the same for every candidate, never a reason
  // Trained, say, on candidates 3 km away with no history: the average the words compare against.
  const mean = Array.from(extractFeatures({ ...base, distanceKm: 3, physicsEtaS: 300, history: null }));
  const model = randomModel(w, 0, DEFAULT_PRIORS, { mean, eta: new Array(FEATURE_COUNT).fill(0) });
  const reliable: RankInput = { ...base, distanceKm: 0.8, physicsEtaS: 81, history: { offers: 10, accepts: 9, declines: 1, ignores: 0, answerMsSum: 20_000, etaRatioSum: 0, arrivals: 0 } };
  const why = explain(scoreCandidate(model, extractFeatures(reliable)), reliable, 3, '7 days');
  assert.is(why.length, 3);
  assert.match(why[0]!, /^close: 0\.8 km by ground, arrives in ~1\.5 min \(P\(accept\) \d+%\)$/);
  assert.ok(why.includes('accepts often (9 of 10 offers in 7 days)'), why.join(' | '));
  assert.ok(why.includes('quick to answer (avg 2 s)'), why.join(' | '));
  assert.not.ok(why.some((l) => /high|severity/.test(l)));

  const slow: RankInput = { ...base, distanceKm: 9, history: { offers: 10, accepts: 2, declines: 6, ignores: 2, answerMsSum: 72_000, etaRatioSum: 0, arrivals: 0 } };
  const slowWhy = explain(scoreCandidate(model, extractFeatures(slow)), slow);
  assert.match(slowWhy[0]!, /^far: 9 km/);
  assert.ok(slowWhy.includes('slow to answer (avg 9 s)'), slowWhy.join(' | '));
  assert.ok(slowWhy.includes('accepts rarely (2 of 10 recent offers)'), slowWhy.join(' | '));

  const fresh: RankInput = { ...base, history: null };
  const freshWhy = explain(scoreCandidate(model, extractFeatures(fresh)), fresh);
  assert.is(freshWhy[1], 'new hero: no history yet, prior used');
  assert.not.ok(freshWhy.some((l) => /accepts|answer/.test(l)), 'no history lines for a new hero');
});

test('a stored rank input validates without its hero id, with extra fields (the features) stripped', () => {
  const { heroId: _, ...stored } = base;
  const parsed = storedRankInputSchema.parse({ ...stored, features: [1, 2, 3] });
  assert.equal(parsed, stored);
  assert.not.ok(storedRankInputSchema.safeParse({ ...stored, mode: 'boat' }).success);
  assert.ok(storedRankInputSchema.safeParse({ ...stored, history: null }).success);
});

test.run();
