// The text renderers of benchmark results: pure functions of a result, so fixed inputs give
// fixed, aligned tables.
import { describe, expect, it } from 'vitest';
import {
  renderAppendBenchmark,
  renderGrowthBenchmark,
  renderMicroBenchmarks,
  type AppendBenchmarkResult,
  type GrowthBenchmarkResult,
  type LatencyFigure,
  type MicroBenchmarkResult,
} from '../../bench/index.js';
import { alignedTable } from '../../reports/index.js';

const latency = (p50Ms: number, scale: number): LatencyFigure => ({
  targetRate: 10_000,
  achievedRate: 9_990,
  sent: 50_000,
  acked: 50_000,
  failed: 0,
  seconds: 5,
  maxScheduleLagMs: 1.5,
  count: 50_000,
  meanMs: p50Ms * 1.2,
  p50Ms,
  p90Ms: p50Ms * 2,
  p99Ms: p50Ms * 10 * scale,
  p999Ms: p50Ms * 20 * scale,
  maxMs: 120,
  histogram: 'HISTFAAAA',
});

const result: AppendBenchmarkResult = {
  domain: 'benchappend',
  stream: 'CIM_BENCHAPPEND',
  rawStream: 'CIM_BENCH_RAW',
  replicas: 3,
  payloadBytes: 256,
  messageBytes: 517,
  aggregates: 1_000,
  inFlight: 256,
  lanes: 256,
  throughput: {
    raw: { messages: 50_000, failed: 0, seconds: 2, perSecond: 25_000 },
    rawWithContract: { messages: 50_000, failed: 0, seconds: 2.5, perSecond: 20_000 },
    append: { messages: 50_000, failed: 0, seconds: 4, perSecond: 12_500 },
    ratio: 0.5,
    contractRatio: 0.8,
    appendToContractRatio: 0.625,
    appendSingle: { messages: 50_000, failed: 0, seconds: 5, perSecond: 10_000 },
    appendSingleToContractRatio: 0.5,
    rawBatch: { messages: 50_000, failed: 0, seconds: 1, perSecond: 50_000, batchSize: 64, batchesInFlight: 4 },
    appendToRawBatchRatio: 0.25,
  },
  groupCommit: { batches: 780, batchedEvents: 49_920, alone: 12, splits: 1, meanBatchSize: 64 },
  latency: { rate: 12_500, seconds: 5, raw: latency(1.2, 1), append: latency(2.4, 2), p99Ratio: 4 },
  check: {
    rawAcked: 51_000,
    rawStored: 51_000,
    rawLost: 0,
    contractAcked: 50_000,
    contractStored: 50_000,
    contractLost: 0,
    appendAcked: 51_000,
    appendStored: 51_000,
    appendLost: 0,
    duplicates: 0,
  },
  interrupted: false,
};

describe('alignedTable', () => {
  it('given rows, when rendered, then the first column is left-aligned, the others right-aligned', () => {
    expect(
      alignedTable([
        ['name', 'n'],
        ['a', '1000'],
        ['longer', '2'],
      ]),
    ).toBe(['name       n', 'a       1000', 'longer     2'].join('\n'));
  });

  it('given short rows, when rendered, then missing cells leave no trailing spaces', () => {
    expect(alignedTable([['a', 'b', 'c'], ['ratio']])).toBe('a      b  c\nratio');
  });
});

