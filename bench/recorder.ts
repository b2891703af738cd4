// What a load phase measured: every operation's outcome and latency, in one HDR histogram for the
// phase and one per second (the per-second samples a gate compares), acknowledgements per second
// as a time series, errors by code, and the history the checker reads.
import * as hdr from 'hdr-histogram-js';
import type { Attempt } from './checker.js';
import { latencyHistogram, summarizeLatency, type LatencySummary } from './latency.js';

/** One operation as the driver saw it; times in ms since the scenario started. */
export interface OperationRecord extends Attempt {
  startMs: number;
  endMs: number;
  errorCode?: string;
}

export interface SecondSample {
  /** Seconds since the scenario started (the sample covers [t, t + 1)). */
  t: number;
  ok: number;
  failed: number;
  /** Latency percentiles of the operations acknowledged in that second, ms; 0 when there were none. */
  p50Ms: number;
  p99Ms: number;
}

export class PhaseRecorder {
  readonly operations: OperationRecord[] = [];
  readonly errors = new Map<string, number>();
  private readonly histogram = latencyHistogram();
  private readonly perSecond = new Map<number, { ok: number; failed: number; histogram: hdr.Histogram }>();
  ok = 0;
  failed = 0;
  unknown = 0;

  constructor(readonly phase: string) {}

  /**
   * Records one finished operation. Latency is end − start, where the driver sets start to when
   * the operation was *due* (fixed rate), so a stall shows as latency, not as a gap.
   */
  record(operation: OperationRecord): void {
    this.operations.push(operation);
    const second = Math.floor(operation.endMs / 1_000);
    let bucket = this.perSecond.get(second);
    if (!bucket) this.perSecond.set(second, (bucket = { ok: 0, failed: 0, histogram: latencyHistogram() }));
    if (operation.outcome === 'ok') {
      this.ok++;
      bucket.ok++;
      const micros = Math.max(1, Math.round((operation.endMs - operation.startMs) * 1_000));
      this.histogram.recordValue(micros);
      bucket.histogram.recordValue(micros);
    } else {
      if (operation.outcome === 'failed') this.failed++;
      else this.unknown++;
      bucket.failed++;
      const code = operation.errorCode ?? 'unknown';
      this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    }
  }

  /** Operations finished in the last whole second before `nowMs`, for the live display. */
  lastSecond(nowMs: number): { ok: number; failed: number; p99Ms: number } {
    const bucket = this.perSecond.get(Math.floor(nowMs / 1_000) - 1);
    return bucket
      ? { ok: bucket.ok, failed: bucket.failed, p99Ms: bucket.histogram.getValueAtPercentile(99) / 1_000 }
      : { ok: 0, failed: 0, p99Ms: 0 };
  }

  latency(): LatencySummary {
    return summarizeLatency(this.histogram);
  }

  seconds(): SecondSample[] {
    return [...this.perSecond.entries()]
      .sort(([a], [b]) => a - b)
      .map(([t, b]) => ({
        t,
        ok: b.ok,
        failed: b.failed,
        p50Ms: b.ok > 0 ? b.histogram.getValueAtPercentile(50) / 1_000 : 0,
        p99Ms: b.ok > 0 ? b.histogram.getValueAtPercentile(99) / 1_000 : 0,
      }));
  }

  errorsByCode(): Record<string, number> {
    return Object.fromEntries([...this.errors.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Frees the histograms' memory (WebAssembly or typed arrays); the summaries stay valid. */
  destroy(): void {
    this.histogram.destroy();
    for (const b of this.perSecond.values()) b.histogram.destroy();
    this.perSecond.clear();
  }
}
