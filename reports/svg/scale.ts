// Scales and ticks: the arithmetic of the charts, kept pure so it is tested on its own. Every
// function returns finite numbers for any input (empty, equal, infinite or NaN bounds), so a chart
// of degenerate data draws an empty frame rather than `NaN` into the SVG.

export interface Ticks {
  /** The domain widened to whole steps. */
  min: number;
  max: number;
  step: number;
  values: number[];
}

/** The nice step (1, 2 or 5 × 10ⁿ) closest to `rough`. */
export function niceStep(rough: number): number {
  if (!Number.isFinite(rough) || rough <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  const nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  return nice * power;
}

/** About `count` ticks at nice numbers covering [min, max]; a point domain is widened around itself. */
export function niceTicks(min: number, max: number, count = 5): Ticks {
  let lo = Number.isFinite(min) ? min : 0;
  let hi = Number.isFinite(max) ? max : lo + 1;
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) / 2;
    lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
    hi += pad;
  }
  const step = niceStep((hi - lo) / Math.max(1, count));
  const first = Math.floor(lo / step) * step;
  const last = Math.ceil(hi / step) * step;
  const values: number[] = [];
  for (let i = 0, v = first; v <= last + step / 2 && i < 100; i++, v = first + i * step) values.push(roundTo(v, step));
  return { min: roundTo(first, step), max: roundTo(last, step), step, values };
}

/** A linear map from a domain onto a range of pixels; a zero-width domain maps to the range's start. */
export function linearScale(
  domain: readonly [number, number],
  range: readonly [number, number],
): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0;
  return (v) => {
    if (!Number.isFinite(v) || !Number.isFinite(span) || span === 0) return r0;
    return r0 + ((v - d0) / span) * (r1 - r0);
  };
}

/**
 * The latency-percentile axis: p ↦ −log10(1 − p/100), so 90, 99, 99.9 and 99.99 are equally
 * spaced, as HdrHistogram's percentile plots draw them. 100 has no place on it; it is clamped.
 */
export function percentileToAxis(p: number): number {
  const clamped = Math.min(Math.max(Number.isFinite(p) ? p : 0, 0), 99.9999);
  return -Math.log10(1 - clamped / 100);
}

/** The percentiles labelled on a percentile axis that reaches `maxPercentile`. */
export function percentileTicks(maxPercentile = 99.99): number[] {
  return [50, 90, 99, 99.9, 99.99, 99.999].filter((p) => p <= maxPercentile + 1e-9);
}

/** A tick label: as many decimals as the step needs, thousands as k and millions as M. */
export function formatTick(v: number, step = v): string {
  if (!Number.isFinite(v)) return '–';
  const abs = Math.abs(v);
  if (abs >= 1e6 && Math.abs(step) >= 1e5) return `${trim((v / 1e6).toFixed(decimalsFor(step / 1e6)))}M`;
  if (abs >= 1e4 && Math.abs(step) >= 100) return `${trim((v / 1e3).toFixed(decimalsFor(step / 1e3)))}k`;
  return trim(v.toFixed(decimalsFor(step)));
}

function decimalsFor(step: number): number {
  if (!Number.isFinite(step) || step === 0) return 0;
  return Math.min(4, Math.max(0, -Math.floor(Math.log10(Math.abs(step)) + 1e-9)));
}

function trim(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

function roundTo(v: number, step: number): number {
  const decimals = decimalsFor(step) + 2;
  const rounded = Number(v.toFixed(decimals));
  return Object.is(rounded, -0) ? 0 : rounded;
}
