// Percentiles and summaries of latency samples, one definition for the benchmark, the
// simulator and the tests, so their figures mean the same thing.

/**
 * Nearest-rank percentile, `p` from 0 to 1 (1 is the maximum); NaN without samples.
 * An Infinity sample (the event never happened) counts as the slowest.
 */
export function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

const label = (p: number) => (p >= 1 ? 'max' : `p${round(p * 100, 1)}`);

/**
 * "n=120 p50 12 p95 40 max 95": the sample count and each percentile, written by `fmt`.
 * `pad` aligns columns when several summaries are printed one under another.
 */
export function summary(xs: readonly number[], ps: readonly number[] = [0.5, 0.95, 0.99, 1],
  fmt: (x: number) => string = (x) => String(round(x, 1)), pad = false): string {
  const n = pad ? String(xs.length).padEnd(5) : String(xs.length);
  const cols = ps.map((p, i) => {
    const v = fmt(pct(xs, p));
    return `${label(p)} ${pad && i < ps.length - 1 ? v.padEnd(7) : v}`;
  });
  return [`n=${n}`, ...cols].join(' ');
}
