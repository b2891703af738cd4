// The performance gate's verdicts (docs/architecture.md#performance-gate): a candidate run's
// figures against a baseline run's, metric by metric, one figure per repetition of a scenario
// (each repetition a fresh cluster with the same seeds, so repetitions are independent where
// seconds of one run are not). Welch's t-test on the logarithms of the figures (a relative change
// is a difference of logs, and rates and latencies are skewed), one-sided in each direction with
// Holm's correction over every comparison of the gate, and a threshold for how large a change
// matters. Pure: what a figure is
// (ratios to the same repetition's raw baseline) is figures.ts's business; exit codes, JUnit and
// Markdown are the CLI's and the renderers'.
import { CimError } from '../../appliance/index.js';
import type { GateComparison } from '../../reports/index.js';
import { detectableDifference, holmAdjust, pooledStandardDeviation, welchTTest } from '../../bench/index.js';

/** One metric's figures of one scenario: one value per repetition. */
export interface GateSample {
  metric: string;
  better: 'higher' | 'lower';
  /** One figure per repetition; non-finite values are ignored. */
  values: number[];
}

/** What a gate compares of one run. */
export interface GateInput {
  scenarios: {
    name: string;
    samples: GateSample[];
    /** Why the scenario has no figures (it errored, was skipped or interrupted): for the report. */
    excluded?: string;
  }[];
}

export interface GateOptions {
  /** Relative change within which a difference does not matter; DEFAULT_THRESHOLD by default. */
  threshold?: number;
  /** 1 − the family-wise significance level (Holm), and the level of each interval; 0.95 by default. */
  confidence?: number;
  /** Fewer repetitions than this on either side: insufficient data; DEFAULT_MIN_REPETITIONS by default. */
  minRepetitions?: number;
}

export interface GateResult {
  comparisons: GateComparison[];
  /** True when any comparison regressed. */
  regressed: boolean;
  /** Comparisons without enough data on one side or both (`insufficient-data`). */
  missing: GateComparison[];
  /** Scenario names measured on both sides. */
  common: string[];
}

export interface MetricSamples {
  scenario: string;
  metric: string;
  better: 'higher' | 'lower';
  baseline: number[];
  candidate: number[];
}

/** 5 %: the smallest relative change the gate reports; the simulation in docs/architecture.md#performance-gate chose it. */
export const DEFAULT_THRESHOLD = 0.05;
/** Repetitions a side needs at least: with fewer, a t-test has one degree of freedom or none. */
export const DEFAULT_MIN_REPETITIONS = 3;

/** One comparison and its one-sided p-values before the correction for many comparisons. */
export interface TestedComparison {
  comparison: GateComparison;
  /** One-sided Welch p-value of "the candidate is not worse"; 1 without enough data. */
  pWorse: number;
  /** One-sided Welch p-value of "the candidate is not better"; 1 without enough data. */
  pBetter: number;
  /** Pooled standard deviation of the logs of both sides' figures (without enough data, absent). */
  spread?: number;
}

/**
 * One metric's comparison before the correction for many comparisons: the relative change of the
 * geometric means, its t interval, and the one-sided Welch p-values on the logs (the comparison's
 * `pValue` is the one in the direction the change went). Verdict `insufficient-data` when either
 * side has fewer than `minRepetitions` finite figures or a figure that is not positive (a relative
 * change to nothing, or a log of 0, means nothing); otherwise `unchanged` until `gate` has
 * corrected the p-values.
 */
export function compareFigures(samples: MetricSamples, options: GateOptions = {}): TestedComparison {
  const { threshold, confidence, minRepetitions } = settle(options);
  const base = samples.baseline.filter(Number.isFinite);
  const cand = samples.candidate.filter(Number.isFinite);
  const baseCenter = geometricMean(base);
  const candCenter = geometricMean(cand);
  const comparison: GateComparison = {
    scenario: samples.scenario,
    metric: samples.metric,
    better: samples.better,
    baseline: { center: baseCenter, samples: base.length },
    candidate: { center: candCenter, samples: cand.length },
    relativeChange: baseCenter > 0 && candCenter > 0 ? candCenter / baseCenter - 1 : 0,
    confidenceInterval: [0, 0],
    confidenceLevel: confidence,
    pValue: 1,
    adjustedPValue: 1,
    threshold,
    method: 'welch-log',
    verdict: 'insufficient-data',
  };
  const positive = (values: number[]) => values.every((v) => v > 0);
  if (base.length < minRepetitions || cand.length < minRepetitions || !positive(base) || !positive(cand))
    return { comparison, pWorse: 1, pBetter: 1 };
  const logBase = base.map(Math.log);
  const logCand = cand.map(Math.log);
  const test = welchTTest(logBase, logCand, confidence)!;
  const [pWorse, pBetter] = samples.better === 'higher' ? [test.pLess, test.pGreater] : [test.pGreater, test.pLess];
  const pValue = Math.min(pWorse, pBetter);
  return {
    comparison: {
      ...comparison,
      confidenceInterval: [Math.expm1(test.interval[0]), Math.expm1(test.interval[1])],
      pValue,
      adjustedPValue: pValue,
      verdict: 'unchanged',
    },
    pWorse,
    pBetter,
    spread: pooledStandardDeviation(logBase, logCand),
  };
}

