// The replica comparison without a cluster: copies built in memory, compared against the leader
// or the majority, Merkle roots bisected down to the sequences that differ, each divergence
// named with what the seals say; and a block file read back as nats-server lays it out.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bisectDifferences,
  cidBytesOf,
  compareReplicas,
  describeDivergence,
  describeRanges,
  merkleRoot,
  messageDigest,
  readStoredStream,
  toRanges,
  type ReplicaCopy,
  type ReplicaMessage,
  type SealClaim,
} from '../../appliance/index.js';
import { tempDir } from '../support/temp-dir.js';

const STREAM = 'CIM_THING';
const msg = (seq: number, body = `event ${seq}`): ReplicaMessage => ({
  seq,
  subject: `cim.thing.events.a`,
  data: Buffer.from(body),
});
const copy = (server: string, messages: ReplicaMessage[], stream = STREAM): ReplicaCopy => ({
  server,
  stream,
  messages,
});
const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));
const leaders = (leader: string | undefined) => new Map([[STREAM, leader]]);
const sealOver = (messages: ReplicaMessage[], fromSeq: number, toSeq: number): SealClaim => ({
  domain: 'thing',
  fromSeq,
  toSeq,
  merkleRoot: merkleRoot(messages.filter((m) => m.seq >= fromSeq && m.seq <= toSeq).map((m) => cidBytesOf(m.data))),
});

describe('bisecting Merkle roots', () => {
  it('finds exactly the differing positions of long arrays, and none of equal ones', () => {
    const a = Array.from({ length: 1000 }, (_, i) => messageDigest(msg(i + 1)));
    const b = a.map((d, i) => ([17, 500, 501, 999].includes(i) ? messageDigest(msg(i + 1, 'other')) : d));
    expect(bisectDifferences(a, b, 1)).toEqual([18, 501, 502, 1000]);
    expect(bisectDifferences(a, [...a], 1)).toEqual([]);
    // A shorter copy differs at every position past its end.
    expect(bisectDifferences(a.slice(0, 40), a.slice(0, 37), 10)).toEqual([47, 48, 49]);
  });

  it('folds sequences into ranges and says them', () => {
    expect(toRanges([9, 3, 4, 5, 7, 5])).toEqual([
      { from: 3, to: 5 },
      { from: 7, to: 7 },
      { from: 9, to: 9 },
    ]);
    expect(describeRanges(toRanges([57, 58, 59, 60, 63]))).toBe('57–60, 63');
  });
});

describe('comparing replicas', () => {
  it('names a missing range, an extra message and another body against the leader', () => {
    const full = seqs(1, 10);
    const n2 = full.filter((m) => m.seq < 4 || m.seq > 6).map((m) => (m.seq === 8 ? msg(8, 'altered') : m));
    const n3 = [...full, msg(11)];
    const result = compareReplicas([copy('n1', full), copy('n2', n2), copy('n3', n3)], { leaders: leaders('n1') });
    expect(result.streams).toEqual([
      {
        stream: STREAM,
        replicas: [
          { server: 'n1', stream: STREAM, leader: true, messages: 10, firstSeq: 1, lastSeq: 10 },
          { server: 'n2', stream: STREAM, leader: false, messages: 7, firstSeq: 1, lastSeq: 10 },
          { server: 'n3', stream: STREAM, leader: false, messages: 11, firstSeq: 1, lastSeq: 11 },
        ],
      },
    ]);
    expect(result.divergences).toEqual([
      {
        stream: STREAM,
        replica: 'n2',
        reference: 'n1',
        kind: 'missing',
        sequences: [{ from: 4, to: 6 }],
        agreesWithSeals: 'unsealed',
      },
      {
        stream: STREAM,
        replica: 'n2',
        reference: 'n1',
        kind: 'different',
        sequences: [{ from: 8, to: 8 }],
        agreesWithSeals: 'unsealed',
      },
      {
        stream: STREAM,
        replica: 'n3',
        reference: 'n1',
        kind: 'extra',
        sequences: [{ from: 11, to: 11 }],
        agreesWithSeals: 'unsealed',
      },
    ]);
    expect(result.divergences.map(describeDivergence)).toEqual([
      'replica n2 of CIM_THING is missing seq 4–6 (against n1; unsealed)',
      'replica n2 of CIM_THING holds other bytes at seq 8 (against n1; unsealed)',
      'replica n3 of CIM_THING has extra seq 11 (against n1; unsealed)',
    ]);
  });

  it('takes the majority as the reference when there is no leader, even if the odd one is first by name', () => {
    const full = seqs(1, 5);
    const result = compareReplicas([copy('n1', seqs(1, 3)), copy('n2', full), copy('n3', full)], {
      leaders: leaders(undefined),
    });
    expect(result.divergences).toMatchObject([
      { replica: 'n1', reference: 'n2', kind: 'missing', sequences: [{ from: 4, to: 5 }] },
    ]);
  });

  it('says whom the seals agree with: the reference, the replica, neither, or nobody sealed it', () => {
    const good = seqs(1, 6);
    const bad = good.map((m) => (m.seq === 2 ? msg(2, 'altered') : m));
    const seals = [sealOver(good, 1, 3)];
    const against = (reference: ReplicaMessage[], replica: ReplicaMessage[], claims: SealClaim[]) =>
      compareReplicas([copy('n1', reference), copy('n2', replica)], { leaders: leaders('n1'), seals: claims })
        .divergences[0]?.agreesWithSeals;
    expect(against(good, bad, seals)).toBe('reference');
    expect(against(bad, good, seals)).toBe('replica');
    expect(
      against(
        bad,
        bad.map((m) => (m.seq === 2 ? msg(2, 'third') : m)),
        seals,
      ),
    ).toBe('neither');
    expect(
      against(
        good,
        good.map((m) => (m.seq === 5 ? msg(5, 'x') : m)),
        seals,
      ),
    ).toBe('unsealed');
    // Seals of another domain say nothing about this stream.
    expect(against(good, bad, [{ ...seals[0]!, domain: 'other' }])).toBe('unsealed');
  });

  it('compares at the sequences the copies hold, so a damaged record claiming seq 2^33 + 57 costs nothing', () => {
    // A bit flipped in a record's sequence field: an array over first..last would span 8.6 billion.
    const far = 2 ** 33 + 57;
    const comparison = compareReplicas(
      [copy('n1', seqs(1, 50)), copy('n2', [...seqs(1, 49), msg(far)]), copy('n3', seqs(1, 50))],
      { leaders: leaders('n1') },
    );
    expect(comparison.divergences.map((d) => [d.replica, d.kind, describeRanges(d.sequences)])).toEqual([
      ['n2', 'missing', '50'],
      ['n2', 'extra', String(far)],
    ]);
  });

  it('reports nothing for identical copies, or a stream held by one server only', () => {
    const result = compareReplicas([copy('n1', seqs(1, 4)), copy('n2', seqs(1, 4)), copy('n1', seqs(1, 2), 'CIM_R1')], {
      unreadable: [{ server: 'n3', stream: STREAM, reason: 'n3 is paused (SIGSTOP)' }],
    });
    expect(result.divergences).toEqual([]);
    expect(result.streams.map((s) => [s.stream, s.replicas.length])).toEqual([
      ['CIM_R1', 1],
      [STREAM, 2],
    ]);
    expect(result.unreadable).toHaveLength(1);
  });
});

