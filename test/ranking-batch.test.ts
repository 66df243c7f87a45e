// Ranking a round and sizing its batch (issue 16), pure: batchForTarget against worked
// cases; the order by expected time to an accepted arrival and its formula; skill before
// the model, even when exploring; exploration replayable from a seed, at its share, only
// in the batch's last place, reaching every lower candidate (no one starves), never in a
// critical incident's round; and the fallback to today's ETA order with a null or
// stale model.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../scripts/sim/rng.ts';
import { extractFeatures, FEATURE_COUNT, FEATURE_NAMES, IDX, type RankInput } from '../server/ranking/features.ts';
import { parseModel, scoreCandidate, staleReason, type RankingModel } from '../server/ranking/model.ts';
import { batchForTarget, rankCandidates, type Ranked } from '../server/ranking/ranking.ts';
import { syntheticExamples, syntheticInput } from '../server/ranking/synthetic.ts';
import { trainModel } from '../server/ranking/trainer.ts';

const seeded = (seed: number) => {
  const rng = new Rng(seed);
  return () => rng.next();
};
const AT = Date.UTC(2026, 5, 1, 12);
const trained = trainModel(syntheticExamples(6_000, seeded(7)).examples, { now: new Date(AT) });

/** A hand-made model: P(accept) from the accept rate alone, ETA = physics. */
function handModel(trainedAt = new Date(AT).toISOString()): RankingModel {
  const w = new Array(FEATURE_COUNT).fill(0);
  w[IDX.acceptRate] = 8;
  const zeros = new Array(FEATURE_COUNT).fill(0);
  return parseModel({
    version: 'hand', trainedAt, features: [...FEATURE_NAMES],
    acceptance: { intercept: 0, weights: w, mean: Array.from(extractFeatures(input('avg', 1, null))), std: new Array(FEATURE_COUNT).fill(1) },
    eta: { ground: { intercept: 0, weights: zeros }, air: { intercept: 0, weights: zeros } },
    metrics: {
      acceptance: { auc: 0.5, logLoss: 0.7, calibration: [], n: 0 }, eta: { maeS: 0, physicsMaeS: 0, n: 0 },
      split: { trainUntil: trainedAt, testFrom: trainedAt },
    },
  });
}

function input(heroId: string, km: number, acceptOf10: number | null, extra: Partial<RankInput> = {}): RankInput {
  return {
    heroId, distanceKm: km, mode: 'ground', physicsEtaS: ((km * 1.4) / 50) * 3600, severity: 'high', kind: 'fire', at: AT,
    history: acceptOf10 === null ? null
      : { offers: 10, accepts: acceptOf10, declines: 10 - acceptOf10, ignores: 0, answerMsSum: 40_000, etaRatioSum: 0, arrivals: 0 },
    activeLoad: 0, recentOffers1h: 0, skillMatch: 1, ...extra,
  };
}

const ids = (r: Ranked[]) => r.map((x) => x.heroId);
const never = () => { throw new Error('random() called'); };

test('batchForTarget: the smallest k whose P(at least one accepts) reaches the target, clamped', () => {
  assert.is(batchForTarget([0.5, 0.5, 0.5, 0.5], 0.85, 1, 6), 3, '0.75 after two, 0.875 after three');
  assert.is(batchForTarget([0.5, 0.5], 0.75, 1, 6), 2, 'reaching the target exactly is enough');
  assert.is(batchForTarget([0.99, 0.99], 0.95, 1, 6), 1);
  assert.is(batchForTarget([0.99, 0.99], 0.95, 2, 6), 2, 'never below min');
  assert.is(batchForTarget(new Array(10).fill(0.1), 0.95, 1, 6), 6, 'never above max');
  assert.is(batchForTarget([0.3, 0.2], 0.95, 1, 6), 6, 'unreachable with everyone: the most allowed');
  assert.is(batchForTarget([], 0.95, 2, 4), 4);
  assert.is(batchForTarget([Number.NaN, 0.96], 0.95, 1, 6), 2, 'an unknown p counts as 0');
  assert.is(batchForTarget([0.9, 0.9, 0.9], 0.95, 3, 1), 3, 'max below min: min');
  // The product, checked on a list of mixed probabilities.
  const ps = [0.6, 0.45, 0.3, 0.25, 0.2];
  const k = batchForTarget(ps, 0.9, 1, 5);
  const atLeastOne = (n: number) => 1 - ps.slice(0, n).reduce((q, p) => q * (1 - p), 1);
  assert.ok(atLeastOne(k) >= 0.9 && atLeastOne(k - 1) < 0.9, `k ${k}`);
});

