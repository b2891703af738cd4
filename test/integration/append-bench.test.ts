// The append benchmark on a real 3-node cluster with small counts: every message acknowledged and
// stored, histograms complete, streams cleaned up. Correctness only: speed is never asserted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAppendBenchmark, type AppendBenchmarkPhase, type AppendBenchmarkResult } from '../../bench/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const MESSAGES = 2_000;
let t: TestCluster;
let result: AppendBenchmarkResult;
const phases = new Set<AppendBenchmarkPhase>();

beforeAll(async () => {
  t = await startTestCluster('append-bench');
  result = await runAppendBenchmark(t.nc, {
    messages: MESSAGES,
    payloadBytes: 256,
    aggregates: 50,
    inFlight: 64,
    replicas: 3,
    warmupMessages: 100,
    latencySeconds: 1,
    latencyRate: 500,
    onProgress: (phase) => phases.add(phase),
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('runAppendBenchmark', () => {
  it('given small counts, when run, then every raw publish and every append is acknowledged', () => {
    expect(result.throughput.raw).toMatchObject({ messages: MESSAGES, failed: 0 });
    expect(result.throughput.append).toMatchObject({ messages: MESSAGES, failed: 0 });
    expect(result.lanes).toBe(50); // appends to one aggregate are serial: the window is min(inFlight, aggregates)
    expect(result.interrupted).toBe(false);
  });

  it('given the two throughputs, when compared, then the ratio is a positive finite number', () => {
    expect(result.throughput.raw.perSecond).toBeGreaterThan(0);
    expect(result.throughput.append.perSecond).toBeGreaterThan(0);
    expect(Number.isFinite(result.throughput.ratio)).toBe(true);
    expect(result.throughput.ratio).toBeGreaterThan(0);
    // From the acknowledged counts and the elapsed times, not the figures' own perSecond.
    const { raw, append } = result.throughput;
    expect(result.throughput.ratio).toBeCloseTo(append.messages / append.seconds / (raw.messages / raw.seconds), 9);
  });

  it('given raw messages, when sized, then they are as large as an encoded event with its payload', () => {
    expect(result.payloadBytes).toBe(256);
    expect(result.messageBytes).toBeGreaterThan(256);
  });

  it('given the fixed-rate phase, when done, then each histogram counts exactly the messages sent', () => {
    const latency = result.latency!;
    expect(latency.rate).toBe(500);
    for (const side of [latency.raw, latency.append]) {
      expect(side.sent).toBe(500);
      expect(side).toMatchObject({ acked: 500, failed: 0, count: 500 });
      expect(side.p50Ms).toBeGreaterThan(0);
      expect(side.p50Ms).toBeLessThanOrEqual(side.p90Ms);
      expect(side.p90Ms).toBeLessThanOrEqual(side.p99Ms);
      expect(side.p99Ms).toBeLessThanOrEqual(side.p999Ms);
      expect(side.p999Ms).toBeLessThanOrEqual(side.maxMs);
      expect(side.histogram.length).toBeGreaterThan(0);
    }
  });

  it('given everything acknowledged, when the streams are counted, then nothing is lost or duplicated', () => {
    const expected = 100 + MESSAGES + 500;
    // Appends: the warm-up, one by one, with group commit, then the fixed rate.
    const appends = 100 + 2 * MESSAGES + 500;
    expect(result.check).toEqual({
      rawAcked: expected,
      rawStored: expected,
      rawLost: 0,
      contractAcked: MESSAGES,
      contractStored: MESSAGES,
      contractLost: 0,
      appendAcked: appends,
      appendStored: appends,
      appendLost: 0,
      duplicates: 0,
    });
    const { raw, rawWithContract } = result.throughput;
    expect(result.throughput.contractRatio).toBeCloseTo(
      rawWithContract.messages / rawWithContract.seconds / (raw.messages / raw.seconds),
      9,
    );
  });

  it('given a run, when it reports progress, then every phase is named', () => {
    expect([...phases].sort()).toEqual([
      'append',
      'append-latency',
      'append-single',
      'raw',
      'raw-batch',
      'raw-contract',
      'raw-latency',
      'warmup',
    ]);
  });

  it('given a server with atomic batches, when appends run together, then group commit batches them and the raw side batches alike', () => {
    const g = result.groupCommit!;
    expect(g.batches).toBeGreaterThan(0);
    expect(g.meanBatchSize).toBeCloseTo(g.batchedEvents / g.batches, 9);
    expect(g.meanBatchSize).toBeGreaterThanOrEqual(2);
    const { rawBatch, append, appendSingle } = result.throughput;
    expect(rawBatch).toMatchObject({ messages: MESSAGES, failed: 0, batchSize: Math.round(g.meanBatchSize) });
    expect(appendSingle).toMatchObject({ messages: MESSAGES, failed: 0 });
    expect(result.throughput.appendToRawBatchRatio).toBeCloseTo(append.perSecond / rawBatch!.perSecond, 9);
  });

  it('given the run is over, when the streams are listed, then the benchmark streams are gone', async () => {
    const jsm = await t.nc.jetstreamManager();
    const names: string[] = [];
    for await (const info of jsm.streams.list()) names.push(info.config.name);
    expect(names).not.toContain('CIM_BENCH_RAW');
    expect(names).not.toContain('CIM_BENCH_RAW_CONTRACT');
    expect(names).not.toContain('CIM_BENCH_RAW_BATCH');
    expect(names).not.toContain(result.stream);
  });

  it('given a domain outside the benchmark namespace, when run, then it refuses to touch that stream', async () => {
    await expect(
      runAppendBenchmark(t.nc, {
        messages: 1,
        payloadBytes: 16,
        aggregates: 1,
        inFlight: 1,
        replicas: 3,
        domain: 'person',
      }),
    ).rejects.toMatchObject({
      code: 'CIM-INVALID-INPUT',
    });
  });
});