/**
 * Compares every scenario's every metric of two runs. Regressions are one family: Holm's correction
 * runs over the one-sided "worse" p-values of every comparison with enough data, so the chance
 * that equal runs show any regression at all stays at most 1 − confidence however many metrics
 * there are; improvements are the other family, corrected the same way. A comparison is:
 *
 * - `regressed` when its Holm-adjusted "worse" p-value is below 1 − confidence and the change is
 *   worse than the threshold (below −threshold when higher is better, above +threshold when lower
 *   is better);
 * - `improved`, the same in the better direction;
 * - `unchanged` otherwise — a significant change within the threshold, or one beyond it that the
 *   repetitions cannot tell from noise;
 * - `insufficient-data` as `compareFigures` says, and for a scenario or metric measured on one side
 *   only (the other with 0 repetitions) — reported, never dropped; a scenario with no figures on
 *   either side is one comparison of the metric `samples`.
 *
 * Comparisons come in the baseline's order, then what only the candidate has.
 */
export function gate(baseline: GateInput, candidate: GateInput, options: GateOptions = {}): GateResult {
  const { threshold, confidence } = settle(options);
  const tested: TestedComparison[] = [];
  const baseScenarios = new Map(baseline.scenarios.map((s) => [s.name, s]));
  const candScenarios = new Map(candidate.scenarios.map((s) => [s.name, s]));
  for (const name of union(baseScenarios.keys(), candScenarios.keys())) {
    const baseSamples = new Map((baseScenarios.get(name)?.samples ?? []).map((s) => [s.metric, s]));
    const candSamples = new Map((candScenarios.get(name)?.samples ?? []).map((s) => [s.metric, s]));
    const metrics = union(baseSamples.keys(), candSamples.keys());
    if (metrics.length === 0) {
      tested.push(
        compareFigures({ scenario: name, metric: 'samples', better: 'higher', baseline: [], candidate: [] }, options),
      );
      continue;
    }
    for (const metric of metrics) {
      const b = baseSamples.get(metric);
      const c = candSamples.get(metric);
      tested.push(
        compareFigures(
          { scenario: name, metric, better: (b ?? c)!.better, baseline: b?.values ?? [], candidate: c?.values ?? [] },
          options,
        ),
      );
    }
  }
  const alpha = 1 - confidence;
  const measured = tested.filter((t) => t.comparison.verdict !== 'insufficient-data');
  const worse = holmAdjust(measured.map((t) => t.pWorse));
  const better = holmAdjust(measured.map((t) => t.pBetter));
  measured.forEach(({ comparison: c, pWorse, pBetter, spread }, i) => {
    // A worsening by d on the log scale is seen with 80 % power at Holm's strictest step, α / m.
    const d = detectableDifference(spread!, c.baseline.samples, c.candidate.samples, alpha / measured.length);
    if (Number.isFinite(d)) c.detectable = c.better === 'higher' ? -Math.expm1(-d) : Math.expm1(d);
    const worseBy = c.better === 'higher' ? -c.relativeChange : c.relativeChange;
    const towardWorse = pWorse <= pBetter;
    c.adjustedPValue = towardWorse ? worse[i]! : better[i]!;
    c.verdict =
      worse[i]! < alpha && worseBy > threshold
        ? 'regressed'
        : better[i]! < alpha && worseBy < -threshold
          ? 'improved'
          : 'unchanged';
  });
  const comparisons = tested.map((t) => t.comparison);
  return {
    comparisons,
    regressed: comparisons.some((c) => c.verdict === 'regressed'),
    missing: comparisons.filter((c) => c.verdict === 'insufficient-data'),
    common: [...baseScenarios.keys()].filter((name) => candScenarios.has(name)),
  };
}

/** The geometric mean of positive values; 0 when there are none or any is not positive. */
export function geometricMean(values: readonly number[]): number {
  if (values.length === 0 || values.some((v) => !(v > 0))) return 0;
  let sum = 0;
  for (const v of values) sum += Math.log(v);
  return Math.exp(sum / values.length);
}

function union(first: Iterable<string>, second: Iterable<string>): string[] {
  return [...new Set([...first, ...second])];
}

function settle(options: GateOptions): Required<GateOptions> {
  const settled = {
    threshold: options.threshold ?? DEFAULT_THRESHOLD,
    confidence: options.confidence ?? 0.95,
    minRepetitions: options.minRepetitions ?? DEFAULT_MIN_REPETITIONS,
  };
  const { threshold, confidence, minRepetitions } = settled;
  if (!(threshold >= 0 && Number.isFinite(threshold)))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `gate threshold must be a finite fraction ≥ 0 (0.05 is 5 %), got ${threshold}`,
    );
  if (!(confidence > 0 && confidence < 1))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `gate confidence must be between 0 and 1 (0.95 is 95 %), got ${confidence}`,
    );
  if (!(Number.isInteger(minRepetitions) && minRepetitions >= 2))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `gate minimum repetitions must be a whole number ≥ 2, got ${minRepetitions}`,
    );
  return settled;
}
