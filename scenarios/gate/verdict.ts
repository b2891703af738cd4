// The performance gate's verdicts (docs/architecture.md#performance-gate): a candidate run's per-second samples
// against a baseline run's, metric by metric, with a noise threshold, a bootstrap confidence
// interval of the relative change of the medians and a Mann–Whitney U test. Pure: what the samples
// are (ratios to the same run's raw baseline) is samples.ts's business, and exit
// codes, JUnit and Markdown are the CLI's and the renderers'.
import { CimError } from '../../appliance/index.js';
import type { GateComparison } from '../../reports/index.js';
import { bootstrapRelativeChange, mannWhitneyU, median, seededRandom } from '../../bench/index.js';

/** One metric's samples of one scenario, as one run measured them. */
export interface GateSample {
  metric: string;
  better: 'higher' | 'lower';
  /** Per-second samples (or one per replay, …); non-finite values are ignored. */
  values: number[];
}

/** What a gate compares of one run. */
export interface GateInput {
  scenarios: {
    name: string;
    samples: GateSample[];
    /** Why the scenario has no samples (it errored, was skipped or interrupted): for the report. */
    excluded?: string;
  }[];
}

export interface GateOptions {
  /** Relative change of the medians within which a difference is noise; DEFAULT_THRESHOLD (10 %) by default. */
  threshold?: number;
  /** Confidence level of the interval, and 1 − the p-value's significance level; 0.95 by default. */
  confidence?: number;
  /** Fewer samples than this on either side: insufficient data; 5 by default. */
  minSamples?: number;
  /** Seed of the bootstrap's resampling (fresh for each comparison, so each repeats alone); 1 by default. */
  seed?: number;
  /** Bootstrap resamples; 2000 by default. */
  resamples?: number;
}

export interface GateResult {
  comparisons: GateComparison[];
  /** True when any comparison regressed. */
  regressed: boolean;
}

export interface MetricSamples {
  scenario: string;
  metric: string;
  better: 'higher' | 'lower';
  baseline: number[];
  candidate: number[];
}

/**
 * Compares one metric's samples of a baseline and a candidate run. The verdict:
 *
 * - `insufficient-data` when either side has fewer than `minSamples` finite values, the
 *   baseline's median is not positive (a relative change to it means nothing), or the bootstrap
 *   interval is unbounded (resampled baseline medians of 0);
 * - `regressed` when all three hold: the relative change of the medians is worse than the
 *   threshold (below −threshold when higher is better, above +threshold when lower is better); the
 *   bootstrap confidence interval of that change lies wholly on the worse side of 0; and the
 *   Mann–Whitney two-sided p-value is below 1 − confidence. The threshold says how large a change
 *   matters, the interval and the test that it is not noise;
 * - `improved`, the same in the better direction;
 * - `unchanged` otherwise — including a significant change within the threshold, and a change
 *   beyond it that the samples cannot tell from noise.
 *
 * The interval is required to exclude 0, not the threshold: demanding that the whole interval lie
 * beyond the threshold would let a real regression just past it through most of the time.
 *
 * Every figure is finite (the report is dag-cbor, which has no NaN): for insufficient data an
 * empty side's median is 0, the relative change is computed when both medians allow it and is 0
 * otherwise, the interval is [0, 0] and the p-value 1.
 */