describe('renderAppendBenchmark', () => {
  const text = renderAppendBenchmark(result);
  const lines = text.split('\n');

  it('given a result, when rendered, then the header names streams, replicas, sizes and window', () => {
    expect(lines[0]).toBe(
      'append benchmark: CIM_BENCHAPPEND vs raw CIM_BENCH_RAW, R3, 1,000 aggregates/subjects, 256 in flight, payload 256 B, messages 517 B',
    );
  });

  it('given a result, when rendered, then throughput rows sit side by side with the ratio', () => {
    expect(text).toContain(
      [
        'throughput                     msgs/s   acked  failed  seconds',
        'raw publish                    25,000  50,000       0     2.00',
        'raw + msg id + expected seq    20,000  50,000       0     2.50',
        'raw atomic batches of 64       50,000  50,000       0     1.00',
        'event append, one by one       10,000  50,000       0     5.00',
        'event append, group commit     12,500  50,000       0     4.00',
        'append / raw                    0.50×',
        '(raw + contract) / raw          0.80×',
        'append / (raw + contract)       0.63×',
        'one by one / (raw + contract)   0.50×',
        'append / raw atomic batches     0.25×',
        'group commit: 49,920 events in 780 atomic batches (mean 64.0), 12 appends alone, 1 batch split after a refusal',
      ].join('\n'),
    );
  });

  it('given latency figures, when rendered, then percentiles align and each has its ratio', () => {
    const start = lines.findIndex((l) => l.startsWith('publish→ack latency'));
    expect(lines[start]).toBe('publish→ack latency at 12,500 msgs/s for 5 s each (ms)');
    const table = lines.slice(start + 1, start + 5);
    expect(table[1]!.split(/\s{2,}/)).toEqual([
      'raw publish',
      '9,990',
      '1.20',
      '2.40',
      '12.0',
      '24.0',
      '120',
      '50,000',
      '1.50',
    ]);
    expect(table[2]!.split(/\s{2,}/)).toEqual([
      'event append',
      '9,990',
      '2.40',
      '4.80',
      '48.0',
      '96.0',
      '120',
      '50,000',
      '1.50',
    ]);
    expect(table[3]!.split(/\s{2,}/)).toEqual(['append / raw', '2.00×', '2.00×', '4.00×', '4.00×', '1.00×']);
    // Every row of the table ends in the same column.
    expect(new Set(table.slice(0, 3).map((l) => l.length)).size).toBe(1);
  });

  it('given a result, when rendered, then the loss check is spelled out', () => {
    expect(lines.at(-1)).toBe(
      'check: raw 51,000 acked, 51,000 stored, lost 0; append 51,000 acked, 51,000 stored, lost 0, duplicates 0',
    );
  });

  it('given a verify phase, when rendered, then its ratio to the raw read of the same stream and its two sizes show', () => {
    const read = { batch: 4_000, messages: 51_000, seconds: 0.25, perSecond: 204_000 };
    const verified = renderAppendBenchmark({
      ...result,
      verify: {
        events: 51_000,
        seals: 1,
        sealSeconds: 0.5,
        verifySeconds: 0.5,
        eventsPerSecond: 102_000,
        findings: 0,
        workers: 1,
        rawReads: [read],
        bestRawRead: read,
        toRawRead: 0.5,
        smaller: { events: 5_100, seconds: 0.1, eventsPerSecond: 51_000, findings: 0 },
        linearity: 2,
      },
    });
    expect(verified).toContain(
      '  0.50× the best raw ordered read of the same stream (204,000 msgs/s, pull 4000); events checked 1 worker thread',
    );
    expect(verified).toContain(
      '  linear in events: 5,100 events at 51,000 events/s, 51,000 at 102,000 events/s: 2.00× (1.00× is linear)',
    );
  });

  it('given no latency phase and an interrupted run, when rendered, then neither latency nor false completeness shows', () => {
    const withoutLatency: AppendBenchmarkResult = { ...result, interrupted: true };
    delete withoutLatency.latency;
    const partial = renderAppendBenchmark(withoutLatency);
    expect(partial).not.toContain('latency');
    expect(partial.split('\n').at(-1)).toBe('interrupted: the figures cover what was done');
  });
});

