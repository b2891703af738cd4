// The per-chunk kernel of a parallel verification (docs/architecture.md#verification): a chunk
// of consecutive stream messages, packed into two transferable buffers, is checked on its own —
// CIDs recomputed and compared with the header's, subjects, and every chain step inside the
// chunk — and each event's Merkle leaf hash computed. What a chunk cannot judge alone (each
// aggregate's first event in it) comes back for the main thread to judge, in stream order.
import { ChainChecker } from './chain-check.js';
import { FindingList, type Finding } from './findings.js';
import { leafHash, nodeHash } from './merkle.js';
import { claimedCidOf, type MessageBytes } from '../eventstore/message-bytes.js';
import { Subjects } from '../eventstore/names.js';

/** Consecutive messages of a stream as bytes: what a worker is sent (both buffers transferred). */
export interface PackedChunk {
  count: number;
  /** Stream sequence of each message. */
  seqs: Float64Array;
  /** Per message: start in `bytes`, subject length, header block length, body length. */
  offsets: Uint32Array;
  bytes: Uint8Array;
  /**
   * Seal ranges the chunk's events are expected to be leaves of, in order, where a leaf's place
   * is its sequence's offset from `fromSeq` (dense seals). The worker hashes aligned runs of them
   * into subtree roots; the main thread uses one only where the expectation held.
   */
  ranges?: { fromSeq: number; toSeq: number }[];
}

/** A perfect subtree over the leaves of events `index` .. `index + 2^height − 1` of a chunk. */
export interface LeafSubtree {
  index: number;
  height: number;
  root: Uint8Array;
}

/** Packs messages into a chunk; `take` hands the buffers over and starts a new one. */
export class ChunkPacker {
  private seqs: Float64Array;
  private offsets: Uint32Array;
  private bytes: Uint8Array;
  private pos = 0;
  count = 0;

  constructor(
    readonly capacity: number,
    private readonly bytesHint = capacity * 512,
  ) {
    this.seqs = new Float64Array(capacity);
    this.offsets = new Uint32Array(capacity * 4);
    this.bytes = new Uint8Array(bytesHint);
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  add(seq: number, m: MessageBytes): void {
    const need = this.pos + m.subject.length + m.raw.length;
    if (need > this.bytes.length) {
      const grown = new Uint8Array(Math.max(need, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.pos));
      this.bytes = grown;
    }
    const i = this.count++;
    this.seqs[i] = seq;
    const o = i * 4;
    this.offsets[o] = this.pos;
    this.offsets[o + 1] = m.subject.length;
    this.offsets[o + 2] = m.headerLength;
    this.offsets[o + 3] = m.raw.length - m.headerLength;
    this.bytes.set(m.subject, this.pos);
    this.bytes.set(m.raw, this.pos + m.subject.length);
    this.pos = need;
  }

  take(): PackedChunk {
    const chunk = { count: this.count, seqs: this.seqs, offsets: this.offsets, bytes: this.bytes };
    const spare = this.spare.pop();
    this.seqs = new Float64Array(this.capacity);
    this.offsets = spare?.offsets.length === this.capacity * 4 ? spare.offsets : new Uint32Array(this.capacity * 4);
    this.bytes = spare?.bytes ?? new Uint8Array(Math.max(this.bytesHint, Math.min(this.pos, 64 << 20)));
    this.pos = 0;
    this.count = 0;
    return chunk;
  }

  /** Buffers of a chunk that was checked, handed back for the next chunks: megabytes a chunk need not allocate. */
  recycle(chunk: Pick<PackedChunk, 'offsets' | 'bytes'>): void {
    if (this.spare.length < 4) this.spare.push(chunk);
  }

  private readonly spare: Pick<PackedChunk, 'offsets' | 'bytes'>[] = [];
}

/** What a chunk's checker needs to know of its stream. */
export interface KernelContext {
  domain: string;
  stream: string;
  subjectPrefix: string;
  /** Findings a chunk keeps (the domain's cap: no finding past it in one chunk can be among the kept). */
  maxFindings: number;
}

/** An aggregate's first event in a chunk, to be judged against what came before the chunk. */
export interface ChainOpening {
  index: number;
  aggregateId: string;
  seq: number;
  prev: Uint8Array | null;
  cid: Uint8Array;
}

export interface ChunkResult {
  count: number;
  /** The chunk's buffers, handed back (the sequences for the main thread; the rest for `ChunkPacker.recycle`). */
  seqs: Float64Array;
  offsets: Uint32Array;
  bytes: Uint8Array;
  /** 32 bytes per message: SHA-256(0x00 ‖ its binary CID), the seal's Merkle leaf hash. */
  leafHashes: Uint8Array;
  /** The chunk's own findings in order, each with the index of the message it is about. */
  findings: Finding[];
  findingIndices: number[];
  findingsOmitted: number;
  /** In stream order. */
  openings: ChainOpening[];
  /** Subtree roots over the expected leaves (see `PackedChunk.ranges`), in order. */
  subtrees: LeafSubtree[];
  /** Each aggregate's last event in the chunk. */
  heads: { aggregateId: string; seq: number; cid: Uint8Array }[];
}

/** A FindingList that remembers which message each kept finding is about. */
class IndexedFindings extends FindingList {
  index = 0;
  readonly indices: number[] = [];

