// Reads one replica of a stream from a stopped nats-server's file store: its message block files
// (`<store>/jetstream/<account>/streams/<stream>/msgs/<n>.blk`), record by record, as that server
// wrote them. This is how one named replica is made to answer: its own files, no network, no
// leader, no responder chosen by the server (docs/architecture.md, "Replica comparison").
//
// Record layout (nats-server 2.10 to 2.15, the same): total_len(4, bit 31 = has headers) seq(8)
// ts(8) subj_len(2) subj [hdr_len(4) hdr] msg checksum(8). A sequence with bit 63 set was erased
// (secure delete, or a removal that left the record in place), bit 62 marks a tombstone that
// deletes the message of that sequence wherever it is. Checksums are not checked: the bytes are
// compared across replicas, and a record altered on disk differs from its peers either way.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const RECORD_HEADER = 22;
const CHECKSUM = 8;
const HEADERS_BIT = 0x8000_0000;
const ERASED_BIT = 1n << 63n;
const TOMBSTONE_BIT = 1n << 62n;

export interface StoredRecord {
  seq: number;
  subject: string;
  /** The NATS header block as stored (`NATS/1.0\r\n…`), empty when the message has none. */
  headers: Uint8Array;
  data: Uint8Array;
}

export interface StoredStreamCopy {
  stream: string;
  /** The live messages, in sequence order. */
  records: StoredRecord[];
  /**
   * Where a block ended in bytes that are no record (a torn write, or damage): what follows in
   * that block is lost to the server too.
   */
  torn: { file: string; offset: number }[];
}

/** The stream's directory in a node's store (any account; the embedded cluster's is `$G`), or undefined. */
export function streamDir(storeDir: string, stream: string): string | undefined {
  const root = join(storeDir, 'jetstream');
  if (!existsSync(root)) return undefined;
  for (const account of readdirSync(root)) {
    const dir = join(root, account, 'streams', stream, 'msgs');
    if (existsSync(dir)) return dir;
  }
  return undefined;
}

/** Parses one block file's records into `live` (by sequence) and `deleted`; returns where it tore, if it did. */
function parseBlock(
  file: string,
  live: Map<number, StoredRecord>,
  deleted: Set<number>,
): { file: string; offset: number } | undefined {
  const buf = readFileSync(file);
  let offset = 0;
  while (offset + RECORD_HEADER + CHECKSUM <= buf.length) {
    const raw = buf.readUInt32LE(offset);
    const length = (raw & ~HEADERS_BIT) >>> 0;
    if (length < RECORD_HEADER + CHECKSUM || offset + length > buf.length) return { file, offset };
    const rawSeq = buf.readBigUInt64LE(offset + 4);
    const subjectLength = buf.readUInt16LE(offset + 20);
    const subjectStart = offset + RECORD_HEADER;
    const end = offset + length - CHECKSUM;
    if (subjectStart + subjectLength > end) return { file, offset };
    if ((rawSeq & TOMBSTONE_BIT) !== 0n) {
      deleted.add(Number(rawSeq & ~(TOMBSTONE_BIT | ERASED_BIT)));
    } else if ((rawSeq & ERASED_BIT) === 0n && rawSeq !== 0n) {
      let bodyStart = subjectStart + subjectLength;
      let headers: Uint8Array = new Uint8Array(0);
      if ((raw & HEADERS_BIT) !== 0) {
        if (bodyStart + 4 > end) return { file, offset };
        const headerLength = buf.readUInt32LE(bodyStart);
        if (bodyStart + 4 + headerLength > end) return { file, offset };
        headers = Uint8Array.from(buf.subarray(bodyStart + 4, bodyStart + 4 + headerLength));
        bodyStart += 4 + headerLength;
      }
      const seq = Number(rawSeq);
      live.set(seq, {
        seq,
        subject: buf.subarray(subjectStart, subjectStart + subjectLength).toString(),
        headers,
        data: Uint8Array.from(buf.subarray(bodyStart, end)),
      });
    }
    offset += length;
  }
  return offset < buf.length ? { file, offset } : undefined;
}

/**
 * The stream's replica in a node's store dir, read from its block files; undefined when the node
 * holds no copy of the stream. The node must be stopped (a running server may not have written
 * its last messages yet, and rewrites blocks as it compacts them).
 */
export function readStoredStream(storeDir: string, stream: string): StoredStreamCopy | undefined {
  const dir = streamDir(storeDir, stream);
  if (!dir) return undefined;
  const blocks = readdirSync(dir)
    .filter((f) => /^\d+\.blk$/.test(f))
    .map((f) => ({ file: join(dir, f), index: Number.parseInt(f, 10) }))
    .sort((a, b) => a.index - b.index);
  const live = new Map<number, StoredRecord>();
  const deleted = new Set<number>();
  const torn: StoredStreamCopy['torn'] = [];
  for (const { file } of blocks) {
    const tear = parseBlock(file, live, deleted);
    if (tear) torn.push(tear);
  }
  for (const seq of deleted) live.delete(seq);
  return { stream, records: [...live.values()].sort((a, b) => a.seq - b.seq), torn };
}
