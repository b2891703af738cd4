// What the performance gate compares of a `cim bench` run (docs/architecture.md#performance-gate):
// per scenario, one figure per repetition and metric, as ratios to the raw JetStream baseline the
// same repetition measured wherever the figure has a raw counterpart, so that a gate set on one
// machine holds on another (absolute numbers move from machine to machine, ratios within one run
// hold). Per repetition, not per second: seconds of one run are autocorrelated (a slow leader, a
// compaction, a neighbour on the machine lasts many seconds), and a run's own raw baseline is one
// draw that every second of it shares, so only repetitions are independent samples.
import type { GateInput, GateSample } from './verdict.js';
import type { BenchResults, ScenarioResult } from '../results.js';

export type GateMetric =
  'throughput_ratio' | 'delivered_ratio' | 'p99_ms' | 'p99_per_raw_op_ms' | 'replay_ratio_to_raw';

/** The metrics a gate compares (each per phase: `<phase>.<metric>`), which way is better, and what one figure is. */
export const GATE_METRICS: Record<GateMetric, { better: 'higher' | 'lower'; description: string }> = {
  throughput_ratio: {
    better: 'higher',
    description: 'a rate: max phase: acknowledged operations per second ÷ raw publishes/s of the same repetition',
  },
  delivered_ratio: {
    better: 'higher',
    description: 'a fixed-rate phase: acknowledged operations per second ÷ the rate asked for',
  },
  p99_ms: {
    better: 'lower',
    description:
      "the phase's p99 latency over all its operations (one HDR histogram), ms (absolute: machine-dependent)",
  },
  p99_per_raw_op_ms: {
    better: 'lower',
    description: 'p99_ms × raw publishes/s ÷ 1000: the p99 in raw publish times of the same repetition',
  },
  replay_ratio_to_raw: {
    better: 'higher',
    description: "the replay's events/s ÷ the same repetition's best raw ordered read",
  },
};

/** Scenarios in these states measured nothing a gate can trust, or not all of it. */
const EXCLUDED_STATUS = new Set<string>(['error', 'skipped', 'interrupted']);

/**
 * The name a scenario's figures are gated under: its name, and the server in a version matrix
 * (the same scenario on two servers is two scenarios to a gate, not two repetitions).
 */
export function gateScenarioName(result: Pick<ScenarioResult, 'scenario' | 'server'>): string {
  return result.server ? `${result.scenario} @ ${result.server}` : result.scenario;
}

/**
 * The gate's view of a bench run: per scenario, per metric, one figure per repetition (a run
 * without `--repeat` is one repetition of each scenario).
 *
 * - `throughput_ratio`: for phases at `rate: max`, the phase's acknowledged ops/s ÷ raw
 *   publishes/s. At a fixed rate the acknowledged count is what was asked for, not what the machine
 *   can do, and dividing it by the raw rate would make a faster machine look like a regression; so
 *   those phases give `delivered_ratio` instead, acknowledged ops/s ÷ rate (below 1 when the
 *   system cannot keep up).
 * - `p99_ms`: the phase's p99 from the histogram of all its operations, as is — no raw publish
 *   latency is measured to divide it by, so this one does not transfer across machines.
 * - `p99_per_raw_op_ms`: p99_ms × raw publishes/s ÷ 1000, the p99 in units of the time the same
 *   cluster and client take per raw publish at saturation. On a machine twice as fast both halve,
 *   so the ratio holds to first order; not where latency comes from what the raw publish does not
 *   exercise, which is why `p99_ms` is kept beside it.
 * - `replay_ratio_to_raw`: the replay benchmark's own ratio.
 *
 * A phase with no acknowledged operation gives a throughput figure of 0 and no latency figure. A
 * repetition that errored, was skipped or interrupted gives no figures; when none of a scenario's
 * repetitions gives any, `excluded` says why and the gate reports the scenario as insufficient data.
 */
export function gateInput(results: BenchResults): GateInput {
  interface Entry {
    samples: Map<string, GateSample>;
    excluded: string[];
    measured: boolean;
  }
  const byName = new Map<string, Entry>();
  for (const result of results.scenarios) {
    const name = gateScenarioName(result);
    const entry: Entry = byName.get(name) ?? { samples: new Map(), excluded: [], measured: false };
    byName.set(name, entry);
    if (EXCLUDED_STATUS.has(result.status)) {
      entry.excluded.push(`${result.status}${result.reason ? `: ${result.reason}` : ''}`);
      continue;
    }
    entry.measured = true;
    for (const { metric, value } of repetitionFigures(result)) {
      const sample = entry.samples.get(metric) ?? {
        metric,
        better: GATE_METRICS[metric.slice(metric.lastIndexOf('.') + 1) as GateMetric].better,
        values: [],
      };
      entry.samples.set(metric, sample);
      sample.values.push(value);
    }
  }
  return {
    scenarios: [...byName].map(([name, entry]) => ({
      name,
      samples: [...entry.samples.values()],
      ...(entry.measured ? {} : { excluded: entry.excluded.join('; ') || 'nothing measured' }),
    })),
  };
}

/** One repetition's figures: `<phase>.<metric>` and its value. */
function repetitionFigures(scenario: ScenarioResult): { metric: string; value: number }[] {
  const raw = scenario.baseline?.publish.perSecond ?? 0;
  const figures: { metric: string; value: number }[] = [];
  const add = (phase: string, metric: GateMetric, value: number) =>
    figures.push({ metric: `${phase}.${metric}`, value });
  for (const phase of scenario.phases) {
    if (phase.type === 'replay') {
      if (phase.replay) add(phase.name, 'replay_ratio_to_raw', phase.replay.replayToRaw);
      continue;
    }
    if (phase.type !== 'load' || phase.error) continue;
    if (phase.rate === 'max') {
      if (raw > 0) add(phase.name, 'throughput_ratio', phase.opsPerSec / raw);
    } else if (phase.rate > 0) add(phase.name, 'delivered_ratio', phase.opsPerSec / phase.rate);
    if (phase.ok === 0) continue;
    add(phase.name, 'p99_ms', phase.latency.p99Ms);
    if (raw > 0) add(phase.name, 'p99_per_raw_op_ms', (phase.latency.p99Ms * raw) / 1000);
  }
  return figures;
}
