// Bencher Metric Format (https://bencher.dev/docs/reference/bencher-metric-format/): a performance
// report's figures as `{ "<benchmark>": { "<measure>": { value, lower_value?, upper_value? } } }`,
// for tracking them in Bencher or any tool that reads it. A benchmark is `<scenario>/<phase>`
// (`<scenario>` for the checker's counts); with repetitions, value is their mean and the bounds
// their minimum and maximum. Ratios are the ones the report gives: to the same run's raw baseline,
// or, for a fixed-rate phase, delivered ÷ asked for.
import type { NamedReport } from '../types.js';
import { readPerformanceResults } from './performance-view.js';

interface Metric {
  value: number;
  lower_value?: number;
  upper_value?: number;
}

export type BencherMetrics = Record<string, Record<string, Metric>>;

export function bencherMetrics(named: NamedReport): BencherMetrics {
  const view = readPerformanceResults(named.report.results);
  const samples = new Map<string, Map<string, number[]>>();
  const add = (benchmark: string, measure: string, value: number | undefined) => {
    if (value === undefined || !Number.isFinite(value)) return;
    const measures = samples.get(benchmark) ?? new Map<string, number[]>();
    samples.set(benchmark, measures);
    measures.set(measure, [...(measures.get(measure) ?? []), value]);
  };
  for (const s of view?.scenarios ?? []) {
    if (s.status === 'error' || s.status === 'skipped' || s.status === 'interrupted') continue;
    const raw = s.baseline?.publish?.perSecond;
    for (const phase of s.phases) {
      const name = `${s.scenario}/${phase.name}`;
      if (phase.type === 'load') {
        add(name, 'ops_per_sec', phase.opsPerSec);
        if (phase.rate === 'max') add(name, 'throughput_ratio', raw ? (phase.opsPerSec ?? NaN) / raw : undefined);
        else if (typeof phase.rate === 'number' && phase.rate > 0)
          add(name, 'delivered_ratio', (phase.opsPerSec ?? NaN) / phase.rate);
        if ((phase.ok ?? 0) > 0) {
          add(name, 'p50_ms', phase.latency?.p50Ms);
          add(name, 'p99_ms', phase.latency?.p99Ms);
        }
      } else if (phase.type === 'replay') {
        add(name, 'replay_events_per_sec', phase.replay?.replay?.perSecond);
        add(name, 'replay_ratio_to_raw', phase.replay?.replayToRaw);
      } else if (phase.type === 'fault') {
        add(name, 'recovery_ms', phase.recoveryMs);
        add(name, 'stall_ms', phase.stallMs);
      }
    }
    for (const measure of ['lost', 'unexpected', 'duplicates'] as const) add(s.scenario, measure, s.metrics[measure]);
  }
  const out: BencherMetrics = {};
  for (const [benchmark, measures] of samples) {
    out[benchmark] = {};
    for (const [measure, values] of measures) {
      const value = values.reduce((a, b) => a + b, 0) / values.length;
      out[benchmark]![measure] =
        values.length > 1 ? { value, lower_value: Math.min(...values), upper_value: Math.max(...values) } : { value };
    }
  }
  return out;
}

export function renderBmf(named: NamedReport): string {
  return `${JSON.stringify(bencherMetrics(named), null, 2)}\n`;
}
