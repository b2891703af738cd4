// Latency in one form for every benchmark and scenario: an HDR histogram of microseconds, its
// summary in milliseconds, and the merge of several summaries into one distribution.
import * as hdr from 'hdr-histogram-js';

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** HdrHistogram's compressed base64 form (µs), for merging and gates. */
  histogram: string;
}

/** Microseconds, 1 µs to 10 min, 3 significant digits. */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** Percentiles of a histogram in ms; max is the highest bucket's equivalent value, so max ≥ p99.9 always holds. */
export function summarizeLatency(h: hdr.Histogram): LatencySummary {
  const ms = (micros: number) => micros / 1_000;
  return {
    count: h.totalCount,
    meanMs: h.totalCount > 0 ? ms(h.mean) : 0,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.getValueAtPercentile(100)),
    histogram: hdr.encodeIntoCompressedBase64(h),
  };
}

/** Several phases' latencies as one distribution (for scenario-wide percentiles). */
export function mergeLatencies(summaries: readonly LatencySummary[]): LatencySummary {
  const merged = latencyHistogram();
  try {
    for (const s of summaries) {
      if (s.count === 0) continue;
      const h = hdr.decodeFromCompressedBase64(s.histogram);
      merged.add(h);
      h.destroy();
    }
    return summarizeLatency(merged);
  } finally {
    merged.destroy();
  }
}
