// The gate's verdicts on synthetic per-repetition figures (seeded): a known 20 % regression over
// five repetitions fails, equal runs pass, noise within the threshold passes, both directions of
// "better" are honoured, the correction for many comparisons holds, and nothing measured on one
// side only is dropped.
import { describe, expect, it } from 'vitest';
import {
  compareFigures,
  DEFAULT_THRESHOLD,
  gate,
  geometricMean,
  type GateInput,
  type MetricSamples,
} from '../../scenarios/gate/verdict.js';
import { seededRandom } from '../../bench/random.js';
import { CimError } from '../../appliance/index.js';

/** `n` repetitions' figures, log-normal around `centre` with standard deviation `noise` on the log scale. */
function figures(centre: number, n: number, seed: number, noise = 0.02): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
    return centre * Math.exp(noise * z);
  });
}

const throughput = (baseline: number[], candidate: number[]): MetricSamples => ({
  scenario: 'steady',
  metric: 'load.throughput_ratio',
  better: 'higher',
  baseline,
  candidate,
});
const latency = (baseline: number[], candidate: number[]): MetricSamples => ({
  scenario: 'steady',
  metric: 'load.p99_ms',
  better: 'lower',
  baseline,
  candidate,
});
const one = (samples: MetricSamples, options = {}) => {
  const input = (values: number[]): GateInput => ({
    scenarios: [{ name: samples.scenario, samples: [{ metric: samples.metric, better: samples.better, values }] }],
  });
  return gate(input(samples.baseline), input(samples.candidate), options).comparisons[0]!;
};

describe('compareFigures', () => {
  it('given five repetitions 20 % lower, then the change, its interval and a small p-value in the worse direction', () => {
    const { comparison, pWorse, pBetter } = compareFigures(throughput(figures(0.5, 5, 1), figures(0.4, 5, 2)));
    expect(comparison.relativeChange).toBeCloseTo(-0.2, 1);
    expect(comparison.confidenceInterval[0]).toBeLessThan(comparison.relativeChange);
    expect(comparison.confidenceInterval[1]).toBeGreaterThan(comparison.relativeChange);
    expect(comparison.confidenceInterval[1]).toBeLessThan(0);
    expect(pWorse).toBeLessThan(0.001);
    expect(pBetter).toBeGreaterThan(0.999);
    expect(comparison).toMatchObject({ method: 'welch-log', pValue: pWorse, baseline: { samples: 5 } });
    expect(comparison.baseline.center).toBeCloseTo(geometricMean(figures(0.5, 5, 1)), 12);
  });

  it('given fewer repetitions than the minimum, or a figure of 0, then insufficient data', () => {
    expect(compareFigures(throughput([0.5, 0.5], figures(0.4, 5, 2))).comparison.verdict).toBe('insufficient-data');
    expect(compareFigures(throughput([0.5, 0.5], [0.4, 0.4]), { minRepetitions: 2 }).comparison.verdict).toBe(
      'unchanged',
    );
    expect(compareFigures(throughput([0.5, 0, 0.5], figures(0.4, 3, 2))).comparison).toMatchObject({
      verdict: 'insufficient-data',
      relativeChange: 0,
      pValue: 1,
    });
    expect(compareFigures(throughput([], figures(0.4, 3, 2))).comparison).toMatchObject({
      verdict: 'insufficient-data',
      baseline: { center: 0, samples: 0 },
      candidate: { samples: 3 },
    });
  });

  it('ignores non-finite figures', () => {
    const c = compareFigures(throughput([...figures(0.5, 5, 1), NaN, Infinity], figures(0.5, 5, 2))).comparison;
    expect(c.baseline.samples).toBe(5);
  });

  it.each([
    [{ threshold: -0.1 }, 'gate threshold'],
    [{ confidence: 1 }, 'gate confidence'],
    [{ minRepetitions: 1 }, 'gate minimum repetitions'],
  ])('refuses bad options %o with CIM-INVALID-INPUT', (options, text) => {
    const call = () => compareFigures(throughput([1, 1, 1], [1, 1, 1]), options);
    expect(call).toThrow(CimError);
    expect(call).toThrow(text);
  });
});

