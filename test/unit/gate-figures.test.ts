// What the gate compares of a bench run: one figure per repetition of a scenario and per phase —
// ratios to the same repetition's raw baseline, the phase's whole-histogram p99 — with excluded
// repetitions said to be so and a version matrix kept apart; on hand-made results and on a real
// `cim bench quick-steady` run (test/fixtures).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gate } from '../../scenarios/gate/verdict.js';
import { gateInput, gateScenarioName } from '../../scenarios/gate/figures.js';
import type { BenchResults, LoadPhaseResult, PhaseResult, ScenarioResult } from '../../scenarios/results.js';

function load(name: string, rate: number | 'max', ok: number, seconds: number, p99Ms: number): LoadPhaseResult {
  return {
    name,
    type: 'load',
    driver: 'nats',
    rate,
    concurrency: 8,
    startedAtMs: 0,
    endedAtMs: seconds * 1000,
    ok,
    failed: 0,
    unknown: 0,
    opsPerSec: ok / seconds,
    ratioToRaw: 0,
    latency: { count: ok, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms, p999Ms: 0, maxMs: 0, histogram: '' },
    perSecond: [],
    errorsByCode: {},
  };
}

const replay = (replayToRaw: number): PhaseResult => ({
  name: 'replay',
  type: 'replay',
  projection: 'p',
  startedAtMs: 9_000,
  endedAtMs: 9_500,
  replay: {
    projection: 'p',
    stream: 's',
    events: 1,
    rawReads: [],
    bestRaw: { batch: 1, messages: 1, seconds: 1, perSecond: 1 },
    replay: { events: 1, seconds: 1, perSecond: 1, lastSeq: 1 },
    replayToRaw,
  },
});

function scenario(
  name: string,
  phases: PhaseResult[],
  options: { status?: ScenarioResult['status']; reason?: string; rawPerSecond?: number; server?: string } = {},
): ScenarioResult {
  const { status = 'passed', reason, rawPerSecond, server } = options;
  return {
    scenario: name,
    description: '',
    seed: 1,
    status,
    ...(reason ? { reason } : {}),
    ...(server ? { server } : {}),
    startedAt: '2026-01-01T00:00:00Z',
    seconds: 10,
    cluster: { nodes: 3, replicas: 3, mode: 'embedded', servers: [], syncIntervalInEffect: 'default' },
    ...(rawPerSecond === undefined
      ? {}
      : {
          baseline: {
            stream: 'raw',
            replicas: 3,
            payloadBytes: 320,
            subjects: 1,
            inFlight: 256,
            publish: { messages: 1, seconds: 1, perSecond: rawPerSecond },
            read: { messages: 1, seconds: 1, perSecond: 1 },
            lost: 0,
            corrupted: 0,
            interrupted: false,
          },
        }),
    phases,
    metrics: {},
    checks: [],
    serverStats: [],
  };
}

function results(scenarios: ScenarioResult[]): BenchResults {
  return {
    v: 1,
    kind: 'performance-results',
    runId: 'r',
    createdAt: '2026-01-01T00:00:00Z',
    interrupted: false,
    scenarios,
    environment: {
      node: 'v20',
      platform: 'linux-x64',
      cpu: { model: 'x', cores: 2 },
      memoryBytes: 1,
      appliance: 'cim-appliance@0',
    },
  };
}

const byMetric = (input: ReturnType<typeof gateInput>, name: string) =>
  Object.fromEntries(input.scenarios.find((s) => s.name === name)!.samples.map((s) => [s.metric, s.values]));

