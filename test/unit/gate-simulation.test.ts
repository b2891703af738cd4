// The gate's error rates by simulation, at its defaults (five repetitions a side, threshold 5 %,
// 95 %): equal runs show a regression in at most 5 % of gates however many metrics and whatever
// the tails, a 10 % regression is seen when repetitions vary by 3 % or less, and the `detectable`
// figure a comparison reports is the size seen with about 80 % probability. These are the figures
// docs/architecture.md#performance-gate gives.
import { describe, expect, it } from 'vitest';
import { simulateGate } from '../../scenarios/gate/simulation.js';
import { gate, type GateInput } from '../../scenarios/gate/verdict.js';

const TRIALS = 2000;
// Three standard errors of a rate of 0.05 over TRIALS gates: what Monte Carlo alone may add.
const MC = 3 * Math.sqrt((0.05 * 0.95) / TRIALS);

describe('gate simulation at the defaults (5 repetitions a side)', () => {
  it.each([
    [0.02, 'normal'],
    [0.05, 'normal'],
    [0.12, 'normal'],
    [0.05, 'heavy'],
    [0.3, 'heavy'],
  ] as const)('equal runs with noise %s (%s tails), 8 metrics: at most 5 percent of gates regress', (noise, tails) => {
    const { falsePositiveRate } = simulateGate({
      repetitions: 5,
      noise,
      tails,
      regression: 0,
      metrics: 8,
      trials: TRIALS,
      seed: 3,
    });
    expect(falsePositiveRate).toBeLessThanOrEqual(0.05 + MC);
  });

  it('sees a 10 % regression in at least 85 % of gates when repetitions vary by 3 %', () => {
    const { power, falsePositiveRate } = simulateGate({
      repetitions: 5,
      noise: 0.03,
      regression: 0.1,
      metrics: 8,
      trials: TRIALS,
      seed: 4,
    });
    expect(power).toBeGreaterThanOrEqual(0.85);
    expect(falsePositiveRate).toBeLessThanOrEqual(0.05 + MC);
  });

  it('sees a 10 % regression rarely when repetitions vary by 12 %: more repetitions or a quieter machine are needed', () => {
    const { power } = simulateGate({
      repetitions: 5,
      noise: 0.12,
      regression: 0.1,
      metrics: 8,
      trials: TRIALS,
      seed: 5,
    });
    expect(power).toBeLessThan(0.2);
  });

  it('reports as detectable about the change it sees with 80 % probability', () => {
    // One metric, noise 0.05: what the gate says it can see, and whether it is seen that often.
    const spread = (shift: number): GateInput => ({
      scenarios: [
        {
          name: 's',
          samples: [
            {
              metric: 'load.m',
              better: 'higher',
              values: [-1.2649, -0.6325, 0, 0.6325, 1.2649].map((z) => Math.exp(Math.log(1 - shift) + 0.05 * z)),
            },
          ],
        },
      ],
    });
    // Those five points have a standard deviation of exactly 1 on the z scale, so the spread is 0.05.
    const detectable = gate(spread(0), spread(0)).comparisons[0]!.detectable!;
    expect(detectable).toBeGreaterThan(0.07);
    expect(detectable).toBeLessThan(0.1);
    const { power } = simulateGate({
      repetitions: 5,
      noise: 0.05,
      regression: detectable,
      metrics: 1,
      trials: TRIALS,
      seed: 6,
    });
    expect(power).toBeGreaterThan(0.7);
    expect(power).toBeLessThan(0.9);
  });
});
