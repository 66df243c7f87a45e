// The acceptance model's fit (issue 16): L2-regularised logistic regression on
// standardised features, by Newton's method (IRLS). With ~20 features a Newton step is
// one 22×22 solve, so the fit converges in a handful of passes over the data and is
// deterministic: the same rows give the same coefficients, bit for bit.
//
// Loss: Σ log(1 + e^η) − y·η + λ/2 ‖w‖², η = b + w·z, z = (x − mean) / std. The
// intercept is not penalised. A step that raises the loss is halved until it does not.
import { columnStats, solveSpd, standardise } from './matrix.ts';

export interface LogisticFit {
  intercept: number;
  /** On standardised features: a weight is the change in log-odds per standard deviation. */
  weights: number[];
  mean: number[];
  std: number[];
  iterations: number;
  converged: boolean;
}

export interface LogisticOptions {
  /** L2 strength on the summed loss (standardised scale). */
  lambda?: number;
  maxIterations?: number;
  /** Stop when no coefficient moves more than this. */
  tolerance?: number;
}

const sigmoid = (t: number): number => (t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)));
/** log(1 + e^t) without overflow. */
const softplus = (t: number): number => (t > 30 ? t : t < -30 ? Math.exp(t) : Math.log1p(Math.exp(t)));

function loss(z: Float64Array, y: ArrayLike<number>, theta: Float64Array, d: number, lambda: number): number {
  const n = y.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let eta = theta[0]!;
    for (let j = 0; j < d; j++) eta += theta[j + 1]! * z[i * d + j]!;
    total += softplus(eta) - y[i]! * eta;
  }
  let pen = 0;
  for (let j = 1; j <= d; j++) pen += theta[j]! * theta[j]!;
  return total + (lambda / 2) * pen;
}

/** Fits P(y = 1 | x) to rows `x` (each of length d) and labels `y` (0 or 1). */
export function fitLogistic(x: readonly Float64Array[], y: ArrayLike<number>, d: number, opts: LogisticOptions = {}): LogisticFit {
  if (x.length !== y.length) throw new Error(`fitLogistic: ${x.length} rows but ${y.length} labels`);
  if (x.length === 0) throw new Error('fitLogistic: no rows');
  const lambda = opts.lambda ?? 1;
  const maxIterations = opts.maxIterations ?? 50;
  const tolerance = opts.tolerance ?? 1e-8;
  const { mean, std } = columnStats(x, d);
  const z = standardise(x, mean, std);
  const n = x.length;
  const m = d + 1;
  const theta = new Float64Array(m);
  // Start at the base rate: the intercept alone, which is the fit's answer when no feature helps.
  const rate = Math.min(1 - 1e-6, Math.max(1e-6, Array.from(y).reduce((s, v) => s + v, 0) / n));
  theta[0] = Math.log(rate / (1 - rate));
  let current = loss(z, y, theta, d, lambda);
  let iterations = 0;
  let converged = false;
  const h = new Float64Array(m * m);
  const g = new Float64Array(m);
  const row = new Float64Array(m);
  row[0] = 1;
  while (iterations < maxIterations && !converged) {
    iterations++;
    h.fill(0);
    g.fill(0);
    for (let i = 0; i < n; i++) {
      let eta = theta[0]!;
      for (let j = 0; j < d; j++) {
        row[j + 1] = z[i * d + j]!;
        eta += theta[j + 1]! * row[j + 1]!;
      }
      const p = sigmoid(eta);
      const s = p * (1 - p);
      const r = p - y[i]!;
      for (let a = 0; a < m; a++) {
        const ra = row[a]!;
        g[a]! += r * ra;
        const sa = s * ra;
        for (let b = 0; b <= a; b++) h[a * m + b]! += sa * row[b]!;
      }
    }
    h[0]! += 1e-9; // a separable or one-class sample must still solve
    for (let j = 1; j < m; j++) {
      g[j]! += lambda * theta[j]!;
      h[j * m + j]! += lambda + 1e-9;
    }
    const step = solveSpd(h, g, m);
    let scale = 1;
    const next = new Float64Array(m);
    let nextLoss = Number.POSITIVE_INFINITY;
    for (let halvings = 0; halvings < 30; halvings++) {
      for (let j = 0; j < m; j++) next[j] = theta[j]! - scale * step[j]!;
      nextLoss = loss(z, y, next, d, lambda);
      if (nextLoss <= current + 1e-12 * Math.abs(current)) break;
      scale /= 2;
    }
    let moved = 0;
    for (let j = 0; j < m; j++) moved = Math.max(moved, Math.abs(next[j]! - theta[j]!));
    if (nextLoss <= current + 1e-12 * Math.abs(current)) {
      theta.set(next);
      current = nextLoss;
    }
    converged = moved < tolerance;
  }
  return { intercept: theta[0]!, weights: Array.from(theta.subarray(1)), mean, std, iterations, converged };
}

/** P(y = 1) for one row under a fit (or a model's acceptance part). */
export function predictLogistic(fit: Pick<LogisticFit, 'intercept' | 'weights' | 'mean' | 'std'>, x: ArrayLike<number>): number {
  let eta = fit.intercept;
  for (let j = 0; j < fit.weights.length; j++) eta += (fit.weights[j]! * (x[j]! - fit.mean[j]!)) / fit.std[j]!;
  return sigmoid(eta);
}

export { sigmoid };
