// Driving load: a fixed window of concurrent lanes (throughput), an open loop at a fixed rate
// (latency), and the figures they produce. Shared by every benchmark, so all measure alike.
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { latencyHistogram, summarizeLatency, type LatencySummary } from './latency.js';

export interface ThroughputFigure {
  /** Acknowledged messages. */
  messages: number;
  failed: number;
  seconds: number;
  perSecond: number;
}

/** A fixed-rate phase's latency: publish→ack in ms (for appends: from the call, including waiting for the aggregate's previous append). */
export interface LatencyFigure extends LatencySummary {
  targetRate: number;
  /** Messages issued per second (lower than the target when the client fell behind). */
  achievedRate: number;
  sent: number;
  acked: number;
  failed: number;
  seconds: number;
  /** How far the sender ever fell behind its schedule: large values mean the rate was not held. */
  maxScheduleLagMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function rate(messages: number, seconds: number): number {
  return seconds > 0 ? messages / seconds : 0;
}

/**
 * Runs `total` operations on `lanes` concurrent loops, each awaiting its operation before taking
 * the next: a fixed window without the O(window) cost per message of racing a set of promises.
 */
export async function runLanes(
  lanes: number,
  total: number,
  operation: (index: number) => Promise<boolean>,
  progress: (done: number) => void,
  signal?: AbortSignal,
): Promise<{ ok: number; failed: number; seconds: number }> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const every = Math.max(1, Math.floor(total / 20));
  const started = performance.now();
  const lane = async () => {
    while (next < total && !signal?.aborted) {
      const index = next++;
      if (await operation(index)) ok++;
      else failed++;
      if ((ok + failed) % every === 0) progress(ok + failed);
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, total) }, lane));
  return { ok, failed, seconds: (performance.now() - started) / 1000 };
}

/**
 * Issues `total` operations at `perSecond` on a 1 ms timer (open loop: an operation is issued when
 * due, whether or not earlier ones were acknowledged), then waits for all of them to finish.
 */
export async function runAtRate(
  perSecond: number,
  total: number,
  issue: (index: number) => Promise<void>,
  progress: (done: number) => void,
  signal?: AbortSignal,
): Promise<{ sent: number; seconds: number; maxLagMs: number }> {
  const every = Math.max(1, Math.floor(total / 20));
  const interval = 1_000 / perSecond;
  const outstanding = new Set<Promise<void>>();
  let sent = 0;
  let maxLagMs = 0;
  const started = performance.now();
  while (sent < total && !signal?.aborted) {
    const now = performance.now();
    const due = Math.min(total, Math.floor((now - started) / interval) + 1);
    if (due > sent) maxLagMs = Math.max(maxLagMs, now - (started + sent * interval));
    for (; sent < due; sent++) {
      const pending: Promise<void> = issue(sent).finally(() => outstanding.delete(pending));
      outstanding.add(pending);
      if ((sent + 1) % every === 0) progress(sent + 1);
    }
    await sleep(1);
  }
  const issuedFor = (performance.now() - started) / 1000;
  await Promise.all(outstanding);
  return { sent, seconds: issuedFor, maxLagMs };
}

export function latencyFigure(histogram: hdr.Histogram, targetRate: number, run: { sent: number; seconds: number; maxLagMs: number }, acked: number, failed: number): LatencyFigure {
  return {
    targetRate,
    achievedRate: rate(run.sent, run.seconds),
    sent: run.sent,
    acked,
    failed,
    seconds: run.seconds,
    maxScheduleLagMs: run.maxLagMs,
    ...summarizeLatency(histogram),
  };
}

export function throughputFigure(run: { ok: number; failed: number; seconds: number }): ThroughputFigure {
  return { messages: run.ok, failed: run.failed, seconds: run.seconds, perSecond: rate(run.ok, run.seconds) };
}

/**
 * Issues `total` operations at `perSecond` (open loop, see runAtRate) and records each successful
 * one's time from issue to completion in an HDR histogram: the latency figure at that rate.
 */
export async function latencyAtRate(
  perSecond: number,
  total: number,
  operation: (index: number) => Promise<boolean>,
  progress: (done: number) => void,
  signal?: AbortSignal,
): Promise<LatencyFigure> {
  const histogram = latencyHistogram();
  let ok = 0;
  let failed = 0;
  try {
    const run = await runAtRate(
      perSecond,
      total,
      async (index) => {
        const started = performance.now();
        if (await operation(index)) {
          histogram.recordValue(Math.max(1, Math.round((performance.now() - started) * 1_000)));
          ok++;
        } else failed++;
      },
      progress,
      signal,
    );
    return latencyFigure(histogram, perSecond, run, ok, failed);
  } finally {
    histogram.destroy();
  }
}
