// The CID-chained event store on JetStream (docs/architecture.md#appends): append with optimistic concurrency,
// read an aggregate's chain, and load its state from a checked, signed snapshot plus the tail.
import type { Context } from '@opentelemetry/api';
import type { JetStreamClient, JetStreamManager, MsgRequest, NatsConnection } from 'nats';
import { CimError } from '../errors.js';
import { EventPublisher, eventHeaders, type Acked } from './append.js';
import { StreamGroupCommit, type GroupCommitOptions, type GroupCommitStats } from './group-commit.js';
import { tracePublish } from '../telemetry/tracing.js';
import { CID, cidEquals } from './cid.js';
import {
  decodeEnvelope,
  encodeEnvelope,
  ENVELOPE_VERSION,
  type EncodedEvent,
  type EventEnvelope,
  type Payload,
  type Reducer,
} from './envelope.js';
import { uuidv7 } from './event-id.js';
import { assertAggregateId, assertDomain, domainStream, Subjects } from './names.js';
import { SnapshotStore, snapshotSignedBy, type Snapshot, type SnapshotKeys } from './snapshots.js';
import type { PayloadProtection } from './payload-protection.js';
import { readStream } from './stream-reader.js';
import { UpcasterRegistry } from './upcasters.js';
import { DEFAULT_RETRY, isNotFound, withRetries, type RetryPolicy } from './retry.js';

export interface AggregateRef {
  domain: string;
  /** Aggregate type, e.g. `Person`. */
  aggregate: string;
  aggregateId: string;
}

/** Where an aggregate's chain ends: what the next append must extend. */
export interface AggregateHead {
  /** Events in the chain (the last event's `seq`); 0 for an aggregate with no events. */
  seq: number;
  cid: CID | null;
  /** Stream sequence of the last event: the expected last subject sequence of the next append. */
  streamSeq: number;
}

export const EMPTY_HEAD: AggregateHead = Object.freeze({ seq: 0, cid: null, streamSeq: 0 });

export interface NewEvent {
  type: string;
  typeVersion?: number;
  payload: Payload;
  id?: string;
  at?: string;
}

/** Who and what caused the events (audit and tracing). */
export interface Causation {
  correlationId: string;
  causationId: string;
  actor: string;
  traceparent?: string;
}

export interface AppendedEvent {
  /** The envelope as stored, so a caller can evolve its state without reading it back. */
  envelope: EventEnvelope;
  cid: CID;
  seq: number;
  streamSeq: number;
  duplicate: boolean;
}

export interface StoredEvent {
  /** Upcast to the current payload version. */
  envelope: EventEnvelope;
  /** The CID of the bytes as stored (upcasting never changes it). */
  cid: CID;
  streamSeq: number;
}

export interface Loaded<S> {
  state: S;
  head: AggregateHead;
  /** Events applied on top of the snapshot (or from the start). */
  replayed: number;
  fromSnapshot: boolean;
  /** Why a snapshot that existed was not used. */
  snapshotRejected?: string;
}

export interface EventStoreOptions {
  subjects?: Subjects;
  retry?: RetryPolicy;
  upcasters?: UpcasterRegistry;
  /** Write a snapshot when a load replayed at least this many events (0: never). */
  snapshotEvery?: number;
  /**
   * The key snapshots are signed with when written, and the keys whose snapshots a load trusts.
   * Without them a store neither writes nor uses snapshots: an unsigned snapshot could hold any
   * state, whoever can write the bucket put there.
   */
  snapshotKeys?: SnapshotKeys;
  /**
   * Encrypts personal data before an envelope is encoded and decrypts it on reads
   * (appliance/privacy/). Aggregates of a domain it covers are never snapshotted: a snapshot is a KV
   * value, and a deleted one stays in the bucket's block files and on its replicas.
   */
  protection?: PayloadProtection;
  /**
   * Group commit: appends in flight at the same moment leave as one atomic batch, on streams that
   * allow them (`allow_atomic`, nats-server ≥ 2.12; provision sets it). Default on; `false` keeps
   * every append on the single-message path.
   */
  groupCommit?: boolean | GroupCommitOptions;
}

