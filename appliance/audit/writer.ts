// The audit writer: one chain per instance (a random writer id, subject `<prefix>.audit.<writer>`),
// computed locally so records need no round trip to be chained. Records handed in while a batch
// is being stored form the next batch (group commit), stored as ONE message: a dag-cbor list of the
// records in chain order (`encodeAuditBatch`; a batch of one is the record itself), so a batch costs one replicated write and one
// acknowledgement however many commands it accounts for. The message expects the chain's last
// stream sequence (nothing else may have written into the chain), and has `Nats-Msg-Id:
// <writer>:<first record's seq>` (a retried publish lands once) and `Cim-Cid` (the CID of its
// bytes). `record()` resolves when its batch is acknowledged; a batch that could not be stored is
// thrown to each of its callers, and the writer reads its chain's head again before the next
// batch, so the chain goes on from what is stored and a gap shows in verification. A foreign
// record found in the chain is never linked to (docs/architecture.md#audit-log).
import { randomBytes } from 'node:crypto';
import { headers, type JetStreamClient, type JetStreamManager, type NatsConnection, type NatsError } from 'nats';
import { CimError } from '../errors.js';
import { cidOfBlock, type CID } from '../eventstore/cid.js';
import { uuidv7 } from '../eventstore/event-id.js';
import { AUDIT_STREAM, Subjects } from '../eventstore/names.js';
import {
  attemptTimeout,
  backoff,
  DEFAULT_RETRY,
  isMsgIdInProcess,
  isNotFound,
  isTransient,
  isWrongLastSequence,
  type RetryPolicy,
} from '../eventstore/retry.js';
import {
  AUDIT_VERSION,
  decodeAuditMessage,
  encodeAuditBatch,
  encodeAuditRecord,
  MAX_RECORDS_PER_MESSAGE,
  writerIdPattern,
  type AuditEntry,
  type AuditRecord,
  type AuditSink,
} from './record.js';

export interface AuditWriterOptions {
  subjects?: Subjects;
  /** The writer id: default `<name>-<random>`, new per instance. */
  writer?: string;
  /** A readable start of the random writer id, e.g. `serve`, `gateway`, `cli` (default `w`). */
  name?: string;
  retry?: RetryPolicy;
  /** Records in one message at most (default 512, at most 1,000). */
  maxBatch?: number;
  /** Encoded bytes of one message at most, however few records that is (default 256 KiB; NATS refuses payloads over its max_payload, 1 MiB by default). */
  maxBatchBytes?: number;
  /** Told when something else wrote into this writer's chain (the records still go in). */
  onTamper?: (message: string) => void;
}

interface Pending {
  entry: AuditEntry;
  resolve(): void;
  reject(error: CimError): void;
}

/** A new writer id: `<name>-` and 12 random base64url characters. */
export function newWriterId(name = 'w'): string {
  return `${name}-${randomBytes(9).toString('base64url')}`;
}

