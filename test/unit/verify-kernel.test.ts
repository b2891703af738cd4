// The parallel verification's pure parts, without NATS or threads: a chunk checked on its own,
// its aggregates' first events then judged in stream order, gives the one pass's findings in the
// same order; subtree roots give the same Merkle root as the leaves one by one; the header CID
// and its base32 comparison agree with nats.js and multiformats.
import { base32 } from 'multiformats/bases/base32';
import { MsgHdrsImpl } from 'nats';
import { describe, expect, it } from 'vitest';
import {
  ChainChecker,
  encodeEnvelope,
  FindingList,
  MerkleAccumulator,
  Subjects,
  type EventEnvelope,
  type Finding,
} from '../../appliance/index.js';
import { isBase32Of } from '../../appliance/integrity/chain-check.js';
import { ChunkPacker, subtreesOf, verifyChunk, type ChunkResult } from '../../appliance/integrity/verify-kernel.js';
import { claimedCidOf } from '../../appliance/eventstore/message-bytes.js';
import { seededRandom } from '../support/random.js';

const subjects = new Subjects();
const encoder = new TextEncoder();
const context = { domain: 'person', stream: 'CIM_PERSON', subjectPrefix: 'cim', maxFindings: 1_000 };

interface Stored {
  subject: string;
  data: Uint8Array;
  claimedCid?: string;
}

/** `aggregates` chains of `perAggregate` events, interleaved as a stream holds them (seeded order). */
function stream(aggregates: number, perAggregate: number, seed: number): Stored[] {
  const random = seededRandom(seed);
  const heads = Array.from({ length: aggregates }, () => ({ seq: 0, cid: null as EventEnvelope['prev'] }));
  const left = Array.from({ length: aggregates }, () => perAggregate);
  const out: Stored[] = [];
  while (left.some((n) => n > 0)) {
    const a = random.pick(left.map((n, i) => (n > 0 ? i : -1)).filter((i) => i >= 0));
    left[a]!--;
    const head = heads[a]!;
    const event = encodeEnvelope({
      v: 1,
      id: `e${out.length}`,
      domain: 'person',
      aggregate: 'Person',
      aggregateId: `p${a}`,
      seq: head.seq + 1,
      type: 'Changed',
      typeVersion: 1,
      at: '2026-11-25T10:00:00Z',
      correlationId: 'c',
      causationId: 'c',
      actor: 'a',
      payload: { n: out.length },
      prev: head.cid,
    });
    heads[a] = { seq: head.seq + 1, cid: event.cid };
    out.push({ subject: subjects.event('person', `p${a}`), data: event.bytes, claimedCid: event.cid.toString() });
  }
  return out;
}

/** Damage of every kind the chain checks see: a lost event, a forged claim, a wrong subject, bytes that are no event. */
function tampered(messages: Stored[]): Stored[] {
  const out = [...messages];
  out.splice(17, 1); // a chain breaks
  out[40] = { ...out[40]!, claimedCid: out[41]!.claimedCid! }; // cid-mismatch
  out[63] = { ...out[63]!, subject: subjects.event('person', 'someone-else') }; // wrong-subject
  out[90] = { subject: out[90]!.subject, data: encoder.encode('not an event') }; // invalid-event
  out[120] = { ...out[120]!, claimedCid: undefined }; // no claim: nothing to compare
  return out;
}

function onePass(messages: Stored[]): Finding[] {
  const findings = new FindingList();
  const checker = new ChainChecker('person', 'CIM_PERSON', subjects, findings);
  messages.forEach((m, i) => checker.check({ ...m, streamSeq: i + 1 }));
  return findings.list;
}

function packed(messages: Stored[], from: number, to: number) {
  const packer = new ChunkPacker(to - from, 64);
  for (let i = from; i < to; i++) {
    const m = messages[i]!;
    const headers = m.claimedCid
      ? encoder.encode(`NATS/1.0\r\nCim-Event-Type: Changed\r\nCim-Cid: ${m.claimedCid}\r\n\r\n`)
      : new Uint8Array();
    const raw = new Uint8Array(headers.length + m.data.length);
    raw.set(headers);
    raw.set(m.data, headers.length);
    packer.add(i + 1, { subject: encoder.encode(m.subject), raw, headerLength: headers.length });
  }
  return packer.take();
}