describe('gateInput on hand-made results', () => {
  // Two repetitions of `saturate`, each with its own raw baseline; a third that errored.
  const repetition = (raw: number, okMax: number, okPaced: number, replayToRaw: number) =>
    scenario('saturate', [load('max', 'max', okMax, 5, 12), load('paced', 100, okPaced, 4, 20), replay(replayToRaw)], {
      rawPerSecond: raw,
    });
  const input = gateInput(
    results([
      repetition(2_000, 5_000, 400, 0.8),
      repetition(2_500, 5_000, 380, 0.7),
      scenario('saturate', [], { status: 'error', reason: 'the cluster did not start' }),
      scenario('no-raw', [load('paced', 100, 392, 4, 7)]),
      scenario('broken', [], { status: 'error', reason: 'the cluster did not start' }),
      scenario('attached-only', [], { status: 'skipped' }),
      scenario('stalled', [load('max', 'max', 0, 5, 0)], { rawPerSecond: 2_000 }),
    ]),
  );

  it('gives one figure per repetition and phase: throughput of rate: max phases as a ratio to that repetition’s raw publishes/s', () => {
    // 5,000 in 5 s = 1,000/s against 2,000 and 2,500 raw.
    expect(byMetric(input, 'saturate')['max.throughput_ratio']).toEqual([0.5, 0.4]);
  });

  it('gives fixed-rate phases as delivered ÷ asked for', () => {
    expect(byMetric(input, 'saturate')['paced.delivered_ratio']).toEqual([1, 0.95]);
    expect(byMetric(input, 'no-raw')['paced.delivered_ratio']).toEqual([0.98]);
  });

  it('gives the phase’s p99 as is and in raw publish times, and each replay, saying which way is better', () => {
    const samples = input.scenarios.find((s) => s.name === 'saturate')!.samples;
    expect(samples.map((s) => [s.metric, s.better, s.values])).toEqual([
      ['max.throughput_ratio', 'higher', [0.5, 0.4]],
      ['max.p99_ms', 'lower', [12, 12]],
      ['max.p99_per_raw_op_ms', 'lower', [24, 30]],
      ['paced.delivered_ratio', 'higher', [1, 0.95]],
      ['paced.p99_ms', 'lower', [20, 20]],
      ['paced.p99_per_raw_op_ms', 'lower', [40, 50]],
      ['replay.replay_ratio_to_raw', 'higher', [0.8, 0.7]],
    ]);
    expect(input.scenarios.find((s) => s.name === 'saturate')!.excluded).toBeUndefined();
  });

  it('leaves out the ratios to raw publishes when the run has no raw baseline', () => {
    expect(Object.keys(byMetric(input, 'no-raw'))).toEqual(['paced.delivered_ratio', 'paced.p99_ms']);
  });

  it('gives a phase that acknowledged nothing a throughput of 0 and no latency', () => {
    expect(byMetric(input, 'stalled')).toEqual({ 'max.throughput_ratio': [0] });
  });

  it('excludes errored and skipped scenarios, saying why', () => {
    expect(input.scenarios.filter((s) => s.excluded).map((s) => [s.name, s.samples.length, s.excluded])).toEqual([
      ['broken', 0, 'error: the cluster did not start'],
      ['attached-only', 0, 'skipped'],
    ]);
  });

  it('keeps a version matrix’s servers apart', () => {
    const matrix = gateInput(
      results([
        scenario('s', [load('max', 'max', 100, 1, 5)], { rawPerSecond: 200, server: '2.12.1' }),
        scenario('s', [load('max', 'max', 100, 1, 5)], { rawPerSecond: 100, server: '2.15.3' }),
      ]),
    );
    expect(matrix.scenarios.map((s) => [s.name, byMetric(matrix, s.name)['max.throughput_ratio']])).toEqual([
      ['s @ 2.12.1', [0.5]],
      ['s @ 2.15.3', [1]],
    ]);
    expect(gateScenarioName({ scenario: 's' })).toBe('s');
  });
});

describe('gateInput on a real quick-steady run', () => {
  const run = JSON.parse(
    readFileSync(new URL('../fixtures/bench-results-quick-steady.json', import.meta.url), 'utf8'),
  ) as BenchResults;

  it('gives its one repetition’s figures, from the phase’s own totals', () => {
    const [result] = run.scenarios;
    const phase = result!.phases.find((p) => p.type === 'load') as LoadPhaseResult;
    const raw = result!.baseline!.publish.perSecond;
    const metrics = byMetric(gateInput(run), 'quick-steady');
    expect(metrics).toEqual({
      [`${phase.name}.delivered_ratio`]: [phase.opsPerSec / (phase.rate as number)],
      [`${phase.name}.p99_ms`]: [phase.latency.p99Ms],
      [`${phase.name}.p99_per_raw_op_ms`]: [(phase.latency.p99Ms * raw) / 1000],
    });
  });

  it('compared with itself, one repetition a side is insufficient data, never a pass', () => {
    const result = gate(gateInput(run), gateInput(run));
    expect(result.comparisons.length).toBe(3);
    expect(result.comparisons.every((c) => c.verdict === 'insufficient-data')).toBe(true);
    expect(result.missing).toHaveLength(3);
  });
});