export class EventStore {
  readonly subjects: Subjects;
  readonly upcasters: UpcasterRegistry;
  private readonly js: JetStreamClient;
  private readonly publisher: EventPublisher;
  private readonly snapshots: SnapshotStore;
  private readonly snapshotEvery: number;
  private readonly snapshotKeys: SnapshotKeys | undefined;
  private readonly retry: RetryPolicy;
  readonly protection: PayloadProtection | undefined;
  private readonly groupCommit: GroupCommitOptions | undefined;
  /** Per stream, its group commit, or undefined when the stream takes no atomic batches. */
  private readonly groups = new Map<string, Promise<StreamGroupCommit | undefined>>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    options: EventStoreOptions,
  ) {
    this.subjects = options.subjects ?? new Subjects();
    this.upcasters = options.upcasters ?? new UpcasterRegistry();
    this.js = nc.jetstream();
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.publisher = new EventPublisher(this.js, jsm, this.retry);
    this.snapshots = new SnapshotStore(nc);
    this.snapshotKeys = options.snapshotKeys;
    this.protection = options.protection;
    this.snapshotEvery = options.snapshotKeys?.signer ? (options.snapshotEvery ?? 100) : 0;
    this.groupCommit =
      options.groupCommit === false ? undefined : options.groupCommit === true ? {} : (options.groupCommit ?? {});
  }

  /** What group commit did so far, per stream (streams that take no atomic batches are absent). */
  async groupCommitStats(): Promise<Record<string, GroupCommitStats>> {
    const out: Record<string, GroupCommitStats> = {};
    for (const [stream, group] of this.groups) {
      const g = await group;
      if (g) out[stream] = { ...g.stats };
    }
    return out;
  }

  /** The stream's group commit, decided once from its config; undefined when it allows no atomic batches. */
  private groupFor(stream: string): Promise<StreamGroupCommit | undefined> {
    if (!this.groupCommit) return Promise.resolve(undefined);
    let group = this.groups.get(stream);
    if (!group) {
      const options = this.groupCommit;
      group = this.jsm.streams.info(stream).then(
        (info) =>
          (info.config as { allow_atomic?: boolean }).allow_atomic === true
            ? new StreamGroupCommit(this.nc, this.publisher, stream, this.retry, options)
            : undefined,
        () => {
          // Unknown for now (no leader, no stream yet): ask again on the next append.
          this.groups.delete(stream);
          return undefined;
        },
      );
      this.groups.set(stream, group);
    }
    return group;
  }

  static async open(nc: NatsConnection, options: EventStoreOptions = {}): Promise<EventStore> {
    return new EventStore(nc, await nc.jetstreamManager(), options);
  }

  /**
   * Appends events to an aggregate whose chain ends at `head`. Events of one call are published
   * one after another (each extends the previous); calls for different aggregates run
   * concurrently. Throws CIM-CONFLICT when the aggregate moved on since `head` was read.
   */
  async append(
    ref: AggregateRef,
    head: AggregateHead,
    events: readonly NewEvent[],
    causation: Causation,
  ): Promise<AppendedEvent[]> {
    return this.publishPrepared(ref, head, this.prepare(ref, head, events, causation), causation.traceparent);
  }

  /**
   * Encodes events as they would extend the chain at `head`, without publishing them: what a
   * command service records as a command's intent, so that any instance can publish exactly these
   * bytes later (`publishPrepared`) and a retried publish of them lands once.
   */
  prepare(ref: AggregateRef, head: AggregateHead, events: readonly NewEvent[], causation: Causation): EncodedEvent[] {
    assertDomain(ref.domain);
    assertAggregateId(ref.aggregateId);
    let { seq, cid: prev } = head;
    return events.map((event) => {
      const encoded = this.encode(ref, event, ++seq, prev, causation);
      prev = encoded.cid;
      return encoded;
    });
  }

  /**
   * Publishes events `prepare` encoded at `head`; throws CIM-CONFLICT when the aggregate moved on
   * since. `trace`: the trace the events continue (a context, or a `traceparent` value).
   */
  async publishPrepared(
    ref: AggregateRef,
    head: AggregateHead,
    encoded: readonly EncodedEvent[],
    trace?: string | Context,
  ): Promise<AppendedEvent[]> {
    assertDomain(ref.domain);
    assertAggregateId(ref.aggregateId);
    const stream = domainStream(ref.domain);
    const subject = this.subjects.event(ref.domain, ref.aggregateId);
    const group = encoded.length > 0 ? await this.groupFor(stream) : undefined;
    if (group) return this.publishGrouped(group, stream, subject, head, encoded, trace);
    const appended: AppendedEvent[] = [];
    let streamSeq = head.streamSeq;
    for (const event of encoded) {
      const ack = await this.publisher.publish(stream, subject, event, streamSeq, trace);
      appended.push({
        envelope: event.envelope,
        cid: event.cid,
        seq: event.envelope.seq,
        streamSeq: ack.seq,
        duplicate: ack.duplicate,
      });
      streamSeq = ack.seq;
    }
    return appended;
  }

  /** Publishes through the stream's group commit: each event keeps its own `publish` span and trace headers. */
  private async publishGrouped(
    group: StreamGroupCommit,
    stream: string,
    subject: string,
    head: AggregateHead,
    encoded: readonly EncodedEvent[],
    trace: string | Context | undefined,
  ): Promise<AppendedEvent[]> {
    const acks = encoded.map(() => deferred<Acked>());
    const hs = encoded.map(eventHeaders);
    // tracePublish sets the trace headers before it waits, so the batch carries them.
    const traced = encoded.map((event, i) =>
      tracePublish(hs[i]!, stream, subject, event.envelope, trace, () => acks[i]!.promise),
    );
    group.append(subject, encoded, hs, head.streamSeq).then(
      (list) => list.forEach((ack, i) => acks[i]!.resolve(ack)),
      (error: unknown) => acks.forEach((a) => a.reject(error)),
    );
    const done = await Promise.all(traced);
    return encoded.map((event, i) => ({
      envelope: event.envelope,
      cid: event.cid,
      seq: event.envelope.seq,
      streamSeq: done[i]!.seq,
      duplicate: done[i]!.duplicate,
    }));
  }

  /**
   * The aggregate's first event stored after stream sequence `afterStreamSeq` (its chain position
   * and CID, read from the stream), or undefined when there is none yet.
   */
  async eventAfter(
    ref: Pick<AggregateRef, 'domain' | 'aggregateId'>,
    afterStreamSeq: number,
  ): Promise<{ seq: number; cid: CID; streamSeq: number } | undefined> {
    const stream = domainStream(ref.domain);
    const subject = this.subjects.event(ref.domain, ref.aggregateId);
    // STREAM.MSG.GET takes `next_by_subj` (the first message on the subject at or after `seq`);
    // nats.js types only the other two queries.
    const query = { seq: afterStreamSeq + 1, next_by_subj: subject } as unknown as MsgRequest;
    const next = await withRetries(
      this.retry,
      `reading ${subject} after stream seq ${afterStreamSeq}`,
      () => this.jsm.streams.getMessage(stream, query),
      (error) => {
        if (isNotFound(error)) return undefined;
        throw new CimError('CIM-UNAVAILABLE', `reading ${subject} failed: ${(error as Error).message}`, {
          cause: error,
        });
      },
    );
    if (!next) return undefined;
    const { envelope, cid } = decodeEnvelope(next.data, next.header.get('Cim-Cid') || undefined);
    return { seq: envelope.seq, cid, streamSeq: next.seq };
  }

  private encode(ref: AggregateRef, event: NewEvent, seq: number, prev: CID | null, causation: Causation) {
    if (
      typeof event.type !== 'string' ||
      event.type.length === 0 ||
      typeof event.payload !== 'object' ||
      event.payload === null
    ) {
      throw new CimError(
        'CIM-INVALID-EVENT',
        `event ${seq} of ${ref.domain}/${ref.aggregateId}: expected a type and a payload object`,
      );
    }
    const envelope: EventEnvelope = {
      v: ENVELOPE_VERSION,
      id: event.id ?? uuidv7(),
      domain: ref.domain,
      aggregate: ref.aggregate,
      aggregateId: ref.aggregateId,
      seq,
      type: event.type,
      typeVersion: event.typeVersion ?? 1,
      at: event.at ?? new Date().toISOString(),
      correlationId: causation.correlationId,
      causationId: causation.causationId,
      actor: causation.actor,
      payload: event.payload,
      prev,
    };
    // Encrypted before encoding, so the bytes, their CID and every seal cover ciphertext only; the
    // caller keeps the plain envelope to evolve its state with.
    const stored = this.protection ? this.protection.protect(envelope) : envelope;
    try {
      const encoded = encodeEnvelope(stored);
      return stored === envelope ? encoded : { ...encoded, envelope };
    } catch (error) {
      throw new CimError(
        'CIM-INVALID-EVENT',
        `event ${event.type} cannot be encoded as dag-cbor: ${(error as Error).message}`,
      );
    }
  }

  /** The aggregate's current head, read from the stream (one request, retried while the stream has no leader). */
  async head(ref: Pick<AggregateRef, 'domain' | 'aggregateId'>): Promise<AggregateHead> {
    const stream = domainStream(ref.domain);
    const subject = this.subjects.event(ref.domain, ref.aggregateId);
    const last = await withRetries(
      this.retry,
      `reading the head of ${subject}`,
      () => this.jsm.streams.getMessage(stream, { last_by_subj: subject }),
      (error) => {
        if (isNotFound(error)) return undefined;
        throw new CimError('CIM-UNAVAILABLE', `reading the head of ${subject} failed: ${(error as Error).message}`, {
          cause: error,
        });
      },
    );
    if (!last) return EMPTY_HEAD;
    const { envelope, cid } = decodeEnvelope(last.data, last.header.get('Cim-Cid') || undefined);
    return { seq: envelope.seq, cid, streamSeq: last.seq };
  }

  /**
   * The aggregate's events after stream sequence `afterStreamSeq`, up to `head`, decoded, checked
   * (CID, seq contiguous, prev links from `base`) and upcast. Throws CIM-INVALID-EVENT on a break.
   */
  async *readAggregate(
    ref: Pick<AggregateRef, 'domain' | 'aggregateId'>,
    base: AggregateHead = EMPTY_HEAD,
    head?: AggregateHead,
  ): AsyncGenerator<StoredEvent> {
    const end = head ?? (await this.head(ref));
    let expected = { seq: base.seq + 1, prev: base.cid };
    for await (const m of readStream(this.js, {
      stream: domainStream(ref.domain),
      filterSubject: this.subjects.event(ref.domain, ref.aggregateId),
      fromSeq: base.streamSeq + 1,
      toSeq: end.streamSeq,
      batch: 256,
    })) {
      const { envelope, cid } = decodeEnvelope(m.data, m.headers?.get('Cim-Cid') || undefined);
      if (envelope.seq !== expected.seq || !cidEquals(envelope.prev, expected.prev)) {
        throw new CimError(
          'CIM-INVALID-EVENT',
          `${ref.domain}/${ref.aggregateId}: chain broken at stream seq ${m.seq}: expected seq ${expected.seq} after ${expected.prev ?? 'nothing'}, found seq ${envelope.seq} after ${envelope.prev ?? 'nothing'}`,
        );
      }
      expected = { seq: envelope.seq + 1, prev: cid };
      const revealed = this.protection ? this.protection.reveal(envelope) : envelope;
      yield { envelope: this.upcasters.upcast(revealed), cid, streamSeq: m.seq };
    }
  }

  /**
   * Loads an aggregate's state: its snapshot, if one exists, is signed by a trusted key and
   * matches the chain, plus the events after it; otherwise the whole chain (and `snapshotRejected`
   * says why). Writes a new snapshot when `snapshotEvery` or more events were replayed.
   */
  async load<S>(ref: AggregateRef, reducer: Reducer<S>, options: { useSnapshot?: boolean } = {}): Promise<Loaded<S>> {
    const head = await this.head(ref);
    let state = reducer.initial();
    let base = EMPTY_HEAD;
    let fromSnapshot = false;
    let snapshotRejected: string | undefined;

    const snapshots = this.snapshotKeys !== undefined && !this.protection?.covers(ref.domain);
    if (options.useSnapshot !== false && snapshots && head.seq > 0) {
      const snapshot = await this.snapshots.get<S>(ref.domain, ref.aggregateId);
      if (snapshot) {
        snapshotRejected =
          signatureProblem(snapshot, this.snapshotKeys) ?? (await this.checkSnapshot(ref, snapshot, head));
        if (snapshotRejected === undefined) {
          state = snapshot.state;
          base = { seq: snapshot.seq, cid: snapshot.cid, streamSeq: snapshot.streamSeq };
          fromSnapshot = true;
        }
      }
    }

    let replayed = 0;
    for await (const event of this.readAggregate(ref, base, head)) {
      state = reducer.evolve(state, event.envelope);
      replayed++;
    }
    if (snapshots && this.snapshotEvery > 0 && replayed >= this.snapshotEvery)
      await this.saveSnapshot(ref, head, state);
    return { state, head, replayed, fromSnapshot, ...(snapshotRejected ? { snapshotRejected } : {}) };
  }

  /** Writes a signed snapshot; nothing without a signer (`snapshotKeys.signer`). */
  async saveSnapshot<S>(ref: AggregateRef, head: AggregateHead, state: S): Promise<void> {
    const signer = this.snapshotKeys?.signer;
    if (head.seq === 0 || head.cid === null || !signer || this.protection?.covers(ref.domain)) return;
    await this.snapshots.put(
      {
        v: 1,
        domain: ref.domain,
        aggregateId: ref.aggregateId,
        seq: head.seq,
        cid: head.cid,
        streamSeq: head.streamSeq,
        at: new Date().toISOString(),
        state,
      },
      signer,
    );
  }

  /** Undefined when the snapshot names an event that is really in the chain; otherwise why not. */
  private async checkSnapshot(
    ref: AggregateRef,
    snapshot: { seq: number; cid: CID; streamSeq: number },
    head: AggregateHead,
  ): Promise<string | undefined> {
    if (snapshot.seq > head.seq) return `snapshot at seq ${snapshot.seq} is ahead of the chain (seq ${head.seq})`;
    try {
      const stored = await this.jsm.streams.getMessage(domainStream(ref.domain), { seq: snapshot.streamSeq });
      const { envelope, cid } = decodeEnvelope(stored.data);
      if (envelope.aggregateId !== ref.aggregateId || envelope.seq !== snapshot.seq || !cid.equals(snapshot.cid)) {
        return `snapshot claims seq ${snapshot.seq} = ${snapshot.cid} at stream seq ${snapshot.streamSeq}, the chain has ${envelope.aggregateId} seq ${envelope.seq} = ${cid}`;
      }
      return undefined;
    } catch (error) {
      return `the event the snapshot covers (stream seq ${snapshot.streamSeq}) cannot be read: ${(error as Error).message}`;
    }
  }
}

/** A promise and its settling functions (Promise.withResolvers, which Node 20 lacks). */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Why a snapshot's signature is not good enough to trust its state; undefined when it is. */
function signatureProblem(snapshot: Snapshot<unknown>, keys: SnapshotKeys): string | undefined {
  switch (snapshotSignedBy(snapshot, keys.trusted)) {
    case 'valid':
      return undefined;
    case 'unsigned':
      return 'the snapshot is not signed: replayed from the chain instead';
    case 'untrusted-signer':
      return `the snapshot is signed by ${snapshot.signer}, not a trusted key: replayed from the chain instead`;
    case 'bad-signature':
      return `the snapshot's signature by ${snapshot.signer} does not verify: replayed from the chain instead`;
  }
}