describe('renderMicroBenchmarks', () => {
  const results: MicroBenchmarkResult[] = [
    {
      name: 'encode + CID',
      operation: 'x',
      opsPerSecond: 105_312.4,
      meanMicros: 9.4954,
      p99Micros: 21.44,
      samples: 1_234,
      itemsPerOp: 1,
      itemsPerSecond: 105_312.4,
    },
    {
      name: 'stream verification kernel',
      operation: 'y',
      opsPerSecond: 52.5,
      meanMicros: 19_047.6,
      p99Micros: 25_000,
      samples: 64,
      itemsPerOp: 1_000,
      itemsPerSecond: 52_500,
    },
  ];

  it('given results, when rendered, then one aligned row per benchmark, items per core only for batches', () => {
    expect(renderMicroBenchmarks(results).split('\n')).toEqual([
      'micro-benchmark               ops/s  mean µs  p99 µs  samples  items/s per core',
      'encode + CID                105,312     9.50    21.4    1,234',
      'stream verification kernel     52.5   19,048  25,000       64            52,500',
    ]);
  });

  it('given no results, when rendered, then it says so', () => {
    expect(renderMicroBenchmarks([])).toBe('micro-benchmarks: none completed');
  });
});

describe('the terminal summary of a bench run', () => {
  it('shows the one table across scenarios every rendering shows: the same headers, a row per scenario', async () => {
    const { readFileSync } = await import('node:fs');
    const { renderBenchResults } = await import('../../scenarios/index.js');
    const { SUMMARY_HEADERS } = await import('../../reports/index.js');
    const results = JSON.parse(readFileSync(new URL('../fixtures/bench-results-quick.json', import.meta.url), 'utf8'));
    const lines = renderBenchResults(results).split('\n');
    const header = lines.findIndex((l) => l.startsWith('scenario '));
    expect(lines[header]!.split(/\s{2,}/)).toEqual([...SUMMARY_HEADERS]);
    expect(lines.slice(header + 1, header + 4).map((l) => l.split(/\s+/)[0])).toEqual(
      results.scenarios.map((s: { scenario: string }) => s.scenario),
    );
  });
});

describe('renderGrowthBenchmark', () => {
  const cost = (p50Ms: number, replayed: number, fromSnapshot: boolean) => ({
    samples: 20,
    p50Ms,
    p90Ms: p50Ms * 1.5,
    replayed,
    fromSnapshot,
  });
  const size = (events: number, seconds: number) => ({
    events,
    seconds,
    perSecond: events / seconds,
    bestRawPerSecond: 200_000,
    replayToRaw: events / seconds / 200_000,
  });
  const growth: GrowthBenchmarkResult = {
    domain: 'benchgrowth',
    append: {
      histories: [
        { history: 10, snapshots: cost(6, 30, false), noSnapshots: cost(6, 10, false) },
        { history: 100_000, snapshots: cost(6.6, 19, true), noSnapshots: cost(2_400, 100_002, false) },
      ],
      snapshotsGrowth: 1.1,
      noSnapshotsGrowth: 400,
    },
    rebuild: {
      small: size(20_000, 0.4),
      large: size(200_000, 2.2),
      rateGrowth: 1.82,
      fixedSeconds: 0.2,
      microsPerEvent: 10,
      worker: size(200_000, 2),
    },
    interrupted: false,
  };

  it('given a result, when rendered, then each history has its cost with and without snapshots, and the growth of each', () => {
    const text = renderGrowthBenchmark(growth);
    expect(text).toMatch(/^100,000 +6\.60 +9\.90 +20 +19 after snapshot +2,400 +3,600 +20 +100,002$/m);
    expect(text).toContain('longest / shortest history, p50: snapshots 1.10×, no snapshots 400.00×');
  });

  it('given a result, when rendered, then the rebuild at N and 10·N shows events/s, the raw read, and the line through both', () => {
    const text = renderGrowthBenchmark(growth);
    expect(text).toMatch(/^N +20,000 +50,000 +200,000 +0\.25×$/m);
    expect(text).toMatch(/^10·N, worker thread +200,000 +100,000 +200,000 +0\.50×$/m);
    expect(text).toContain(
      'events/s at 10·N / at N: 1.82× (1 = linear in the events); the line through both: 0.20 s + 10.0 µs per event',
    );
  });
});
