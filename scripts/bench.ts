// `npm run bench -- [--quick] [--out FILE] [--only group,group]`: the performance
// figures of the dispatch server, each measured side by side with the bare component it
// sits on, in the same run (the `cluster` group: three processes beside one; its load
// with `--cluster-heroes N --cluster-rate R/min --cluster-seconds S`). The server under test is a real `npm start` process
// (scripts/cluster.ts) on its own Postgres schema and Redis prefix, dropped afterwards;
// load generators and bare servers are child processes of this one (scripts/bench/).
//
// ratio = value / bare, for every row: for throughput (ingest) it is the fraction of
// the bare rate reached (higher is better); for latency and memory it is how many times
// the bare figure the server needs (lower is better).
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { execSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { cleanupAll, config, note, notes, progress, type Metric, type Opts } from './bench/common.ts';
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
const out = flag('out') ?? (npmFlag('out') && npmFlag('out') !== 'true' ? npmFlag('out') : undefined);

// Each group returns its rows; a group that fails still gets rows, marked as errors.
const GROUPS: { name: string; rows: string[]; run: (o: Opts) => Promise<Metric[]> }[] = [
  { name: 'match', rows: ['match_p99_ms_10k', 'match_p99_ms_100k'], run: matching },
  { name: 'ingest', rows: ['ingest_pings_per_s', 'rss_mb_per_10k_sockets'], run: ingestAndMemory },
  { name: 'report', rows: ['report_to_offer_p50_ms', 'report_to_offer_p99_ms'], run: reportToOffer },
  { name: 'burst', rows: ['burst_critical_to_offer_p99_ms', 'burst_lost'], run: burst },
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

const started = Date.now();
const metrics: Metric[] = [];
const errors: string[] = [];
for (const g of chosen) {
  const t0 = Date.now();
  for (let attempt = 1; ; attempt++) {
    progress(`── ${g.name}${attempt > 1 ? ` (attempt ${attempt})` : ''} ── (load average ${load()})`);
    const before = await redisEpoch();
    const notesBefore = notes.length;
    let rows: Metric[];
    let error: string | null = null;
    try {
      rows = await g.run(opts);
    } catch (e) {
      error = (e as Error).message.split('\n')[0]!.slice(0, 300);
      progress(`${g.name} failed: ${(e as Error).stack ?? error}`);
      rows = g.rows.map((name) => ({ name, value: null, unit: '', bare: null, ratio: null, goal: `error: ${error}`, met: false }));
    } finally {
      await cleanupAll();
    }
    if (interrupted) await new Promise(() => {}); // the cleanup exits the process
    const disturbed = (await redisEpoch()) !== before;
    if (disturbed && attempt < 2) {
      progress(`${g.name}: Redis was flushed or restarted by someone else during the group; running it again`);
      notes.length = notesBefore;
      continue;
    }
    if (disturbed) note(`${g.name}: Redis was flushed or restarted by someone else during both attempts; these figures are disturbed.`);
    if (error) errors.push(`${g.name}: ${error}`);
    metrics.push(...rows);
    break;
  }
  progress(`${g.name} done in ${Math.round((Date.now() - t0) / 1000)} s`);
}
redis.disconnect();

const fmt = (x: number | null) => {
  if (x === null) return '—';
  if (!Number.isFinite(x)) return x > 0 ? '∞ (never)' : String(x);
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  const abs = Math.abs(x);
  return abs >= 1000 ? Math.round(x).toLocaleString('en-US') : abs >= 100 ? x.toFixed(0) : abs >= 10 ? x.toFixed(1) : x.toFixed(2);
};
const lines = [
  '| metric | value | unit | bare | ratio (value/bare) | goal | met? |',
  '|---|---|---|---|---|---|---|',
  ...metrics.map((m) => `| ${m.name} | ${fmt(m.value)} | ${m.unit} | ${fmt(m.bare)} | ${m.ratio === null ? '—' : `${m.ratio.toFixed(2)}×`} | ${m.goal} | ${m.met === null ? '—' : m.met ? 'yes' : '**NO**'} |`),
];
console.log(`\n${opts.quick ? 'Quick' : 'Full'} run, ${new Date().toISOString().slice(0, 10)}, ${Math.round((Date.now() - started) / 1000)} s, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load generators and servers on the same machine; load average ${loadAtStart} at start, ${load()} at end (anything else running skews every figure).\n`);
console.log(lines.join('\n'));
if (notes.length) console.log(`\n${notes.map((n) => `- ${n}`).join('\n')}`);

if (out) {
  // JSON numbers cannot be Infinity: an event that never happened is written as null.
  const finite = (x: number | null) => (x === null || Number.isFinite(x) ? x : null);
  writeFileSync(out, `${JSON.stringify({
    quick: opts.quick, date: new Date().toISOString(), cores: cpus().length, ratio: 'value / bare',
    metrics: metrics.map((m) => ({ ...m, value: finite(m.value), bare: finite(m.bare), ratio: finite(m.ratio) })),
    notes, errors,
  }, null, 2)}\n`);
  progress(`wrote ${out}`);
}
process.exit(errors.length ? 1 : 0);
