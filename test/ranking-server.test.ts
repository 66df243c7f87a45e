// Learned ranking wired into the server (issue 16), through the real server:
//  - heroes' history is kept by the outbox: an accept, a decline, an expiry and an arrival
//    each land once in the hero's hourly bucket, and a stats row carried out again (the
//    outbox is at least once) changes nothing;
//  - with a model file, a round orders candidates by the model (a farther hero who
//    accepts beats a nearer one who declines), a critical round's batch is sized by
//    batchForTarget, a new hero is offered on the priors, and every offer stores what it
//    was ranked on; GET /v1/incidents/:id/offers explains it, for dispatchers only;
//  - a missing or stale model falls back to the ETA order, says so in /readyz and the
//    gauge dispatch_ranking_model, and SIGHUP loads a fresh one.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { FEATURE_NAMES } from '../server/ranking/features.ts';
import { parseModel } from '../server/ranking/model.ts';
import { batchForTarget } from '../server/ranking/ranking.ts';
import { createSql } from '../server/db.ts';
import { addOfferOutcome, applyStatsOnce } from '../server/store/hero-stats.store.ts';
import { eventually, http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, closeAll, heroOnline, matchable, report, type OnlineHero } from './helpers/world.ts';

// ---- A model file, written before the servers start ----

const dir = mkdtempSync(join(tmpdir(), 'ranking-server-'));
const zeros = () => FEATURE_NAMES.map(() => 0);
/**
 * A model that only reads the accept rate: logit = INTERCEPT + ACCEPT_W × accept_rate,
 * and keeps the physics ETA (the ETA model's weights are 0). A new hero (prior accept
 * rate 0.5) gets P(accept) = σ(0.323) ≈ 0.58, so a critical round needs 4 of them to
 * reach P(at least one) ≥ 0.95 (3 reach 0.926): more than OFFER_BATCH_CRITICAL's 3.
 */
const ACCEPT_W = 4;
const INTERCEPT = 0.323 - ACCEPT_W * 0.5;
function modelJson(version: string, trainedAt: string) {
  const weights = zeros();
  weights[FEATURE_NAMES.indexOf('accept_rate')] = ACCEPT_W;
  return {
    version, trainedAt, features: [...FEATURE_NAMES],
    acceptance: { intercept: INTERCEPT, weights, mean: zeros(), std: FEATURE_NAMES.map(() => 1) },
    eta: { ground: { intercept: 0, weights: zeros() }, air: { intercept: 0, weights: zeros() } },
    metrics: {
      acceptance: { auc: 0.9, logLoss: 0.3, calibration: [], n: 100 },
      eta: { maeS: 10, physicsMaeS: 20, n: 10 },
      split: { trainUntil: trainedAt, testFrom: trainedAt },
    },
  };
}
function writeModel(path: string, version: string, trainedAt: string): void {
  const json = modelJson(version, trainedAt);
  parseModel(json); // the shape the server loads, checked here first
  writeFileSync(path, JSON.stringify(json));
}
const FRESH = join(dir, 'fresh.json');
const FRESH_VERSION = `test-model-${uid('')}`;
writeModel(FRESH, FRESH_VERSION, new Date().toISOString());

// ---- Helpers ----

interface Bucket { offers: number; accepts: number; declines: number; ignores: number; answer_ms_sum: number; arrivals: number; eta_ratio_sum: number }

async function statsOf(server: TestServer, heroId: string): Promise<Bucket> {
  const [row] = await server.app.sql<Bucket[]>`
    select coalesce(sum(offers), 0)::int as offers, coalesce(sum(accepts), 0)::int as accepts, coalesce(sum(declines), 0)::int as declines,
           coalesce(sum(ignores), 0)::int as ignores, coalesce(sum(answer_ms_sum), 0)::float8 as answer_ms_sum,
           coalesce(sum(arrivals), 0)::int as arrivals, coalesce(sum(eta_ratio_sum), 0)::float8 as eta_ratio_sum
      from hero_offer_stats where hero_id = ${heroId}`;
  return row!;
}

/** Waits until no outbox row is left: every effect of what the test did has run. */
const drained = (server: TestServer) =>
  eventually('outbox drained', async () => (await server.app.sql`select 1 from outbox limit 1`).length === 0, 10_000);

/** The hero's decided offers, as the outbox would have recorded them, `n` times. */
async function seedHistory(server: TestServer, heroId: string, n: number, outcome: 'accepted' | 'declined'): Promise<void> {
  for (let i = 0; i < n; i++) await addOfferOutcome(server.app.sql, { heroId, at: Date.now() - 3_600_000, outcome, answerMs: 2_000 });
}

