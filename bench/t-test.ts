// Welch's t-test and Holm's correction: what the performance gate decides on when it compares
// per-repetition figures of two runs (docs/architecture.md#performance-gate). The t distribution
// comes from jstat; the rest is arithmetic. Pure.
import jstatModule from 'jstat';

const { studentt } = jstatModule.jStat;

export interface WelchResult {
  /** mean(b) − mean(a). */
  difference: number;
  standardError: number;
  /** Welch–Satterthwaite degrees of freedom. */
  degreesOfFreedom: number;
  /** Two-sided p-value of "the means are equal". */
  pValue: number;
  /** One-sided p-value of "mean(b) is not above mean(a)": small when b is larger. */
  pGreater: number;
  /** One-sided p-value of "mean(b) is not below mean(a)": small when b is smaller. */
  pLess: number;
  /** Two-sided confidence interval of the difference at `confidence`. */
  interval: [number, number];
}

/**
 * Welch's unequal-variances t-test of mean(b) − mean(a). Needs at least two values on each side;
 * undefined otherwise. When both sides have no spread at all, the difference is exact: p is 1 for
 * equal means and 0 for different ones, and the interval is the difference itself.
 */
export function welchTTest(a: readonly number[], b: readonly number[], confidence = 0.95): WelchResult | undefined {
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`welch: confidence must be in (0, 1), got ${confidence}`);
  if (a.length < 2 || b.length < 2) return undefined;
  const ma = mean(a);
  const mb = mean(b);
  const va = variance(a, ma) / a.length;
  const vb = variance(b, mb) / b.length;
  const difference = mb - ma;
  const standardError = Math.sqrt(va + vb);
  if (standardError === 0) {
    return {
      difference,
      standardError,
      degreesOfFreedom: a.length + b.length - 2,
      pValue: difference === 0 ? 1 : 0,
      pGreater: difference > 0 ? 0 : 1,
      pLess: difference < 0 ? 0 : 1,
      interval: [difference, difference],
    };
  }
  const degreesOfFreedom = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  const t = difference / standardError;
  const pLess = studentt.cdf(t, degreesOfFreedom);
  const pGreater = studentt.cdf(-t, degreesOfFreedom);
  const pValue = Math.min(1, 2 * Math.min(pLess, pGreater));
  const half = studentt.inv(1 - (1 - confidence) / 2, degreesOfFreedom) * standardError;
  return {
    difference,
    standardError,
    degreesOfFreedom,
    pValue,
    pGreater,
    pLess,
    interval: [difference - half, difference + half],
  };
}

/**
 * The smallest true difference of means that a one-sided test at level `alpha` detects with
 * probability `power`, for samples of `n1` and `n2` values with standard deviation `sd` each:
 * (t₁₋α + t_power) · sd · √(1/n1 + 1/n2), t with n1 + n2 − 2 degrees of freedom.
 */
export function detectableDifference(sd: number, n1: number, n2: number, alpha: number, power = 0.8): number {
  const df = n1 + n2 - 2;
  if (!(df >= 1) || !(alpha > 0 && alpha < 1) || !(power > 0 && power < 1)) return Infinity;
  return (studentt.inv(1 - alpha, df) + studentt.inv(power, df)) * sd * Math.sqrt(1 / n1 + 1 / n2);
}

/** The pooled standard deviation of two samples (each at least two values). */
export function pooledStandardDeviation(a: readonly number[], b: readonly number[]): number {
  const df = a.length + b.length - 2;
  return Math.sqrt(((a.length - 1) * variance(a, mean(a)) + (b.length - 1) * variance(b, mean(b))) / df);
}

/**
 * Holm's step-down adjustment: the adjusted p-values, in the order given. Rejecting every
 * hypothesis whose adjusted p-value is below α keeps the chance of any false rejection among them
 * at most α, whatever the dependence between the tests.
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Sample variance (n − 1). */
function variance(values: readonly number[], m: number): number {
  let sum = 0;
  for (const v of values) sum += (v - m) ** 2;
  return sum / (values.length - 1);
}
