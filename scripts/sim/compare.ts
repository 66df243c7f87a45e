// `--compare`: the same seeded city twice, first ranked by distance, then by the learned
// model, each run a simulator process of its own against a server of its own (fresh
// schema), and the two ranking sections side by side at the end. Separate processes keep
// the second run free of anything the first left behind (sockets, timers, memory).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimOptions } from './args.ts';
import { compareLines, type RunSummary } from './ranking-report.ts';

const SIMULATE = fileURLToPath(new URL('../simulate.ts', import.meta.url));
const MODES = ['distance', 'learned'] as const;

/** argv without `--name` (and its value, when it takes one), in either spelling. */
export function withoutOption(argv: readonly string[], name: string, takesValue: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) { if (takesValue) i++; continue; }
    if (a.startsWith(`--${name}=`)) continue;
    out.push(a);
  }
  return out;
}

/** The arguments of one of the two runs: the same seed (drawn once here when not given), one ranking each. */
export function runArgs(argv: readonly string[], o: Pick<SimOptions, 'seed'>, mode: (typeof MODES)[number], json: string): string[] {
  let a = withoutOption(argv, 'compare', false);
  for (const k of ['json', 'seed']) a = withoutOption(a, k, true);
  if (mode === 'distance') a = withoutOption(a, 'model', true);
  return [...a, '--seed', o.seed, '--ranking', mode, '--json', json];
}

function prefixed(label: string, write: (s: string) => void): (d: Buffer) => void {
  let partial = '';
  return (d) => {
    const text = partial + d.toString();
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) write(`[${label}] ${l}\n`);
  };
}

export async function runCompare(argv: readonly string[], o: SimOptions): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sim-compare-'));
  const summaries = new Map<string, RunSummary>();
  let stopping = false;
  let current: ReturnType<typeof spawn> | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    stopping = true;
    current?.kill(sig); // the run finishes and reports; a second signal within 1 s is one keypress (simulate.ts)
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let worst = 0;
  try {
    for (const mode of MODES) {
      if (stopping) break;
      const json = join(dir, `${mode}.json`);
      const args = runArgs(argv, o, mode, json);
      console.log(`compare: ${mode} run: npm run simulate -- ${args.filter((x) => x !== json).join(' ').replace(/ --json$/, '')}`);
      const child = spawn(process.execPath, ['--import', 'tsx', SIMULATE, ...args], { cwd: process.cwd(), env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      current = child;
      child.stdout!.on('data', prefixed(mode, (s) => process.stdout.write(s)));
      child.stderr!.on('data', prefixed(mode, (s) => process.stderr.write(s)));
      const code = await new Promise<number>((r) => child.once('exit', (c, sig) => r(c ?? (sig ? 130 : 1))));
      current = null;
      worst = Math.max(worst, code);
      try {
        summaries.set(mode, JSON.parse(readFileSync(json, 'utf8')) as RunSummary);
      } catch {
        console.error(`compare: the ${mode} run left no summary (exit ${code}); stopping`);
        return Math.max(code, 2);
      }
    }
    const d = summaries.get('distance');
    const l = summaries.get('learned');
    if (!d || !l) {
      console.error('compare: stopped before both runs were done');
      return Math.max(worst, 1);
    }
    console.log(compareLines(d, l).join('\n'));
    if (o.json) writeFileSync(o.json, `${JSON.stringify({ distance: d, learned: l }, null, 2)}\n`);
    return worst;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rmSync(dir, { recursive: true, force: true });
  }
}
