// From a scenario's measurements to the figures its assertions name, and the assertions' verdicts.
// Pure functions: the runner measures, this derives.
import { mergeLatencies } from '../bench/index.js';
import { driverComparisons } from '../reports/index.js';
import type { FaultPhaseResult, LoadPhaseResult, PhaseResult, ScenarioResult } from './results.js';
import type { Assertion, ComparisonOperator } from './types.js';

function loadMetrics(phases: readonly LoadPhaseResult[], rawPerSecond: number): Record<string, number> {
  if (phases.length === 0) return {};
  const ok = phases.reduce((n, p) => n + p.ok, 0);
  const errors = phases.reduce((n, p) => n + p.failed + p.unknown, 0);
  // Overlapping phases share the wall clock: throughput is over the span they covered together.
  const span = (Math.max(...phases.map((p) => p.endedAtMs)) - Math.min(...phases.map((p) => p.startedAtMs))) / 1_000;
  const opsPerSec = span > 0 ? ok / span : 0;
  const latency = phases.length === 1 ? phases[0]!.latency : mergeLatencies(phases.map((p) => p.latency));
  return {
    ops: ok,
    errors,
    error_rate: ok + errors > 0 ? errors / (ok + errors) : 0,
    ops_per_sec: opsPerSec,
    ratio_to_raw: rawPerSecond > 0 ? opsPerSec / rawPerSecond : 0,
    p50_ms: latency.p50Ms,
    p90_ms: latency.p90Ms,
    p99_ms: latency.p99Ms,
    p999_ms: latency.p999Ms,
  };
}

function phaseMetrics(phase: PhaseResult, rawPerSecond: number): Record<string, number> {
  switch (phase.type) {
    case 'load':
      return loadMetrics([phase], rawPerSecond);
    case 'fault':
      return faultMetrics(phase);
    case 'replay':
      return phase.replay
        ? { replay_events_per_sec: phase.replay.replay.perSecond, replay_ratio_to_raw: phase.replay.replayToRaw }
        : {};
    default:
      return {};
  }
}

function faultMetrics(phase: FaultPhaseResult): Record<string, number> {
  const metrics: Record<string, number> = {};
  if (phase.recoveryMs !== undefined) metrics.recovery_ms = phase.recoveryMs;
  if (phase.stallMs !== undefined) metrics.stall_ms = phase.stallMs;
  return metrics;
}

/** Scenario-wide figures and each phase's own (`<phase>.<metric>`). */
export function scenarioMetrics(
  result: Pick<ScenarioResult, 'phases' | 'checker' | 'verification' | 'baseline'> &
    Pick<Partial<ScenarioResult>, 'replicas' | 'unserved'>,
): Record<string, number> {
  const rawPerSecond = result.baseline?.publish.perSecond ?? 0;
  const metrics: Record<string, number> = {};
  if (result.checker)
    Object.assign(metrics, {
      lost: result.checker.lost,
      unexpected: result.checker.unexpected,
      duplicates: result.checker.duplicates,
    });
  if (result.verification) metrics.verify_findings = result.verification.findings;
  if (result.replicas) metrics.replica_divergences = result.replicas.divergences.length;
  if (result.unserved) metrics.unserved_after_fault = 1;
  Object.assign(
    metrics,
    loadMetrics(
      result.phases.filter((p): p is LoadPhaseResult => p.type === 'load'),
      rawPerSecond,
    ),
  );
  const faultPhases = result.phases.filter((p): p is FaultPhaseResult => p.type === 'fault');
  const faults = faultPhases.map(faultMetrics);
  for (const key of ['recovery_ms', 'stall_ms'] as const) {
    // A fault the rate never recovered from leaves the scenario's recovery unmeasured, not the others' maximum.
    if (key === 'recovery_ms' && faultPhases.some((p) => p.recovered === false)) continue;
    const values = faults.map((f) => f[key]).filter((v): v is number => v !== undefined);
    if (values.length > 0) metrics[key] = Math.max(...values);
  }
  const down = faultPhases.reduce((n, p) => n + (p.fault?.stayedDown ? p.fault.nodes.length : 0), 0);
  if (faultPhases.some((p) => p.fault)) metrics.nodes_stayed_down = down;
  // The worst replay of the scenario stands for it.
  const replays = result.phases.flatMap((p) => (p.type === 'replay' && p.replay ? [p.replay] : []));
  if (replays.length > 0) {
    const worst = replays.reduce((a, b) => (b.replayToRaw < a.replayToRaw ? b : a));
    metrics.replay_events_per_sec = worst.replay.perSecond;
    metrics.replay_ratio_to_raw = worst.replayToRaw;
  }
  // HTTP against NATS, for the first http phase that has a nats phase of the same mix beside it.
  const [versus] = driverComparisons(result.phases);
  if (versus) {
    const figures = {
      http_to_nats_throughput: versus.throughput,
      http_to_nats_p50_ms: versus.p50,
      http_to_nats_p99_ms: versus.p99,
      http_to_nats_p999_ms: versus.p999,
    };
    for (const [key, value] of Object.entries(figures)) if (Number.isFinite(value)) metrics[key] = value;
  }
  for (const phase of result.phases) {
    for (const [key, value] of Object.entries(phaseMetrics(phase, rawPerSecond)))
      metrics[`${phase.name}.${key}`] = value;
  }
  return metrics;
}

const compare: Record<ComparisonOperator, (a: number, b: number) => boolean> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '>=': (a, b) => a >= b,
  '>': (a, b) => a > b,
};

/** An assertion against the figures; one whose figure was not measured fails, with `actual: null`. */
export function evaluate(
  assertion: Assertion,
  metrics: Record<string, number>,
): { text: string; ok: boolean; actual: number | null } {
  const key = assertion.phase ? `${assertion.phase}.${assertion.metric}` : assertion.metric;
  const actual = metrics[key];
  if (actual === undefined) return { text: assertion.text, ok: false, actual: null };
  return { text: assertion.text, ok: compare[assertion.op](actual, assertion.value), actual };
}