test('with a model: ascending expected time to an accepted arrival, answerS + etaS + (1 − p)/p × the offer window', () => {
  const model = handModel();
  // 1.7 min away, accepted none of 30 (p ≈ 0.03): about 33 refused windows expected first.
  const near = input('near-unreliable', 1, 0, { history: { offers: 30, accepts: 0, declines: 30, ignores: 0, answerMsSum: 90_000, etaRatioSum: 0, arrivals: 0 } });
  const far = input('far-reliable', 3, 10); // 5 min away, accepts 10 of 10 (p ≈ 0.95)
  const ranked = rankCandidates(model, [near, far], { explorationShare: 0, random: never, offerWindowS: 15 });
  assert.equal(ids(ranked), ['far-reliable', 'near-unreliable']);
  assert.equal(ranked.map((r) => r.rank), [1, 2]);
  for (const r of ranked) {
    const s = r.score!;
    const p = Math.min(0.98, Math.max(0.02, s.pAccept));
    const answerS = r.features![IDX.answerS]!;
    assert.ok(answerS > 3 && answerS < 5, `mean answer ${answerS} s, shrunk towards the 5 s prior`);
    assert.ok(Math.abs(s.expectedS - (answerS + s.etaS + ((1 - p) / p) * 15)) < 1e-9);
    assert.is(r.modelVersion, 'hand');
    assert.is(r.features!.length, FEATURE_COUNT);
    const again = scoreCandidate(model, Float64Array.from(r.features!), 15);
    assert.equal(r.score, again);
    assert.equal(r.score!.contributions, again.contributions);
    assert.equal(JSON.parse(JSON.stringify(r)).why, r.why, 'serialised with its reasons');
    assert.equal(JSON.parse(JSON.stringify(r.score)).contributions, again.contributions, 'and the score with its contributions');
  }
  // A shorter window makes refusals cheap, and distance wins again.
  assert.equal(ids(rankCandidates(model, [near, far], { explorationShare: 0, random: never, offerWindowS: 1 })), ['near-unreliable', 'far-reliable']);
  // p is clamped to [0.02, 0.98]: a hero the model gives ~0 waits 49 windows, not forever;
  // one it gives ~1 still pays a little for the chance of a refusal.
  const record = (accepts: number) => ({ offers: 5_000, accepts, declines: 5_000 - accepts, ignores: 0, answerMsSum: 1e7, etaRatioSum: 0, arrivals: 0 });
  const both = rankCandidates(model, [input('zero', 1, 0, { history: record(0) }), input('sure', 5, 0, { history: record(5_000) })],
    { explorationShare: 0, random: never, offerWindowS: 15 });
  const hopeless = both.find((r) => r.heroId === 'zero');
  const certain = both.find((r) => r.heroId === 'sure');
  assert.ok(hopeless!.score!.pAccept < 0.02 && certain!.score!.pAccept > 0.98);
  const answered = (r: Ranked) => r.features![IDX.answerS]!;
  assert.ok(Math.abs(hopeless!.score!.expectedS - (answered(hopeless!) + hopeless!.score!.etaS + (0.98 / 0.02) * 15)) < 1e-9);
  assert.ok(Math.abs(certain!.score!.expectedS - (answered(certain!) + certain!.score!.etaS + (0.02 / 0.98) * 15)) < 1e-9);
});