export function compareSamples(samples: MetricSamples, options: GateOptions = {}): GateComparison {
  const { threshold, confidence, minSamples, seed, resamples } = settle(options);
  const base = samples.baseline.filter(Number.isFinite);
  const cand = samples.candidate.filter(Number.isFinite);
  const baseMedian = base.length > 0 ? median(base) : 0;
  const candMedian = cand.length > 0 ? median(cand) : 0;
  const comparison: GateComparison = {
    scenario: samples.scenario,
    metric: samples.metric,
    better: samples.better,
    baseline: { median: baseMedian, samples: base.length },
    candidate: { median: candMedian, samples: cand.length },
    relativeChange: base.length > 0 && cand.length > 0 && baseMedian > 0 ? (candMedian - baseMedian) / baseMedian : 0,
    confidenceInterval: [0, 0],
    confidenceLevel: confidence,
    pValue: 1,
    threshold,
    verdict: 'insufficient-data',
  };
  if (base.length < minSamples || cand.length < minSamples || !(baseMedian > 0)) return comparison;
  const change = bootstrapRelativeChange(base, cand, { resamples, confidence, random: seededRandom(seed) });
  if (!change || !change.interval.every(Number.isFinite)) return comparison;

  const { pValue } = mannWhitneyU(base, cand);
  // Turn everything into "how much worse": positive is worse, whichever way is better.
  const worse = samples.better === 'higher' ? -1 : 1;
  const worseBy = change.change * worse;
  const [worseLow, worseHigh] = worse === 1 ? change.interval : [-change.interval[1], -change.interval[0]];
  const significant = pValue < 1 - confidence;
  const verdict =
    significant && worseBy > threshold && worseLow > 0
      ? 'regressed'
      : significant && worseBy < -threshold && worseHigh < 0
        ? 'improved'
        : 'unchanged';
  return { ...comparison, relativeChange: change.change, confidenceInterval: change.interval, pValue, verdict };
}

/**
 * Compares every scenario's every metric of two runs. A scenario or metric measured on one side
 * only is reported as `insufficient-data` (the other side with 0 samples), not dropped, and so is
 * a scenario with no samples on either side (as the metric `samples`). Comparisons come in the
 * baseline's order, then what only the candidate has.
 */
export function gate(baseline: GateInput, candidate: GateInput, options: GateOptions = {}): GateResult {
  const comparisons: GateComparison[] = [];
  const baseScenarios = new Map(baseline.scenarios.map((s) => [s.name, s]));
  const candScenarios = new Map(candidate.scenarios.map((s) => [s.name, s]));
  for (const name of union(baseScenarios.keys(), candScenarios.keys())) {
    const baseSamples = new Map((baseScenarios.get(name)?.samples ?? []).map((s) => [s.metric, s]));
    const candSamples = new Map((candScenarios.get(name)?.samples ?? []).map((s) => [s.metric, s]));
    const metrics = union(baseSamples.keys(), candSamples.keys());
    if (metrics.length === 0) {
      comparisons.push(
        compareSamples({ scenario: name, metric: 'samples', better: 'higher', baseline: [], candidate: [] }, options),
      );
      continue;
    }
    for (const metric of metrics) {
      const b = baseSamples.get(metric);
      const c = candSamples.get(metric);
      const better = (b ?? c)!.better;
      comparisons.push(
        compareSamples(
          { scenario: name, metric, better, baseline: b?.values ?? [], candidate: c?.values ?? [] },
          options,
        ),
      );
    }
  }
  return { comparisons, regressed: comparisons.some((c) => c.verdict === 'regressed') };
}

function union(first: Iterable<string>, second: Iterable<string>): string[] {
  return [...new Set([...first, ...second])];
}

/**
 * 10 %: the ratio metrics divide every second of a run by one raw baseline figure, whose own
 * run-to-run noise (±4 % and more on shared machines) the per-second test cannot
 * see; a 5 % threshold would flag that noise as regressions.
 */
export const DEFAULT_THRESHOLD = 0.1;

function settle(options: GateOptions): Required<GateOptions> {
  const settled = {
    threshold: options.threshold ?? DEFAULT_THRESHOLD,
    confidence: options.confidence ?? 0.95,
    minSamples: options.minSamples ?? 5,
    seed: options.seed ?? 1,
    resamples: options.resamples ?? 2000,
  };
  const { threshold, confidence, minSamples, resamples } = settled;
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
  if (!(Number.isInteger(minSamples) && minSamples >= 1))
    throw new CimError('CIM-INVALID-INPUT', `gate minimum samples must be a whole number ≥ 1, got ${minSamples}`);
  if (!(Number.isInteger(resamples) && resamples >= 1))
    throw new CimError('CIM-INVALID-INPUT', `gate bootstrap resamples must be a whole number ≥ 1, got ${resamples}`);
  return settled;
}
