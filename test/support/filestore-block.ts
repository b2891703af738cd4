// nats-server's file store on disk, for tests that must change stored bytes in place: the records
// of a stream's block files (`msgs/<index>.blk`) and their HighwayHash-64 checksums, so a message
// can be rewritten at its own sequence and the server still serves it (a record whose checksum does
// not match is dropped on read: that would look like a deletion, not an alteration).
//
// Record layout (filestore.go, stable from 2.9 on): u32 length (top bit: has headers), u64 seq,
// i64 timestamp, u16 subject length, subject, [u32 headers length, headers], body, 8-byte checksum
// = HighwayHash-64 over seq+timestamp, subject, headers and body, keyed by sha256("<stream>-<index>").
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;
const INIT0 = [0xdbe6d5d5fe4cce2fn, 0xa4093822299f31d0n, 0x13198a2e03707344n, 0x243f6a8885a308d3n];
const INIT1 = [0x3bd39e10cb0ef593n, 0xc0acf169b5f18a8cn, 0xbe5466cf34e90c6cn, 0x452821e638d01377n];

interface HashState {
  v0: bigint[];
  v1: bigint[];
  mul0: bigint[];
  mul1: bigint[];
}

function lanesOf(bytes: Uint8Array, offset: number): bigint[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [0, 1, 2, 3].map((i) => view.getBigUint64(offset + i * 8, true));
}

function zipperMergeAndAdd(v1: bigint, v0: bigint, into: bigint[], i1: number, i0: number): void {
  into[i0] =
    (into[i0]! +
      ((((v0 & 0xff000000n) | (v1 & 0xff00000000n)) >> 24n) |
        (((v0 & 0xff0000000000n) | (v1 & 0xff000000000000n)) >> 16n) |
        (v0 & 0xff0000n) |
        ((v0 & 0xff00n) << 32n) |
        ((v1 & 0xff00000000000000n) >> 8n) |
        ((v0 << 56n) & M64))) &
    M64;
  into[i1] =
    (into[i1]! +
      ((((v1 & 0xff000000n) | (v0 & 0xff00000000n)) >> 24n) |
        (v1 & 0xff0000n) |
        ((v1 & 0xff0000000000n) >> 16n) |
        ((v1 & 0xff00n) << 24n) |
        ((v0 & 0xff000000000000n) >> 8n) |
        ((v1 & 0xffn) << 48n) |
        (v0 & 0xff00000000000000n))) &
    M64;
}

function update(s: HashState, lanes: bigint[]): void {
  for (let i = 0; i < 4; i++) {
    s.v1[i] = (s.v1[i]! + s.mul0[i]! + lanes[i]!) & M64;
    s.mul0[i] = s.mul0[i]! ^ ((s.v1[i]! & M32) * (s.v0[i]! >> 32n));
    s.v0[i] = (s.v0[i]! + s.mul1[i]!) & M64;
    s.mul1[i] = s.mul1[i]! ^ ((s.v0[i]! & M32) * (s.v1[i]! >> 32n));
  }
  zipperMergeAndAdd(s.v1[1]!, s.v1[0]!, s.v0, 1, 0);
  zipperMergeAndAdd(s.v1[3]!, s.v1[2]!, s.v0, 3, 2);
  zipperMergeAndAdd(s.v0[1]!, s.v0[0]!, s.v1, 1, 0);
  zipperMergeAndAdd(s.v0[3]!, s.v0[2]!, s.v1, 3, 2);
}

const rotl32 = (x: bigint, count: bigint) => ((x << count) | (x >> (32n - count))) & M32;
const swapHalves = (x: bigint) => ((x >> 32n) | (x << 32n)) & M64;

/** HighwayHash-64 (Google's reference algorithm, as minio/highwayhash implements it), little-endian bytes. */
export function highwayHash64(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new Error('HighwayHash needs a 32-byte key');
  const k = lanesOf(key, 0);
  const s: HashState = {
    v0: INIT0.map((x, i) => x ^ k[i]!),
    v1: INIT1.map((x, i) => x ^ swapHalves(k[i]!)),
    mul0: [...INIT0],
    mul1: [...INIT1],
  };
  const full = data.length - (data.length % 32);
  for (let offset = 0; offset < full; offset += 32) update(s, lanesOf(data, offset));
  const sizeMod32 = data.length % 32;
  if (sizeMod32 > 0) {
    const rest = data.subarray(full);
    const size = BigInt(sizeMod32);
    for (let i = 0; i < 4; i++) s.v0[i] = (s.v0[i]! + ((size << 32n) + size)) & M64;
    for (let i = 0; i < 4; i++) s.v1[i] = rotl32(s.v1[i]! & M32, size) | (rotl32(s.v1[i]! >> 32n, size) << 32n);
    const packet = new Uint8Array(32);
    const sizeMod4 = sizeMod32 & 3;
    const remainder = sizeMod32 & ~3;
    packet.set(rest.subarray(0, remainder));
    if (sizeMod32 & 16) {
      for (let i = 0; i < 4; i++) packet[28 + i] = rest[remainder + i + sizeMod4 - 4]!;
    } else if (sizeMod4) {
      packet[16] = rest[remainder]!;
      packet[17] = rest[remainder + (sizeMod4 >> 1)]!;
      packet[18] = rest[remainder + sizeMod4 - 1]!;
    }
    update(s, lanesOf(packet, 0));
  }
  for (let round = 0; round < 4; round++) update(s, [swapHalves(s.v0[2]!), swapHalves(s.v0[3]!), swapHalves(s.v0[0]!), swapHalves(s.v0[1]!)]);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, (s.v0[0]! + s.v1[0]! + s.mul0[0]! + s.mul1[0]!) & M64, true);
  return out;
}