test('the time to answer counts: a hero who says yes in 2 s goes before an equally willing one 5 s nearer who takes 12 s', () => {
  const model = handModel();
  const answers = (msEach: number) => ({ offers: 10, accepts: 10, declines: 0, ignores: 0, answerMsSum: msEach * 10, etaRatioSum: 0, arrivals: 0 });
  const slow = input('near-slow', 1, null, { history: answers(12_000) });
  const quick = input('further-quick', 1.05, null, { history: answers(2_000) }); // 5 s further by physics
  const ranked = rankCandidates(model, [slow, quick], { explorationShare: 0, random: never, offerWindowS: 15 });
  assert.equal(ids(ranked), ['further-quick', 'near-slow']);
  const [a, b] = ranked.map((r) => r.score!);
  assert.ok(Math.abs(a!.pAccept - b!.pAccept) < 1e-12, 'the same P(accept): only the answer time differs');
  assert.ok(b!.etaS < a!.etaS, 'the slow one is nearer');
  // Answering equally fast, the nearer goes first again.
  assert.equal(ids(rankCandidates(model, [slow, { ...quick, history: answers(12_000) }], { explorationShare: 0, random: never })), ['near-slow', 'further-quick']);
});

test('skill beats the model: a hero without the slot\'s skill never outranks one with it, even when exploring', () => {
  const model = handModel();
  const unskilled = input('unskilled-star', 0.2, 10, { skillMatch: 0 });
  const skilled = [input('s1', 6, 2), input('s2', 8, 1), input('s3', 9, 3)];
  for (let seed = 1; seed <= 200; seed++) {
    const ranked = rankCandidates(model, [unskilled, ...skilled], { explorationShare: 0.5, random: seeded(seed), batchSize: 2 });
    assert.is(ranked.at(-1)!.heroId, 'unskilled-star', `seed ${seed}: ${ids(ranked)}`);
  }
  assert.is(rankCandidates(null, [unskilled, ...skilled], { explorationShare: 0, random: never }).at(-1)!.heroId, 'unskilled-star');
});

/** 12 candidates of one round, from the synthetic generator. */
const round = (seed: number, severity: RankInput['severity'] = 'high'): RankInput[] => {
  const r = seeded(seed);
  return Array.from({ length: 12 }, (_, i) => ({ ...syntheticInput(r, `c${i}`, AT), severity, skillMatch: 1 as const }));
};

test('exploration: replayable from a seed, at its share, only in the last place of the batch, reaching every lower candidate', () => {
  const inputs = round(3);
  const plain = rankCandidates(trained, inputs, { explorationShare: 0, random: never, batchSize: 3 });
  assert.ok(plain.every((r) => !r.explored));
  const a = rankCandidates(trained, inputs, { explorationShare: 0.1, random: seeded(42), batchSize: 3 });
  const b = rankCandidates(trained, inputs, { explorationShare: 0.1, random: seeded(42), batchSize: 3 });
  assert.equal(a, b, 'the same seed, the same ranking');
  assert.equal(a.map((r) => r.why), b.map((r) => r.why), 'and the same words');

  const rounds = 20_000;
  const random = seeded(99);
  let explored = 0;
  const picked = new Map<string, number>();
  for (let i = 0; i < rounds; i++) {
    const ranked = rankCandidates(trained, inputs, { explorationShare: 0.1, random, batchSize: 3 });
    const e = ranked.filter((r) => r.explored);
    assert.ok(e.length <= 1);
    if (e.length === 0) {
      assert.equal(ids(ranked), ids(plain));
      continue;
    }
    explored++;
    const pick = e[0]!;
    assert.is(pick.rank, 3, 'the last place of the batch');
    assert.equal(ids(ranked).slice(0, 2), ids(plain).slice(0, 2), 'the best two are asked anyway');
    assert.ok(ids(plain).indexOf(pick.heroId) >= 3, 'picked from below the batch');
    assert.match(pick.why[0]!, /^explored: /);
    picked.set(pick.heroId, (picked.get(pick.heroId) ?? 0) + 1);
  }
  const share = explored / rounds;
  assert.ok(Math.abs(share - 0.1) < 0.01, `explored in ${share} of rounds`);
  // Every one of the 9 candidates below the batch is reached, about equally (uniform pick).
  assert.is(picked.size, 9);
  for (const [id, n] of picked) assert.ok(Math.abs(n / explored - 1 / 9) < 0.03, `${id}: ${n} of ${explored}`);
  assert.is(rankCandidates(trained, inputs, { explorationShare: 0, random: never, batchSize: 3 }).filter((r) => r.explored).length, 0);
});

