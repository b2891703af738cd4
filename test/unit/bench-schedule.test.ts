// The load scheduler's two modes on fake timers: which operations a closed loop and an open loop
// at a rate issue, when they were due, how many are in flight, and when a run stops. Speed is
// never asserted; the clock is the fake one.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { latencyAtRate, runLanes, runSchedule, type Issue, type Schedule } from '../../bench/index.js';

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs a schedule of operations that each take `workMs` on the fake clock, and logs them. */
async function run(schedule: Schedule, workMs: number, signal?: AbortSignal, onIssue?: (index: number) => void) {
  const origin = Date.now();
  const clock = () => Date.now() - origin;
  const issued: { index: number; dueMs: number; atMs: number }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const issue: Issue = async (dueMs, index) => {
    issued.push({ index, dueMs, atMs: clock() });
    onIssue?.(index);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    await wait(workMs);
    inFlight--;
  };
  const pending = runSchedule(schedule, issue, { clock, signal });
  await vi.runAllTimersAsync();
  const result = await pending;
  return { result, issued, maxInFlight, inFlightAfter: inFlight };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('runSchedule, closed loop (rate max)', () => {
  it('given a count, when run, then issues every index once, in order, on at most `concurrency` lanes', async () => {
    const { result, issued, maxInFlight, inFlightAfter } = await run({ rate: 'max', concurrency: 3, count: 10 }, 5);
    expect(issued.map((o) => o.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(maxInFlight).toBe(3);
    expect(inFlightAfter).toBe(0);
    expect(result.issued).toBe(10);
    expect(result.maxLagMs).toBe(0);
  });

  it('given a closed loop, when an operation is taken, then it is due when it is taken', async () => {
    const { issued } = await run({ rate: 'max', concurrency: 2, count: 6 }, 5);
    for (const o of issued) expect(o.dueMs).toBe(o.atMs);
    // Two lanes, 5 ms each: the third operation waits for the first to finish.
    expect(issued.map((o) => o.dueMs)).toEqual([0, 0, 5, 5, 10, 10]);
  });

  it('given a duration, when it has passed, then no lane takes another operation', async () => {
    // Two lanes of 10 ms operations for 50 ms: each takes one at 0, 10, 20, 30 and 40 ms.
    const { result, issued } = await run({ rate: 'max', concurrency: 2, durationMs: 50 }, 10);
    expect(result.issued).toBe(10);
    expect(Math.max(...issued.map((o) => o.atMs))).toBe(40);
    expect(result.seconds).toBe(0.05);
  });

  it('given the signal aborts, when the lanes next look, then they stop', async () => {
    const abort = new AbortController();
    const { result } = await run(
      { rate: 'max', concurrency: 1, count: 100 },
      1,
      abort.signal,
      (index) => index === 2 && abort.abort(),
    );
    expect(result.issued).toBe(3);
  });

  it('given neither a count nor a duration, when run, then it is refused', async () => {
    await expect(runSchedule({ rate: 'max', concurrency: 1 }, async () => {})).rejects.toMatchObject({
      code: 'CIM-INVALID-INPUT',
    });
    await expect(runSchedule({ rate: 10, concurrency: 1 }, async () => {})).rejects.toMatchObject({
      code: 'CIM-INVALID-INPUT',
    });
  });
});

describe('runSchedule, open loop (at a rate)', () => {
  it('given a rate, when run, then issues each operation when due without waiting for earlier ones', async () => {
    // 1,000 a second for 10 operations of 50 ms: all are issued before the first one finishes.
    const { result, issued, maxInFlight, inFlightAfter } = await run(
      { rate: 1_000, concurrency: Infinity, count: 10 },
      50,
    );
    expect(issued.map((o) => o.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(issued.map((o) => o.dueMs)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const o of issued) expect(o.atMs).toBeGreaterThanOrEqual(o.dueMs);
    expect(maxInFlight).toBe(10);
    expect(result.issued).toBe(10);
    // Issuing took 10 ms; the run waited for the last operation, but its seconds are the issuing's.
    expect(result.seconds).toBeLessThan(0.05);
    expect(inFlightAfter).toBe(0);
  });

  it('given a full window, when operations come due, then they wait and keep the time they were due', async () => {
    // 1,000 a second, but at most two in flight of 5 ms each: the schedule falls behind.
    const { result, issued, maxInFlight } = await run({ rate: 1_000, concurrency: 2, count: 6 }, 5);
    expect(issued.map((o) => o.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(issued.map((o) => o.dueMs)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(maxInFlight).toBe(2);
    expect(issued.some((o) => o.atMs > o.dueMs)).toBe(true);
    expect(result.maxLagMs).toBeGreaterThan(0);
  });

  it('given a duration, when it has passed, then nothing more is issued', async () => {
    // 100 a second for 45 ms: due at 0, 10, 20, 30 and 40 ms.
    const { result, issued } = await run({ rate: 100, concurrency: Infinity, durationMs: 45 }, 1);
    expect(result.issued).toBe(5);
    expect(issued.map((o) => o.dueMs)).toEqual([0, 10, 20, 30, 40]);
  });

  it('given the signal aborts, when the timer next fires, then it stops issuing', async () => {
    const abort = new AbortController();
    const { result } = await run(
      { rate: 1_000, concurrency: Infinity, count: 100 },
      1,
      abort.signal,
      (index) => index === 4 && abort.abort(),
    );
    expect(result.issued).toBe(5);
  });
});

describe('the component benchmarks’ figures', () => {
  beforeEach(() => {
    vi.useRealTimers();
  });

  it('given operations that succeed or fail, when run on lanes, then counts each and reports progress per finished one', async () => {
    const done: number[] = [];
    const result = await runLanes(
      4,
      10,
      async (i) => i % 3 !== 0,
      (n) => done.push(n),
    );
    expect(result.ok).toBe(6);
    expect(result.failed).toBe(4);
    expect(done).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('given operations at a rate, when measured, then the figure counts sent, acked and failed, and its histogram holds the acked', async () => {
    const sent: number[] = [];
    const figure = await latencyAtRate(
      20_000,
      40,
      async (i) => i % 4 !== 0,
      (n) => sent.push(n),
    );
    expect(figure).toMatchObject({ targetRate: 20_000, sent: 40, acked: 30, failed: 10, count: 30 });
    expect(sent).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40]);
    expect(figure.maxScheduleLagMs).toBeGreaterThanOrEqual(0);
    expect(figure.maxMs).toBeGreaterThanOrEqual(figure.p99Ms);
  });
});
