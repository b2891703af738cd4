// Welch's t-test and Holm's adjustment against figures R gives for the same data
// (t.test(b, a), p.adjust(p, "holm")).
import { describe, expect, it } from 'vitest';
import { detectableDifference, holmAdjust, pooledStandardDeviation, welchTTest } from '../../bench/t-test.js';

describe('welchTTest', () => {
  it('given a = 1..5 and b = 2·a, then t, df, p and the interval are R’s', () => {
    const r = welchTTest([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])!;
    expect(r.difference).toBe(3);
    expect(r.standardError).toBeCloseTo(Math.sqrt(2.5), 12);
    expect(r.degreesOfFreedom).toBeCloseTo(5.882353, 6);
    // R: t = 1.8974, df = 5.8824, p-value = 0.1075; 95 % CI -0.8878 6.8878.
    expect(r.pValue).toBeCloseTo(0.1075, 4);
    expect(r.interval[0]).toBeCloseTo(-0.8878, 3);
    expect(r.interval[1]).toBeCloseTo(6.8878, 3);
    expect(r.pGreater).toBeCloseTo(r.pValue / 2, 12);
    expect(r.pLess).toBeCloseTo(1 - r.pValue / 2, 12);
  });

  it('needs two values a side, and treats samples without spread as exact', () => {
    expect(welchTTest([1], [1, 2])).toBeUndefined();
    expect(welchTTest([2, 2], [2, 2])).toMatchObject({ pValue: 1, pGreater: 1, pLess: 1, interval: [0, 0] });
    expect(welchTTest([2, 2], [3, 3])).toMatchObject({ pValue: 0, pGreater: 0, pLess: 1, interval: [1, 1] });
  });

  it('refuses a confidence outside (0, 1)', () => {
    expect(() => welchTTest([1, 2], [1, 2], 1)).toThrow(RangeError);
  });
});

describe('holmAdjust', () => {
  it('adjusts in the order given, monotone in the sorted order, capped at 1', () => {
    expect(holmAdjust([0.01, 0.04, 0.03, 0.005]).map((p) => +p.toFixed(10))).toEqual([0.03, 0.06, 0.06, 0.02]);
    expect(holmAdjust([0.5, 0.6])).toEqual([1, 1]);
    expect(holmAdjust([])).toEqual([]);
  });
});

describe('detectableDifference', () => {
  it('is (t.95 + t.80) · sd · √(2/n): 0.0869 for sd 0.05 and five a side', () => {
    // t(0.95, 8) = 1.859548, t(0.80, 8) = 0.888889.
    expect(detectableDifference(0.05, 5, 5, 0.05)).toBeCloseTo((1.859548 + 0.888889) * 0.05 * Math.sqrt(0.4), 5);
    expect(detectableDifference(0.05, 1, 1, 0.05)).toBe(Infinity);
  });

  it('pools the spread of both samples', () => {
    expect(pooledStandardDeviation([1, 2, 3], [2, 4, 6])).toBeCloseTo(Math.sqrt((2 * 1 + 2 * 4) / 4), 12);
  });
});
