// `npm run train` end to end (issue 16), against real Postgres: a private schema with
// every migration applied is filled with a synthetic history whose answer is known
// (server/ranking/synthetic.ts): offers with their stored rank inputs, the assignments
// their accepts made, and ARRIVE audit events (with decoys: another member's earlier
// ARRIVE, offers still pending or withdrawn, older offers without rank inputs). The
// store must pair each accept with its own hero's arrival and leave the decoys out;
// scripts/train.ts, run as a child process as an operator would, must write a model whose
// held-out metrics sit near the generator's and whose split is by offer time; and it must
// refuse too little data, a schema without rank inputs, and bad arguments.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSchema, dropSchemas, pg, uid, type Sql } from '../scripts/lib/lifecycle.ts';
import { Rng } from '../scripts/sim/rng.ts';
import { migrate } from '../server/migrate.ts';
import { auc } from '../server/ranking/evaluation.ts';
import { loadModelFile } from '../server/ranking/model.file.ts';
import { syntheticExamples } from '../server/ranking/synthetic.ts';
import type { TrainingExample } from '../server/ranking/trainer.ts';
import { countTrainingOffers, hasRankInputs, trainingOffers, type TrainingOfferRow } from '../server/store/training.store.ts';
import { SEVERITY_RANK } from '../shared/domain.ts';

interface Ctx { schema: string; sql: Sql; dir: string; history: { examples: TrainingExample[]; pTrue: number[]; arrivals: Map<string, number> } }
const test = suite<Ctx>('ranking-train');
const N = 800;
/** The examples and the two offers of the released-then-back decoy. */
const DECIDED = N + 2;
const rng = new Rng(2026);
const data = syntheticExamples(N, () => rng.next(), undefined, Date.UTC(2026, 2, 1));

/** Runs scripts/train.ts on `schema`, bounded in time. */
function train(args: string[], ms = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/train.ts', ...args], {
      env: { ...process.env, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`train took over ${ms} ms:\n${stdout}\n${stderr}`)); }, ms);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The synthetic history as rows of offers, incidents, assignments and audit events, plus decoys. */