  override add(finding: Finding): void {
    if (this.list.length < this.max) {
      this.list.push(finding);
      this.indices.push(this.index);
    } else this.omitted++;
  }
}

/** Checks one chunk: everything `ChainChecker.check` does per event, bar each aggregate's first event. */
export function verifyChunk(chunk: PackedChunk, context: KernelContext): ChunkResult {
  const findings = new IndexedFindings(context.maxFindings);
  const openings: ChainOpening[] = [];
  const checker = new ChainChecker(
    context.domain,
    context.stream,
    new Subjects(context.subjectPrefix),
    findings,
    false,
    new Set(),
    (_streamSeq, aggregateId, seq, prev, cid) =>
      openings.push({ index: findings.index, aggregateId, seq, prev: prev && new Uint8Array(prev), cid }),
  );
  const { count, seqs, offsets } = chunk;
  const bytes = Buffer.from(chunk.bytes.buffer, chunk.bytes.byteOffset, chunk.bytes.byteLength);
  const leafHashes = new Uint8Array(count * 32);
  for (let i = 0; i < count; i++) {
    const o = i * 4;
    const start = offsets[o]!;
    const subjectEnd = start + offsets[o + 1]!;
    const headerEnd = subjectEnd + offsets[o + 2]!;
    const end = headerEnd + offsets[o + 3]!;
    findings.index = i;
    const cid = checker.check({
      streamSeq: seqs[i]!,
      subject: bytes.toString('utf8', start, subjectEnd),
      data: bytes.subarray(headerEnd, end),
      claimedCid: claimedCidOf(bytes, subjectEnd, headerEnd),
    });
    leafHashes.set(leafHash(cid), i * 32);
  }
  const subtrees = chunk.ranges ? subtreesOf(seqs, count, leafHashes, chunk.ranges) : [];
  const heads = [...checker.heads()].map(([aggregateId, head]) => ({ aggregateId, seq: head.seq, cid: head.cid }));
  return {
    count,
    seqs,
    offsets,
    bytes: chunk.bytes,
    leafHashes,
    findings: findings.list,
    findingIndices: findings.indices,
    findingsOmitted: findings.omitted,
    openings,
    subtrees,
    heads,
  };
}

/**
 * Runs of consecutive sequences inside one expected range, cut into the largest perfect subtrees
 * their places allow (a subtree of 2^k leaves starts at a place that is a multiple of 2^k).
 */
export function subtreesOf(
  seqs: Float64Array,
  count: number,
  leafHashes: Uint8Array,
  ranges: readonly { fromSeq: number; toSeq: number }[],
): LeafSubtree[] {
  const out: LeafSubtree[] = [];
  let r = 0;
  let i = 0;
  while (i < count) {
    const seq = seqs[i]!;
    while (r < ranges.length && ranges[r]!.toSeq < seq) r++;
    const range = ranges[r];
    if (!range || range.fromSeq > seq) {
      i++;
      continue;
    }
    let end = i + 1; // the run: consecutive sequences in this range
    while (end < count && seqs[end] === seqs[end - 1]! + 1 && seqs[end]! <= range.toSeq) end++;
    for (let at = i; at < end;) {
      const place = seqs[at]! - range.fromSeq;
      let height = 0;
      while (place % 2 ** (height + 1) === 0 && at + 2 ** (height + 1) <= end) height++;
      if (height > 0) out.push({ index: at, height, root: subtreeRoot(leafHashes, at, height) });
      at += 2 ** height;
    }
    i = end;
  }
  return out;
}

function subtreeRoot(leafHashes: Uint8Array, from: number, height: number): Uint8Array {
  let level: Uint8Array[] = [];
  for (let i = 0; i < 2 ** height; i++) level.push(leafHashes.subarray((from + i) * 32, (from + i) * 32 + 32));
  while (level.length > 1) {
    const up: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(nodeHash(level[i]!, level[i + 1]!));
    level = up;
  }
  return new Uint8Array(level[0]!);
}
