// The micro-benchmarks with tiny counts: every kernel runs, figures are well-formed, and the
// sample events they measure have the sizes asked for. Speed is never asserted.
import * as dagCbor from '@ipld/dag-cbor';
import { describe, expect, it } from 'vitest';
import { runMicroBenchmarks } from '../../bench/index.js';
import { samplePayload, sampleStream } from '../../bench/components/sample-events.js';
import { decodeEnvelope } from '../../appliance/index.js';

describe('runMicroBenchmarks', () => {
  it('given tiny counts, when run, then returns one well-formed figure per kernel', async () => {
    const results = await runMicroBenchmarks({
      timeMs: 5,
      warmupMs: 1,
      minIterations: 2,
      merkleLeaves: 64,
      kernelEvents: 200,
      kernelChunk: 50,
      kernelAggregates: 7,
      workerChunk: 64,
    });
    expect(results.map((r) => r.name)).toEqual([
      'encode + CID',
      'decode + verify',
      'Merkle root of 64 CIDs',
      'stream verification kernel',
      'verification kernel (worker chunk)',
      'SHA-256 of the same event bytes',
    ]);
    for (const r of results) {
      expect(r.opsPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(r.opsPerSecond)).toBe(true);
      expect(r.meanMicros).toBeGreaterThan(0);
      expect(r.p99Micros).toBeGreaterThanOrEqual(0);
      expect(r.samples).toBeGreaterThanOrEqual(2);
      expect(r.itemsPerSecond).toBeCloseTo(r.opsPerSecond * r.itemsPerOp);
    }
    expect(results[2]!.itemsPerOp).toBe(64);
    // The stream kernel covers every pre-encoded event at least once: 200 / 50 = 4 chunks.
    expect(results[3]!.itemsPerOp).toBe(50);
    expect(results[3]!.samples).toBeGreaterThanOrEqual(4);
    // The worker kernel and its baseline walk the same chunks (200 events in chunks of 64), and
    // the kernel's figure is also a ratio to the bare SHA-256 of the same run.
    expect(results[4]!.itemsPerOp).toBe(64);
    expect(results[5]!.itemsPerOp).toBe(64);
    expect(results[4]!.relative).toEqual({
      to: 'SHA-256 of the same event bytes',
      ratio: results[4]!.itemsPerSecond / results[5]!.itemsPerSecond,
    });
  });

  it('given an aborted signal, when run, then returns nothing', async () => {
    expect(await runMicroBenchmarks({ signal: AbortSignal.abort() })).toEqual([]);
  });
});

describe('sample events', () => {
  it('given a size, when a payload is built, then it encodes to exactly that many bytes', () => {
    for (const size of [128, 200, 256, 1_000, 4_096]) expect(dagCbor.encode(samplePayload(size)).length).toBe(size);
  });

  it('given a size below the fixed fields, when a payload is built, then it is just the fixed fields', () => {
    expect(dagCbor.encode(samplePayload(1)).length).toBeLessThan(128);
  });

  it('given a sample stream, when decoded in order, then every chain links up', () => {
    const events = sampleStream(30, 4, samplePayload(64));
    const heads = new Map<string, string>();
    for (const { event, cid } of events) {
      const { envelope } = decodeEnvelope(event.bytes, cid);
      expect(envelope.prev?.toString()).toBe(heads.get(envelope.aggregateId));
      heads.set(envelope.aggregateId, cid);
    }
    expect(heads.size).toBe(4);
  });
});
