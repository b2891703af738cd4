// The gate's verdicts on synthetic per-second samples (seeded): a known 20 % regression fails,
// the same distribution passes, noise within the threshold passes, both directions of "better"
// are honoured, and nothing measured on one side only is dropped.
import { describe, expect, it } from 'vitest';
import {
  compareSamples,
  DEFAULT_THRESHOLD,
  gate,
  type GateInput,
  type MetricSamples,
} from '../../scenarios/gate/verdict.js';
import { seededRandom } from '../../bench/random.js';
import { CimError } from '../../appliance/index.js';

/** `n` per-second samples uniform within ±`noise` (relative) of `centre`. */
function samples(centre: number, n: number, seed: number, noise = 0.05): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => centre * (1 + (2 * random.next() - 1) * noise));
}

const throughput = (baseline: number[], candidate: number[]): MetricSamples => ({
  scenario: 'steady',
  metric: 'throughput_ratio',
  better: 'higher',
  baseline,
  candidate,
});
const latency = (baseline: number[], candidate: number[]): MetricSamples => ({
  scenario: 'steady',
  metric: 'p99_ms',
  better: 'lower',
  baseline,
  candidate,
});

const input = (name: string, values: number[], metric = 'throughput_ratio'): GateInput => ({
  scenarios: [{ name, samples: [{ metric, better: 'higher', values }] }],
});

describe('compareSamples', () => {
  it('given throughput 20 % lower, when compared, then it regressed, significantly and beyond the threshold', () => {
    const c = compareSamples(throughput(samples(0.5, 60, 1), samples(0.4, 60, 2)));
    expect(c.verdict).toBe('regressed');
    expect(c.relativeChange).toBeCloseTo(-0.2, 1);
    expect(c.confidenceInterval[1]).toBeLessThan(0);
    expect(c.pValue).toBeLessThan(1e-10);
    expect(c).toMatchObject({
      scenario: 'steady',
      metric: 'throughput_ratio',
      better: 'higher',
      threshold: DEFAULT_THRESHOLD,
      confidenceLevel: 0.95,
      baseline: { samples: 60 },
      candidate: { samples: 60 },
    });
    expect(c.baseline.median).toBeCloseTo(0.5, 1);
  });

  it('given two runs of one distribution (different seeds), then it is unchanged', () => {
    for (const seed of [3, 5, 7, 11, 13]) {
      expect(compareSamples(throughput(samples(0.5, 60, seed), samples(0.5, 60, seed + 100))).verdict).toBe(
        'unchanged',
      );
    }
  });

  it('given a candidate 2 % worse within a 5 % threshold, then it is unchanged, even though the difference is significant', () => {
    const c = compareSamples(throughput(samples(0.5, 60, 1, 0.01), samples(0.49, 60, 2, 0.01)), { threshold: 0.05 });
    expect(c.pValue).toBeLessThan(0.05);
    expect(c.verdict).toBe('unchanged');
  });

  it('given a change beyond the threshold that the noise cannot tell apart, then it is unchanged', () => {
    // ±60 % noise on 6 samples each: the medians differ by ~10 %, the test cannot say so.
    const c = compareSamples(throughput(samples(0.5, 6, 1, 0.6), samples(0.45, 6, 2, 0.6)));
    expect(Math.abs(c.relativeChange)).toBeGreaterThan(0.05);
    expect(c.verdict).toBe('unchanged');
  });

  it('given throughput 20 % higher, then it improved', () => {
    expect(compareSamples(throughput(samples(0.4, 60, 1), samples(0.5, 60, 2))).verdict).toBe('improved');
  });

  it('given latency 20 % higher (lower is better), then it regressed; 20 % lower, improved', () => {
    const worse = compareSamples(latency(samples(100, 60, 1), samples(120, 60, 2)));
    expect(worse.verdict).toBe('regressed');
    expect(worse.relativeChange).toBeCloseTo(0.2, 1);
    expect(worse.confidenceInterval[0]).toBeGreaterThan(0);
    expect(compareSamples(latency(samples(120, 60, 1), samples(100, 60, 2))).verdict).toBe('improved');
  });

  it('repeats exactly with the same seed', () => {
    const m = throughput(samples(0.5, 30, 1), samples(0.47, 30, 2));
    expect(compareSamples(m, { seed: 9 })).toEqual(compareSamples(m, { seed: 9 }));
  });

  it('is insufficient data with fewer than minSamples on a side, with finite placeholders', () => {
    const c = compareSamples(throughput(samples(0.5, 4, 1), samples(0.4, 60, 2)));
    expect(c).toMatchObject({
      verdict: 'insufficient-data',
      baseline: { samples: 4 },
      confidenceInterval: [0, 0],
      pValue: 1,
    });
    expect(c.relativeChange).toBeCloseTo(-0.2, 1);
    expect(compareSamples(throughput(samples(0.5, 4, 1), samples(0.4, 60, 2)), { minSamples: 4 }).verdict).toBe(
      'regressed',
    );
    expect(compareSamples(throughput([], samples(0.4, 60, 2)))).toMatchObject({
      verdict: 'insufficient-data',
      baseline: { median: 0, samples: 0 },
      relativeChange: 0,
    });
  });

  it('is insufficient data when the baseline median is zero, or resamples of it are', () => {
    expect(compareSamples(throughput([0, 0, 0, 0, 0, 1], samples(0.4, 60, 2))).verdict).toBe('insufficient-data');
    expect(compareSamples(throughput([0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1])).verdict).toBe('insufficient-data');
  });

  it('ignores non-finite values', () => {
    const c = compareSamples(throughput([...samples(0.5, 60, 1), NaN, Infinity], samples(0.5, 60, 2)));
    expect(c.baseline.samples).toBe(60);
    expect(c.verdict).toBe('unchanged');
  });

  it('refuses a nonsense threshold or confidence with CIM-INVALID-INPUT', () => {
    const m = throughput([1], [1]);
    for (const options of [{ threshold: -0.1 }, { confidence: 95 }, { minSamples: 0 }, { resamples: 1.5 }]) {
      expect(() => compareSamples(m, options)).toThrow(
        expect.objectContaining({ code: 'CIM-INVALID-INPUT' }) as CimError,
      );
    }
  });
});

