// Alters one stored message in place in a stopped nats-server's file store: the record at a
// stream sequence gets new bytes of the same length and a recomputed checksum, so the server,
// restarted, serves the altered message at its own sequence; or the record is erased as the
// server's own secure delete does it, leaving a hole in the stream (nats-server 2.9's block format:
// total_len(4) seq(8) ts(8) subj_len(2) subj [hdr_len(4) hdr] msg checksum(8), the checksum a
// HighwayHash-64 of seq, ts, subject, headers and message keyed by sha256("<stream>-<block>")).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { highwayHash64 } from './highwayhash.js';

const RECORD_HEADER = 22;
const HEADERS_BIT = 0x8000_0000;
const ERASED_BIT = 1n << 63n;

export interface RewrittenRecord {
  file: string;
  offset: number;
  subject: string;
  before: Uint8Array;
  after: Uint8Array;
}

interface Located {
  file: string;
  index: number;
  buf: Buffer;
  offset: number;
  length: number;
  hasHeaders: boolean;
  key: Buffer;
}

function blockFiles(storeDir: string, stream: string): { file: string; index: number }[] {
  const dir = join(storeDir, 'jetstream', '$G', 'streams', stream, 'msgs');
  if (!existsSync(dir)) throw new Error(`no message blocks of ${stream} in ${dir}`);
  return readdirSync(dir)
    .filter((f) => /^\d+\.blk$/.test(f))
    .map((f) => ({ file: join(dir, f), index: Number.parseInt(f, 10) }))
    .sort((a, b) => a.index - b.index);
}

/** The record of `seq` in the stream's block files, with the checksum key of its block. */
function locate(storeDir: string, stream: string, seq: number): Located {
  for (const { file, index } of blockFiles(storeDir, stream)) {
    const buf = readFileSync(file);
    for (let offset = 0; offset + RECORD_HEADER <= buf.length;) {
      const rawLength = buf.readUInt32LE(offset);
      const length = (rawLength & ~HEADERS_BIT) >>> 0;
      if (length < RECORD_HEADER + 8 || offset + length > buf.length)
        throw new Error(`${file}: malformed record at offset ${offset}`);
      if (buf.readBigUInt64LE(offset + 4) === BigInt(seq)) {
        return {
          file,
          index,
          buf,
          offset,
          length,
          hasHeaders: (rawLength & HEADERS_BIT) !== 0,
          key: createHash('sha256').update(`${stream}-${index}`).digest(),
        };
      }
      offset += length;
    }
  }
  throw new Error(`${stream} seq ${seq} is not in the block files under ${storeDir}`);
}

/**
 * Replaces the message body stored at `seq` of `stream` under a node's store dir with what `edit`
 * returns (which must be as long as the original, so no length or index changes), and writes the
 * record's checksum anew unless `keepChecksum` (to see what the server does with a record whose
 * checksum fails). The node must be stopped.
 */
export function rewriteStoredMessage(
  storeDir: string,
  stream: string,
  seq: number,
  edit: (body: Uint8Array) => Uint8Array,
  options: { keepChecksum?: boolean } = {},
): RewrittenRecord {
  const { file, buf, offset, length, hasHeaders, key } = locate(storeDir, stream, seq);
  const subjectLength = buf.readUInt16LE(offset + 20);
  const subjectStart = offset + RECORD_HEADER;
  const subject = buf.subarray(subjectStart, subjectStart + subjectLength).toString();
  const checksumAt = offset + length - 8;
  const headerLength = hasHeaders ? buf.readUInt32LE(subjectStart + subjectLength) : 0;
  const hashedFrom = subjectStart + subjectLength + (hasHeaders ? 4 : 0); // headers and body, without hdr_len
  const bodyStart = hashedFrom + headerLength;
  const checksum = () =>
    highwayHash64(
      key,
      Buffer.concat([
        buf.subarray(offset + 4, offset + 20),
        buf.subarray(subjectStart, subjectStart + subjectLength),
        buf.subarray(hashedFrom, checksumAt),
      ]),
    );
  // The stored checksum recomputed first: proof that layout and key are read as the server wrote them.
  if (Buffer.compare(checksum(), buf.subarray(checksumAt, checksumAt + 8)) !== 0)
    throw new Error(`${file}: the checksum of seq ${seq} does not recompute; not the block format this helper knows`);
  const before = Uint8Array.from(buf.subarray(bodyStart, checksumAt));
  const after = edit(Uint8Array.from(before));
  if (after.length !== before.length)
    throw new Error(`the altered message must keep its length (${before.length} bytes), got ${after.length}`);
  buf.set(after, bodyStart);
  if (!options.keepChecksum) buf.set(checksum(), checksumAt);
  writeFileSync(file, buf);
  return { file, offset, subject, before, after };
}

