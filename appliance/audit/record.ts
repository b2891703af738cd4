// The audit record (docs/architecture.md#audit-log): who did what to which id, with what outcome,
// as a dag-cbor map named by its CID like an event, chained per writer by `seq` and `prev`.
// Records hold ids only, never personal data: a target is `person/<id>`, never a name.
import * as dagCbor from '@ipld/dag-cbor';
import { z } from 'zod';
import { CimError, firstIssue, isCimErrorCode } from '../errors.js';
import { CID, cidOfBlock } from '../eventstore/cid.js';
import { auditBatchBytes, auditRecordBytes, BATCH_RECORD_FIELDS } from './record-bytes.js';

export const AUDIT_VERSION = 1;

export type AuditSource = 'http' | 'nats' | 'cli';
export type AuditOutcome = 'accepted' | 'rejected' | 'denied' | 'ok' | 'failed';

/** What a caller hands the audit log; the writer adds the time, its chain fields and the CID. */
export interface AuditEntry {
  actor: string;
  role: string;
  source: AuditSource;
  /** `command.<domain>.<Command>`, `query.<domain>.<Query>`, `erasure`, `apikey.add`, `apikey.remove`, `admin.<verb>`. */
  action: string;
  /** Ids only: `person/<aggregateId>`, `subject/<id>`, `apikey/<keyId>`. */
  target: string;
  outcome: AuditOutcome;
  /** The CIM error code of a refusal or failure. */
  code?: string;
  correlationId: string;
}

/** Where audit entries go; `record` resolves once the entry is stored, and throws when it is not. */
export interface AuditSink {
  record(entry: AuditEntry): Promise<void>;
}

/** One stored record: the entry, when, and its place in its writer's chain. */
export interface AuditRecord extends AuditEntry {
  v: number;
  /** A UUIDv7. */
  id: string;
  /** The writer whose chain it extends (the last token of its subject). */
  writer: string;
  /** Position in the writer's chain, contiguous from 1. */
  seq: number;
  at: string;
  /** CID of the writer's previous record; null exactly when `seq` is 1. */
  prev: CID | null;
}

export interface NamedAuditRecord {
  record: AuditRecord;
  cid: CID;
}

/** A writer id closes a subject: letters, digits, `_`, `-`. */
export const writerIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

const text = z.string().min(1).max(400);
const cid = z.custom<CID>((value) => CID.asCID(value) !== null, { error: 'expected a CID' });

export const AuditRecordSchema = z
  .object({
    v: z.literal(AUDIT_VERSION),
    id: text,
    writer: z.string().regex(writerIdPattern),
    seq: z.number().int().min(1),
    actor: text,
    role: text,
    source: z.enum(['http', 'nats', 'cli']),
    action: text,
    target: text,
    outcome: z.enum(['accepted', 'rejected', 'denied', 'ok', 'failed']),
    code: text.optional(),
    correlationId: text,
    at: text,
    prev: cid.nullable(),
  })
  .strict()
  .refine((r) => (r.seq === 1) === (r.prev === null), {
    error: 'prev must be null exactly when seq is 1',
    path: ['prev'],
  });

/** The record's canonical dag-cbor bytes (an absent `code` is left out, never encoded as undefined). */
export function encodeAuditRecord(record: AuditRecord): Uint8Array {
  return auditRecordBytes(record);
}

export function namedAuditRecord(record: AuditRecord): NamedAuditRecord & { bytes: Uint8Array } {
  const bytes = encodeAuditRecord(record);
  return { record, cid: cidOfBlock(bytes), bytes };
}

/**
 * Bytes from the audit stream as a record: the shape checked, the CID recomputed from the bytes
 * (and compared with a claimed one), the bytes canonical (what `encodeAuditRecord` gives), else
 * `CIM-INVALID-EVENT`.
 */
export function decodeAuditRecord(bytes: Uint8Array, claimedCid?: string): NamedAuditRecord {
  const { record, cid } = parsedRecord(decodedCbor(bytes), bytes);
  checkClaimedCid(claimedCid, cid);
  return { record, cid };
}

function decodedCbor(bytes: Uint8Array): unknown {
  try {
    return dagCbor.decode(bytes);
  } catch (error) {
    throw new CimError('CIM-INVALID-EVENT', `not dag-cbor: ${(error as Error).message}`);
  }
}

/** A CID the bytes were published as (their `Cim-Cid`), if any, must be theirs. */
function checkClaimedCid(claimedCid: string | undefined, cid: CID): void {
  if (claimedCid !== undefined && claimedCid !== cid.toString())
    throw new CimError('CIM-INVALID-EVENT', `published as ${claimedCid}, its bytes hash to ${cid}`);
}

/** A stored message of the audit stream: its CID (of the bytes as stored) and the records it holds, in chain order. */
export interface AuditMessage {
  cid: CID;
  records: NamedAuditRecord[];
}

/** Records of one writer's batch at most in one message (each record is at most a few KiB). */
export const MAX_RECORDS_PER_MESSAGE = 1_000;

