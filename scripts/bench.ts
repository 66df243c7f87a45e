// `npm run bench -- [--quick] [--out FILE] [--only group,group] [--baseline REF]`: the
// performance figures of the dispatch server, each measured side by side with the bare
// component it sits on, in the same run (the `cluster` group: three processes beside one; its load
// with `--cluster-heroes N --cluster-rate R/min --cluster-seconds S`). The server under test is a real `npm start` process
// (scripts/cluster.ts) on its own Postgres schema and Redis prefix, dropped afterwards;
// load generators and bare servers are child processes of this one (scripts/bench/).
// `--baseline REF` (issue 14: f9cef05) runs the groups in BASELINE_GROUPS a second time,
// right after, against a server started from git ref REF (scripts/bench/baseline.ts), so
// both builds meet the same machine in the same run; the table gains its column.
//
// ratio = value / bare, for every row: for throughput (ingest) it is the fraction of
// the bare rate reached (higher is better); for latency and memory it is how many times
// the bare figure the server needs (lower is better).
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { execSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { prepareBaseline, type BaselineTree } from './bench/baseline.ts';
import { capacity } from './bench/capacity.ts';
import { cleanupAll, config, note, notes, progress, target, type Metric, type Opts } from './bench/common.ts';
import { forJson, judgeBaseline, table } from './bench/table.ts';
import { ingestAndMemory } from './bench/ingest.ts';
import { matching } from './bench/match.ts';
import { reportToOffer } from './bench/report.ts';
import { burst } from './bench/burst.ts';
import { acceptRace } from './bench/accept.ts';
import { teams } from './bench/team.ts';
import { expiry } from './bench/expiry.ts';
import { clusterScaling } from './bench/cluster.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
// `npm run bench --quick` (without `--`) reaches us as npm_config_quick, not as an argument.
const npmFlag = (name: string) => process.env[`npm_config_${name}`];
const num = (name: string) => (flag(name) === undefined ? undefined : Number(flag(name)));
const opts: Opts = {
  quick: args.includes('--quick') || npmFlag('quick') === 'true',
  cluster: { heroes: num('cluster-heroes'), rate: num('cluster-rate'), seconds: num('cluster-seconds') },
};
const npmValue = (name: string) => (npmFlag(name) && npmFlag(name) !== 'true' ? npmFlag(name) : undefined);
const out = flag('out') ?? npmValue('out');
const baselineRef = flag('baseline') ?? npmValue('baseline');
/** The groups `--baseline` runs again against the older build. */
const BASELINE_GROUPS = new Set(['report', 'accept', 'burst', 'capacity', 'ingest']);

// Each group returns its rows; a group that fails still gets rows, marked as errors.
const GROUPS: { name: string; rows: string[]; run: (o: Opts) => Promise<Metric[]> }[] = [
  { name: 'match', rows: ['match_p99_ms_10k', 'match_p99_ms_100k', 'rank_40_p99_us'], run: matching },
  { name: 'ingest', rows: ['ingest_pings_per_s', 'rss_mb_per_10k_sockets'], run: ingestAndMemory },
  { name: 'report', rows: ['report_to_offer_p50_ms', 'report_to_offer_p99_ms'], run: reportToOffer },
  { name: 'burst', rows: ['burst_critical_to_offer_p50_ms', 'burst_critical_to_offer_p99_ms', 'burst_lost', 'burst_gave_up', 'burst_no_answer', 'burst_event_loop_p99_ms'], run: burst },
  { name: 'capacity', rows: ['capacity_incidents_per_s'], run: capacity },
  { name: 'accept', rows: ['accept_race_p99_ms', 'accept_race_rounds_not_one_winner'], run: acceptRace },
  // Beside the one-hero figures: the team race after `accept`, report → full beside its one-hero run.
  { name: 'team', rows: ['team_accept_race_p99_ms', 'team_accept_race_rounds_not_one_per_slot', 'report_to_assigned_p50_ms', 'team_report_to_full_p50_ms'], run: teams },
  { name: 'expiry', rows: ['expiry_lateness_p99_ms'], run: expiry },
  // Not beside a bare component: beside the same load on one process.
  { name: 'cluster', rows: ['cluster_report_to_offer_p50_ms', 'cluster_report_to_offer_p99_ms', 'cluster_http_report_p99_ms', 'cluster_resolved_per_s'], run: clusterScaling },
];
const only = flag('only')?.split(',');
const chosen = GROUPS.filter((g) => !only || only.includes(g.name));

// Ctrl-C: stop the servers and children, drop the schemas and keys, then leave. The
// group under way fails on its own; nothing after it runs.
let interrupted: Promise<void> | null = null;
const onInterrupt = () => {
  if (interrupted) process.exit(130);
  progress('interrupted: cleaning up (Ctrl-C again to leave at once)');
  interrupted = cleanupAll().finally(() => process.exit(130));
};
process.on('SIGINT', onInterrupt);
process.on('SIGTERM', onInterrupt);

const ulimit = (() => { try { return execSync('ulimit -n', { shell: '/bin/bash' }).toString().trim(); } catch { return '?'; } })();
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const loadAtStart = load();
progress(`${opts.quick ? 'quick' : 'full'} run: ${chosen.map((g) => g.name).join(', ')}; ${cpus().length} cores, ulimit -n ${ulimit}, Node ${process.version}, load average ${loadAtStart}`);
// Others may share this Redis (the fault tests FLUSHALL and restart it). A group during
// which that happened measured a broken world: it is run once more.
const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
async function redisEpoch(): Promise<string> {
  const [server, stats] = await Promise.all([redis.info('server'), redis.info('commandstats')]);
  const calls = (cmd: string) => new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? '0';
  return `${/run_id:(\w+)/.exec(server)?.[1]}:${calls('flushall')}:${calls('flushdb')}`;
}

/** One group, run once more if someone else flushed Redis meanwhile; a failure becomes rows marked as errors. */
async function runGroup(g: (typeof GROUPS)[number], label: string): Promise<{ rows: Metric[]; error: string | null }> {
  for (let attempt = 1; ; attempt++) {
    progress(`── ${label}${attempt > 1 ? ` (attempt ${attempt})` : ''} ── (load average ${load()})`);
    const before = await redisEpoch();
    const notesBefore = notes.length;
    let rows: Metric[];
    let error: string | null = null;
    try {
      rows = await g.run(opts);
    } catch (e) {
      error = (e as Error).message.split('\n')[0]!.slice(0, 300);
      progress(`${label} failed: ${(e as Error).stack ?? error}`);
      rows = g.rows.map((name) => ({ name, value: null, unit: '', bare: null, ratio: null, goal: `error: ${error}`, met: false }));
    } finally {
      await cleanupAll();
    }
    if (interrupted) await new Promise(() => {}); // the cleanup exits the process
    const disturbed = (await redisEpoch()) !== before;
    if (disturbed && attempt < 2) {
      progress(`${label}: Redis was flushed or restarted by someone else during the group; running it again`);
      notes.length = notesBefore;
      continue;
    }
    if (disturbed) note(`${label}: Redis was flushed or restarted by someone else during both attempts; these figures are disturbed.`);
    return { rows, error };
  }
}

/** The same group against the baseline build; its notes are marked as the baseline's. */
async function runBaseline(g: (typeof GROUPS)[number], tree: BaselineTree): Promise<{ rows: Metric[]; error: string | null }> {
  const notesBefore = notes.length;
  Object.assign(target, { root: tree.root, name: `baseline ${tree.ref}` });
  try {
    return await runGroup(g, `${g.name} [baseline ${tree.ref}]`);
  } finally {
    delete target.root;
    delete target.name;
    for (let i = notesBefore; i < notes.length; i++) notes[i] = `[baseline ${tree.ref} = ${tree.commit.slice(0, 10)}] ${notes[i]}`;
  }
}

let tree: BaselineTree | null = null;
if (baselineRef) {
  tree = prepareBaseline(baselineRef);
  progress(`baseline ${baselineRef} = ${tree.commit} in ${tree.root}; groups ${chosen.filter((g) => BASELINE_GROUPS.has(g.name)).map((g) => g.name).join(', ') || '(none chosen)'} run against it too`);
}

const started = Date.now();
const metrics: Metric[] = [];
const errors: string[] = [];
for (const g of chosen) {
  const t0 = Date.now();
  const cur = await runGroup(g, g.name);
  if (cur.error) errors.push(`${g.name}: ${cur.error}`);
  if (tree && BASELINE_GROUPS.has(g.name)) {
    const base = await runBaseline(g, tree);
    if (base.error) errors.push(`${g.name} (baseline ${tree.ref}): ${base.error}`);
    const byName = new Map(base.rows.map((m) => [m.name, m.value]));
    for (const m of cur.rows) {
      Object.assign(m, base.error ? { baselineError: base.error } : { baseline: byName.get(m.name) ?? null });
    }
  }
  metrics.push(...cur.rows.map(judgeBaseline));
  progress(`${g.name} done in ${Math.round((Date.now() - t0) / 1000)} s`);
}
redis.disconnect();

const baselineLabel = tree ? `${tree.ref}${tree.ref.startsWith(tree.commit.slice(0, 7)) ? '' : ` = ${tree.commit.slice(0, 10)}`}` : undefined;
console.log(`\n${opts.quick ? 'Quick' : 'Full'} run, ${new Date().toISOString().slice(0, 10)}, ${Math.round((Date.now() - started) / 1000)} s, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load generators and servers on the same machine; load average ${loadAtStart} at start, ${load()} at end (anything else running skews every figure).${tree ? ` Baseline: ${baselineLabel}, each of its groups run right after this build's.` : ''}\n`);
console.log(table(metrics, baselineLabel));
if (notes.length) console.log(`\n${notes.map((n) => `- ${n}`).join('\n')}`);

if (out) {
  writeFileSync(out, `${JSON.stringify({
    quick: opts.quick, date: new Date().toISOString(), cores: cpus().length, ratio: 'value / bare',
    ...(tree ? { baseline: { ref: tree.ref, commit: tree.commit, groups: [...BASELINE_GROUPS], ratio: 'value / baseline' } } : {}),
    metrics: metrics.map(forJson), notes, errors,
  }, null, 2)}\n`);
  progress(`wrote ${out}`);
}
process.exit(errors.length ? 1 : 0);
