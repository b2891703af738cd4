// What the performance gate compares of a `cim bench` run (docs/architecture.md#performance-gate): each scenario's per-second
// samples, as ratios to the raw JetStream baseline measured in the same run wherever the figure
// has a raw counterpart, so that a gate set on one machine holds on another (absolute numbers move from machine to machine, ratios within one run hold).
import type { GateInput, GateSample } from './verdict.js';
import type { BenchResults, LoadPhaseResult, ScenarioResult } from '../results.js';

export type GateMetric =
  'throughput_ratio' | 'delivered_ratio' | 'p99_ms' | 'p99_per_raw_op_ms' | 'replay_ratio_to_raw';

/** The metrics a gate compares, which way is better, and what one sample is. */
export const GATE_METRICS: Record<GateMetric, { better: 'higher' | 'lower'; description: string }> = {
  throughput_ratio: {
    better: 'higher',
    description: 'acknowledged operations in one second of a rate: max phase ÷ raw publishes/s of the same run',
  },
  delivered_ratio: {
    better: 'higher',
    description: 'acknowledged operations in one second of a fixed-rate phase ÷ the rate asked for',
  },
  p99_ms: {
    better: 'lower',
    description: 'p99 latency of the operations acknowledged in one second, ms (absolute: machine-dependent)',
  },
  p99_per_raw_op_ms: {
    better: 'lower',
    description: 'p99_ms × raw publishes/s ÷ 1000: p99 latency in raw publish times of the same run',
  },
  replay_ratio_to_raw: {
    better: 'higher',
    description: "one replay's events/s ÷ the same run's best raw ordered read",
  },
};

/** Scenarios in these states measured nothing a gate can trust, or not all of it. */
const EXCLUDED_STATUS = new Set<ScenarioResult['status']>(['error', 'skipped', 'interrupted']);

/**
 * The gate's view of a bench run: per scenario, per metric, the samples.
 *
 * Load phases give one sample per whole second. The first and last second a phase touches are
 * dropped: they are partial (the phase starts and ends mid-second), and the first also holds
 * fewer acknowledgements than operations issued because acknowledgements lag by a latency. A
 * second inside the phase with no operation finished at all (a stall; the recorder keeps no
 * sample for it) counts as 0 acknowledged — it is the worst second, not a missing one — but gives
 * no latency sample, as nothing was measured.
 *
 * - `throughput_ratio`: for phases at `rate: max`, acknowledged ÷ raw publishes/s. At a fixed rate
 *   the acknowledged count is what was asked for, not what the machine can do, and dividing it by
 *   the raw rate would make a faster machine look like a regression; so those phases give
 *   `delivered_ratio` instead, acknowledged ÷ rate (below 1 when the system cannot keep up).
 * - `p99_ms`: the second's p99 latency, as is — the run measures no raw publish latency to divide
 *   it by, so this one does not transfer across machines.
 * - `p99_per_raw_op_ms`: p99_ms × raw publishes/s ÷ 1000, the p99 in units of 1000/raw ms, the
 *   time the same cluster and client take per raw publish at saturation. On a machine twice as
 *   fast both halve, so the ratio holds to first order; it does not where latency comes from what
 *   the raw publish does not exercise (the appliance's CPU against the servers' disks), which is
 *   why `p99_ms` is kept beside it.
 * - `replay_ratio_to_raw`: one sample per replay phase (so insufficient data unless the scenario
 *   replays several times).
 *
 * `throughput_ratio` and `p99_per_raw_op_ms` are left out when the run has no raw publish baseline
 * (`replay_ratio_to_raw` has its own raw read, measured by the replay benchmark). A scenario that errored, was
 * skipped or interrupted gives no samples and says why in `excluded`; the gate then reports each
 * of its metrics as insufficient data.
 */
export function gateInput(results: BenchResults): GateInput {
  return {
    scenarios: results.scenarios.map((scenario) =>
      EXCLUDED_STATUS.has(scenario.status)
        ? {
            name: scenario.scenario,
            samples: [],
            excluded: `${scenario.status}${scenario.reason ? `: ${scenario.reason}` : ''}`,
          }
        : { name: scenario.scenario, samples: scenarioSamples(scenario) },
    ),
  };
}

function scenarioSamples(scenario: ScenarioResult): GateSample[] {
  const raw = scenario.baseline?.publish.perSecond ?? 0;
  const values: Record<GateMetric, number[]> = {
    throughput_ratio: [],
    delivered_ratio: [],
    p99_ms: [],
    p99_per_raw_op_ms: [],
    replay_ratio_to_raw: [],
  };
  const present = new Set<GateMetric>();
  for (const phase of scenario.phases) {
    if (phase.type === 'replay') {
      if (!phase.replay) continue;
      present.add('replay_ratio_to_raw');
      values.replay_ratio_to_raw.push(phase.replay.replayToRaw);
      continue;
    }
    if (phase.type !== 'load') continue;
    const throughput: GateMetric = phase.rate === 'max' ? 'throughput_ratio' : 'delivered_ratio';
    const divisor = phase.rate === 'max' ? raw : phase.rate;
    if (divisor > 0) present.add(throughput);
    present.add('p99_ms');
    if (raw > 0) present.add('p99_per_raw_op_ms');
    for (const second of wholeSeconds(phase)) {
      if (divisor > 0) values[throughput].push(second.ok / divisor);
      if (second.ok === 0) continue;
      values.p99_ms.push(second.p99Ms);
      if (raw > 0) values.p99_per_raw_op_ms.push((second.p99Ms * raw) / 1000);
    }
  }
  return (Object.keys(GATE_METRICS) as GateMetric[])
    .filter((m) => present.has(m))
    .map((metric) => ({ metric, better: GATE_METRICS[metric].better, values: values[metric] }));
}

/** The phase's seconds strictly between the first and the last it touches, a stall as 0 acknowledged. */
function wholeSeconds(phase: LoadPhaseResult): { ok: number; p99Ms: number }[] {
  const first = Math.floor(phase.startedAtMs / 1000);
  const last = Math.floor(phase.endedAtMs / 1000);
  const byTime = new Map(phase.perSecond.map((s) => [s.t, s]));
  const seconds: { ok: number; p99Ms: number }[] = [];
  for (let t = first + 1; t < last; t++) seconds.push(byTime.get(t) ?? { ok: 0, p99Ms: 0 });
  return seconds;
}