test('exploration never touches a critical incident\'s round, whatever its batch; other severities explore at their share', () => {
  const critical = round(5, 'critical');
  for (let seed = 1; seed <= 300; seed++) {
    for (const batchSize of [1, 3]) {
      assert.not.ok(rankCandidates(trained, critical, { explorationShare: 0.5, random: seeded(seed), batchSize }).some((r) => r.explored));
    }
  }
  assert.not.ok(rankCandidates(trained, critical, { explorationShare: 1, random: never, batchSize: 3 }).some((r) => r.explored), 'no draw either');
  const high = round(5, 'high');
  const random = seeded(6);
  let explored = 0;
  for (let i = 0; i < 300; i++) explored += rankCandidates(trained, high, { explorationShare: 0.5, random, batchSize: 3 }).filter((r) => r.explored).length;
  assert.ok(explored > 100 && explored < 200, `${explored} of 300`);
  // Nobody below the batch to explore: nothing happens.
  assert.not.ok(rankCandidates(trained, high.slice(0, 3), { explorationShare: 1, random: seeded(1), batchSize: 3 }).some((r) => r.explored));
});

test('no model: today\'s order by physics ETA, no score, and why says so; a stale model is refused the same way', () => {
  const inputs = round(8);
  const ranked = rankCandidates(null, inputs, { explorationShare: 0.5, random: never });
  const byEta = [...inputs].sort((a, b) => a.physicsEtaS - b.physicsEtaS).map((i) => i.heroId);
  assert.equal(ids(ranked), byEta);
  assert.equal(ranked.map((r) => r.rank), inputs.map((_, i) => i + 1));
  for (const r of ranked) {
    assert.equal({ score: r.score, features: r.features, modelVersion: r.modelVersion, explored: r.explored, why: r.why },
      { score: null, features: null, modelVersion: null, explored: false, why: ['nearest by ETA (no model loaded)'] });
  }
  const old = handModel('2026-01-01T00:00:00Z');
  const now = Date.parse('2026-02-10T00:00:00Z');
  const reason = staleReason(old, 30 * 86_400_000, now);
  assert.match(reason!, /model hand is stale: trained 40 days ago, the limit is 30 days/);
  assert.is(staleReason(old, 60 * 86_400_000, now), null);
  const fallback = rankCandidates(reason ? null : old, inputs, { explorationShare: 0, random: never, fallbackReason: reason! });
  assert.equal(ids(fallback), byEta);
  assert.equal(fallback[0]!.why, [`nearest by ETA (${reason})`]);
});

test('every candidate is ranked once, 1…n, with or without a model', () => {
  for (const model of [trained, null]) {
    for (let seed = 1; seed <= 50; seed++) {
      const inputs = round(seed);
      const ranked = rankCandidates(model, inputs, { explorationShare: 0.3, random: seeded(seed), batchSize: 2 });
      assert.equal([...ids(ranked)].sort(), inputs.map((i) => i.heroId).sort());
      assert.equal(ranked.map((r) => r.rank), inputs.map((_, i) => i + 1));
    }
  }
  assert.equal(rankCandidates(trained, [], { explorationShare: 1, random: never }), []);
});

test.run();
