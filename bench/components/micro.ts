// Micro-benchmarks (tinybench) of the event store's client-side kernels: what one event costs to
// encode and name, to decode and check, to seal (Merkle root), and to verify in a stream.
import { setMaxListeners } from 'node:events';
import { Bench } from 'tinybench';
import {
  ChainChecker,
  decodeEnvelope,
  domainStream,
  encodeEnvelope,
  FindingList,
  MerkleAccumulator,
  merkleRoot,
  sha256,
  Subjects,
  ChunkPacker,
  verifyChunk,
  type PackedChunk,
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
  /** Messages per chunk of the worker kernel (as `cim verify` sends its workers). */
  workerChunk?: number;
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
  /** items/s ÷ the items/s of the benchmark named, measured in the same run (the kernel ÷ a bare SHA-256 of its bytes). */
  relative?: { to: string; ratio: number };
}

/** The parallel verification's per-chunk kernel, and its baseline: SHA-256 of the same bytes, nothing else. */
export const CHUNK_KERNEL = 'verification kernel (worker chunk)';
export const SHA256_OF_EVENTS = 'SHA-256 of the same event bytes';

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

/**
 * The messages of `events` as a stream holds them (subject, header block with `Cim-Cid`, body),
 * packed into chunks as the reading thread packs them for the workers: packing is the reader's
 * cost, so it is done once, outside what is measured.
 */
function packedStream(events: ReturnType<typeof sampleStream>, chunk: number): PackedChunk[] {
  const subjects = new Subjects();
  const encoder = new TextEncoder();
  const chunks: PackedChunk[] = [];
  const packer = new ChunkPacker(chunk);
  events.forEach((item, i) => {
    const e = item.event.envelope;
    const headers = encoder.encode(
      `NATS/1.0\r\nCim-Event-Type: ${e.type}\r\nCim-Cid: ${item.cid}\r\nNats-Msg-Id: ${e.aggregateId}:${e.seq}\r\n\r\n`,
    );
    const raw = new Uint8Array(headers.length + item.event.bytes.length);
    raw.set(headers);
    raw.set(item.event.bytes, headers.length);
    packer.add(i + 1, {
      subject: encoder.encode(subjects.event(e.domain, e.aggregateId)),
      raw,
      headerLength: headers.length,
    });
    if (packer.full) chunks.push(packer.take());
  });
  if (packer.count > 0) chunks.push(packer.take());
  // One dense seal over the stream, as a sealed stream's chunks are sent: the workers hash subtrees too.
  for (const c of chunks) c.ranges = [{ fromSeq: 1, toSeq: events.length }];
  return chunks;
}

/** What a verification worker does with each chunk, in turn over the stream's chunks. A finding would mean it measures the wrong thing. */
function chunkKernel(chunks: readonly PackedChunk[], domain: string): () => void {
  const context = { domain, stream: domainStream(domain), subjectPrefix: new Subjects().prefix, maxFindings: 1_000 };
  let next = 0;
  return () => {
    const result = verifyChunk(chunks[next]!, context);
    next = (next + 1) % chunks.length;
    if (result.findings.length > 0) throw new Error(`verification kernel: ${result.findings[0]!.message}`);
  };
}

/** SHA-256 of each chunk's event bodies and nothing more (the event store's own one-shot hash): the least any verification must do per event. */
function sha256OfEvents(chunks: readonly PackedChunk[]): () => void {
  let next = 0;
  return () => {
    const { count, offsets, bytes } = chunks[next]!;
    next = (next + 1) % chunks.length;
    for (let i = 0; i < count; i++) {
      const body = offsets[i * 4]! + offsets[i * 4 + 1]! + offsets[i * 4 + 2]!;
      sha256(bytes.subarray(body, body + offsets[i * 4 + 3]!));
    }
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
  const chunks = packedStream(stream, options.workerChunk);
  const chunkEvents = chunks[0]?.count ?? 0;

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
    {
      name: CHUNK_KERNEL,
      operation: `what a verification worker does with a chunk of ${chunkEvents} messages: CID, header CID, subject, chain steps, Merkle leaf and subtree hashes`,
      itemsPerOp: chunkEvents,
      minIterations: Math.max(8, chunks.length),
      fn: chunkKernel(chunks, stream[0]?.event.envelope.domain ?? 'benchmark'),
    },
    {
      name: SHA256_OF_EVENTS,
      operation: `SHA-256 of the bodies of a chunk of ${chunkEvents} messages, nothing else (the kernel's baseline)`,
      itemsPerOp: chunkEvents,
      minIterations: Math.max(8, chunks.length),
      fn: sha256OfEvents(chunks),
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
    workerChunk: options.workerChunk ?? 8_192,
  };
  const results: MicroBenchmarkResult[] = [];
  if (options.signal?.aborted) return results; // before encoding the kernel's 50k events
  const all = kernels(settings);
  // One Bench per kernel, each listening on the one signal: more than Node's default warning level of 10.
  if (options.signal) setMaxListeners(4 * all.length, options.signal);
  for (const kernel of all) {
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
  // Same run, same bytes: the kernel per event as a share of hashing them alone.
  const kernel = results.find((r) => r.name === CHUNK_KERNEL);
  const sha = results.find((r) => r.name === SHA256_OF_EVENTS);
  if (kernel && sha && sha.itemsPerSecond > 0)
    kernel.relative = { to: SHA256_OF_EVENTS, ratio: kernel.itemsPerSecond / sha.itemsPerSecond };
  return results;
}