/** What the main thread does with chunk results, in order: their findings, then each opening judged. */
function chunked(messages: Stored[], chunkSize: number): Finding[] {
  const findings = new FindingList();
  const main = new ChainChecker('person', 'CIM_PERSON', subjects, findings);
  const results: ChunkResult[] = [];
  for (let from = 0; from < messages.length; from += chunkSize)
    results.push(verifyChunk(packed(messages, from, Math.min(messages.length, from + chunkSize)), context));
  for (const r of results) {
    let f = 0;
    let o = 0;
    for (let i = 0; i < r.count; i++) {
      for (; f < r.findingIndices.length && r.findingIndices[f] === i; f++) findings.add(r.findings[f]!);
      const opening = r.openings[o];
      if (opening?.index === i) {
        main.extend(r.seqs[i]!, opening.aggregateId, opening.seq, opening.prev, opening.cid);
        o++;
      }
    }
    for (const head of r.heads) main.settle(head.aggregateId, head.seq, head.cid);
  }
  return findings.list;
}

describe('verifyChunk', () => {
  it('given a sound stream in chunks, finds nothing and hashes every leaf as the accumulator does', () => {
    const messages = stream(7, 20, 1);
    expect(chunked(messages, 32)).toEqual([]);
    const r = verifyChunk(packed(messages, 0, 16), context);
    const hashed = new MerkleAccumulator();
    for (let i = 0; i < 16; i++) hashed.pushLeafHash(r.leafHashes.subarray(i * 32, i * 32 + 32));
    const direct = new MerkleAccumulator();
    for (const m of messages.slice(0, 16)) direct.push(base32.decode(m.claimedCid!));
    expect(Buffer.from(hashed.root()).toString('hex')).toBe(Buffer.from(direct.root()).toString('hex'));
  });

  it.each([1, 5, 32, 1_000])(
    'given a tampered stream in chunks of %i, finds what the one pass finds, in the same order',
    (chunkSize) => {
      const messages = tampered(stream(9, 16, 2));
      const expected = onePass(messages);
      expect(expected.map((f) => f.kind)).toEqual(
        expect.arrayContaining(['chain-broken', 'cid-mismatch', 'wrong-subject', 'invalid-event']),
      );
      expect(chunked(messages, chunkSize)).toEqual(expected);
    },
  );

  it('given more findings in a chunk than the cap, keeps the first and counts the rest', () => {
    const messages = stream(3, 10, 3).map((m) => ({ ...m, claimedCid: 'bafynot' }));
    const r = verifyChunk(packed(messages, 0, messages.length), { ...context, maxFindings: 4 });
    expect(r.findings).toHaveLength(4);
    expect(r.findingsOmitted).toBe(messages.length - 4);
    expect(r.findingIndices).toEqual([0, 1, 2, 3]);
  });
});

