// How well a ranking model does on held-out data (issue 16): AUC (rank-based, the
// Mann–Whitney statistic, ties counted half), log loss, calibration bins (predicted
// against observed acceptance), and mean absolute error for ETAs. Pure functions over
// arrays; `npm run train` writes their results into the model file.

/**
 * The probability that a random positive scores above a random negative (ties count
 * half), from average ranks: O(n log n). NaN when one class is missing.
 */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new Error(`auc: ${n} scores but ${labels.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avgRank = (i + j) / 2 + 1; // ranks i+1 … j+1 share their mean
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!]! > 0.5) {
        positives++;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

const EPS = 1e-15;

/** Mean negative log-likelihood of the labels under the predicted probabilities (clamped away from 0 and 1). */
export function logLoss(p: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = p.length;
  if (labels.length !== n) throw new Error(`logLoss: ${n} predictions but ${labels.length} labels`);
  if (n === 0) return Number.NaN;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const q = Math.min(1 - EPS, Math.max(EPS, p[i]!));
    total -= labels[i]! > 0.5 ? Math.log(q) : Math.log(1 - q);
  }
  return total / n;
}

export interface CalibrationBin { bin: string; predicted: number; observed: number; n: number }

/** Equal-width bins of predicted probability ("0.0-0.1", …): mean predicted and observed rate in each; empty bins left out. */
export function calibration(p: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): CalibrationBin[] {
  const sumP = new Array<number>(bins).fill(0);
  const sumY = new Array<number>(bins).fill(0);
  const count = new Array<number>(bins).fill(0);
  for (let i = 0; i < p.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p[i]! * bins)));
    sumP[b]! += p[i]!;
    sumY[b]! += labels[i]! > 0.5 ? 1 : 0;
    count[b]!++;
  }
  const label = (x: number) => (x / bins).toFixed(bins > 10 ? 2 : 1);
  return count.flatMap((n, b) => (n === 0 ? [] : [{
    bin: `${label(b)}-${label(b + 1)}`, predicted: sumP[b]! / n, observed: sumY[b]! / n, n,
  }]));
}

/** Mean absolute difference; NaN for no pairs. */
export function mae(predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  if (predicted.length !== actual.length) throw new Error(`mae: ${predicted.length} predictions but ${actual.length} actuals`);
  if (predicted.length === 0) return Number.NaN;
  let total = 0;
  for (let i = 0; i < predicted.length; i++) total += Math.abs(predicted[i]! - actual[i]!);
  return total / predicted.length;
}
