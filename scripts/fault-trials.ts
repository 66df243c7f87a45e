// `npm run test:faults -- [rounds]`: runs the fault-injection suites (Redis flushes and
// restart, lost and stale heroes, dropped Postgres connections, SIGKILLed servers)
// `rounds` times and totals how many trials of each fault ran and how many broke an
// invariant. Each round is a fresh test process. A failed trial counts as broken in its
// row, and a row missing from a round (its test threw first, or the round crashed)
// counts as one broken trial (scripts/fault-rows.ts).
import { spawnSync } from 'node:child_process';
import { parseRound, tally, type Round } from './fault-rows.ts';

const rounds = Number(process.argv[2] ?? 3);
const SUITES = 'faults|crash|redis-restart';
const seen: Round[] = [];

for (let round = 1; round <= rounds; round++) {
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/test.ts', SUITES], { encoding: 'utf8', timeout: 600_000 });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  const out = `${run.stdout}\n${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
  seen.push(parseRound(out));
  const summary = /(\d+) passed, (\d+) failed/.exec(out);
  console.log(`round ${round}/${rounds}: ${summary ? summary[0] : `no summary (${run.error ? run.error.message : `exit ${run.status ?? run.signal}`})`} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

console.log('\n| fault | trials | broke an invariant or failed |\n|---|---|---|');
let broken = 0;
for (const [name, t] of tally(seen)) {
  console.log(`| ${name} | ${t.trials} | ${t.broken} |`);
  broken += t.broken;
}
process.exitCode = broken > 0 ? 1 : 0;
