// Figures derived from measurements, on hand-made histories: recovery (delivered rate against the
// offered rate) and stall after a fault on synthetic timelines, scenario-wide and per-phase metrics, and assertions (including one whose figure was not measured).
import { describe, expect, it } from 'vitest';
import { PhaseRecorder } from '../../bench/index.js';
import { evaluate, scenarioMetrics } from '../../scenarios/metrics.js';
import { measureRecovery } from '../../scenarios/recovery.js';
import type { LoadPhaseResult } from '../../scenarios/results.js';

/** Acknowledgements at a steady `perSec` over [fromMs, toMs). */
const steady = (perSec: number, fromMs: number, toMs: number): number[] => {
  const out: number[] = [];
  for (let t = fromMs; t < toMs; t += 1_000 / perSec) out.push(t);
  return out;
};

describe('measureRecovery', () => {
  it('given a 4.9 s stall with no failed operation, then recovery is when the rate is back for 2 s, not 0', () => {
    // 200/s until the fault at 10 s, nothing until 14.9 s, then 200/s again until 30 s.
    const acks = [...steady(200, 0, 10_000), ...steady(200, 14_900, 30_000)];
    const r = measureRecovery({ firedAtMs: 10_000, acks, offeredPerSec: 200, loadStartMs: 0, loadEndMs: 30_000 });
    expect(r).toMatchObject({ recovered: true, dip: true, reference: 'offered', referencePerSec: 200 });
    // The 1 s window is back within 10 % of 200/s once 0.9 s of it lies after the stall.
    expect(r.recoveryMs).toBeGreaterThanOrEqual(4_900 + 800);
    expect(r.recoveryMs).toBeLessThanOrEqual(4_900 + 1_000);
    expect(r.stallMs).toBeCloseTo(4_900, 0);
  });

  it('given a rate that never comes back within 10 % of the offered rate, then it did not recover and says no recovery', () => {
    const acks = [...steady(200, 0, 10_000), ...steady(100, 12_000, 30_000)];
    const r = measureRecovery({ firedAtMs: 10_000, acks, offeredPerSec: 200, loadStartMs: 0, loadEndMs: 30_000 });
    expect(r.recovered).toBe(false);
    expect(r.recoveryMs).toBeUndefined();
    expect(r.stallMs).toBeCloseTo(2_000, 0);
  });

  it('given a stall that lasts until the load ends, then the stall counts to the end and it did not recover', () => {
    const r = measureRecovery({
      firedAtMs: 10_000,
      acks: steady(200, 0, 10_000),
      offeredPerSec: 200,
      loadStartMs: 0,
      loadEndMs: 15_000,
    });
    expect(r).toMatchObject({ recovered: false, dip: true });
    expect(r.stallMs).toBeCloseTo(5_000, 0);
  });

  it('given no dip at all, then recovery is 0 and it says so', () => {
    const r = measureRecovery({
      firedAtMs: 10_000,
      acks: steady(200, 0, 30_000),
      offeredPerSec: 200,
      loadStartMs: 0,
      loadEndMs: 30_000,
    });
    expect(r).toMatchObject({ recovered: true, recoveryMs: 0, dip: false });
    expect(r.stallMs).toBeLessThan(10);
  });

  it('given a catch-up burst above the offered rate after the stall, then recovery waits until the rate is back near the offered rate', () => {
    // Stalled 10–12 s; the backlog of 400 comes out at 600/s over 12–13 s, then 200/s.
    const acks = [...steady(200, 0, 10_000), ...steady(600, 12_000, 13_000), ...steady(200, 13_000, 30_000)];
    const r = measureRecovery({ firedAtMs: 10_000, acks, offeredPerSec: 200, loadStartMs: 0, loadEndMs: 30_000 });
    expect(r.recovered).toBe(true);
    expect(r.recoveryMs).toBeGreaterThanOrEqual(3_900);
    expect(r.recoveryMs).toBeLessThanOrEqual(4_000);
  });

  it('given a rate: max phase, then the reference is the median rate of the seconds before the fault, and more than it is no dip', () => {
    // About 1000/s before the fault, a 3 s stall, then 1500/s (a closed loop may run faster afterwards).
    const acks = [...steady(1_000, 0, 10_000), ...steady(1_500, 13_000, 25_000)];
    const r = measureRecovery({ firedAtMs: 10_000, acks, offeredPerSec: undefined, loadStartMs: 0, loadEndMs: 25_000 });
    expect(r.reference).toBe('before-fault');
    expect(r.referencePerSec).toBeCloseTo(1_000, -1);
    expect(r.recovered).toBe(true);
    expect(r.recoveryMs).toBeGreaterThanOrEqual(3_500);
    expect(r.recoveryMs).toBeLessThanOrEqual(3_700);
  });

  it('given rate: max and a fault before a whole second of load, then there is no reference and it says why', () => {
    const r = measureRecovery({
      firedAtMs: 500,
      acks: steady(1_000, 0, 5_000),
      offeredPerSec: undefined,
      loadStartMs: 0,
      loadEndMs: 5_000,
    });
    expect(r).toMatchObject({ recovered: false, referencePerSec: undefined });
    expect(r.note).toMatch(/no whole second of load before the fault/);
  });
});

