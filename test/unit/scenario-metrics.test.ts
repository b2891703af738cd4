// Figures derived from measurements, on hand-made histories: recovery and stall after a fault,
// scenario-wide and per-phase metrics, and assertions (including one whose figure was not measured).
import { describe, expect, it } from 'vitest';
import { PhaseRecorder, type OperationRecord } from '../../bench/index.js';
import { evaluate, recoveryAfter, scenarioMetrics } from '../../scenarios/metrics.js';
import type { LoadPhaseResult } from '../../scenarios/results.js';

const op = (endMs: number, outcome: OperationRecord['outcome'], startMs = endMs - 5): OperationRecord => ({
  id: `o${endMs}`,
  outcome,
  acked: [],
  startMs,
  endMs,
});

describe('recoveryAfter', () => {
  it('measures first failure to the next acknowledgement, and the longest gap between acknowledgements', () => {
    const ops = [
      op(900, 'ok'),
      op(1_100, 'ok'),
      op(1_500, 'failed'),
      op(1_800, 'unknown'),
      op(3_500, 'ok'),
      op(3_600, 'ok'),
    ];
    expect(recoveryAfter(1_000, ops)).toEqual({ recoveryMs: 2_000, stallMs: 2_400 });
  });

  it('is 0 when nothing failed, with the stall still measured from the fault', () => {
    expect(recoveryAfter(1_000, [op(1_300, 'ok'), op(1_400, 'ok')])).toEqual({ recoveryMs: 0, stallMs: 300 });
  });

  it('counts a failure never followed by an acknowledgement up to the end of the load', () => {
    expect(recoveryAfter(0, [op(100, 'failed'), op(700, 'failed')])).toEqual({ recoveryMs: 600, stallMs: 700 });
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