async function fill(sql: Sql, examples: TrainingExample[]): Promise<Map<string, number>> {
  const heroes = new Set<string>();
  const incidents: object[] = [];
  const offers: object[] = [];
  const assignments: object[] = [];
  const events: object[] = [];
  const arrivals = new Map<string, number>(); // offer id → arrival (ms) the store must find
  examples.forEach((e, i) => {
    const incidentId = `i-${i}`;
    const offerId = `o-${i}`;
    heroes.add(e.input.heroId);
    incidents.push({ id: incidentId, kind: e.input.kind, severity: e.input.severity, severity_rank: SEVERITY_RANK[e.input.severity], created_at: iso(e.at) });
    const decidedAt = e.outcome === 'expired' ? e.at + 15_000 : e.at + e.answerMs!;
    const { heroId: _, ...stored } = e.input;
    offers.push({
      id: offerId, incident_id: incidentId, hero_id: e.input.heroId, state: e.outcome, distance_km: e.input.distanceKm,
      created_at: iso(e.at), expires_at: iso(e.at + 15_000), decided_at: iso(decidedAt), eta_s: Math.round(e.physicsEtaS),
      // As the server stores it: the inputs without the hero id, with the features beside them.
      rank_input: { ...stored, features: [0, 1, 2] },
    });
    if (e.outcome === 'accepted') {
      const arrivedAt = decidedAt + Math.round(e.actualEtaS! * 1000);
      assignments.push({ incident_id: incidentId, hero_id: e.input.heroId, offer_id: offerId, assigned_at: iso(decidedAt), ended_at: iso(arrivedAt + 600_000) });
      // Decoys first: another member arriving earlier, and this hero's own ARRIVE after the assignment ended.
      events.push({ incident_id: incidentId, seq: 1, hero: 'someone-else', at: iso(decidedAt + 1_000) });
      events.push({ incident_id: incidentId, seq: 2, hero: e.input.heroId, at: iso(arrivedAt) });
      events.push({ incident_id: incidentId, seq: 3, hero: e.input.heroId, at: iso(arrivedAt + 700_000) });
      arrivals.set(offerId, arrivedAt);
    }
  });
  // Offers that teach nothing about an answer: still pending, withdrawn, or made before rank inputs were stored.
  const first = examples[0]!;
  const { heroId: _h, ...stored } = first.input;
  for (const [k, state, withInput] of [[0, 'pending', true], [1, 'withdrawn', true], [2, 'declined', false], [3, 'expired', false]] as const) {
    heroes.add(`decoy-${k}`);
    incidents.push({ id: `i-decoy-${k}`, kind: 'fire', severity: 'high', severity_rank: 1, created_at: iso(first.at) });
    offers.push({
      id: `o-decoy-${k}`, incident_id: `i-decoy-${k}`, hero_id: `decoy-${k}`, state, distance_km: 1, created_at: iso(first.at + k),
      expires_at: iso(first.at + 15_000), decided_at: state === 'pending' ? null : iso(first.at + 5_000), eta_s: 100, rank_input: withInput ? stored : null,
    });
  }
  // A hero released before arriving, then offered the same incident again, accepting and
  // arriving: the arrival belongs to the second assignment, not the first (an hour before
  // the history, so the split below is the examples' own).
  const t = first.at - 3_600_000;
  heroes.add('decoy-back');
  incidents.push({ id: 'i-decoy-back', kind: 'fire', severity: 'high', severity_rank: 1, created_at: iso(t) });
  for (const [k, offeredAt] of [[1, t], [2, t + 120_000]] as const) {
    offers.push({
      id: `o-decoy-back-${k}`, incident_id: 'i-decoy-back', hero_id: 'decoy-back', state: 'accepted', distance_km: 1, created_at: iso(offeredAt),
      expires_at: iso(offeredAt + 15_000), decided_at: iso(offeredAt + 5_000), eta_s: 100, rank_input: stored,
    });
  }
  assignments.push({ incident_id: 'i-decoy-back', hero_id: 'decoy-back', offer_id: 'o-decoy-back-1', assigned_at: iso(t + 5_000), ended_at: iso(t + 60_000) });
  assignments.push({ incident_id: 'i-decoy-back', hero_id: 'decoy-back', offer_id: 'o-decoy-back-2', assigned_at: iso(t + 125_000), ended_at: iso(t + 900_000) });
  events.push({ incident_id: 'i-decoy-back', seq: 1, hero: 'decoy-back', at: iso(t + 400_000) });
  arrivals.set('o-decoy-back-2', t + 400_000);
  await sql.begin(async (tx) => {
    await tx`insert into heroes (id, name, mode) select id, id, 'ground' from unnest(${[...heroes]}::text[]) as id`;
    await tx`
      insert into incidents (id, kind, severity, severity_rank, state, lat, lng, needs, reported_by, snapshot, version, created_at)
      select id, kind, severity, severity_rank, 'resolved', 40.7, -74, '[]', 'c-train', '{}', 1, created_at
        from jsonb_to_recordset(${tx.json(incidents as never)}) as r(id text, kind text, severity text, severity_rank int, created_at timestamptz)`;
    await tx`
      insert into offers (id, incident_id, hero_id, slot, round, state, distance_km, created_at, expires_at, decided_at, eta_s, rank_input)
      select id, incident_id, hero_id, 0, 1, state, distance_km, created_at, expires_at, decided_at, eta_s, rank_input
        from jsonb_to_recordset(${tx.json(offers as never)}) as r(id text, incident_id text, hero_id text, state text, distance_km float8,
             created_at timestamptz, expires_at timestamptz, decided_at timestamptz, eta_s int, rank_input jsonb)`;
    await tx`
      insert into assignments (incident_id, slot, hero_id, offer_id, state, assigned_at, ended_at)
      select incident_id, 0, hero_id, offer_id, 'completed', assigned_at, ended_at
        from jsonb_to_recordset(${tx.json(assignments as never)}) as r(incident_id text, hero_id text, offer_id text, assigned_at timestamptz, ended_at timestamptz)`;
    await tx`
      insert into incident_events (incident_id, seq, type, from_state, to_state, actor, data, at)
      select incident_id, seq, 'ARRIVE', 'en_route', 'on_scene', 'hero:' || hero, jsonb_build_object('heroId', hero), at
        from jsonb_to_recordset(${tx.json(events as never)}) as r(incident_id text, seq int, hero text, at timestamptz)`;
  });
  return arrivals;
}

test.before(async (ctx) => {
  ctx.schema = uid('t_train_');
  ctx.sql = pg(ctx.schema);
  ctx.dir = mkdtempSync(join(tmpdir(), 'ranking-train-'));
  await migrate(ctx.sql, ctx.schema);
  ctx.history = { ...data, arrivals: await fill(ctx.sql, data.examples) };
});

test.after(async (ctx) => {
  await ctx.sql?.end({ timeout: 5 });
  await dropSchemas([ctx.schema]);
  rmSync(ctx.dir, { recursive: true, force: true });
});