describe('gate', () => {
  it('regresses on a 20 % throughput drop and a 20 % p99 rise, improves on the opposite', () => {
    expect(one(throughput(figures(0.5, 5, 1), figures(0.4, 5, 2))).verdict).toBe('regressed');
    expect(one(latency(figures(100, 5, 1), figures(120, 5, 2))).verdict).toBe('regressed');
    expect(one(throughput(figures(0.4, 5, 1), figures(0.5, 5, 2))).verdict).toBe('improved');
    expect(one(latency(figures(120, 5, 1), figures(100, 5, 2))).verdict).toBe('improved');
  });

  it('given equal runs, or a significant change within the threshold, then unchanged', () => {
    expect(one(throughput(figures(0.5, 5, 1), figures(0.5, 5, 2))).verdict).toBe('unchanged');
    // 3 % worse with 0.2 % noise: certainly real, but below the 5 % threshold.
    const small = one(throughput(figures(0.5, 8, 1, 0.002), figures(0.485, 8, 2, 0.002)));
    expect(small.adjustedPValue).toBeLessThan(0.001);
    expect(small.verdict).toBe('unchanged');
    expect(DEFAULT_THRESHOLD).toBe(0.05);
  });

  it('corrects for many comparisons: a 10 % drop that alone regresses (p ≈ 0.007) does not among twenty metrics', () => {
    // Four repetitions spread ±5 %, the candidate's exactly 10 % lower: one-sided p = 0.0074.
    const base = [0.95, 0.98, 1.02, 1.05].map((f) => 0.5 * f);
    const worse = base.map((v) => v * 0.9);
    const many = (first: number[], count: number): GateInput => ({
      scenarios: [
        {
          name: 'wide',
          samples: Array.from({ length: count }, (_, m) => ({
            metric: `load.m${m}`,
            better: 'higher' as const,
            values: m === 0 ? first : base,
          })),
        },
      ],
    });
    const alone = gate(many(base, 1), many(worse, 1)).comparisons[0]!;
    expect(alone.pValue).toBeCloseTo(0.0074, 3);
    expect(alone.verdict).toBe('regressed');
    const among = gate(many(base, 20), many(worse, 20)).comparisons[0]!;
    expect(among.pValue).toBe(alone.pValue);
    expect(among.adjustedPValue).toBeCloseTo(20 * alone.pValue, 9);
    expect(among.verdict).toBe('unchanged');
  });

  it("reports scenarios and metrics present on one side only as insufficient data, in baseline order then the candidate's", () => {
    const baseline: GateInput = {
      scenarios: [
        { name: 'gone', samples: [{ metric: 'load.throughput_ratio', better: 'higher', values: figures(0.5, 5, 1) }] },
        {
          name: 'steady',
          samples: [{ metric: 'load.throughput_ratio', better: 'higher', values: figures(0.5, 5, 2) }],
        },
      ],
    };
    const candidate: GateInput = {
      scenarios: [
        {
          name: 'steady',
          samples: [
            { metric: 'load.throughput_ratio', better: 'higher', values: figures(0.5, 5, 3) },
            { metric: 'load.p99_ms', better: 'lower', values: figures(100, 5, 4) },
          ],
        },
        { name: 'new', samples: [{ metric: 'load.p99_ms', better: 'lower', values: figures(100, 5, 5) }] },
      ],
    };
    const result = gate(baseline, candidate);
    expect(
      result.comparisons.map((c) => [c.scenario, c.metric, c.verdict, c.baseline.samples, c.candidate.samples]),
    ).toEqual([
      ['gone', 'load.throughput_ratio', 'insufficient-data', 5, 0],
      ['steady', 'load.throughput_ratio', 'unchanged', 5, 5],
      ['steady', 'load.p99_ms', 'insufficient-data', 0, 5],
      ['new', 'load.p99_ms', 'insufficient-data', 0, 5],
    ]);
    expect(result.comparisons[2]!.better).toBe('lower');
    expect(result).toMatchObject({ regressed: false, common: ['steady'] });
    expect(result.missing.map((c) => c.scenario)).toEqual(['gone', 'steady', 'new']);
  });

  it('reports a scenario with no figures on either side (errored both times) as insufficient data', () => {
    const excluded: GateInput = {
      scenarios: [{ name: 'broken', samples: [], excluded: 'error: cluster did not start' }],
    };
    expect(gate(excluded, excluded).comparisons).toEqual([
      expect.objectContaining({ scenario: 'broken', metric: 'samples', verdict: 'insufficient-data' }),
    ]);
  });

  it('says two runs with no scenario in common have nothing in common', () => {
    const a: GateInput = { scenarios: [{ name: 'a', samples: [] }] };
    const b: GateInput = { scenarios: [{ name: 'b', samples: [] }] };
    expect(gate(a, b).common).toEqual([]);
  });
});
