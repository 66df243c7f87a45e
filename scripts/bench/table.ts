// The results table printed at the end of `npm run bench`, and the rows as --out writes
// them. With `--baseline REF` two more columns: the baseline build's value and new ÷ baseline.
import type { Metric } from './common.ts';

export function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  if (!Number.isFinite(x)) return x > 0 ? '∞ (never)' : String(x);
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  const abs = Math.abs(x);
  return abs >= 1000 ? Math.round(x).toLocaleString('en-US') : abs >= 100 ? x.toFixed(0) : abs >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** value ÷ baseline when both are finite numbers and the baseline is not 0. */
export function baselineRatio(m: Metric): number | null {
  const { value: v, baseline: b } = m;
  return v === null || b === null || b === undefined || !Number.isFinite(v) || !Number.isFinite(b) || b === 0 ? null : v / b;
}

/**
 * A row whose goal is a multiple of the baseline is judged only against a baseline
 * figure above 0: a baseline that passed nothing gives no multiple to compare (—).
 */
export function judgeBaseline(m: Metric): Metric {
  const r = baselineRatio(m);
  if (m.timesBaseline === undefined || r === null) return m;
  const met = r >= m.timesBaseline;
  return { ...m, met: m.met === null ? met : m.met && met };
}

export function table(metrics: Metric[], baselineLabel?: string): string {
  const base = (m: Metric) => {
    if (m.baselineError) return ['error', '—'];
    if (m.baseline === undefined) return ['—', '—'];
    const r = baselineRatio(m);
    return [fmt(m.baseline), r === null ? '—' : `${r.toFixed(2)}×`];
  };
  const head = ['metric', 'value', 'unit', 'bare', 'ratio (value/bare)', ...(baselineLabel ? [`baseline (${baselineLabel})`, 'new ÷ baseline'] : []), 'goal', 'met?'];
  const row = (m: Metric) => [m.name, fmt(m.value), m.unit, fmt(m.bare), m.ratio === null ? '—' : `${m.ratio.toFixed(2)}×`,
    ...(baselineLabel ? base(m) : []), m.goal, m.met === null ? '—' : m.met ? 'yes' : '**NO**'];
  return [head, head.map(() => '---'), ...metrics.map(row)].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** JSON numbers cannot be Infinity: an event that never happened is written as null. */
export function forJson(m: Metric): Record<string, unknown> {
  const finite = (x: number | null | undefined) => (x === null || x === undefined || Number.isFinite(x) ? x : null);
  return {
    ...m, value: finite(m.value), bare: finite(m.bare), ratio: finite(m.ratio),
    ...(m.baseline === undefined ? {} : { baseline: finite(m.baseline), baselineRatio: baselineRatio(m) }),
  };
}
