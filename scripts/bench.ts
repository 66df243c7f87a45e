// `npm run bench -- [--quick] [--out FILE] [--only group,group]`: the performance
// figures of the dispatch server, each measured side by side with the bare component it
// sits on, in the same run. The server under test is a real `npm start` process
// (scripts/cluster.ts) on its own Postgres schema and Redis prefix, dropped afterwards;
// load generators and bare servers are child processes of this one (scripts/bench/).
//
// ratio = value / bare, for every row: for throughput (ingest) it is the fraction of
// the bare rate reached (higher is better); for latency and memory it is how many times
// the bare figure the server needs (lower is better).
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { execSync } from 'node:child_process';
import { cleanupAll, notes, progress, type Metric, type Opts } from './bench/common.ts';
import { ingestAndMemory } from './bench/ingest.ts';
import { matching } from './bench/match.ts';
import { reportToOffer } from './bench/report.ts';
import { burst } from './bench/burst.ts';
import { acceptRace } from './bench/accept.ts';
import { expiry } from './bench/expiry.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const opts: Opts = { quick: args.includes('--quick') };
const out = flag('out');

// Each group returns its rows; a group that fails still gets rows, marked as errors.
const GROUPS: { name: string; rows: string[]; run: (o: Opts) => Promise<Metric[]> }[] = [
  { name: 'match', rows: ['match_p99_ms_10k', 'match_p99_ms_100k'], run: matching },
  { name: 'ingest', rows: ['ingest_pings_per_s', 'rss_mb_per_10k_sockets'], run: ingestAndMemory },
  { name: 'report', rows: ['report_to_offer_p50_ms', 'report_to_offer_p99_ms'], run: reportToOffer },
  { name: 'burst', rows: ['burst_critical_to_offer_p99_ms', 'burst_lost'], run: burst },
  { name: 'accept', rows: ['accept_race_p99_ms', 'accept_race_rounds_not_one_winner'], run: acceptRace },
  { name: 'expiry', rows: ['expiry_lateness_p99_ms'], run: expiry },
];
const only = flag('only')?.split(',');
const chosen = GROUPS.filter((g) => !only || only.includes(g.name));

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  progress('interrupted: cleaning up (Ctrl-C again to leave at once)');
  cleanupAll().finally(() => process.exit(130));
});

const ulimit = (() => { try { return execSync('ulimit -n', { shell: '/bin/bash' }).toString().trim(); } catch { return '?'; } })();
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const loadAtStart = load();
progress(`${opts.quick ? 'quick' : 'full'} run: ${chosen.map((g) => g.name).join(', ')}; ${cpus().length} cores, ulimit -n ${ulimit}, Node ${process.version}, load average ${loadAtStart}`);
const started = Date.now();
const metrics: Metric[] = [];
const errors: string[] = [];
for (const g of chosen) {
  const t0 = Date.now();
  progress(`── ${g.name} ── (load average ${load()})`);
  try {
    metrics.push(...await g.run(opts));
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0]!.slice(0, 300);
    progress(`${g.name} failed: ${(e as Error).stack ?? msg}`);
    errors.push(`${g.name}: ${msg}`);
    for (const name of g.rows) metrics.push({ name, value: null, unit: '', bare: null, ratio: null, goal: `error: ${msg}`, met: false });
  } finally {
    await cleanupAll();
  }
  progress(`${g.name} done in ${Math.round((Date.now() - t0) / 1000)} s`);
}

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
