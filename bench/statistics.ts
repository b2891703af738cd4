// The statistics a performance gate stands on (docs/architecture.md#performance-gate): medians and quantiles, the
// Mann–Whitney U test, and a percentile-bootstrap confidence interval of the relative change of
// two medians. Pure and dependency-free; the only randomness is a seeded PRNG, so a gate repeats.
import { seededRandom, type Random } from './random.js';

/**
 * The median of `values` (the mean of the two middle values when their count is even); NaN when
 * there are none. Does not modify `values`.
 */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/**
 * The `p`-quantile of `values` by Hyndman & Fan's type 7 (R's default, numpy's `linear`): linear
 * interpolation between the order statistics at (n − 1)·p. NaN when there are no values. Does
 * not modify `values`.
 */
export function quantile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile: p must be in [0, 1], got ${p}`);
  return sortedQuantile(Float64Array.from(values).sort(), p);
}

/** Type 7 quantile of already sorted values. */
function sortedQuantile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const below = sorted[lo]!;
  if (h === lo) return below;
  const above = sorted[lo + 1]!;
  // Equal neighbours return as they are, so an infinite one does not turn into NaN (∞ − ∞).
  return above === below ? below : below + (h - lo) * (above - below);
}

export interface MannWhitneyResult {
  /** U of the first sample: the number of pairs (a, b) with a > b, ties counting ½ (scipy's `statistic`). */
  u: number;
  /**
   * Normal-approximation z of U (tie-corrected, continuity-corrected toward 0); positive when the
   * first sample tends to be larger. Given in both methods, for the record.
   */
  z: number;
  /** Two-sided p-value; 1 when either sample is empty or every value is tied. */
  pValue: number;
  /** How `pValue` was obtained (see `mannWhitneyU`). */
  method: 'exact' | 'asymptotic';
}

/** Both samples at most this large and tie-free: the p-value is exact. */
const EXACT_MAX_SIZE = 8;

/**
 * Mann–Whitney U test (Wilcoxon rank-sum), two-sided: do values of `a` tend to be larger or
 * smaller than values of `b`?
 *
 * The p-value is exact (the null distribution of U enumerated) when both samples have at most 8
 * values and there are no ties — where the normal approximation is poorest and the enumeration is
 * tiny — and otherwise the normal approximation with the tie correction of the variance and a
 * continuity correction of ½. This matches scipy's `mannwhitneyu(a, b)` (default `method='auto'`)
 * and R's `wilcox.test(a, b, correct = TRUE)` wherever both sides are ≤ 8 or both are > 8 (scipy
 * is exact also when only one side is ≤ 8 without ties; there this is the approximation).
 *
 * With either sample empty nothing can be said: `pValue` is 1 and `u`, `z` are 0.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): MannWhitneyResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { u: 0, z: 0, pValue: 1, method: 'asymptotic' };
  const n = n1 + n2;

  // Midranks of the pooled sample, and Σ(t³ − t) over groups of t tied values.
  const pooled = [...a.map((value) => ({ value, first: true })), ...b.map((value) => ({ value, first: false }))].sort(
    (x, y) => x.value - y.value,
  );
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && pooled[j]!.value === pooled[i]!.value) j++;
    const midrank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (pooled[k]!.first) rankSumA += midrank;
    const t = j - i;
    tieTerm += t * t * t - t;
    i = j;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;

  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const deviation = u - mean;
  const z = variance > 0 ? (Math.sign(deviation) * Math.max(0, Math.abs(deviation) - 0.5)) / Math.sqrt(variance) : 0;

  if (tieTerm === 0 && n1 <= EXACT_MAX_SIZE && n2 <= EXACT_MAX_SIZE) {
    // U is symmetric about its mean under the null: twice the upper tail from the larger of U, U'.
    const upper = Math.max(u, n1 * n2 - u);
    return { u, z, pValue: Math.min(1, 2 * exactUpperTail(n1, n2, upper)), method: 'exact' };
  }
  const pValue = variance > 0 ? Math.min(1, erfc(Math.abs(z) / Math.SQRT2)) : 1;
  return { u, z, pValue, method: 'asymptotic' };
}

/**
 * P(U ≥ u) under the null for sample sizes m, n without ties: the count of arrangements with
 * U = k follows f(m, n, k) = f(m − 1, n, k − n) + f(m, n − 1, k) (is the largest value from the
 * first sample or the second?), out of C(m + n, m) arrangements.
 */
function exactUpperTail(m: number, n: number, u: number): number {
  // counts[i][j] is the distribution of U for sizes (i, j), as an array indexed by U.
  const counts: number[][][] = [];
  for (let i = 0; i <= m; i++) {
    counts.push([]);
    for (let j = 0; j <= n; j++) {
      if (i === 0 || j === 0) {
        counts[i]!.push([1]);
        continue;
      }
      const dist = new Array<number>(i * j + 1).fill(0);
      counts[i - 1]![j]!.forEach((c, k) => (dist[k + j]! += c));
      counts[i]![j - 1]!.forEach((c, k) => (dist[k]! += c));
      counts[i]!.push(dist);
    }
  }
  const dist = counts[m]![n]!;
  const total = dist.reduce((s, c) => s + c, 0);
  let tail = 0;
  for (let k = Math.ceil(u); k < dist.length; k++) tail += dist[k]!;
  return tail / total;
}

/**
 * Complementary error function, by the Chebyshev fit of Numerical Recipes (`erfcc`): fractional
 * error below 1.2·10⁻⁷ everywhere, plenty for a p-value compared with 0.05.
 */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

export interface BootstrapOptions {
  /** How many bootstrap resamples; 2000 by default. */
  resamples?: number;
  /** Two-sided confidence level of the interval; 0.95 by default. */
  confidence?: number;
  /** Where the resampling draws from; `seededRandom(1)` by default, so the interval repeats. */
  random?: Random;
}

export interface RelativeChangeInterval {
  /** (median(candidate) − median(baseline)) / median(baseline) of the samples themselves. */
  change: number;
  /**
   * Percentile-bootstrap interval of the change. A bound is ±Infinity when resamples of the
   * baseline with a median of 0 (a change relative to nothing) reach it: then the samples are too
   * close to zero for a relative change to mean anything.
   */
  interval: [number, number];
  confidence: number;
  resamples: number;
}

/**
 * Percentile-bootstrap confidence interval of the relative change of the medians,
 * (median(candidate) − median(baseline)) / median(baseline): each resample draws both samples
 * again with replacement (each at its own size) and computes the change; the interval is the
 * (1 − confidence)/2 and (1 + confidence)/2 type 7 quantiles of the resampled changes.
 *
 * Undefined — insufficient data — when either sample is empty or the baseline's median is not
 * positive (a relative change to zero or a negative figure means nothing). A constant sample is
 * fine: its resamples all have the same median.
 */
export function bootstrapRelativeChange(
  baseline: readonly number[],
  candidate: readonly number[],
  options: BootstrapOptions = {},
): RelativeChangeInterval | undefined {
  const { resamples = 2000, confidence = 0.95, random = seededRandom(1) } = options;
  if (!(resamples >= 1 && Number.isInteger(resamples)))
    throw new RangeError(`bootstrap: resamples must be a positive integer, got ${resamples}`);
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`bootstrap: confidence must be in (0, 1), got ${confidence}`);
  if (baseline.length === 0 || candidate.length === 0) return undefined;
  const baseMedian = median(baseline);
  if (!(baseMedian > 0)) return undefined;

  const base = Float64Array.from(baseline);
  const cand = Float64Array.from(candidate);
  const baseDraw = new Float64Array(base.length);
  const candDraw = new Float64Array(cand.length);
  const changes = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    const b = resampledMedian(base, baseDraw, random);
    const c = resampledMedian(cand, candDraw, random);
    changes[r] = b > 0 ? (c - b) / b : c === b ? 0 : Math.sign(c - b) * Infinity;
  }
  changes.sort();
  const alpha = 1 - confidence;
  return {
    change: (median(candidate) - baseMedian) / baseMedian,
    interval: [sortedQuantile(changes, alpha / 2), sortedQuantile(changes, 1 - alpha / 2)],
    confidence,
    resamples,
  };
}

/** The median of one resample with replacement of `from`, drawn into `into` (same length). */
function resampledMedian(from: Float64Array, into: Float64Array, random: Random): number {
  for (let i = 0; i < into.length; i++) into[i] = from[Math.floor(random.next() * from.length)]!;
  return sortedQuantile(into.sort(), 0.5);
}