describe('a block file read back', () => {
  /** A record as nats-server writes it (checksum left zero: the reader does not check it). */
  const record = (seq: bigint, subject: string, data: string, headers?: string) => {
    const subj = Buffer.from(subject);
    const hdr = headers === undefined ? undefined : Buffer.from(headers);
    const body = Buffer.from(data);
    const length = 22 + subj.length + (hdr ? 4 + hdr.length : 0) + body.length + 8;
    const out = Buffer.alloc(length);
    out.writeUInt32LE((length | (hdr ? 0x8000_0000 : 0)) >>> 0, 0);
    out.writeBigUInt64LE(seq, 4);
    out.writeBigInt64LE(1n, 12);
    out.writeUInt16LE(subj.length, 20);
    subj.copy(out, 22);
    let at = 22 + subj.length;
    if (hdr) {
      out.writeUInt32LE(hdr.length, at);
      hdr.copy(out, at + 4);
      at += 4 + hdr.length;
    }
    body.copy(out, at);
    return out;
  };

  it('keeps live records, drops erased and tombstoned ones, and says where a block tore', () => {
    const dir = tempDir('block-files');
    try {
      const msgs = join(dir.path, 'jetstream', '$G', 'streams', STREAM, 'msgs');
      mkdirSync(msgs, { recursive: true });
      writeFileSync(
        join(msgs, '1.blk'),
        Buffer.concat([
          record(1n, 's.a', 'one', 'NATS/1.0\r\nCim-Cid: x\r\n\r\n'),
          record(2n | (1n << 63n), '', '\0\0\0'),
          record(3n, 's.a', 'three'),
          record(4n, 's.b', 'four'),
        ]),
      );
      writeFileSync(
        join(msgs, '2.blk'),
        Buffer.concat([record(5n, 's.a', 'five'), record(4n | (1n << 62n), '', ''), Buffer.from([0xff, 0xff, 0, 0])]),
      );
      const read = readStoredStream(dir.path, STREAM)!;
      expect(read.records.map((r) => [r.seq, r.subject, Buffer.from(r.data).toString()])).toEqual([
        [1, 's.a', 'one'],
        [3, 's.a', 'three'],
        [5, 's.a', 'five'],
      ]);
      expect(Buffer.from(read.records[0]!.headers).toString()).toContain('Cim-Cid: x');
      const tornAt = record(5n, 's.a', 'five').length + record(4n | (1n << 62n), '', '').length;
      expect(read.torn).toEqual([{ file: join(msgs, '2.blk'), offset: tornAt }]);
      expect(readStoredStream(dir.path, 'CIM_NONE')).toBeUndefined();
    } finally {
      dir.remove();
    }
  });
});