const offersOf = (server: TestServer, incidentId: string) => server.app.sql<{
  hero_id: string; model_version: string | null; score: { pAccept: number; etaS: number; expectedS: number } | null;
  rank: number | null; explored: boolean | null; why: string[] | null; rank_input: Record<string, unknown> | null;
}[]>`select hero_id, model_version, score, rank, explored, why, rank_input from offers where incident_id = ${incidentId} order by rank`;

async function readyRanking(server: TestServer) {
  const res = await http(server, 'GET', '/readyz');
  assert.is(res.status, 200, `a ranking fallback never makes the server unready: ${JSON.stringify(res.body)}`);
  return res.body.details.ranking;
}

/** The gauge dispatch_ranking_model, by state, from GET /metrics. */
async function gauge(server: TestServer): Promise<Record<string, number>> {
  const res = await http(server, 'GET', '/metrics');
  const out: Record<string, number> = {};
  for (const m of String(res.body).matchAll(/^dispatch_ranking_model\{state="([^"]+)"\} (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

// ---- History kept by the outbox ----

const stats = serverSuite('ranking: history through the outbox', { OFFER_TIMEOUT_MS: 3_000, DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000 });

async function offered(server: TestServer, severity = 'medium'): Promise<{ hero: OnlineHero; incidentId: string; offerId: string }> {
  const center = area();
  const hero = await heroOnline(server, center, 0.5);
  await matchable(server, [hero]);
  const { status, incident } = await report(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity, location: center });
  assert.is(status, 201);
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  return { hero, incidentId: incident.id, offerId: offer.offerId };
}

stats('an accept, then the arrival, each land once in the hero\'s bucket', async ({ server }) => {
  const { hero, incidentId, offerId } = await offered(server);
  assert.equal(await hero.client.ask('offer:accept', { offerId }), { ok: true, incidentId });
  await eventually('accept counted', async () => (await statsOf(server, hero.id)).accepts === 1);
  for (const state of ['en_route', 'on_scene'] as const) {
    assert.equal(await hero.client.ask('incident:progress', { incidentId, state }), { ok: true, state });
  }
  await eventually('arrival counted', async () => (await statsOf(server, hero.id)).arrivals === 1);
  await drained(server);
  const s = await statsOf(server, hero.id);
  assert.equal({ ...s, answer_ms_sum: 0, eta_ratio_sum: 0 }, { offers: 1, accepts: 1, declines: 0, ignores: 0, answer_ms_sum: 0, arrivals: 1, eta_ratio_sum: 0 });
  // The answer time is the offer's own (decided − created), and the ratio is assign → on_scene over the physics ETA.
  const [o] = await server.app.sql<{ ms: number; eta_s: number }[]>`
    select (extract(epoch from decided_at - created_at) * 1000)::float8 as ms, eta_s from offers where id = ${offerId}`;
  assert.ok(Math.abs(s.answer_ms_sum - o!.ms) <= 1, `answer ${s.answer_ms_sum} ms, offer answered in ${o!.ms} ms`);
  const [a] = await server.app.sql<{ s: number }[]>`
    select extract(epoch from now() - assigned_at)::float8 as s from assignments where offer_id = ${offerId}`;
  assert.ok(s.eta_ratio_sum > 0 && s.eta_ratio_sum <= a!.s / o!.eta_s, `ratio ${s.eta_ratio_sum}, at most ${a!.s} s / ${o!.eta_s} s`);
  closeAll(hero);
});

stats('a decline lands once, as a decline with its answer time', async ({ server }) => {
  const { hero, offerId } = await offered(server);
  assert.equal(await hero.client.ask('offer:decline', { offerId }), { ok: true });
  await eventually('decline counted', async () => (await statsOf(server, hero.id)).declines === 1);
  await drained(server);
  const s = await statsOf(server, hero.id);
  assert.equal([s.offers, s.accepts, s.declines, s.ignores, s.arrivals], [1, 0, 1, 0, 0]);
  closeAll(hero);
});

stats('an expired offer lands once, as an ignore without an answer time', async ({ server }) => {
  const { hero, offerId } = await offered(server);
  await eventually('offer expired', async () => (await server.app.sql`select 1 from offers where id = ${offerId} and state = 'expired'`).length === 1, 15_000);
  await eventually('ignore counted', async () => (await statsOf(server, hero.id)).ignores === 1);
  await drained(server);
  const s = await statsOf(server, hero.id);
  assert.equal([s.offers, s.accepts, s.declines, s.ignores, s.answer_ms_sum], [1, 0, 0, 1, 0]);
  closeAll(hero);
});

stats('a stats row carried out again (same outbox id) is applied once', async ({ server }) => {
  const heroId = uid('h-');
  const payload = { heroId, at: Date.now(), outcome: 'declined', answerMs: 1_234 };
  const [row] = await server.app.sql<{ id: string }[]>`
    insert into outbox (topic, incident_id, payload) values ('stats:offer', null, ${server.app.sql.json(payload)}) returning id`;
  await eventually('first delivery carried out', async () => (await server.app.sql`select 1 from outbox where id = ${row!.id}`).length === 0);
  assert.equal([(await statsOf(server, heroId)).declines, (await statsOf(server, heroId)).answer_ms_sum], [1, 1_234]);
  // The relay claimed it, the effect committed, and the claim's delete was lost: the row comes back with its id.
  await server.app.sql`insert into outbox (id, topic, incident_id, payload) values (${row!.id}, 'stats:offer', null, ${server.app.sql.json(payload)})`;
  await eventually('redelivery carried out', async () => (await server.app.sql`select 1 from outbox where id = ${row!.id}`).length === 0);
  const s = await statsOf(server, heroId);
  assert.equal([s.offers, s.declines, s.answer_ms_sum], [1, 1, 1_234], 'counted once');
});

stats('each kind of fact is applied once per outbox id, concurrent deliveries included, in one statement each', async ({ server }) => {
  const heroId = uid('h-');
  const at = Date.now();
  // Ids far above the outbox's sequence: no row of the server's own carries them.
  const base = 9_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
  const offer = String(base);
  const arrival = String(base + 1);
  // A pool of its own on the server's schema, counting what it sends.
  const sent: boolean[] = [];
  const sql = createSql(server.app.config, { onStatement: (transaction) => sent.push(transaction) });
  try {
    const twice = <T>(f: () => Promise<T>) => Promise.all([f(), f()]);
    // Two connections opened first (postgres.js reads the types on its first).
    await twice(() => sql`select 1`);
    sent.length = 0;
    const offered = await twice(() => applyStatsOnce(sql, offer, { kind: 'offer', heroId, at, outcome: 'accepted', answerMs: 500 }));
    const arrived = await twice(() => applyStatsOnce(sql, arrival, { kind: 'arrival', heroId, at, ratio: 1.5 }));
    assert.equal(offered.sort(), [false, true], 'one of two concurrent deliveries applied the offer');
    assert.equal(arrived.sort(), [false, true], 'one of two concurrent deliveries applied the arrival');
    assert.is(await applyStatsOnce(sql, arrival, { kind: 'arrival', heroId, at, ratio: 1.5 }), false, 'a later delivery changes nothing');
    assert.equal(sent, [false, false, false, false, false], 'one statement per delivery, no transaction');
  } finally {
    await sql.end({ timeout: 5 });
  }
  const s = await statsOf(server, heroId);
  assert.equal([s.offers, s.accepts, s.answer_ms_sum, s.arrivals, s.eta_ratio_sum], [1, 1, 500, 1, 1.5]);
  const [applied] = await server.app.sql<{ n: number }[]>`select count(*)::int as n from hero_stats_applied where outbox_id = any(${[offer, arrival]}::bigint[])`;
  assert.is(applied!.n, 2);
});

stats.run();

// ---- With a model ----

const learned = serverSuite('ranking: a model in force', {
  RANKING_MODE: 'learned', RANKING_MODEL_PATH: FRESH, RANKING_EXPLORATION_SHARE: 0,
  DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000,
});

learned('readiness and the gauge say the model is in force', async ({ server }) => {
  const r = await readyRanking(server);
  assert.equal([r.state, r.version, r.error], ['learned', FRESH_VERSION, null]);
  const g = await gauge(server);
  assert.equal(g, { learned: 1, 'fallback: no model': 0, 'fallback: stale': 0, 'fallback: mode distance': 0 });
});

learned('a farther hero who accepts is asked before a nearer one who declines, and the offer explains why', async ({ server }) => {
  const center = area();
  const decliner = await heroOnline(server, center, 0.5);
  const accepter = await heroOnline(server, center, 0.6);
  await seedHistory(server, decliner.id, 10, 'declined');
  await seedHistory(server, accepter.id, 10, 'accepted');
  await matchable(server, [decliner, accepter]);
  const { incident } = await report(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'medium', location: center });
  await accepter.client.next('offer', (o) => o.incident.id === incident.id);
  const offers = await offersOf(server, incident.id);
  assert.equal(offers.map((o) => o.hero_id), [accepter.id], 'one offer (medium), to the hero the model ranks first');
  const [o] = offers;
  assert.is(o!.model_version, FRESH_VERSION);
  assert.is(o!.rank, 1);
  assert.is(o!.explored, false);
  assert.ok(o!.score!.pAccept > 0.8, `P(accept) ${o!.score!.pAccept}`);
  assert.ok(o!.why!.some((w) => w.startsWith('accepts often (10 of 10')), JSON.stringify(o!.why));
  assert.equal((o!.rank_input!.history as { accepts: number }).accepts, 10);

  // The explanation, for dispatchers; refused to a civilian and to a hero.
  const disp = await server.token('dispatcher', uid('d-'));
  const res = await http(server, 'GET', `/v1/incidents/${incident.id}/offers`, { token: disp });
  assert.is(res.status, 200, JSON.stringify(res.body));
  const [e] = res.body.offers;
  assert.equal([e.heroId, e.heroName, e.state, e.rank, e.explored, e.modelVersion], [accepter.id, accepter.name, 'pending', 1, false, FRESH_VERSION]);
  assert.equal(e.why, o!.why);
  assert.is(e.score.pAccept, o!.score!.pAccept);
  assert.ok(e.score.expectedS >= e.score.etaS, 'expected time to an accepted arrival includes the ETA');
  assert.equal(e.features.map((f: { name: string }) => f.name), [...FEATURE_NAMES]);
  assert.ok(Math.abs(e.features.find((f: { name: string }) => f.name === 'accept_rate').value - 12 / 14) < 1e-9, 'accept rate shrunk to the prior: (10 + 2) / (10 + 4)');
  assert.is(e.input.history.accepts, 10);
  assert.is(res.body.ranking.state, 'learned');
  for (const token of [await server.token('civilian', uid('c-')), accepter.token]) {
    const refused = await http(server, 'GET', `/v1/incidents/${incident.id}/offers`, { token });
    assert.is(refused.status, 403, JSON.stringify(refused.body));
  }
  closeAll(decliner, accepter);
});