test('the store reads every decided offer with rank inputs, oldest first, each accept with its own hero\'s arrival', async ({ sql, history }) => {
  assert.ok(await hasRankInputs(sql));
  assert.is(await countTrainingOffers(sql), DECIDED, 'pending, withdrawn and input-less offers left out');
  const rows: TrainingOfferRow[] = [];
  for await (const batch of trainingOffers(sql, 150)) rows.push(...batch);
  assert.is(rows.length, DECIDED);
  assert.ok(rows.every((r, i) => i === 0 || r.created_at >= rows[i - 1]!.created_at), 'oldest first');
  let arrived = 0;
  for (const r of rows) {
    const expected = history.arrivals.get(r.id);
    if (r.state === 'accepted') {
      assert.ok(r.assigned_at, `${r.id}: assignment found`);
      assert.is(r.arrived_at?.getTime(), expected, `${r.id}: its own hero's first ARRIVE during the assignment`);
      if (r.arrived_at) arrived++;
    } else {
      assert.is(r.assigned_at, null);
      assert.is(r.arrived_at, null);
    }
  }
  assert.is(arrived, history.arrivals.size);
  assert.is(rows.find((r) => r.id === 'o-decoy-back-1')!.arrived_at, null, 'released before arriving: no arrival');
});

test('train writes a model whose held-out metrics match the generator, split by offer time', async ({ schema, dir, history }) => {
  const out = join(dir, 'model.json');
  const run = await train(['--schema', schema, '--out', out, '--min-rows', '100']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /^model acceptance-logreg-\S+ written to /);
  assert.match(run.stdout, /acceptance, held out: AUC 0\.\d+ \(beside: accept_rate only 0\.\d+, nearest first 0\.\d+\), log loss/);
  assert.match(run.stdout, /eta, held out \(\d+ arrivals, \d+ fitted\): MAE [\d.]+ s as used, [\d.]+ s physics/);
  assert.match(run.stdout, /\n {4}ground: learned correction, MAE [\d.]+ s vs physics [\d.]+ s on \d+ held out, \d+ fitted\n/);
  assert.match(run.stdout, /\n {2}not fitted: hour_sin, hour_cos: the fitted offers span [\d.]+ h, under a day/);
  assert.match(run.stderr, /\[train\] read 802\/802 offers \(100%\)/);
  assert.match(run.stderr, /\[train\] acceptance: converged after \d+ Newton steps/);

  const { model, error } = loadModelFile(out);
  assert.is(error, null);
  const m = model!.metrics;
  assert.equal(m.rows, { train: 642, test: 160, etaTrain: m.rows!.etaTrain, etaTest: m.eta.n });
  // The oldest 642 offers by offer time (the two decoys, then 640 examples) were fitted; the newest 160 held out.
  const byTime = [...history.examples].sort((a, b) => a.at - b.at);
  assert.is(m.split.trainUntil, iso(byTime[639]!.at));
  assert.is(m.split.testFrom, iso(byTime[640]!.at));
  const heldOut = byTime.slice(640);
  const bayes = auc(heldOut.map((e) => history.pTrue[history.examples.indexOf(e)]!), heldOut.map((e) => (e.outcome === 'accepted' ? 1 : 0)));
  assert.ok(m.acceptance.auc > bayes - 0.06 && m.acceptance.auc > 0.7, `held-out AUC ${m.acceptance.auc}, Bayes ${bayes}`);
  assert.is(m.acceptance.n, 160);
  assert.is(m.acceptance.calibration.reduce((s, b) => s + b.n, 0), 160);
  // Arrivals are split on their own, oldest 80% fitted: every arrival the store finds (each accepted example's, and a decoy's).
  const arrivals = history.arrivals.size;
  assert.is(m.rows!.etaTrain + m.eta.n, arrivals);
  assert.is(m.eta.n, Math.round(arrivals * 0.2));
  assert.ok(m.eta.maeS < m.eta.physicsMaeS * 0.8, `ETA MAE ${m.eta.maeS} s learned vs ${m.eta.physicsMaeS} s physics`);
  // The generator's ground heroes arrive 30% later than physics, air heroes 10% sooner.
  assert.ok(Math.abs(model!.priors!.etaRatio - 1.25) < 0.15, `population ETA ratio ${model!.priors!.etaRatio}`);
  assert.ok(Math.abs(model!.priors!.acceptRate - history.examples.filter((e) => e.outcome === 'accepted').length / N) < 0.05);
});

test('train refuses too little data and a schema without rank inputs (exit 1, saying why), and bad arguments (exit 2)', async ({ schema, dir }) => {
  const out = join(dir, 'refused.json');
  const few = await train(['--schema', schema, '--out', out, '--min-rows', '5000']);
  assert.is(few.code, 1);
  assert.match(few.stderr, /not training: only 802 decided offers with stored rank inputs in schema t_train_\w+; --min-rows is 5000/);
  assert.not.ok(existsSync(out), 'nothing written');

  const bare = uid('t_train_bare_');
  await createSchema(bare, 'create table offers (id text primary key)');
  try {
    const none = await train(['--schema', bare, '--out', out]);
    assert.is(none.code, 1);
    assert.match(none.stderr, /have no rank_input column/);
  } finally {
    await dropSchemas([bare]);
  }
  const bad = await train(['--min-rows', 'lots']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--min-rows must be an integer/);
  assert.not.ok(existsSync(out));
});

test.run();