function loadPhase(
  name: string,
  startedAtMs: number,
  endedAtMs: number,
  latencies: number[],
  failed = 0,
): LoadPhaseResult {
  const recorder = new PhaseRecorder(name);
  latencies.forEach((ms, i) =>
    recorder.record({ id: `${name}${i}`, outcome: 'ok', acked: [], startMs: startedAtMs, endMs: startedAtMs + ms }),
  );
  for (let i = 0; i < failed; i++)
    recorder.record({
      id: `${name}f${i}`,
      outcome: 'failed',
      acked: [],
      startMs: startedAtMs,
      endMs: startedAtMs + 1,
      errorCode: 'CIM-REJECTED',
    });
  const result: LoadPhaseResult = {
    name,
    type: 'load',
    driver: 'nats',
    rate: 100,
    concurrency: 8,
    startedAtMs,
    endedAtMs,
    ok: recorder.ok,
    failed: recorder.failed,
    unknown: recorder.unknown,
    opsPerSec: recorder.ok / ((endedAtMs - startedAtMs) / 1_000),
    ratioToRaw: 0,
    latency: recorder.latency(),
    perSecond: recorder.seconds(),
    errorsByCode: recorder.errorsByCode(),
  };
  recorder.destroy();
  return result;
}

describe('scenarioMetrics', () => {
  const a = loadPhase(
    'a',
    0,
    1_000,
    Array.from({ length: 100 }, () => 10),
  );
  const b = loadPhase(
    'b',
    1_000,
    2_000,
    Array.from({ length: 100 }, () => 30),
    50,
  );
  const metrics = scenarioMetrics({
    phases: [a, b, { name: 'f', type: 'fault', startedAtMs: 500, endedAtMs: 600, recoveryMs: 40, stallMs: 90 }],
    checker: {
      attempted: 250,
      acknowledged: 200,
      failed: 50,
      unknown: 0,
      ackedItems: 200,
      readItems: 199,
      lost: 1,
      unexpected: 0,
      duplicates: 0,
      samples: { lost: [], unexpected: [], duplicates: [] },
      lostBy: { 'person.RenamePerson': 1 },
      ok: false,
      streams: [],
    },
    verification: { domains: [], findings: 2, samples: [] },
    baseline: {
      stream: 's',
      replicas: 3,
      payloadBytes: 320,
      subjects: 1,
      inFlight: 1,
      publish: { messages: 1, seconds: 1, perSecond: 1_000 },
      read: { messages: 1, seconds: 1, perSecond: 1 },
      lost: 0,
      corrupted: 0,
      interrupted: false,
    },
  });

  it('merges load phases over the span they covered, against the raw baseline', () => {
    expect(metrics).toMatchObject({
      ops: 200,
      errors: 50,
      error_rate: 0.2,
      ops_per_sec: 100,
      ratio_to_raw: 0.1,
      lost: 1,
      verify_findings: 2,
      recovery_ms: 40,
      stall_ms: 90,
    });
    // Half the operations took 10 ms, half 30 ms: the merged median is the lower, p99 the upper.
    expect(metrics.p50_ms).toBeCloseTo(10, 0);
    expect(metrics.p99_ms).toBeCloseTo(30, 0);
  });

  it("keeps each phase's own figures under its name", () => {
    expect(metrics['a.p99_ms']).toBeCloseTo(10, 0);
    expect(metrics['b.errors']).toBe(50);
    expect(metrics['f.recovery_ms']).toBe(40);
  });

  it('evaluates assertions, failing one whose figure was not measured', () => {
    expect(evaluate({ text: 'lost == 0', metric: 'lost', op: '==', value: 0 }, metrics)).toEqual({
      text: 'lost == 0',
      ok: false,
      actual: 1,
    });
    expect(evaluate({ text: 'a.p99_ms < 20', phase: 'a', metric: 'p99_ms', op: '<', value: 20 }, metrics).ok).toBe(
      true,
    );
    expect(
      evaluate({ text: 'replay_ratio_to_raw > 0.5', metric: 'replay_ratio_to_raw', op: '>', value: 0.5 }, metrics),
    ).toEqual({ text: 'replay_ratio_to_raw > 0.5', ok: false, actual: null });
  });
});
