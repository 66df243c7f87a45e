// The ETA model's fit (issue 16): a learned correction on the physics ETA, as Uber's
// DeepETA predicts a residual on top of its routing ETA. Per mode (ground, air), ridge
// least squares of log(actual ÷ physics) on the standardised features. The log makes
// the correction a factor (a hero 30% slower is slower on every trip), and exp of the
// predicted mean log is the median arrival, the figure an MAE rewards. The fit is
// returned on the raw feature scale, so scoring is one dot product with no
// standardising. A mode with too few arrivals keeps the physics ETA (all zeros).
import { columnStats, solveSpd, standardise } from './matrix.ts';

/** Predicts log(actual ÷ physics ETA) = intercept + Σ weights·x, on raw features. */
export interface EtaFit { intercept: number; weights: number[] }

export interface EtaOptions {
  /** Ridge strength on the summed squared error (standardised scale). */
  lambda?: number;
  /** Fewer arrivals than this leave the mode on the physics ETA. */
  minRows?: number;
}

/** The largest correction either way: e^3 ≈ 20× (beyond it an arrival is a data error, not a driving style). */
export const MAX_LOG_RATIO = 3;
export const clampLogRatio = (v: number): number => Math.max(-MAX_LOG_RATIO, Math.min(MAX_LOG_RATIO, v));

export const physicsOnly = (d: number): EtaFit => ({ intercept: 0, weights: new Array<number>(d).fill(0) });

/** Fits log(actual ÷ physics) for one mode's arrivals. */
export function fitEtaRatio(x: readonly Float64Array[], logRatio: ArrayLike<number>, d: number, opts: EtaOptions = {}): EtaFit {
  if (x.length !== logRatio.length) throw new Error(`fitEtaRatio: ${x.length} rows but ${logRatio.length} targets`);
  if (x.length < (opts.minRows ?? 10)) return physicsOnly(d);
  const lambda = opts.lambda ?? 1;
  const n = x.length;
  const { mean, std } = columnStats(x, d);
  const z = standardise(x, mean, std);
  let yMean = 0;
  for (let i = 0; i < n; i++) yMean += clampLogRatio(logRatio[i]!);
  yMean /= n;
  // Centred columns and target: the intercept is the mean, the weights solve (ZᵀZ + λI) w = Zᵀ(y − ȳ).
  const a = new Float64Array(d * d);
  const b = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const r = clampLogRatio(logRatio[i]!) - yMean;
    for (let j = 0; j < d; j++) {
      const zj = z[i * d + j]!;
      b[j]! += zj * r;
      for (let k = 0; k <= j; k++) a[j * d + k]! += zj * z[i * d + k]!;
    }
  }
  for (let j = 0; j < d; j++) a[j * d + j]! += lambda + 1e-9;
  const w = solveSpd(a, b, d);
  const weights = Array.from(w, (wj, j) => wj / std[j]!);
  let intercept = yMean;
  for (let j = 0; j < d; j++) intercept -= weights[j]! * mean[j]!;
  return { intercept, weights };
}

/** The predicted log(actual ÷ physics) for one row, clamped. */
export function predictLogRatio(fit: EtaFit, x: ArrayLike<number>): number {
  let v = fit.intercept;
  for (let j = 0; j < fit.weights.length; j++) v += fit.weights[j]! * x[j]!;
  return clampLogRatio(v);
}
