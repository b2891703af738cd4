// How often the gate is wrong, by simulation (docs/architecture.md#performance-gate): equal runs
// that it calls regressed (the false-positive rate) and a real regression that it sees (power), for
// a number of repetitions, a noise level and a regression size. The noise is what one repetition's
// figure varies by from repetition to repetition — a fresh cluster, its own raw baseline, its own
// leader placement — drawn on the log scale, normal or heavier-tailed (Student t with 4 degrees of
// freedom, scaled to the same standard deviation) to see how the t-test holds when it is not normal.
// Seeded, so a table repeats.
import { seededRandom, type Random } from '../../bench/index.js';
import { gate, type GateInput, type GateOptions } from './verdict.js';

export interface SimulationOptions {
  /** Repetitions on each side. */
  repetitions: number;
  /** Standard deviation of log(figure) between repetitions: 0.05 is about ±5 %. */
  noise: number;
  /** How much worse the candidate's first metric is (0.1: 10 % lower throughput); 0 for equal runs. */
  regression: number;
  /** Metrics compared at once (the gate corrects for all of them). */
  metrics: number;
  /** Simulated gates. */
  trials: number;
  tails?: 'normal' | 'heavy';
  seed?: number;
  gate?: GateOptions;
}

export interface SimulationResult {
  /** Share of trials in which any metric came out regressed although only the first was made worse (all of them, when regression is 0). */
  falsePositiveRate: number;
  /** Share of trials in which the regressed metric came out regressed (0 when regression is 0). */
  power: number;
}

export function simulateGate(options: SimulationOptions): SimulationResult {
  const random = seededRandom(options.seed ?? 1);
  const draw = options.tails === 'heavy' ? heavyTailed : normal;
  let falsePositives = 0;
  let detected = 0;
  for (let trial = 0; trial < options.trials; trial++) {
    const side = (shift: number): GateInput => ({
      scenarios: [
        {
          name: 'simulated',
          samples: Array.from({ length: options.metrics }, (_, m) => ({
            metric: `load.metric_${m}`,
            better: 'higher' as const,
            values: Array.from({ length: options.repetitions }, () =>
              Math.exp((m === 0 ? Math.log(1 - shift) : 0) + options.noise * draw(random)),
            ),
          })),
        },
      ],
    });
    const result = gate(side(0), side(options.regression), options.gate);
    const regressed = result.comparisons.map((c) => c.verdict === 'regressed');
    if (regressed.some((r, m) => r && (options.regression === 0 || m > 0))) falsePositives++;
    if (options.regression > 0 && regressed[0]) detected++;
  }
  return { falsePositiveRate: falsePositives / options.trials, power: detected / options.trials };
}

/** Standard normal (Box–Muller). */
function normal(random: Random): number {
  const u = 1 - random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
}

/** Student t with 4 degrees of freedom, scaled to variance 1 (its variance is 2). */
function heavyTailed(random: Random): number {
  let chi = 0;
  for (let i = 0; i < 4; i++) chi += normal(random) ** 2;
  return normal(random) / Math.sqrt(chi / 4) / Math.SQRT2;
}
