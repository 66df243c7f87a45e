// `npm run train [-- --out FILE] [--schema S] [--database-url URL] [--min-rows N]`:
// trains the ranking model (issue 16) from the offers and assignments history in
// Postgres and writes a versioned JSON model file with its held-out metrics.
// Acceptance: every decided offer that stored its rank inputs (accepted = 1; declined or
// expired = 0; pending and withdrawn ones are left out). ETA: assignment → first ARRIVE
// of the hero, against the offer's physics ETA. The oldest 80% of offers by offer time
// are fitted, the newest 20% held out (server/ranking/trainer.ts). Progress goes to
// stderr, the summary to stdout. Exits 1 when it refuses (too few rows, no rank inputs,
// one class only), 2 on bad arguments.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../server/config.ts';
import { createSql } from '../server/db.ts';
import { storedRankInputSchema } from '../server/ranking/features.ts';
import { writeModelFile } from '../server/ranking/model.file.ts';
import { trainModel, type TrainingExample } from '../server/ranking/trainer.ts';
import { countTrainingOffers, hasRankInputs, trainingOffers, type TrainingOfferRow } from '../server/store/training.store.ts';

const USAGE = 'usage: npm run train -- [--out FILE] [--schema NAME] [--database-url URL] [--min-rows N]';
const DEFAULT_MIN_ROWS = 200;

let args: { out?: string; schema?: string; 'database-url'?: string; 'min-rows'?: string; help?: boolean };
let config: Config;
let minRows: number;
try {
  ({ values: args } = parseArgs({
    options: {
      out: { type: 'string' }, schema: { type: 'string' }, 'database-url': { type: 'string' }, 'min-rows': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
  if (args.help) {
    console.log(USAGE);
    process.exit(0);
  }
  minRows = args['min-rows'] === undefined ? DEFAULT_MIN_ROWS : Number(args['min-rows']);
  if (!Number.isInteger(minRows) || minRows < 2) throw new Error(`--min-rows must be an integer of at least 2, not ${args['min-rows']}`);
  config = loadConfig(process.env, {
    ...(args.schema ? { DB_SCHEMA: args.schema } : {}), ...(args['database-url'] ? { DATABASE_URL: args['database-url'] } : {}),
  });
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const out = args.out ?? config.RANKING_MODEL_PATH;
const say = (line: string) => process.stderr.write(`[train] ${line}\n`);
/** Thrown by refuse(): the reason is printed already. */
class Refused extends Error {}
const refuse = (why: string): never => {
  console.error(`train: not training: ${why}`);
  process.exitCode = 1;
  throw new Refused(why);
};

/** One stored offer as a training example, or null when its rank input does not validate. */
function example(row: TrainingOfferRow): TrainingExample | null {
  const parsed = storedRankInputSchema.safeParse(row.rank_input);
  if (!parsed.success) return null;
  const created = row.created_at.getTime();
  const answered = row.state !== 'expired' && row.decided_at !== null;
  const arrived = row.state === 'accepted' && row.assigned_at && row.arrived_at;
  return {
    at: created,
    input: { heroId: row.hero_id, ...parsed.data },
    outcome: row.state,
    answerMs: answered ? Math.max(0, row.decided_at!.getTime() - created) : null,
    physicsEtaS: row.eta_s ?? parsed.data.physicsEtaS,
    actualEtaS: arrived ? (row.arrived_at!.getTime() - row.assigned_at!.getTime()) / 1000 : null,
  };
}

const fmt = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const sql = createSql(config);
try {
  const where = `schema ${config.DB_SCHEMA}`;
  if (!(await hasRankInputs(sql))) {
    refuse(`the offers in ${where} have no rank_input column: start the server on it once (it applies migration 010), and let it make offers`);
  }
  const total = await countTrainingOffers(sql);
  say(`${total} decided offers with stored rank inputs in ${where}`);
  if (total < minRows) refuse(`only ${total} decided offers with stored rank inputs in ${where}; --min-rows is ${minRows}`);

  const examples: TrainingExample[] = [];
  let read = 0;
  let skipped = 0;
  let tenth = 0;
  for await (const rows of trainingOffers(sql)) {
    for (const row of rows) {
      const e = example(row);
      if (e) examples.push(e);
      else skipped++;
    }
    read += rows.length;
    if (Math.floor((read / total) * 10) > tenth) {
      tenth = Math.floor((read / total) * 10);
      say(`read ${read}/${total} offers (${Math.round((read / total) * 100)}%)`);
    }
  }
  if (skipped) say(`skipped ${skipped} offers whose rank_input does not validate`);
  if (examples.length < minRows) refuse(`only ${examples.length} usable offers (${skipped} skipped); --min-rows is ${minRows}`);

  const model = (() => {
    try {
      return trainModel(examples, { onProgress: say });
    } catch (err) {
      return refuse((err as Error).message);
    }
  })();
  mkdirSync(dirname(out), { recursive: true });
  writeModelFile(out, model);
  const m = model.metrics;
  const rows = m.rows!;
  const baselines = (m.acceptance.baselines ?? []).map((b) => `${b.name} ${fmt(b.auc)}`).join(', ');
  console.log(`model ${model.version} written to ${out}`);
  console.log(`  offers: ${examples.length} (fitted ${rows.train} up to ${m.split.trainUntil}; held out ${rows.test} from ${m.split.testFrom})${skipped ? `; ${skipped} skipped` : ''}`);
  console.log(`  acceptance, held out: AUC ${fmt(m.acceptance.auc)} (beside: ${baselines}), log loss ${fmt(m.acceptance.logLoss)}`);
  console.log(`  calibration (predicted → observed, n): ${m.acceptance.calibration.map((c) => `${c.bin}: ${fmt(c.predicted, 2)} → ${fmt(c.observed, 2)} (${c.n})`).join('; ')}`);
  console.log(m.eta.n
    ? `  eta, held out (${m.eta.n} arrivals, ${rows.etaTrain} fitted): MAE ${fmt(m.eta.maeS, 1)} s as used, ${fmt(m.eta.physicsMaeS, 1)} s physics`
    : `  eta: no held-out arrivals (${rows.etaTrain} fitted): not measured`);
  for (const [mode, e] of Object.entries(m.eta.modes ?? {})) {
    console.log(`    ${mode}: ${e.used === 'learned' ? `learned correction, MAE ${fmt(e.maeS, 1)} s vs physics ${fmt(e.physicsMaeS, 1)} s` : `physics ETA (${e.why})`} on ${e.n} held out, ${e.fitted} fitted`);
  }
  if (m.frozen) console.log(`  not fitted: ${m.frozen.features.join(', ')}: ${m.frozen.why}`);
  const p = model.priors!;
  console.log(`  priors (the fitted offers' own rates): accept ${fmt(p.acceptRate, 2)}, decline ${fmt(p.declineRate, 2)} of answered, `
    + `ignore ${fmt(p.ignoreRate, 2)}, answer ${fmt(p.answerS, 1)} s, ETA ratio ${fmt(p.etaRatio, 2)}`);
} catch (err) {
  if (!(err instanceof Refused)) {
    console.error(`train: failed: ${(err as Error).stack ?? err}`);
    process.exitCode = 1;
  }
} finally {
  await sql.end({ timeout: 5 });
}