describe('subtreesOf', () => {
  it('given runs with gaps across two ranges, the subtrees and the leaves between them give the one-by-one root', () => {
    const random = seededRandom(4);
    const seqs = [...Array.from({ length: 40 }, (_, i) => i + 3), ...Array.from({ length: 30 }, (_, i) => i + 45)];
    const leafHashes = new Uint8Array(seqs.length * 32).map(() => random.int(0, 255));
    const ranges = [
      { fromSeq: 1, toSeq: 30 },
      { fromSeq: 31, toSeq: 100 },
    ];
    const subtrees = subtreesOf(new Float64Array(seqs), seqs.length, leafHashes, ranges);
    expect(subtrees.length).toBeGreaterThan(0);
    // Each subtree sits inside one range, on consecutive sequences, at a place aligned to its size.
    for (const s of subtrees) {
      const first = seqs[s.index]!;
      const last = seqs[s.index + 2 ** s.height - 1]!;
      const range = ranges.find((r) => r.fromSeq <= first && first <= r.toSeq)!;
      expect(last - first).toBe(2 ** s.height - 1);
      expect(last).toBeLessThanOrEqual(range.toSeq);
      expect((first - range.fromSeq) % 2 ** s.height).toBe(0);
    }
    // The first range's run (seq 3..30) sits at places 2..29: after the two absent places (the
    // same two leaves on both sides), its subtrees and remaining leaves rebuild its root.
    const leaf = (i: number) => leafHashes.subarray(i * 32, i * 32 + 32);
    const absent = new Uint8Array(32).fill(7);
    const byLeaf = new MerkleAccumulator();
    const bySubtree = new MerkleAccumulator();
    for (const tree of [byLeaf, bySubtree]) for (let k = 0; k < 2; k++) tree.pushLeafHash(absent);
    for (let i = 0; i < 28; i++) byLeaf.pushLeafHash(leaf(i));
    for (let i = 0; i < 28;) {
      const s = subtrees.find((t) => t.index === i);
      if (s) {
        bySubtree.pushSubtree(s.root, s.height);
        i += 2 ** s.height;
      } else bySubtree.pushLeafHash(leaf(i++));
    }
    expect(Buffer.from(bySubtree.root()).toString('hex')).toBe(Buffer.from(byLeaf.root()).toString('hex'));
  });

  it('given an aligned dense run, pushSubtree gives the root of pushing its leaves', () => {
    const random = seededRandom(5);
    const n = 64 + 16 + 3;
    const seqs = new Float64Array(Array.from({ length: n }, (_, i) => i + 1));
    const leafHashes = new Uint8Array(n * 32).map(() => random.int(0, 255));
    const subtrees = subtreesOf(seqs, n, leafHashes, [{ fromSeq: 1, toSeq: n }]);
    expect(subtrees.map((s) => s.height)).toEqual([6, 4, 1]);
    const byLeaf = new MerkleAccumulator();
    const bySubtree = new MerkleAccumulator();
    for (let i = 0; i < n; i++) byLeaf.pushLeafHash(leafHashes.subarray(i * 32, i * 32 + 32));
    for (const s of subtrees) bySubtree.pushSubtree(s.root, s.height);
    bySubtree.pushLeafHash(leafHashes.subarray((n - 1) * 32, n * 32));
    expect(Buffer.from(bySubtree.root()).toString('hex')).toBe(Buffer.from(byLeaf.root()).toString('hex'));
  });
});

describe('isBase32Of', () => {
  it('agrees with multiformats base32 on the CIDs of events and on near misses', () => {
    const random = seededRandom(6);
    for (let i = 0; i < 200; i++) {
      const bytes = new Uint8Array(random.int(1, 40)).map(() => random.int(0, 255));
      const text = base32.encode(bytes);
      expect(isBase32Of(text, bytes)).toBe(true);
      const at = random.int(0, text.length - 1);
      const other = text.slice(0, at) + (text[at] === 'a' ? 'b' : 'a') + text.slice(at + 1);
      expect(isBase32Of(other, bytes)).toBe(false);
      expect(isBase32Of(text + 'a', bytes)).toBe(false);
    }
  });
});

describe('claimedCidOf', () => {
  it.each([
    'NATS/1.0\r\nCim-Cid: bafyone\r\n\r\n',
    'NATS/1.0\r\nCim-Event-Type: X\r\nCim-Cid:   bafytwo  \r\nCim-Cid: bafythree\r\n\r\n',
    'NATS/1.0\r\ncim-cid: lower\r\n\r\n',
    'NATS/1.0\r\nCim-Cid:\r\n\r\n',
    'NATS/1.0\r\nX-Cim-Cid: other\r\n\r\n',
    'NATS/1.0 Cim-Cid: status\r\n\r\n',
    'NATS/1.0\r\nCim-Cid: é€\r\n\r\n',
  ])('gives what nats.js headers.get gives for %j', (block) => {
    const bytes = Buffer.concat([Buffer.from('body-before'), Buffer.from(block), Buffer.from('body')]);
    const start = 'body-before'.length;
    const end = start + Buffer.byteLength(block);
    const expected = MsgHdrsImpl.decode(encoder.encode(block)).get('Cim-Cid') || undefined;
    expect(claimedCidOf(bytes, start, end)).toBe(expected);
  });
});
