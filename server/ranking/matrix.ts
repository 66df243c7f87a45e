// The little linear algebra the ranking's fitting needs (issue 16): column means and
// standard deviations for standardising, and a symmetric positive-definite solve
// (Cholesky) for the ~22×22 normal equations of Newton steps and ridge regression.
// Written here rather than pulled in: it is forty lines, deterministic, and tested
// through the fits that use it (test/ranking-model.test.ts).

/** Per column of `rows` (each of length d): mean and standard deviation (population); a constant column gets std 1. */
export function columnStats(rows: readonly Float64Array[], d: number): { mean: number[]; std: number[] } {
  const mean = new Array<number>(d).fill(0);
  const sq = new Array<number>(d).fill(0);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j]! += r[j]!;
  const n = Math.max(1, rows.length);
  for (let j = 0; j < d; j++) mean[j]! /= n;
  for (const r of rows) {
    for (let j = 0; j < d; j++) {
      const e = r[j]! - mean[j]!;
      sq[j]! += e * e;
    }
  }
  const std = sq.map((s) => {
    const v = Math.sqrt(s / n);
    return v > 1e-12 ? v : 1;
  });
  return { mean, std };
}

/** Rows standardised into one row-major n × d array: (x − mean) / std. */
export function standardise(rows: readonly Float64Array[], mean: readonly number[], std: readonly number[]): Float64Array {
  const d = mean.length;
  const z = new Float64Array(rows.length * d);
  rows.forEach((r, i) => {
    for (let j = 0; j < d; j++) z[i * d + j] = (r[j]! - mean[j]!) / std[j]!;
  });
  return z;
}

/**
 * Solves A x = b for a symmetric positive-definite A (row-major m × m, only its lower
 * triangle read), by Cholesky. Throws when A is not positive definite.
 */
export function solveSpd(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const l = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * m + j]!;
      for (let k = 0; k < j; k++) s -= l[i * m + k]! * l[j * m + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error(`matrix is not positive definite (pivot ${i}: ${s})`);
        l[i * m + i] = Math.sqrt(s);
      } else {
        l[i * m + j] = s / l[j * m + j]!;
      }
    }
  }
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * m + k]! * y[k]!;
    y[i] = s / l[i * m + i]!;
  }
  const x = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < m; k++) s -= l[k * m + i]! * x[k]!;
    x[i] = s / l[i * m + i]!;
  }
  return x;
}
