// The one verdict of a performance gate (docs/architecture.md#performance-gate), which the exit
// code, the Markdown summary and the JUnit file all give: a gate never passes on nothing.
import type { GateComparison, ReportBaseline } from './types.js';

export type GateVerdictKind = 'regressed' | 'insufficient-data' | 'passed';

export interface GateVerdict {
  verdict: GateVerdictKind;
  regressions: GateComparison[];
  /** Comparisons without enough data on a side (accepted as such only with `allowMissing`). */
  missing: GateComparison[];
  /** One line: what the gate found. */
  text: string;
}

/**
 * `regressed` when any comparison regressed; else `insufficient-data` when any comparison lacked
 * data (or none had enough) and the gate was not told to allow it; else `passed` — with what was
 * missing said in the text when it was allowed.
 */
export function gateVerdict(baseline: ReportBaseline): GateVerdict {
  const regressions = baseline.comparisons.filter((c) => c.verdict === 'regressed');
  const missing = baseline.comparisons.filter((c) => c.verdict === 'insufficient-data');
  const measured = baseline.comparisons.length - missing.length;
  const without = missing.length > 0 ? `; ${missing.length} without enough data` : '';
  if (regressions.length > 0)
    return {
      verdict: 'regressed',
      regressions,
      missing,
      text: `${regressions.length} significant regression(s) among ${measured} comparison(s)${without}`,
    };
  if (baseline.comparisons.length === 0)
    return {
      verdict: 'insufficient-data',
      regressions,
      missing,
      text: 'nothing was compared: no metric on either side',
    };
  if (missing.length > 0 && !baseline.allowMissing)
    return {
      verdict: 'insufficient-data',
      regressions,
      missing,
      text:
        measured === 0
          ? `nothing could be compared: ${missing.length} comparison(s), none with enough data on both sides`
          : `no significant regression among ${measured} comparison(s), but ${missing.length} had too little data to tell`,
    };
  return {
    verdict: 'passed',
    regressions,
    missing,
    text:
      measured === 0
        ? `nothing was compared: ${missing.length} comparison(s) without enough data (allowed)`
        : `no significant regression among ${measured} comparison(s)${missing.length > 0 ? `${without} (allowed)` : ''}`,
  };
}