learned('a new hero, with no history, is offered on the priors, never punished', async ({ server }) => {
  const center = area();
  const decliner = await heroOnline(server, center, 0.4);
  const newcomer = await heroOnline(server, center, 0.5);
  await seedHistory(server, decliner.id, 10, 'declined');
  await matchable(server, [decliner, newcomer]);
  const { incident } = await report(server, await server.token('civilian', uid('c-')), { kind: 'medical', severity: 'medium', location: center });
  await newcomer.client.next('offer', (o) => o.incident.id === incident.id);
  const [o] = await offersOf(server, incident.id);
  assert.is(o!.hero_id, newcomer.id);
  assert.is(o!.rank_input!.history, null);
  assert.ok(o!.why!.includes('new hero: no history yet, prior used'), JSON.stringify(o!.why));
  closeAll(decliner, newcomer);
});

learned('a critical round offers as many heroes as batchForTarget asks for, not the fixed batch', async ({ server }) => {
  const center = area();
  const heroes: OnlineHero[] = [];
  for (let i = 0; i < 8; i++) heroes.push(await heroOnline(server, center, 0.3 + i * 0.1));
  await matchable(server, heroes);
  const { incident } = await report(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'critical', location: center });
  await heroes[0]!.client.next('offer', (o) => o.incident.id === incident.id);
  await drained(server);
  const offers = await offersOf(server, incident.id);
  const { OFFER_BATCH_CRITICAL: min, OFFER_BATCH_CRITICAL_MAX: max, RANKING_TARGET_P: target } = server.app.config;
  const ps = offers.map((o) => o.score!.pAccept);
  assert.is(offers.length, batchForTarget(ps, target, min, max), `P(accept) ${ps.join(', ')}`);
  assert.is(offers.length, 4, 'new heroes at P(accept) ≈ 0.58: 3 reach 0.926, 4 reach 0.969');
  assert.ok(offers.length > min, 'more than the fixed batch');
  assert.equal(offers.map((o) => o.rank), [1, 2, 3, 4]);
  closeAll(...heroes);
});