/** One record of a block file, by byte offsets into the file. */
export interface BlockRecord {
  seq: number;
  subject: string;
  /** Where the record starts and ends. */
  start: number;
  end: number;
  /** The message body. */
  bodyStart: number;
  bodyEnd: number;
}

const HEADER_BIT = 1 << 31;
const RECORD_HEADER = 22;

export function blockRecords(buf: Buffer): BlockRecord[] {
  const records: BlockRecord[] = [];
  for (let index = 0; index + RECORD_HEADER <= buf.length; ) {
    const raw = buf.readUInt32LE(index);
    const hasHeaders = (raw & HEADER_BIT) !== 0;
    const length = raw & ~HEADER_BIT;
    if (length < RECORD_HEADER + 8 || index + length > buf.length) break;
    const seq = Number(buf.readBigUInt64LE(index + 4));
    const subjectLength = buf.readUInt16LE(index + 20);
    const subjectStart = index + RECORD_HEADER;
    const headersLength = hasHeaders ? buf.readUInt32LE(subjectStart + subjectLength) : 0;
    const bodyStart = subjectStart + subjectLength + (hasHeaders ? 4 + headersLength : 0);
    records.push({ seq, subject: buf.toString('utf8', subjectStart, subjectStart + subjectLength), start: index, end: index + length, bodyStart, bodyEnd: index + length - 8 });
    index += length;
  }
  return records;
}

/** The checksum a record must carry: over everything but its length word, its headers' length word and itself. */
function recordChecksum(buf: Buffer, record: BlockRecord, key: Uint8Array): Uint8Array {
  const subjectStart = record.start + RECORD_HEADER;
  const subjectEnd = subjectStart + Buffer.byteLength(record.subject);
  const hasHeaders = (buf.readUInt32LE(record.start) & HEADER_BIT) !== 0;
  const parts = [buf.subarray(record.start + 4, record.start + 20), buf.subarray(subjectStart, subjectEnd), buf.subarray(hasHeaders ? subjectEnd + 4 : subjectEnd, record.bodyEnd)];
  return highwayHash64(key, Buffer.concat(parts));
}

/** The stream's block files on one node (`<store>/jetstream/$G/streams/<stream>/msgs/*.blk`). */
export function blockFiles(storeDir: string, stream: string): string[] {
  const dir = join(storeDir, 'jetstream', '$G', 'streams', stream, 'msgs');
  return readdirSync(dir)
    .filter((f) => /^\d+\.blk$/.test(f))
    .map((f) => join(dir, f));
}

/**
 * Rewrites the body of the message at `seq` in the stream's block files under `storeDir` (the node
 * must be stopped), keeping its length, and gives the record a valid checksum. Before touching
 * anything it checks that this module computes the checksum the server stored, so a wrong hash
 * fails here rather than as a message the server silently drops. Returns the file changed.
 */
export function rewriteStoredBody(storeDir: string, stream: string, seq: number, alter: (body: Buffer) => Buffer): string {
  for (const file of blockFiles(storeDir, stream)) {
    const buf = readFileSync(file);
    const record = blockRecords(buf).find((r) => r.seq === seq);
    if (!record) continue;
    const key = createHash('sha256').update(`${stream}-${Number.parseInt(basename(file), 10)}`).digest();
    const stored = buf.subarray(record.bodyEnd, record.end);
    if (!Buffer.from(recordChecksum(buf, record, key)).equals(stored)) {
      throw new Error(`${file}: the checksum of seq ${seq} is not what this module computes; the record layout or hash is not the server's`);
    }
    const body = buf.subarray(record.bodyStart, record.bodyEnd);
    const altered = alter(Buffer.from(body));
    if (altered.length !== body.length) throw new Error('an altered body must keep its length');
    altered.copy(buf, record.bodyStart);
    Buffer.from(recordChecksum(buf, record, key)).copy(buf, record.bodyEnd);
    writeFileSync(file, buf);
    return file;
  }
  throw new Error(`no record of seq ${seq} in the block files of ${stream} under ${storeDir}`);
}
