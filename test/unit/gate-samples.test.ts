// What the gate compares of a bench run: per-second ratios to the same run's raw baseline, whole
// seconds only, stalls as zero, excluded scenarios said to be so — on hand-made results and on a
// real `cim bench quick-steady` run (test/fixtures, histograms and server stats trimmed).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gate } from '../../scenarios/gate/verdict.js';
import { seededRandom } from '../../bench/random.js';
import type { SecondSample } from '../../bench/index.js';
import { gateInput } from '../../scenarios/gate/samples.js';
import type { BenchResults, LoadPhaseResult, PhaseResult, ScenarioResult } from '../../scenarios/results.js';

const second = (t: number, ok: number, p99Ms = 10): SecondSample => ({ t, ok, failed: 0, p50Ms: p99Ms / 2, p99Ms });

function load(
  name: string,
  rate: number | 'max',
  startedAtMs: number,
  endedAtMs: number,
  perSecond: SecondSample[],
): LoadPhaseResult {
  return {
    name,
    type: 'load',
    driver: 'nats',
    rate,
    concurrency: 8,
    startedAtMs,
    endedAtMs,
    ok: 0,
    failed: 0,
    unknown: 0,
    opsPerSec: 0,
    ratioToRaw: 0,
    latency: { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, histogram: '' },
    perSecond,
    errorsByCode: {},
  };
}

function scenario(
  name: string,
  phases: PhaseResult[],
  options: { status?: ScenarioResult['status']; reason?: string; rawPerSecond?: number } = {},
): ScenarioResult {
  const { status = 'passed', reason, rawPerSecond } = options;
  return {
    scenario: name,
    description: '',
    seed: 1,
    status,
    ...(reason ? { reason } : {}),
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
  const input = gateInput(
    results([
      scenario(
        'saturate',
        [
          // Touches seconds 0..5: 0 and 5 are partial; 3 saw nothing finish (a stall).
          load('max', 'max', 500, 5_200, [
            second(0, 400, 50),
            second(1, 900, 11),
            second(2, 1_000, 12),
            second(4, 800, 14),
            second(5, 100, 99),
          ]),
          // Touches 5..8 (ends on the boundary): 6 and 7 are whole.
          load('paced', 100, 5_200, 8_000, [second(5, 30), second(6, 100, 20), second(7, 95, 30)]),
          replay(0.8),
        ],
        { rawPerSecond: 2_000, status: 'failed' },
      ),
      scenario('no-raw', [
        load('paced', 100, 0, 3_500, [second(0, 90), second(1, 100, 7), second(2, 98, 8), second(3, 10)]),
      ]),
      scenario('broken', [], { status: 'error', reason: 'the cluster did not start' }),
      scenario('attached-only', [], { status: 'skipped' }),
      scenario('cut-short', [load('max', 'max', 0, 4_000, [second(1, 1_000)])], {
        status: 'interrupted',
        rawPerSecond: 2_000,
      }),
    ]),
  );

  it('gives throughput of rate: max phases per whole second as a ratio to raw publishes/s, a stalled second as 0', () => {
    expect(byMetric(input, 'saturate').throughput_ratio).toEqual([0.45, 0.5, 0, 0.4]);
  });

  it('gives throughput of fixed-rate phases as a ratio to the rate asked for', () => {
    expect(byMetric(input, 'saturate').delivered_ratio).toEqual([1, 0.95]);
    expect(byMetric(input, 'no-raw').delivered_ratio).toEqual([1, 0.98]);
  });

  it('gives p99 per whole second with something acknowledged, as is and in raw publish times', () => {
    const metrics = byMetric(input, 'saturate');
    expect(metrics.p99_ms).toEqual([11, 12, 14, 20, 30]);
    // 1000 / 2000 raw publishes/s = 0.5 ms a raw publish.
    expect(metrics.p99_per_raw_op_ms).toEqual([22, 24, 28, 40, 60]);
  });

  it('gives each replay as one sample, and says which way is better for every metric', () => {
    const samples = input.scenarios.find((s) => s.name === 'saturate')!.samples;
    expect(samples.map((s) => [s.metric, s.better])).toEqual([
      ['throughput_ratio', 'higher'],
      ['delivered_ratio', 'higher'],
      ['p99_ms', 'lower'],
      ['p99_per_raw_op_ms', 'lower'],
      ['replay_ratio_to_raw', 'higher'],
    ]);
    expect(byMetric(input, 'saturate').replay_ratio_to_raw).toEqual([0.8]);
  });

  it('leaves out the ratios to raw publishes when the run has no raw baseline', () => {
    expect(Object.keys(byMetric(input, 'no-raw'))).toEqual(['delivered_ratio', 'p99_ms']);
  });

  it('excludes errored, skipped and interrupted scenarios, saying why, and the gate reports them as insufficient data', () => {
    expect(input.scenarios.filter((s) => s.excluded).map((s) => [s.name, s.samples.length, s.excluded])).toEqual([
      ['broken', 0, 'error: the cluster did not start'],
      ['attached-only', 0, 'skipped'],
      ['cut-short', 0, 'interrupted'],
    ]);
    const healthy = gateInput(
      results([
        scenario(
          'cut-short',
          [
            load(
              'max',
              'max',
              0,
              9_000,
              Array.from({ length: 9 }, (_, t) => second(t, 1_000)),
            ),
          ],
          { rawPerSecond: 2_000 },
        ),
      ]),
    );
    const comparisons = gate(healthy, input).comparisons.filter((c) => c.scenario === 'cut-short');
    expect(comparisons.map((c) => [c.metric, c.verdict, c.candidate.samples])).toEqual([
      ['throughput_ratio', 'insufficient-data', 0],
      ['p99_ms', 'insufficient-data', 0],
      ['p99_per_raw_op_ms', 'insufficient-data', 0],
    ]);
  });
});