learned('a hero offered far down the ranking (a skill nobody nearer has) still gets the ranking stored and explained', async ({ server }) => {
  const center = area();
  const heroes: OnlineHero[] = [];
  for (let i = 0; i < 10; i++) heroes.push(await heroOnline(server, center, 0.2 + i * 0.05));
  const medic = await heroOnline(server, center, 1.5, { skills: ['medic'] });
  await matchable(server, [...heroes, medic]);
  const { incident } = await report(server, await server.token('civilian', uid('c-')), {
    kind: 'medical', severity: 'medium', location: center, needs: [{ skill: 'medic', count: 1 }],
  });
  await medic.client.next('offer', (o) => o.incident.id === incident.id);
  const [o, ...others] = await offersOf(server, incident.id);
  assert.is(others.length, 0);
  assert.is(o!.hero_id, medic.id);
  assert.ok(o!.rank! > 8, `ranked ${o!.rank}: past the rankings sent with the insert`);
  assert.is(o!.model_version, FRESH_VERSION);
  assert.ok(o!.score && o!.why!.length > 0 && o!.rank_input, JSON.stringify(o));
  closeAll(...heroes, medic);
});

learned.run();

// ---- Without a usable model ----

const missing = serverSuite('ranking: no model file', {
  RANKING_MODE: 'learned', RANKING_MODEL_PATH: join(dir, 'no-such-model.json'), DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000,
});

