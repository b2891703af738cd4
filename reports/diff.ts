// The headline figures of two performance reports side by side, scenario by scenario (what
// `cim report diff` prints; significance is the gate's business).
import type { NamedReport } from './types.js';

export interface DiffRow {
  scenario: string;
  metric: string;
  a: number | null;
  b: number | null;
  /** (b − a) / a, or null when either is missing or a is 0. */
  change: number | null;
}

/** The scenario-wide metrics two performance reports share (and those only one has). */
export function diffMetrics(a: NamedReport, b: NamedReport): DiffRow[] {
  const metricsOf = (named: NamedReport) => {
    const scenarios =
      (named.report.results as { scenarios?: { scenario?: string; metrics?: Record<string, number> }[] } | null)
        ?.scenarios ?? [];
    return new Map(scenarios.map((s) => [s.scenario ?? '?', s.metrics ?? {}]));
  };
  const left = metricsOf(a);
  const right = metricsOf(b);
  const rows: DiffRow[] = [];
  for (const scenario of [...new Set([...left.keys(), ...right.keys()])].sort()) {
    const l = left.get(scenario) ?? {};
    const r = right.get(scenario) ?? {};
    for (const metric of [...new Set([...Object.keys(l), ...Object.keys(r)])].filter((m) => !m.includes('.')).sort()) {
      const x = l[metric] ?? null;
      const y = r[metric] ?? null;
      rows.push({ scenario, metric, a: x, b: y, change: x !== null && y !== null && x !== 0 ? (y - x) / x : null });
    }
  }
  return rows;
}