export class AuditWriter implements AuditSink {
  /** The writer id; a new one when something else wrote into the chain (see readHead). */
  writer: string;
  subject: string;
  private readonly subjects: Subjects;
  private readonly name: string | undefined;
  private readonly onTamper: ((message: string) => void) | undefined;
  /** CIDs of the batch being stored and the head before it: what this writer's chain may end with. */
  private readonly written = new Set<string>();
  private readonly retry: RetryPolicy;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  /** The chain's head as stored: its last record's seq and CID, and its stream sequence. */
  private seq = 0;
  private prev: CID | null = null;
  private streamSeq = 0;
  /** A batch failed: what is stored is read again before the next one. */
  private stale = false;
  private readonly queue: Pending[] = [];
  private draining: Promise<void> | undefined;

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    options: AuditWriterOptions,
  ) {
    this.writer = options.writer ?? newWriterId(options.name);
    if (!writerIdPattern.test(this.writer))
      throw new CimError('CIM-INVALID-INPUT', `audit writer id "${this.writer}": expected letters, digits, "_" or "-"`);
    this.subjects = options.subjects ?? new Subjects();
    this.subject = this.subjects.audit(this.writer);
    this.name = options.name;
    this.onTamper = options.onTamper;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.maxBatch = Math.min(options.maxBatch ?? 512, MAX_RECORDS_PER_MESSAGE);
    this.maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
  }

  /** A writer whose chain goes on from what its subject holds (nothing, for a new writer id). */
  static async open(nc: NatsConnection, options: AuditWriterOptions = {}): Promise<AuditWriter> {
    const writer = new AuditWriter(nc.jetstream(), await nc.jetstreamManager(), options);
    if (options.writer !== undefined) await writer.readHead();
    return writer;
  }

  /** Stores one record; resolves once it is acknowledged, throws (CIM-UNAVAILABLE, CIM-CONFLICT) when it was not. */
  record(entry: AuditEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.kick();
    });
  }

  /** Starts storing the queue unless that is under way; a record handed in as the last batch settled starts it again. */
  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  /** Waits until every record handed in so far is stored or has failed. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      if (this.stale) {
        try {
          await this.readHead();
          this.stale = false;
        } catch (error) {
          const cim = toCim(error, 'reading the head of the audit chain');
          for (const p of this.queue.splice(0, this.maxBatch)) p.reject(cim);
          continue;
        }
      }
      const expected = this.streamSeq;
      const headBefore = { seq: this.seq, prev: this.prev };
      const { batch, records } = this.nextBatch();
      const firstSeq = records[0]!.seq;
      this.written.clear();
      if (headBefore.prev) this.written.add(headBefore.prev.toString());
      for (const r of records) this.written.add(r.cid);
      const bytes = records.length === 1 ? records[0]!.bytes : encodeAuditBatch(records.map((r) => r.record));
      try {
        this.streamSeq = await this.publish(firstSeq, cidOfBlock(bytes).toString(), bytes, expected);
        for (const p of batch) p.resolve();
      } catch (error) {
        this.stale = true;
        const cim = toCim(error, 'recording an audit entry');
        for (const p of batch) p.reject(cim);
      }
    }
  }

  /**
   * Takes the next batch off the queue and chains its records on from the head: as many as fit in
   * one message (`maxBatch` records, `maxBatchBytes` bytes; always at least one).
   */
  private nextBatch() {
    const at = new Date().toISOString();
    const batch: Pending[] = [];
    const records: { record: AuditRecord; seq: number; cid: string; bytes: Uint8Array }[] = [];
    let size = 3; // the list's own header, for up to 1,000 records
    while (this.queue.length > 0 && batch.length < this.maxBatch) {
      const record: AuditRecord = {
        v: AUDIT_VERSION,
        id: uuidv7(),
        writer: this.writer,
        seq: this.seq + 1,
        ...fieldsOf(this.queue[0]!.entry),
        at,
        prev: this.prev,
      };
      const bytes = encodeAuditRecord(record);
      if (batch.length > 0 && size + bytes.length > this.maxBatchBytes) break;
      const cid = cidOfBlock(bytes);
      batch.push(this.queue.shift()!);
      records.push({ record, seq: record.seq, cid: cid.toString(), bytes });
      size += bytes.length;
      this.seq = record.seq;
      this.prev = cid;
    }
    return { batch, records };
  }

  /**
   * The chain's last record as stored: where the next record links to. A last record this writer
   * did not write (someone wrote into its chain) is not linked to: the writer starts a new chain
   * under a new id, and the foreign record stays where it is, for verification to name.
   */
  private async readHead(): Promise<void> {
    let last;
    try {
      last = await this.jsm.streams.getMessage(AUDIT_STREAM, { last_by_subj: this.subject });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      this.restart(0, null, 0);
      return;
    }
    let named;
    try {
      named = decodeAuditMessage(last.data).records.at(-1);
    } catch {
      named = undefined;
    }
    if (named && (this.written.size === 0 || this.written.has(named.cid.toString()))) {
      this.restart(named.record.seq, named.cid, last.seq);
      return;
    }
    const was = this.subject;
    this.writer = newWriterId(this.name);
    this.subject = this.subjects.audit(this.writer);
    this.restart(0, null, 0);
    this.onTamper?.(
      `${AUDIT_STREAM} seq ${last.seq} on ${was} is no record of this writer: going on as ${this.writer}; \`cim audit verify\` names it`,
    );
  }

  private restart(seq: number, prev: CID | null, streamSeq: number): void {
    this.seq = seq;
    this.prev = prev;
    this.streamSeq = streamSeq;
  }

  /** Publishes one message (a batch; `seq` its first record's), retried with the same message id; its stream sequence. */
  private async publish(seq: number, cid: string, bytes: Uint8Array, expected: number | undefined): Promise<number> {
    const msgID = `${this.writer}:${seq}`;
    let lastError: unknown;
    for (let attempt = 0; attempt < this.retry.attempts; attempt++) {
      await backoff(this.retry, attempt);
      // New headers each attempt: nats.js writes the expectation into the headers it is given.
      const h = headers();
      h.set('Cim-Cid', cid);
      try {
        const ack = await this.js.publish(this.subject, bytes, {
          msgID,
          headers: h,
          timeout: attemptTimeout(this.retry, attempt),
          ...(expected !== undefined ? { expect: { lastSubjectSequence: expected } } : {}),
        });
        if (ack.duplicate) {
          // Our own earlier attempt, or someone else's record at our position: the stored CID tells.
          const stored = await this.jsm.streams.getMessage(AUDIT_STREAM, { seq: ack.seq });
          if (stored.header.get('Cim-Cid') !== cid)
            throw new CimError(
              'CIM-CONFLICT',
              `${this.subject} position ${seq} holds a record this writer did not write`,
              {
                hint: '`cim audit verify` names it.',
              },
            );
        }
        return ack.seq;
      } catch (error) {
        if (error instanceof CimError) throw error;
        lastError = error;
        if (isWrongLastSequence(error) && expected !== undefined) {
          // Something else wrote into this chain. The record still goes in, linked to this
          // writer's own last one, so the foreign record stands out as a fork of the chain.
          this.onTamper?.(
            `${this.subject} moved past ${AUDIT_STREAM} seq ${expected}: something else wrote into this writer's chain; \`cim audit verify\` names it`,
          );
          expected = undefined;
          attempt--;
          continue;
        }
        if (isMsgIdInProcess(error)) continue;
        if (!isTransient(error)) throw error;
      }
    }
    throw new CimError(
      'CIM-UNAVAILABLE',
      `recording an audit entry on ${this.subject} failed after ${this.retry.attempts} attempts: ${(lastError as NatsError).message}`,
      { hint: 'The audit stream has no leader or the cluster is unreachable; check `cim cluster status`.' },
    );
  }
}

/** Exactly the entry's fields, each within the record's bounds (text 1..400 characters), whatever a caller passed. */
function fieldsOf(e: AuditEntry): AuditEntry {
  const fit = (s: string) => (s.length === 0 ? '-' : s.length > 400 ? s.slice(0, 400) : s);
  return {
    actor: fit(e.actor),
    role: fit(e.role),
    source: e.source,
    action: fit(e.action),
    target: fit(e.target),
    outcome: e.outcome,
    ...(e.code !== undefined ? { code: fit(e.code) } : {}),
    correlationId: fit(e.correlationId),
  };
}

function toCim(error: unknown, what: string): CimError {
  if (error instanceof CimError) return error;
  return new CimError('CIM-UNAVAILABLE', `${what} failed: ${(error as Error).message}`, { cause: error });
}