describe('gate', () => {
  it('given a run with a 20 % regression in one metric, then the gate regressed, naming it', () => {
    const baseline: GateInput = {
      scenarios: [
        {
          name: 'steady',
          samples: [
            { metric: 'throughput_ratio', better: 'higher', values: samples(0.5, 60, 1) },
            { metric: 'p99_ms', better: 'lower', values: samples(100, 60, 2) },
          ],
        },
      ],
    };
    const candidate: GateInput = {
      scenarios: [
        {
          name: 'steady',
          samples: [
            { metric: 'throughput_ratio', better: 'higher', values: samples(0.4, 60, 3) },
            { metric: 'p99_ms', better: 'lower', values: samples(100, 60, 4) },
          ],
        },
      ],
    };
    const result = gate(baseline, candidate);
    expect(result.regressed).toBe(true);
    expect(result.comparisons.map((c) => [c.metric, c.verdict])).toEqual([
      ['throughput_ratio', 'regressed'],
      ['p99_ms', 'unchanged'],
    ]);
  });

  it('given identical distributions, then the gate passes', () => {
    const result = gate(input('steady', samples(0.5, 60, 1)), input('steady', samples(0.5, 60, 2)));
    expect(result).toMatchObject({ regressed: false, comparisons: [{ verdict: 'unchanged' }] });
  });

  it('given noise within the threshold (2 % worse, threshold 5 %), then the gate passes', () => {
    expect(
      gate(input('steady', samples(0.5, 60, 1)), input('steady', samples(0.49, 60, 2)), { threshold: 0.05 }).regressed,
    ).toBe(false);
  });

  it("reports scenarios and metrics present on one side only as insufficient data, in baseline order then the candidate's", () => {
    const baseline: GateInput = {
      scenarios: [
        { name: 'gone', samples: [{ metric: 'throughput_ratio', better: 'higher', values: samples(0.5, 60, 1) }] },
        ...input('steady', samples(0.5, 60, 2)).scenarios,
      ],
    };
    const candidate: GateInput = {
      scenarios: [
        {
          name: 'steady',
          samples: [
            { metric: 'throughput_ratio', better: 'higher', values: samples(0.5, 60, 3) },
            { metric: 'p99_ms', better: 'lower', values: samples(100, 60, 4) },
          ],
        },
        { name: 'new', samples: [{ metric: 'p99_ms', better: 'lower', values: samples(100, 60, 5) }] },
      ],
    };
    const result = gate(baseline, candidate);
    expect(
      result.comparisons.map((c) => [c.scenario, c.metric, c.verdict, c.baseline.samples, c.candidate.samples]),
    ).toEqual([
      ['gone', 'throughput_ratio', 'insufficient-data', 60, 0],
      ['steady', 'throughput_ratio', 'unchanged', 60, 60],
      ['steady', 'p99_ms', 'insufficient-data', 0, 60],
      ['new', 'p99_ms', 'insufficient-data', 0, 60],
    ]);
    expect(result.comparisons[2]!.better).toBe('lower');
    expect(result.regressed).toBe(false);
  });

  it('reports a scenario with no samples on either side (errored both times) as insufficient data', () => {
    const excluded: GateInput = {
      scenarios: [{ name: 'broken', samples: [], excluded: 'status error: cluster did not start' }],
    };
    expect(gate(excluded, excluded).comparisons).toEqual([
      expect.objectContaining({ scenario: 'broken', metric: 'samples', verdict: 'insufficient-data' }),
    ]);
  });
});
