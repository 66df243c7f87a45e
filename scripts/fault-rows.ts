// The rows of `npm run test:faults`, read from one round's test output. A trial that
// failed must count as broken, never vanish: a suite prints its summary line with a
// broken count even when a trial failed, and a row that a round did not print at all
// (its test threw before the line, or the round crashed or timed out) counts as one
// broken trial in that round.

export interface Row { trials: number; broken: number }
export type Round = Map<string, Row>;

/** Rows that every round must print (the fault suites' summary lines). */
export const EXPECTED_ROWS = ['sigkill-during-reports', 'sigkill-after-accept-commit'] as const;
export const SUITE_ROW = 'suite tests (incl. silent hero, stale hero, redis restart, metrics)';

const add = (round: Round, name: string, trials: number, broken: number) => {
  const r = round.get(name) ?? { trials: 0, broken: 0 };
  r.trials += trials;
  r.broken += broken;
  round.set(name, r);
};

/** One round's rows from the (colour-stripped) output of scripts/test.ts. */
export function parseRound(out: string): Round {
  const round: Round = new Map();
  for (const m of out.matchAll(/faults: (\S+) (\d+) trials, (\d+) broken/g)) add(round, m[1]!, Number(m[2]), Number(m[3]));
  for (const m of out.matchAll(/crash: reports-stream (\d+) trials, \d+ reports, (\d+) lost[^\n]*?, (\d+) broken/g)) {
    // A lost report fails its trial, so it is among the broken ones; never count fewer.
    add(round, 'sigkill-during-reports', Number(m[1]), Math.max(Number(m[3]), Number(m[2]) > 0 ? 1 : 0));
  }
  for (const m of out.matchAll(/crash: kill-after-accept-commit (\d+) trials, (\d+) broken/g)) add(round, 'sigkill-after-accept-commit', Number(m[1]), Number(m[2]));
  const summary = /(\d+) passed, (\d+) failed/.exec(out);
  if (summary) add(round, SUITE_ROW, Number(summary[1]) + Number(summary[2]), Number(summary[2]));
  return round;
}

/**
 * Totals over rounds. Every row that any round printed, and every expected row, is due
 * in every round: where a round lacks it, that round counts one broken trial for it.
 */
export function tally(rounds: Round[], expected: readonly string[] = [...EXPECTED_ROWS, SUITE_ROW]): Map<string, Row> {
  const names = new Set<string>(expected);
  for (const r of rounds) for (const name of r.keys()) names.add(name);
  const totals = new Map<string, Row>();
  for (const name of names) {
    const t = { trials: 0, broken: 0 };
    for (const r of rounds) {
      const row = r.get(name) ?? { trials: 1, broken: 1 };
      t.trials += row.trials;
      t.broken += row.broken;
    }
    totals.set(name, t);
  }
  return totals;
}
