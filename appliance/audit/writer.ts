// The audit writer: a few chains per instance (each a random writer id, subject
// `<prefix>.audit.<writer>`), computed locally so records need no round trip to be chained. Each
// chain stores one batch at a time, as ONE message (`encodeAuditBatch`: what the records share once,
// the rest of each in chain order), so a batch costs one replicated write and one
// acknowledgement however many requests it accounts for. A record handed in goes out at once on a
// chain that is idle, or waits in the queue the next chain to finish takes from (group commit):
// with several chains a record never waits a whole round trip for the batch before it, and each
// chain keeps the one-at-a-time order its verification relies on. A message expects its chain's
// last stream sequence (nothing else may have written into the chain), and has `Nats-Msg-Id:
// <writer>:<first record's seq>` (a retried publish lands once) and `Cim-Cid` (the CID of its
// bytes). `record()` resolves when its batch is acknowledged; a batch that could not be stored is
// thrown to each of its callers, and its chain reads its head again before its next batch, so the
// chain goes on from what is stored. A foreign record found in a chain is never linked to
// (docs/architecture.md#audit-log).
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
  type NamedAuditRecord,
} from './record.js';

export interface AuditWriterOptions {
  subjects?: Subjects;
  /** A readable start of each chain's random writer id, e.g. `serve`, `gateway`, `cli` (default `w`). */
  name?: string;
  /** Chains storing batches side by side (default 4): more cut the wait behind a batch in flight. */
  chains?: number;
  retry?: RetryPolicy;
  /** Records in one message at most (default 512, at most 1,000). */
  maxBatch?: number;
  /** Encoded bytes of one message at most, however few records that is (default 256 KiB; NATS refuses payloads over its max_payload, 1 MiB by default). */
  maxBatchBytes?: number;
  /** Told when something else wrote into one of this writer's chains (the records still go in). */
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

/** One chain: its writer id and subject, and its head as stored. */
interface Chain {
  writer: string;
  subject: string;
  /** The head: the last record's seq and CID, and the stream sequence of the message holding it. */
  seq: number;
  prev: CID | null;
  streamSeq: number;
  /** A batch failed: what is stored is read again before the next one. */
  stale: boolean;
  /**
   * The head before the batch last sent (null: it was the chain's first); undefined while nothing
   * was sent. The stored head is then this or the batch's last record (`prev`): a batch is one message.
   */
  headBefore: CID | null | undefined;
  /** Storing batches now. */
  busy: boolean;
}

export class AuditWriter implements AuditSink {
  private readonly chains: Chain[];
  private readonly subjects: Subjects;
  private readonly name: string | undefined;
  private readonly onTamper: ((message: string) => void) | undefined;
  private readonly retry: RetryPolicy;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private readonly queue: Pending[] = [];
  /** The chains' drains under way: what `flush` waits for. */
  private readonly running = new Set<Promise<void>>();

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    options: AuditWriterOptions,
  ) {
    this.subjects = options.subjects ?? new Subjects();
    this.name = options.name;
    if (!writerIdPattern.test(newWriterId(this.name)))
      throw new CimError('CIM-INVALID-INPUT', `audit writer name "${this.name}": expected letters, digits, "_" or "-"`);
    this.onTamper = options.onTamper;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.maxBatch = Math.min(options.maxBatch ?? 512, MAX_RECORDS_PER_MESSAGE);
    this.maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
    const count = options.chains ?? 4;
    if (!Number.isInteger(count) || count < 1 || count > 64)
      throw new CimError('CIM-INVALID-INPUT', `audit writer chains: ${count} (1 to 64)`);
    this.chains = Array.from({ length: count }, () => this.newChain());
  }

  /** A writer with new chains (nothing stored under their ids yet). */
  static async open(nc: NatsConnection, options: AuditWriterOptions = {}): Promise<AuditWriter> {
    return new AuditWriter(nc.jetstream(), await nc.jetstreamManager(), options);
  }

  /** The writer ids of its chains, the one taking records first at low rates first. */
  get writers(): string[] {
    return this.chains.map((c) => c.writer);
  }

  private newChain(): Chain {
    const writer = newWriterId(this.name);
    return {
      writer,
      subject: this.subjects.audit(writer),
      seq: 0,
      prev: null,
      streamSeq: 0,
      stale: false,
      headBefore: undefined,
      busy: false,
    };
  }

