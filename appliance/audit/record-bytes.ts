// The canonical dag-cbor bytes of an audit record and of a writer's batch of them, written directly
// for their one fixed shape each. A writer encodes a record per audited request on the request's
// path, where the generic encoder (@ipld/dag-cbor: tokens, then a sort of the map's keys, then
// bytes) costs several times more. The output is byte for byte what `dagCbor.encode` gives for the
// same value (tested on many records, unicode and large numbers included); records and batches are
// decoded with @ipld/dag-cbor as ever.
import { CimError } from '../errors.js';
import {
  headSize,
  linkSize,
  MAJOR_ARRAY,
  MAJOR_MAP,
  MAJOR_UINT,
  NULL,
  textItem,
  writeHead,
  writeLink,
  writeText,
} from '../eventstore/cbor-head.js';
import type { CID } from '../eventstore/cid.js';
import type { AuditRecord } from './record.js';

type TextField = 'at' | 'id' | 'code' | 'role' | 'actor' | 'action' | 'source' | 'target' | 'writer' | 'outcome';

/**
 * The record's keys in dag-cbor's order (shorter first, then bytewise), each with how its value is
 * written; `code` is left out when the record has none.
 */
const FIELDS: readonly (readonly [keyof AuditRecord, 'uint' | 'text' | 'link'])[] = [
  ['v', 'uint'],
  ['at', 'text'],
  ['id', 'text'],
  ['seq', 'uint'],
  ['code', 'text'],
  ['prev', 'link'],
  ['role', 'text'],
  ['actor', 'text'],
  ['action', 'text'],
  ['source', 'text'],
  ['target', 'text'],
  ['writer', 'text'],
  ['outcome', 'text'],
  ['correlationId', 'text'],
];
const KEY_BYTES = new Map(FIELDS.map(([key]) => [key, textItem(key)]));

/** The record's canonical dag-cbor bytes (what `dagCbor.encode` gives, an absent `code` left out). */
export function auditRecordBytes(record: AuditRecord): Uint8Array {
  const hasCode = record.code !== undefined;
  // First the size: every string's UTF-8 length, once.
  let size = 1;
  const lengths = new Array<number>(FIELDS.length);
  for (let i = 0; i < FIELDS.length; i++) {
    const [key, kind] = FIELDS[i]!;
    if (key === 'code' && !hasCode) continue;
    size += KEY_BYTES.get(key)!.length;
    if (kind === 'uint') {
      const n = record[key] as number;
      if (!Number.isSafeInteger(n) || n < 0)
        throw new CimError('CIM-INTERNAL', `audit record field ${key}: ${n} is no unsigned integer`);
      size += headSize(n);
    } else if (kind === 'text') {
      const n = Buffer.byteLength(record[key as TextField] as string, 'utf8');
      lengths[i] = n;
      size += headSize(n) + n;
    } else size += linkSize(record.prev?.bytes ?? null);
  }
  const out = Buffer.allocUnsafe(size);
  let pos = writeHead(out, 0, MAJOR_MAP, hasCode ? FIELDS.length : FIELDS.length - 1);
  for (let i = 0; i < FIELDS.length; i++) {
    const [key, kind] = FIELDS[i]!;
    if (key === 'code' && !hasCode) continue;
    pos += KEY_BYTES.get(key)!.copy(out, pos);
    if (kind === 'uint') pos = writeHead(out, pos, MAJOR_UINT, record[key] as number);
    else if (kind === 'text') pos = writeText(out, pos, record[key as TextField] as string, lengths[i]!);
    else pos = writeLink(out, pos, record.prev?.bytes ?? null);
  }
  return out;
}

/** What a batch says once for all its records (docs/architecture.md#audit-log). */
export interface AuditBatchHead {
  writer: string;
  /** The first record's seq. */
  seq: number;
  /** The link of the first record: the CID of the record before the batch, or null. */
  prev: CID | null;
  at: string;
}

/** The fields each record of a batch keeps, in the order of its list; `code` is null when it has none. */
export const BATCH_RECORD_FIELDS = [
  'id',
  'actor',
  'role',
  'source',
  'action',
  'target',
  'outcome',
  'code',
  'correlationId',
] as const;

/** The batch's keys in dag-cbor's order. */
const BATCH_KEYS = ['v', 'at', 'seq', 'prev', 'writer', 'records'].map((key) => textItem(key));

/**
 * A batch's canonical dag-cbor bytes: `{v, at, seq, prev, writer, records}` where `records` lists,
 * per record, the values of `BATCH_RECORD_FIELDS`; what the head says once (writer, seq, prev, at)
 * is in no record's list. `v` is the records' version.
 */
export function auditBatchBytes(head: AuditBatchHead, records: readonly AuditRecord[]): Uint8Array {
  const texts: (string | null)[] = [];
  for (const r of records) for (const f of BATCH_RECORD_FIELDS) texts.push(r[f] ?? null);
  const lengths = texts.map((t) => (t === null ? -1 : Buffer.byteLength(t, 'utf8')));
  const version = records[0]?.v ?? 1;
  const atLength = Buffer.byteLength(head.at, 'utf8');
  const writerLength = Buffer.byteLength(head.writer, 'utf8');
  let size = 1 + BATCH_KEYS.reduce((n, k) => n + k.length, 0);
  size += headSize(version) + headSize(atLength) + atLength + headSize(head.seq);
  size += linkSize(head.prev?.bytes ?? null);
  size += headSize(writerLength) + writerLength + headSize(records.length);
  size += records.length * headSize(BATCH_RECORD_FIELDS.length);
  for (const n of lengths) size += n < 0 ? 1 : headSize(n) + n;
  const out = Buffer.allocUnsafe(size);
  let pos = writeHead(out, 0, MAJOR_MAP, BATCH_KEYS.length);
  pos += BATCH_KEYS[0]!.copy(out, pos);
  pos = writeHead(out, pos, MAJOR_UINT, version);
  pos += BATCH_KEYS[1]!.copy(out, pos);
  pos = writeText(out, pos, head.at, atLength);
  pos += BATCH_KEYS[2]!.copy(out, pos);
  pos = writeHead(out, pos, MAJOR_UINT, head.seq);
  pos += BATCH_KEYS[3]!.copy(out, pos);
  pos = writeLink(out, pos, head.prev?.bytes ?? null);
  pos += BATCH_KEYS[4]!.copy(out, pos);
  pos = writeText(out, pos, head.writer, writerLength);
  pos += BATCH_KEYS[5]!.copy(out, pos);
  pos = writeHead(out, pos, MAJOR_ARRAY, records.length);
  for (let i = 0; i < texts.length; i++) {
    if (i % BATCH_RECORD_FIELDS.length === 0) pos = writeHead(out, pos, MAJOR_ARRAY, BATCH_RECORD_FIELDS.length);
    const text = texts[i]!;
    if (text === null) out[pos++] = NULL;
    else pos = writeText(out, pos, text, lengths[i]!);
  }
  return out;
}
