// Micro-benchmarks (tinybench) of the event store's client-side kernels: what one event costs to
// encode and name, to decode and check, to seal (Merkle root), and to verify in a stream.
import { Bench } from 'tinybench';
import {
  ChainChecker,
  decodeEnvelope,
  domainStream,
  encodeEnvelope,
  FindingList,
  MerkleAccumulator,
  merkleRoot,
  Subjects,
} from '../../appliance/index.js';
import { sampleAggregateId, sampleEnvelope, samplePayload, sampleStream } from './sample-events.js';

export interface MicroBenchmarkOptions {
  /** Encoded size of the events' domain payload. */
  payloadBytes?: number;
  /** Time budget per benchmark (tinybench keeps going until this and the minimum iterations are met). */
  timeMs?: number;
  minIterations?: number;
  warmupMs?: number;
  /** Leaves (event CIDs) of the Merkle root benchmark. */
  merkleLeaves?: number;
  /** Pre-encoded events the verification kernel walks through, and how many one operation verifies. */
  kernelEvents?: number;
  kernelChunk?: number;
  kernelAggregates?: number;
  signal?: AbortSignal;
  /** Called before each benchmark starts. */
  onProgress?: (name: string) => void;
}

export interface MicroBenchmarkResult {
  name: string;
  /** What one operation is. */
  operation: string;
  opsPerSecond: number;
  meanMicros: number;
  p99Micros: number;
  samples: number;
  /** Events (or leaves) one operation handles, and so how many per second one core handles. */
  itemsPerOp: number;
  itemsPerSecond: number;
}

interface Kernel {
  name: string;
  operation: string;
  itemsPerOp: number;
  minIterations: number;
  fn: () => unknown;
}

/**
 * The verification kernel exactly as `cim verify` runs it per event: the chain checker (scan the
 * envelope's chain fields, recompute the CID and compare it with the header's, check seq, prev
 * and subject) and the seal's Merkle accumulator. Returns a function verifying the next `chunk`
 * events, wrapping around (and starting the chains afresh) at the end, so each sample is a
 * realistic slice of a stream. A finding would mean the kernel is measuring the wrong thing.
 */
function verificationKernel(events: ReturnType<typeof sampleStream>, chunk: number): () => void {
  const subjects = new Subjects();
  const messages = events.map((item, i) => ({
    streamSeq: i + 1,
    subject: subjects.event(item.event.envelope.domain, item.event.envelope.aggregateId),
    data: item.event.bytes,
    claimedCid: item.cid,
  }));
  const domain = events[0]?.event.envelope.domain ?? 'bench';
  let findings = new FindingList();
  let checker = new ChainChecker(domain, domainStream(domain), subjects, findings);
  let tree = new MerkleAccumulator();
  let next = 0;
  return () => {
    if (next >= messages.length) {
      next = 0;
      findings = new FindingList();
      checker = new ChainChecker(domain, domainStream(domain), subjects, findings);
      tree = new MerkleAccumulator();
    }
    const end = Math.min(next + chunk, messages.length);
    for (; next < end; next++) tree.push(checker.check(messages[next]!));
    if (findings.list.length > 0) throw new Error(`verification kernel: ${findings.list[0]!.message}`);
  };
}

function kernels(options: Required<Omit<MicroBenchmarkOptions, 'signal' | 'onProgress'>>): Kernel[] {
  const payload = samplePayload(options.payloadBytes);
  const envelope = sampleEnvelope(
    sampleAggregateId(1),
    2,
    encodeEnvelope(sampleEnvelope(sampleAggregateId(1), 1, null, payload)).cid,
    payload,
  );
  const encoded = encodeEnvelope(envelope);
  const encodedCid = encoded.cid.toString();
  const leaves = sampleStream(Math.min(options.merkleLeaves, 1_000), 10, payload).map((e) => e.event.cid.bytes);
  const merkleLeaves = Array.from({ length: options.merkleLeaves }, (_, i) => leaves[i % leaves.length]!);
  const chunk = Math.min(options.kernelChunk, options.kernelEvents);
  const stream = sampleStream(options.kernelEvents, options.kernelAggregates, payload);

  return [
    {
      name: 'encode + CID',
      operation: `dag-cbor encode of one envelope (${encoded.bytes.length} B) and its CID`,
      itemsPerOp: 1,
      minIterations: options.minIterations,
      fn: () => encodeEnvelope(envelope),
    },
    {
      name: 'decode + verify',
      operation: 'decode, validate and CID-check one event',
      itemsPerOp: 1,
      minIterations: options.minIterations,
      fn: () => decodeEnvelope(encoded.bytes, encodedCid),
    },
    {
      name: `Merkle root of ${options.merkleLeaves} CIDs`,
      operation: `RFC 6962 tree hash over ${options.merkleLeaves} CIDs`,
      itemsPerOp: options.merkleLeaves,
      minIterations: options.minIterations,
      fn: () => merkleRoot(merkleLeaves),
    },
    {
      name: 'stream verification kernel',
      operation: `chain check (CID, seq, prev, subject) + Merkle leaf of ${chunk} events (of ${options.kernelEvents} over ${options.kernelAggregates} aggregates)`,
      itemsPerOp: chunk,
      // At least one pass over every pre-encoded event.
      minIterations: Math.max(options.minIterations, Math.ceil(options.kernelEvents / chunk)),
      fn: verificationKernel(stream, chunk),
    },
  ];
}

/** Runs the micro-benchmarks one after another; returns the figures of those that completed. */
export async function runMicroBenchmarks(options: MicroBenchmarkOptions = {}): Promise<MicroBenchmarkResult[]> {
  const settings = {
    payloadBytes: options.payloadBytes ?? 256,
    timeMs: options.timeMs ?? 1_000,
    minIterations: options.minIterations ?? 64,
    warmupMs: options.warmupMs ?? 250,
    merkleLeaves: options.merkleLeaves ?? 10_000,
    kernelEvents: options.kernelEvents ?? 50_000,
    kernelChunk: options.kernelChunk ?? 1_000,
    kernelAggregates: options.kernelAggregates ?? 1_000,
  };
  const results: MicroBenchmarkResult[] = [];
  if (options.signal?.aborted) return results; // before encoding the kernel's 50k events
  for (const kernel of kernels(settings)) {
    if (options.signal?.aborted) break;
    options.onProgress?.(kernel.name);
    // One Bench per kernel: iteration minimums differ (the stream kernel must cover all events).
    const bench = new Bench({
      time: settings.timeMs,
      iterations: kernel.minIterations,
      warmupTime: settings.warmupMs,
      warmupIterations: Math.min(16, kernel.minIterations),
      throws: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    bench.add(kernel.name, kernel.fn);
    const [task] = await bench.run();
    const result = task?.result;
    if (!result || (result.state !== 'completed' && result.state !== 'aborted-with-statistics')) continue;
    const meanMs = result.latency.mean;
    const opsPerSecond = meanMs > 0 ? 1_000 / meanMs : 0;
    results.push({
      name: kernel.name,
      operation: kernel.operation,
      opsPerSecond,
      meanMicros: meanMs * 1_000,
      p99Micros: result.latency.p99 * 1_000,
      samples: result.latency.samplesCount,
      itemsPerOp: kernel.itemsPerOp,
      itemsPerSecond: opsPerSecond * kernel.itemsPerOp,
    });
  }
  return results;
}