describe('gateInput on a real quick-steady run', () => {
  const run = JSON.parse(
    readFileSync(new URL('../fixtures/bench-results-quick-steady.json', import.meta.url), 'utf8'),
  ) as BenchResults;
  const raw = run.scenarios[0]!.baseline!.publish.perSecond;

  it('gives the 7 whole seconds of the 8-second phase at 200/s (the 9 it touches less the first and the last)', () => {
    const metrics = byMetric(gateInput(run), 'quick-steady');
    expect(Object.keys(metrics)).toEqual(['delivered_ratio', 'p99_ms', 'p99_per_raw_op_ms']);
    expect(metrics.delivered_ratio).toEqual([219, 202, 199, 122, 244, 199, 175].map((ok) => ok / 200));
    expect(metrics.p99_ms).toEqual([224.895, 219.519, 401.407, 443.391, 414.719, 372.991, 395.263]);
    // The same seven seconds' p99 in raw publish times, from the figures above and the run's raw rate.
    expect(metrics.p99_per_raw_op_ms).toHaveLength(7);
    metrics.p99_per_raw_op_ms!.forEach((v, i) =>
      expect(v).toBeCloseTo(([224.895, 219.519, 401.407, 443.391, 414.719, 372.991, 395.263][i]! * raw) / 1000, 9),
    );
  });

  /** A copy of the run whose per-second figures are scaled (acknowledged by `ok`, p99 by `p99`), each with seeded noise of ±2 %. */
  const scaled = (seed: number, ok: number, p99: number): BenchResults => {
    const copy = structuredClone(run);
    const random = seededRandom(seed);
    for (const phase of copy.scenarios[0]!.phases) {
      if (phase.type !== 'load') continue;
      for (const s of phase.perSecond) {
        s.ok = Math.round(s.ok * ok * (1 + (2 * random.next() - 1) * 0.02));
        s.p99Ms *= p99 * (1 + (2 * random.next() - 1) * 0.02);
      }
    }
    return copy;
  };

  it('compared with a copy within ±2 % of it second by second (seeded), is unchanged everywhere, on real differences', () => {
    const result = gate(gateInput(run), gateInput(scaled(7, 1, 1)), { threshold: 0.1 });
    expect(result.regressed).toBe(false);
    expect(result.comparisons.map((c) => [c.metric, c.verdict, c.baseline.samples, c.candidate.samples])).toEqual([
      ['delivered_ratio', 'unchanged', 7, 7],
      ['p99_ms', 'unchanged', 7, 7],
      ['p99_per_raw_op_ms', 'unchanged', 7, 7],
    ]);
    // Other samples than the baseline's (the medians moved), where a run compared with itself gives a change of 0 and p = 1.
    expect(result.comparisons.every((c) => c.relativeChange !== 0 && Math.abs(c.relativeChange) < 0.03)).toBe(true);
  });

  it('compared with a copy acknowledging 20 % fewer each second (seeded noise), regresses on the delivered ratio only, though its 7 noisy seconds barely show it', () => {
    const result = gate(gateInput(run), gateInput(scaled(7, 0.8, 1)), { threshold: 0.1 });
    expect(result.comparisons.map((c) => [c.metric, c.verdict])).toEqual([
      ['delivered_ratio', 'regressed'],
      ['p99_ms', 'unchanged'],
      ['p99_per_raw_op_ms', 'unchanged'],
    ]);
    const delivered = result.comparisons[0]!;
    expect(delivered.relativeChange).toBeCloseTo(-0.2, 1);
    // Significant, but not by much: the verdict could have gone the other way.
    expect(delivered.pValue).toBeLessThan(0.05);
    expect(delivered.pValue).toBeGreaterThan(0.001);
  });

  it('compared with a copy whose p99 is 20 % higher, finds no regression: 7 seconds this noisy cannot tell 20 % of latency from noise', () => {
    const result = gate(gateInput(run), gateInput(scaled(7, 1, 1.2)), { threshold: 0.1 });
    expect(result.comparisons.map((c) => [c.metric, c.verdict])).toEqual([
      ['delivered_ratio', 'unchanged'],
      ['p99_ms', 'unchanged'],
      ['p99_per_raw_op_ms', 'unchanged'],
    ]);
    expect(result.comparisons[1]!.relativeChange).toBeGreaterThan(0.1);
  });

  it('compared with a copy whose latency doubled, regresses on latency only', () => {
    const slower = structuredClone(run);
    for (const phase of slower.scenarios[0]!.phases)
      if (phase.type === 'load') for (const s of phase.perSecond) s.p99Ms *= 2;
    const result = gate(gateInput(run), gateInput(slower));
    expect(result.comparisons.map((c) => [c.metric, c.verdict])).toEqual([
      ['delivered_ratio', 'unchanged'],
      ['p99_ms', 'regressed'],
      ['p99_per_raw_op_ms', 'regressed'],
    ]);
    expect(result.regressed).toBe(true);
  });
});
