// `npm run test:faults -- [rounds]`: runs the fault-injection suites (Redis flushes and
// restart, lost and stale heroes, dropped Postgres connections, SIGKILLed servers)
// `rounds` times and totals how many trials of each fault ran and how many broke an
// invariant. Each round is a fresh test process; a failed test counts as broken.
import { spawnSync } from 'node:child_process';

const rounds = Number(process.argv[2] ?? 3);
const SUITES = 'faults|crash|redis-restart';
const totals = new Map<string, { trials: number; broken: number }>();
const add = (name: string, trials: number, broken: number) => {
  const t = totals.get(name) ?? { trials: 0, broken: 0 };
  t.trials += trials; t.broken += broken;
  totals.set(name, t);
};

for (let round = 1; round <= rounds; round++) {
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/test.ts', SUITES], { encoding: 'utf8', timeout: 600_000 });
  const out = `${run.stdout}\n${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
  for (const m of out.matchAll(/faults: (\S+) (\d+) trials, (\d+) broken/g)) add(m[1]!, Number(m[2]), Number(m[3]));
  for (const m of out.matchAll(/crash: reports-stream (\d+) trials, \d+ reports, (\d+) lost/g)) add('sigkill-during-reports', Number(m[1]), Number(m[2]));
  for (const m of out.matchAll(/crash: kill-after-accept-commit (\d+) trials/g)) add('sigkill-after-accept-commit', Number(m[1]), 0);
  const summary = /(\d+) passed, (\d+) failed/.exec(out);
  const failed = summary ? Number(summary[2]) : 1;
  add('suite tests (incl. silent hero, stale hero, redis restart, metrics)', summary ? Number(summary[1]) + failed : 0, failed);
  console.log(`round ${round}/${rounds}: ${summary ? summary[0] : 'no summary (crashed?)'} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

console.log('\n| fault | trials | broke an invariant or failed |\n|---|---|---|');
let broken = 0;
for (const [name, t] of totals) {
  console.log(`| ${name} | ${t.trials} | ${t.broken} |`);
  broken += t.broken;
}
process.exitCode = broken > 0 ? 1 : 0;