  /** Stores one record; resolves once it is acknowledged, throws (CIM-UNAVAILABLE, CIM-CONFLICT) when it was not. */
  record(entry: AuditEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.kick();
    });
  }

  /** Sets every idle chain to storing the queue; the first idle chain first, so at low rates one chain takes all. */
  private kick(): void {
    for (const chain of this.chains) {
      if (this.queue.length === 0) return;
      if (chain.busy) continue;
      chain.busy = true;
      const run = this.drain(chain);
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }
  }

  /** Waits until every record handed in so far is stored or has failed. */
  async flush(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  /**
   * Stores batches from the queue on `chain`, one at a time, until the queue is empty. The chain is
   * marked free before the callers of its last batch hear, so a caller's next record can take it.
   */
  private async drain(chain: Chain): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        chain.busy = false;
        return;
      }
      if (chain.stale) {
        try {
          await this.readHead(chain);
          chain.stale = false;
        } catch (error) {
          const failed = this.queue.splice(0, this.maxBatch);
          if (!this.settled(chain, failed, toCim(error, 'reading the head of the audit chain'))) return;
        }
        continue; // the queue may have been taken by another chain meanwhile
      }
      const expected = chain.streamSeq;
      chain.headBefore = chain.prev;
      const { batch, records } = this.nextBatch(chain);
      const bytes = encodeAuditBatch(records);
      const firstSeq = records[0]!.record.seq;
      let failure: CimError | undefined;
      try {
        chain.streamSeq = await this.publish(chain, firstSeq, cidOfBlock(bytes).toString(), bytes, expected);
      } catch (error) {
        chain.stale = true;
        failure = toCim(error, 'recording an audit entry');
      }
      if (!this.settled(chain, batch, failure)) return;
    }
  }

  /**
   * Tells a batch's callers how it went, the chain marked free first when nothing waits (so a
   * caller's next record can take it); whether the chain goes on.
   */
  private settled(chain: Chain, batch: readonly Pending[], failure: CimError | undefined): boolean {
    if (this.queue.length === 0) chain.busy = false;
    for (const p of batch)
      if (failure) p.reject(failure);
      else p.resolve();
    return chain.busy;
  }

  /**
   * Takes the next batch off the queue and chains its records on from `chain`'s head: as many as
   * fit in one message (`maxBatch` records, `maxBatchBytes` bytes; always at least one).
   */
  private nextBatch(chain: Chain): { batch: Pending[]; records: NamedAuditRecord[] } {
    const at = new Date().toISOString();
    const batch: Pending[] = [];
    const records: NamedAuditRecord[] = [];
    // Bounded by the records' own sizes: a batch holds less than they do (what they share once).
    let size = 16;
    while (this.queue.length > 0 && batch.length < this.maxBatch) {
      const record: AuditRecord = {
        v: AUDIT_VERSION,
        id: uuidv7(),
        writer: chain.writer,
        seq: chain.seq + 1,
        ...fieldsOf(this.queue[0]!.entry),
        at,
        prev: chain.prev,
      };
      const bytes = encodeAuditRecord(record);
      if (batch.length > 0 && size + bytes.length > this.maxBatchBytes) break;
      const cid = cidOfBlock(bytes);
      batch.push(this.queue.shift()!);
      records.push({ record, cid });
      size += bytes.length;
      chain.seq = record.seq;
      chain.prev = cid;
    }
    return { batch, records };
  }

  /**
   * The chain's last record as stored: where the next record links to. A last record this chain
   * did not write (someone wrote into it) is not linked to: the chain starts anew under a new id,
   * and the foreign record stays where it is, for verification to name.
   */
  private async readHead(chain: Chain): Promise<void> {
    let last;
    try {
      last = await this.jsm.streams.getMessage(AUDIT_STREAM, { last_by_subj: chain.subject });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      restart(chain, 0, null, 0);
      return;
    }
    let named;
    try {
      named = decodeAuditMessage(last.data).records.at(-1);
    } catch {
      named = undefined;
    }
    const ours =
      chain.headBefore === undefined ||
      (chain.prev !== null && named?.cid.equals(chain.prev)) ||
      (chain.headBefore !== null && named?.cid.equals(chain.headBefore));
    if (named && ours) {
      restart(chain, named.record.seq, named.cid, last.seq);
      return;
    }
    const was = chain.subject;
    chain.writer = newWriterId(this.name);
    chain.subject = this.subjects.audit(chain.writer);
    restart(chain, 0, null, 0);
    this.onTamper?.(
      `${AUDIT_STREAM} seq ${last.seq} on ${was} is no record of this writer: going on as ${chain.writer}; \`cim audit verify\` names it`,
    );
  }

  /** Publishes one message (a batch; `seq` its first record's), retried with the same message id; its stream sequence. */
  private async publish(
    chain: Chain,
    seq: number,
    cid: string,
    bytes: Uint8Array,
    expected: number | undefined,
  ): Promise<number> {
    const { subject } = chain;
    const msgID = `${chain.writer}:${seq}`;
    let lastError: unknown;
    for (let attempt = 0; attempt < this.retry.attempts; attempt++) {
      await backoff(this.retry, attempt);
      // New headers each attempt: nats.js writes the expectation into the headers it is given.
      const h = headers();
      h.set('Cim-Cid', cid);
      try {
        const ack = await this.js.publish(subject, bytes, {
          msgID,
          headers: h,
          timeout: attemptTimeout(this.retry, attempt),
          ...(expected !== undefined ? { expect: { lastSubjectSequence: expected } } : {}),
        });
        if (ack.duplicate) {
          // Our own earlier attempt, or someone else's record at our position: the stored CID tells.
          const stored = await this.jsm.streams.getMessage(AUDIT_STREAM, { seq: ack.seq });
          if (stored.header.get('Cim-Cid') !== cid)
            throw new CimError('CIM-CONFLICT', `${subject} position ${seq} holds a record this writer did not write`, {
              hint: '`cim audit verify` names it.',
            });
        }
        return ack.seq;
      } catch (error) {
        if (error instanceof CimError) throw error;
        lastError = error;
        if (isWrongLastSequence(error) && expected !== undefined) {
          // Something else wrote into this chain. The records still go in, linked to the chain's
          // own last one, so the foreign record stands out as a fork of the chain.
          this.onTamper?.(
            `${subject} moved past ${AUDIT_STREAM} seq ${expected}: something else wrote into this writer's chain; \`cim audit verify\` names it`,
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
      `recording an audit entry on ${subject} failed after ${this.retry.attempts} attempts: ${(lastError as NatsError).message}`,
      { hint: 'The audit stream has no leader or the cluster is unreachable; check `cim cluster status`.' },
    );
  }
}

function restart(chain: Chain, seq: number, prev: CID | null, streamSeq: number): void {
  chain.seq = seq;
  chain.prev = prev;
  chain.streamSeq = streamSeq;
  chain.headBefore = undefined;
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
