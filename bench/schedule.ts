// The one load scheduler: when operations are issued, either as a closed loop (N lanes, each taking
// the next operation when its last one finished) or as an open loop at a fixed rate. The component
// benchmarks and the scenario runner both use it, so all measure alike; what one operation does is
// the caller's (see issuers.ts for the scenario's).
import { performance } from 'node:perf_hooks';
import type * as hdr from 'hdr-histogram-js';
import { CimError, sleep } from '../appliance/index.js';
import { latencyHistogram, summarizeLatency, type LatencySummary } from './latency.js';

export interface Schedule {
  /** Operations per second (open loop), or `max` for a closed loop of `concurrency` lanes. */
  rate: number | 'max';
  /** Lanes of a closed loop; at a rate, the most operations in flight (Infinity: as many as are due). */
  concurrency: number;
  durationMs?: number | undefined;
  count?: number | undefined;
}

/**
 * Issues one operation that was due at `dueMs` (on the schedule's clock; in a closed loop, when it
 * was taken); resolves when the operation has finished.
 */
export type Issue = (dueMs: number, index: number) => Promise<void>;

export interface ScheduleOptions {
  /** Milliseconds on any origin (the scenario clock, say); performance.now() unless given. */
  clock?: (() => number) | undefined;
  signal?: AbortSignal | undefined;
}

export interface ScheduleRun {
  issued: number;
  /** Seconds spent issuing: for a closed loop until the last lane finished, at a rate until the last operation was issued. */
  seconds: number;
  /** How far issuing ever fell behind the rate's schedule, ms (0 for a closed loop). */
  maxLagMs: number;
}

/**
 * Runs the schedule until its count is issued or its duration has passed (or the signal aborts),
 * then waits for what is in flight.
 *
 * At a rate, operations are issued on a 1 ms timer whether or not earlier ones have finished, each
 * with the time it was due: when the window of `concurrency` is full they wait, and a caller that
 * measures from `dueMs` counts that wait as latency rather than losing it (no coordinated omission).
 */
export async function runSchedule(
  schedule: Schedule,
  issue: Issue,
  options: ScheduleOptions = {},
): Promise<ScheduleRun> {
  const clock = options.clock ?? (() => performance.now());
  const { signal } = options;
  const started = clock();
  const endsAt = schedule.durationMs !== undefined ? started + schedule.durationMs : Infinity;
  const count = schedule.count ?? Infinity;
  if (count === Infinity && endsAt === Infinity)
    throw new CimError('CIM-INVALID-INPUT', 'a load schedule needs a count or a duration');
  // Without a duration, no clock reading per operation to decide whether to go on.
  const inTime = endsAt === Infinity ? () => true : () => clock() < endsAt;
  let issued = 0;
  const more = () => issued < count && !signal?.aborted && inTime();

  if (schedule.rate === 'max') {
    // Lanes that each await their operation: a fixed window without racing a set of promises.
    const lane = async () => {
      while (more()) await issue(clock(), issued++);
    };
    await Promise.all(Array.from({ length: Math.min(schedule.concurrency, count) }, lane));
    return { issued, seconds: (clock() - started) / 1_000, maxLagMs: 0 };
  }

  const interval = 1_000 / schedule.rate;
  const inFlight = new Set<Promise<void>>();
  let maxLagMs = 0;
  while (more()) {
    const now = clock();
    const due = Math.min(count, Math.floor((now - started) / interval) + 1);
    if (due > issued) maxLagMs = Math.max(maxLagMs, now - (started + issued * interval));
    while (issued < due && inFlight.size < schedule.concurrency && inTime()) {
      const pending: Promise<void> = issue(started + issued * interval, issued++).finally(() =>
        inFlight.delete(pending),
      );
      inFlight.add(pending);
    }
    if (inFlight.size >= schedule.concurrency) await Promise.race(inFlight);
    else await sleep(1, signal);
  }
  const seconds = (clock() - started) / 1_000;
  await Promise.all(inFlight);
  return { issued, seconds, maxLagMs };
}

/** A scenario clock: ms since it was made. */
export function scenarioClock(): () => number {
  const origin = performance.now();
  return () => performance.now() - origin;
}

// The component benchmarks' figures: throughput of a closed loop, latency at a rate.

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

export function rate(messages: number, seconds: number): number {
  return seconds > 0 ? messages / seconds : 0;
}

/** Progress is reported about twenty times a run. */
const progressEvery = (total: number) => Math.max(1, Math.floor(total / 20));

/**
 * Runs `total` operations on `lanes` concurrent loops (a closed loop), counting those that
 * succeeded; `progress` hears how many have finished.
 */
export async function runLanes(
  lanes: number,
  total: number,
  operation: (index: number) => Promise<boolean>,
  progress: (done: number) => void,
  signal?: AbortSignal,
): Promise<{ ok: number; failed: number; seconds: number }> {
  const every = progressEvery(total);
  let ok = 0;
  let failed = 0;
  const run = await runSchedule(
    { rate: 'max', concurrency: lanes, count: total },
    async (_dueMs, index) => {
      if (await operation(index)) ok++;
      else failed++;
      if ((ok + failed) % every === 0) progress(ok + failed);
    },
    { signal },
  );
  return { ok, failed, seconds: run.seconds };
}

export function throughputFigure(run: { ok: number; failed: number; seconds: number }): ThroughputFigure {
  return { messages: run.ok, failed: run.failed, seconds: run.seconds, perSecond: rate(run.ok, run.seconds) };
}

/** One figure for the rounds of one mode of an alternating benchmark: their operations over their time together. */
export function combinedThroughput(runs: readonly { ok: number; failed: number; seconds: number }[]): ThroughputFigure {
  return throughputFigure(
    runs.reduce((a, r) => ({ ok: a.ok + r.ok, failed: a.failed + r.failed, seconds: a.seconds + r.seconds }), {
      ok: 0,
      failed: 0,
      seconds: 0,
    }),
  );
}

function latencyFigure(
  histogram: hdr.Histogram,
  targetRate: number,
  run: ScheduleRun,
  acked: number,
  failed: number,
): LatencyFigure {
  return {
    targetRate,
    achievedRate: rate(run.issued, run.seconds),
    sent: run.issued,
    acked,
    failed,
    seconds: run.seconds,
    maxScheduleLagMs: run.maxLagMs,
    ...summarizeLatency(histogram),
  };
}

/**
 * Issues `total` operations at `perSecond` (an open loop with no bound on what is in flight) and
 * records each successful one's time from when it was sent to when it finished: the latency figure
 * at that rate. How late the sends were is the figure's maxScheduleLagMs; `progress` hears how
 * many have been sent.
 */
export async function latencyAtRate(
  perSecond: number,
  total: number,
  operation: (index: number) => Promise<boolean>,
  progress: (done: number) => void,
  signal?: AbortSignal,
): Promise<LatencyFigure> {
  const every = progressEvery(total);
  const histogram = latencyHistogram();
  let ok = 0;
  let failed = 0;
  try {
    const run = await runSchedule(
      { rate: perSecond, concurrency: Infinity, count: total },
      async (_dueMs, index) => {
        const started = performance.now();
        const pending = operation(index);
        if ((index + 1) % every === 0) progress(index + 1);
        if (await pending) {
          histogram.recordValue(Math.max(1, Math.round((performance.now() - started) * 1_000)));
          ok++;
        } else failed++;
      },
      { signal },
    );
    return latencyFigure(histogram, perSecond, run, ok, failed);
  } finally {
    histogram.destroy();
  }
}