missing('no model file: the ETA order ranks, and readiness, the gauge and every offer say so', async ({ server }) => {
  const r = await readyRanking(server);
  assert.is(r.state, 'fallback: no model');
  assert.match(r.error, 'no-such-model.json');
  assert.is((await gauge(server))['fallback: no model'], 1);
  assert.is((await gauge(server)).learned, 0);

  const center = area();
  const accepter = await heroOnline(server, center, 0.6);
  const decliner = await heroOnline(server, center, 0.5);
  await seedHistory(server, decliner.id, 10, 'declined');
  await seedHistory(server, accepter.id, 10, 'accepted');
  await matchable(server, [decliner, accepter]);
  const { incident } = await report(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'medium', location: center });
  await decliner.client.next('offer', (o) => o.incident.id === incident.id);
  const [o] = await offersOf(server, incident.id);
  assert.equal([o!.hero_id, o!.model_version, o!.score, o!.rank, o!.explored], [decliner.id, null, null, 1, false], 'nearest first');
  assert.equal(o!.why, ['nearest by ETA (no model loaded)']);
  // The inputs are stored all the same: training data accumulates before any model exists.
  assert.equal((o!.rank_input!.history as { declines: number }).declines, 10);
  closeAll(decliner, accepter);
});

missing.run();

const stale = join(dir, 'reloaded.json');
writeModel(stale, 'test-model-stale', new Date(Date.now() - 60 * 86_400_000).toISOString());
const old = serverSuite('ranking: a stale model', {
  RANKING_MODE: 'learned', RANKING_MODEL_PATH: stale, DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000,
});

old('a stale model falls back, visible in readiness and the gauge; SIGHUP loads a fresh one', async ({ server }) => {
  const r = await readyRanking(server);
  assert.equal([r.state, r.version], ['fallback: stale', 'test-model-stale']);
  assert.match(r.error, 'stale');
  assert.is((await gauge(server))['fallback: stale'], 1);

  const center = area();
  const hero = await heroOnline(server, center, 0.5);
  await matchable(server, [hero]);
  const first = await report(server, await server.token('civilian', uid('c-')), { kind: 'crime', severity: 'medium', location: center });
  await hero.client.next('offer', (o) => o.incident.id === first.incident.id);
  const [o] = await offersOf(server, first.incident.id);
  assert.equal([o!.model_version, o!.why], [null, ['nearest by ETA (no model: the model is stale)']]);

  writeModel(stale, 'test-model-retrained', new Date().toISOString());
  process.kill(process.pid, 'SIGHUP');
  await eventually('the fresh model in force', async () => (await readyRanking(server)).state === 'learned');
  assert.is((await readyRanking(server)).version, 'test-model-retrained');
  await eventually('the gauge follows', async () => (await gauge(server)).learned === 1 && (await gauge(server))['fallback: stale'] === 0);
  closeAll(hero);
});

old.run();

// The distance mode (the default) never loads a file.
const distance = serverSuite('ranking: distance mode', { RANKING_MODE: 'distance', RANKING_MODEL_PATH: FRESH });

distance('RANKING_MODE=distance: no model, whatever the file', async ({ server }) => {
  const r = await readyRanking(server);
  assert.equal([r.state, r.version, r.loadedAt], ['fallback: mode distance', null, null]);
  assert.is((await gauge(server))['fallback: mode distance'], 1);
});

distance.run();
