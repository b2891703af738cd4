// The gate's statistics against known values. The Mann–Whitney references are scipy 1.17's
// `mannwhitneyu(a, b, alternative='two-sided')` (and `method='asymptotic'` where marked), the
// quantiles numpy's default (`linear`, i.e. type 7), both computed once and written down here.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../bench/random.js';
import { bootstrapRelativeChange, mannWhitneyU, median, quantile } from '../../bench/statistics.js';

describe('median and quantile (type 7)', () => {
  it('interpolates between order statistics like R and numpy', () => {
    expect(quantile([1, 2, 3, 4, 10], 0.3)).toBeCloseTo(2.2, 12);
    const values = [3, 1, 4, 1, 5, 9, 2, 6];
    expect(quantile(values, 0.25)).toBeCloseTo(1.75, 12);
    expect(quantile(values, 0.9)).toBeCloseTo(6.9, 12);
    expect(median(values)).toBe(3.5);
    expect(values).toEqual([3, 1, 4, 1, 5, 9, 2, 6]);
  });

  it('gives the extremes at 0 and 1, the value itself for one value, NaN for none', () => {
    expect(quantile([7, 3, 5], 0)).toBe(3);
    expect(quantile([7, 3, 5], 1)).toBe(7);
    expect(median([42])).toBe(42);
    expect(median([])).toBeNaN();
  });

  it('refuses a p outside [0, 1]', () => {
    expect(() => quantile([1], 1.5)).toThrow(RangeError);
  });
});

describe('mannWhitneyU', () => {
  it('is exact for small samples without ties (scipy: p = 0.1 for [1,2,3] vs [4,5,6])', () => {
    expect(mannWhitneyU([1, 2, 3], [4, 5, 6])).toMatchObject({
      u: 0,
      pValue: expect.closeTo(0.1, 12),
      method: 'exact',
    });
    const r = mannWhitneyU([1.1, 3.3, 5.5, 7.7, 9.9], [2.2, 4.4, 6.6, 8.8, 10.5, 12.1]);
    expect(r).toMatchObject({ u: 10, method: 'exact' });
    expect(r.pValue).toBeCloseTo(0.42857142857142855, 12);
  });

  it('uses the tie-corrected normal approximation with continuity correction (scipy: p = 0.0052067…)', () => {
    const r = mannWhitneyU([1, 2, 2, 3, 3, 3, 4, 5, 5, 6], [3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 9]);
    expect(r.method).toBe('asymptotic');
    expect(r.u).toBe(17.5);
    expect(r.z).toBeLessThan(0);
    expect(r.pValue / 0.005206707948297662).toBeCloseTo(1, 5);
  });

  it('gives p = 1 for identical samples and for samples that are all one value', () => {
    const same = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(mannWhitneyU(same, same)).toMatchObject({ u: 50, pValue: 1 });
    expect(mannWhitneyU(Array(10).fill(5), Array(9).fill(5))).toMatchObject({ u: 45, z: 0, pValue: 1 });
  });

  it('gives a tiny p for disjoint samples (scipy: 3.0198593…e-11 for 1..30 vs 31..60)', () => {
    const low = Array.from({ length: 30 }, (_, i) => i + 1);
    const high = low.map((v) => v + 30);
    const r = mannWhitneyU(low, high);
    expect(r.u).toBe(0);
    expect(r.pValue / 3.019859359162157e-11).toBeCloseTo(1, 5);
    expect(mannWhitneyU(high, low)).toMatchObject({ u: 900, pValue: r.pValue });
    expect(mannWhitneyU(high, low).z).toBeCloseTo(-r.z, 12);
  });

  it('says nothing (p = 1) when a sample is empty', () => {
    expect(mannWhitneyU([], [1, 2, 3])).toMatchObject({ u: 0, z: 0, pValue: 1 });
  });
});

describe('bootstrapRelativeChange', () => {
  const around = (centre: number, n: number, seed: number) => {
    const random = seededRandom(seed);
    return Array.from({ length: n }, () => centre * (1 + (random.next() - 0.5) * 0.1));
  };

  it('brackets a known 20 % drop of the median', () => {
    const r = bootstrapRelativeChange(around(0.5, 60, 1), around(0.4, 60, 2))!;
    expect(r.change).toBeCloseTo(-0.2, 1);
    expect(r.interval[0]).toBeLessThan(r.change);
    expect(r.interval[1]).toBeGreaterThan(r.change);
    expect(r.interval[1]).toBeLessThan(-0.15);
    expect(r).toMatchObject({ confidence: 0.95, resamples: 2000 });
  });

  it('brackets 0 for two samples of one distribution', () => {
    const r = bootstrapRelativeChange(around(0.5, 60, 1), around(0.5, 60, 2))!;
    expect(r.interval[0]).toBeLessThan(0);
    expect(r.interval[1]).toBeGreaterThan(0);
  });

  it('repeats with the same seed, and moves with another', () => {
    const a = around(10, 30, 3);
    const b = around(11, 30, 4);
    const first = bootstrapRelativeChange(a, b, { random: seededRandom(7) });
    expect(bootstrapRelativeChange(a, b, { random: seededRandom(7) })).toEqual(first);
    expect(bootstrapRelativeChange(a, b)).toEqual(bootstrapRelativeChange(a, b, { random: seededRandom(1) }));
    expect(bootstrapRelativeChange(a, b, { random: seededRandom(8) })!.interval).not.toEqual(first!.interval);
  });

  it('narrows with a lower confidence level', () => {
    const a = around(10, 30, 3);
    const b = around(11, 30, 4);
    const wide = bootstrapRelativeChange(a, b, { confidence: 0.99 })!.interval;
    const narrow = bootstrapRelativeChange(a, b, { confidence: 0.8 })!.interval;
    expect(narrow[0]).toBeGreaterThan(wide[0]);
    expect(narrow[1]).toBeLessThan(wide[1]);
  });

  it('gives a point interval for constant samples', () => {
    expect(bootstrapRelativeChange([2, 2, 2], [3, 3, 3, 3])).toMatchObject({ change: 0.5, interval: [0.5, 0.5] });
  });

  it('is insufficient data (undefined) for an empty sample or a baseline median of zero or below', () => {
    expect(bootstrapRelativeChange([], [1, 2])).toBeUndefined();
    expect(bootstrapRelativeChange([1, 2], [])).toBeUndefined();
    expect(bootstrapRelativeChange([0, 0, 1], [1, 2, 3])).toBeUndefined();
    expect(bootstrapRelativeChange([-3, -2, -1], [1, 2, 3])).toBeUndefined();
  });

  it('gives an infinite bound when a resampled baseline median is zero', () => {
    const r = bootstrapRelativeChange([0, 0, 1, 1, 1], [1, 1, 1, 1, 1])!;
    expect(r.change).toBe(0);
    expect(r.interval[1]).toBe(Infinity);
  });

  it('refuses nonsense options', () => {
    expect(() => bootstrapRelativeChange([1], [1], { confidence: 1 })).toThrow(RangeError);
    expect(() => bootstrapRelativeChange([1], [1], { resamples: 0 })).toThrow(RangeError);
  });
});
