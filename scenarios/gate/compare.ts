// The performance gate on reports: a candidate bench run against a baseline one, per scenario and
// metric on the per-second samples (verdict.ts), as `cim gate` and `cim bench --baseline` use it.
import { CimError } from '../../appliance/index.js';
import { DEFAULT_THRESHOLD, gate } from './verdict.js';
import type { NamedReport, ReportBaseline } from '../../reports/index.js';
import { gateInput } from './figures.js';
import type { BenchResults } from '../results.js';

/** `5%`, `5 %` or `0.05` → 0.05. */
export function parseThreshold(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  const value = match ? Number(match[1]) / (match[2] ? 100 : 1) : NaN;
  if (!(value >= 0 && value < 1))
    throw new CimError('CIM-INVALID-INPUT', `--threshold: expected a share such as 5% or 0.05, got "${text}"`);
  return value;
}

/** The bench results a performance report carries; a report of another kind is a usage error. */
export function benchResultsOf(named: NamedReport, role: string): BenchResults {
  const results = named.report.results as BenchResults | null;
  if (named.report.kind !== 'performance' || !results || !Array.isArray(results.scenarios)) {
    throw new CimError(
      'CIM-INVALID-INPUT',
      `${role} ${named.cid.toString()} is a ${named.report.kind} report without bench results; the gate compares performance reports`,
    );
  }
  return results;
}

export interface CompareOptions {
  threshold?: number;
  /** Accept comparisons without enough data instead of failing the gate on them (`--allow-missing`). */
  allowMissing?: boolean;
}

/**
 * The candidate's results against the baseline report's, as a report's `baseline` section. Two
 * runs that share no scenario are not a gate at all: CIM-INVALID-INPUT, not a pass.
 */
export function compareWithBaseline(
  baseline: NamedReport,
  candidate: BenchResults,
  options: CompareOptions = {},
): ReportBaseline {
  const result = gate(gateInput(benchResultsOf(baseline, 'baseline')), gateInput(candidate), {
    threshold: options.threshold ?? DEFAULT_THRESHOLD,
  });
  if (result.common.length === 0) {
    const names = (r: BenchResults) => [...new Set(r.scenarios.map((s) => s.scenario))].join(', ') || 'none';
    throw new CimError(
      'CIM-INVALID-INPUT',
      `the baseline ${baseline.cid.toString()} and the candidate share no scenario: baseline ${names(benchResultsOf(baseline, 'baseline'))}; candidate ${names(candidate)}`,
      { hint: 'Gate a run against a baseline of the same suite (cim bench --quick against a --quick baseline).' },
    );
  }
  return {
    cid: baseline.cid,
    comparisons: result.comparisons,
    regressed: result.regressed,
    commonScenarios: result.common,
    ...(options.allowMissing ? { allowMissing: true } : {}),
  };
}