/**
 * Erases the record of `seq` as nats-server's secure delete does (erased bit on its sequence,
 * no subject, zeroed body, checksum anew), and removes the block's index and subject-state files
 * so the restarted server rebuilds them from the block: the message is gone, with no API call
 * that a deny_delete stream refuses. The node must be stopped.
 */
export function eraseStoredMessage(storeDir: string, stream: string, seq: number): { file: string } {
  const { file, buf, offset, length, key } = locate(storeDir, stream, seq);
  buf.writeUInt32LE(length, offset); // without the headers bit
  buf.writeBigUInt64LE(BigInt(seq) | ERASED_BIT, offset + 4);
  buf.writeBigUInt64LE(0n, offset + 12);
  buf.writeUInt16LE(0, offset + 20);
  const checksumAt = offset + length - 8;
  buf.fill(0, offset + RECORD_HEADER, checksumAt);
  buf.set(
    highwayHash64(
      key,
      Buffer.concat([buf.subarray(offset + 4, offset + 20), buf.subarray(offset + RECORD_HEADER, checksumAt)]),
    ),
    checksumAt,
  );
  writeFileSync(file, buf);
  const stem = file.replace(/\.blk$/, '');
  for (const suffix of ['.idx', '.fss']) rmSync(`${stem}${suffix}`, { force: true });
  return { file };
}

/**
 * Appends a message the cluster never stored to the last block of a stopped node's copy of
 * `stream`: the next sequence after the block's last, a timestamp after its last, no headers, a
 * checksum the server accepts. One replica then holds a message its peers do not.
 */
export function appendStoredMessage(
  storeDir: string,
  stream: string,
  subject: string,
  data: Uint8Array,
): { file: string; seq: number } {
  const blocks = blockFiles(storeDir, stream);
  const { file, index } = blocks.at(-1)!;
  const buf = readFileSync(file);
  let lastSeq = 0n;
  let lastTs = 0n;
  for (let offset = 0; offset + RECORD_HEADER <= buf.length;) {
    const length = (buf.readUInt32LE(offset) & ~HEADERS_BIT) >>> 0;
    if (length < RECORD_HEADER + 8 || offset + length > buf.length) break;
    const seq = buf.readBigUInt64LE(offset + 4) & ~(ERASED_BIT | (1n << 62n));
    if (seq > lastSeq) {
      lastSeq = seq;
      lastTs = buf.readBigInt64LE(offset + 12);
    }
    offset += length;
  }
  const subjectBytes = Buffer.from(subject);
  const length = RECORD_HEADER + subjectBytes.length + data.length + 8;
  const record = Buffer.alloc(length);
  record.writeUInt32LE(length, 0);
  record.writeBigUInt64LE(lastSeq + 1n, 4);
  record.writeBigInt64LE(lastTs + 1n, 12);
  record.writeUInt16LE(subjectBytes.length, 20);
  subjectBytes.copy(record, RECORD_HEADER);
  record.set(data, RECORD_HEADER + subjectBytes.length);
  const key = createHash('sha256').update(`${stream}-${index}`).digest();
  // As the server hashes a record: seq and ts, then subject and body (without subj_len).
  record.set(
    highwayHash64(key, Buffer.concat([record.subarray(4, 20), record.subarray(RECORD_HEADER, length - 8)])),
    length - 8,
  );
  writeFileSync(file, Buffer.concat([buf, record]));
  return { file, seq: Number(lastSeq + 1n) };
}