const BatchSchema = z
  .object({
    v: z.literal(AUDIT_VERSION),
    at: text,
    seq: z.number().int().min(1),
    prev: cid.nullable(),
    writer: z.string().regex(writerIdPattern),
    records: z.array(z.array(z.unknown()).length(BATCH_RECORD_FIELDS.length)).min(1).max(MAX_RECORDS_PER_MESSAGE),
  })
  .strict();

/**
 * One message's bytes for a batch of records (docs/architecture.md#audit-log): what its records
 * share — writer, the first seq and link, the time — once, and per record the rest, in chain
 * order. The records must be one writer's, consecutive, of one time, each linking to the one
 * before (the writer's batches are), else CIM-INTERNAL: nothing is dropped that a record holds.
 */
export function encodeAuditBatch(records: readonly NamedAuditRecord[]): Uint8Array {
  const first = records[0];
  if (first === undefined) throw new CimError('CIM-INTERNAL', 'an audit batch holds at least one record');
  for (let i = 1; i < records.length; i++) {
    const { record } = records[i]!;
    if (
      record.writer !== first.record.writer ||
      record.at !== first.record.at ||
      record.seq !== first.record.seq + i ||
      record.prev === null ||
      !record.prev.equals(records[i - 1]!.cid)
    )
      throw new CimError('CIM-INTERNAL', `audit batch record ${i + 1} does not follow record ${i} in one chain`);
  }
  const { writer, seq, prev, at } = first.record;
  return auditBatchBytes(
    { writer, seq, prev, at },
    records.map((r) => r.record),
  );
}

/**
 * A message of the audit stream as the records it holds: a writer's batch, or one record on its
 * own (as messages were first written). Each record is rebuilt in full from the batch — the head's
 * writer and time, seq counted on from the head's, `prev` the CID of the record before — checked
 * as `decodeAuditRecord` checks a record, and named by the CID of its own canonical bytes. The
 * message's bytes must be canonical, and a claimed CID is compared with theirs, else
 * `CIM-INVALID-EVENT`. Whether the records extend their writers' chains is verification's question.
 */
export function decodeAuditMessage(bytes: Uint8Array, claimedCid?: string): AuditMessage {
  const value = decodedCbor(bytes);
  const cid = cidOfBlock(bytes);
  checkClaimedCid(claimedCid, cid);
  if (typeof value !== 'object' || value === null || !Object.hasOwn(value, 'records')) {
    const only = parsedRecord(value, bytes);
    return { cid, records: [{ record: only.record, cid: only.cid }] };
  }
  const parsed = BatchSchema.safeParse(value);
  if (!parsed.success)
    throw new CimError('CIM-INVALID-EVENT', `not a batch of audit records: ${firstIssue(parsed.error)}`);
  const head = parsed.data;
  const records: NamedAuditRecord[] = [];
  let prev = head.prev as CID | null;
  for (const [i, values] of head.records.entries()) {
    const fields = Object.fromEntries(
      BATCH_RECORD_FIELDS.flatMap((f, j) => (f === 'code' && values[j] === null ? [] : [[f, values[j]]])),
    );
    const rebuilt = { v: head.v, ...fields, writer: head.writer, seq: head.seq + i, at: head.at, prev };
    let named;
    try {
      named = parsedRecord(rebuilt);
    } catch (error) {
      throw new CimError(
        'CIM-INVALID-EVENT',
        `record ${i + 1} of ${head.records.length}: ${(error as CimError).message}`,
      );
    }
    records.push({ record: named.record, cid: named.cid });
    prev = named.cid;
  }
  if (!Buffer.from(bytes).equals(encodeAuditBatch(records)))
    throw new CimError('CIM-INVALID-EVENT', 'not a canonical batch of audit records');
  return { cid, records };
}

/**
 * A decoded value as a record, with its canonical bytes and the CID of those (checked against
 * `bytes` when given).
 */
function parsedRecord(value: unknown, bytes?: Uint8Array): NamedAuditRecord & { bytes: Uint8Array } {
  const parsed = AuditRecordSchema.safeParse(value);
  if (!parsed.success) throw new CimError('CIM-INVALID-EVENT', `not an audit record: ${firstIssue(parsed.error)}`);
  const record = parsed.data as AuditRecord;
  const canonical = encodeAuditRecord(record);
  if (bytes !== undefined && !Buffer.from(bytes).equals(canonical))
    throw new CimError('CIM-INVALID-EVENT', 'not a canonical audit record');
  return { record, cid: cidOfBlock(canonical), bytes: canonical };
}

/** The outcome of a command answered with `code` (none: accepted): refused for the caller's reasons, or failed on ours. */
export function commandOutcome(code: string | undefined): AuditOutcome {
  if (code === undefined) return 'accepted';
  return isCimErrorCode(code) && new CimError(code, '').httpStatus < 500 ? 'rejected' : 'failed';
}
