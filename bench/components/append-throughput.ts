// Event-store appends against raw JetStream publishes, measured in one run on one connection with
// the same payload bytes, subjects and window: throughput, then publish→ack latency at one rate.
// The headline figure is the ratio (absolute figures move from machine to machine; ratios within one run hold).
import { performance } from 'node:perf_hooks';
import {
  headers,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
import {
  CimError,
  DEFAULT_BATCHES_IN_FLIGHT,
  domainStream,
  hasFeature,
  encodeEnvelope,
  EMPTY_HEAD,
  EventStore,
  provision,
  Sealer,
  verifyDomain,
  defaultWorkers,
  Subjects,
  type EncodedEvent,
  type AggregateHead,
  type Signer,
  type AggregateRef,
  type Causation,
  type EventStoreOptions,
  type GroupCommitStats,
  type NewEvent,
} from '../../appliance/index.js';
import {
  latencyAtRate,
  rate,
  runLanes,
  throughputFigure,
  type LatencyFigure,
  type ThroughputFigure,
} from '../schedule.js';
import { RAW_READ_BATCHES, rawOrderedRead, type RawReadFigure } from './replay-throughput.js';
import { sampleAggregateId, sampleEnvelope, samplePayload } from './sample-events.js';

export type AppendBenchmarkPhase =
  | 'warmup'
  | 'raw'
  | 'raw-contract'
  | 'append-single'
  | 'append'
  | 'raw-batch'
  | 'raw-latency'
  | 'append-latency'
  | 'verify';

export interface AppendBenchmarkOptions {
  /** Messages of each throughput phase (raw, then append). */
  messages: number;
  /** Encoded size of the events' domain payload; raw messages are as large as the whole encoded event. */
  payloadBytes: number;
  /** Aggregates appended to, and subjects the raw messages are spread over (round robin). */
  aggregates: number;
  /** Publishes awaiting their ack; appends to one aggregate are serial, so at most `aggregates`. */
  inFlight: number;
  replicas: number;
  duplicateWindowMs?: number;
  /** A benchmark domain (its stream is deleted before and after): must start with `bench`. */
  domain?: string;
  /** The raw stream (deleted before and after): must start with `CIM_BENCH`. */
  rawStream?: string;
  rawSubjectPrefix?: string;
  /** Messages of each kind sent before measuring (JIT, connection buffers, stream files). */
  warmupMessages?: number;
  /** Length of each fixed-rate phase; 0 skips the latency measurement. */
  latencySeconds?: number;
  /** Messages per second of both fixed-rate phases; default half the measured raw throughput. */
  latencyRate?: number;
  /** Passed to EventStore.open (snapshots are never written by appends). */
  store?: EventStoreOptions;
  /**
   * After the appends, seal the domain with this key and time `verifyDomain` over everything
   * appended (chains, the seal's Merkle root, its signature). Seals stay in CIM_SEALS, which
   * refuses deletes: give each such run its own domain.
   */
  verifyWith?: Signer;
  /** Called now and then with messages done so far. */
  onProgress?: (phase: AppendBenchmarkPhase, done: number, total: number) => void;
  /** Set to stop early (Ctrl-C); results cover what was done. */
  signal?: AbortSignal;
}

export interface VerifyFigure {
  events: number;
  seals: number;
  sealSeconds: number;
  verifySeconds: number;
  /** Events verified per second of `cim verify`'s pass (read over NATS, chains, seal root, signature). */
  eventsPerSecond: number;
  findings: number;
  /** Threads that checked the events (0: the reading thread, the one pass). */
  workers: number;
  /** Ordered reads of the same stream that only count messages, at several pull sizes, just before the verify. */
  rawReads?: RawReadFigure[];
  /** The fastest of them: the baseline. */
  bestRawRead?: RawReadFigure;
  /** eventsPerSecond ÷ the best raw read's messages/s. */
  toRawRead: number;
  /** The same verification of a stream a tenth the size (its own domain, same path: workers from any size). */
  smaller?: { events: number; seconds: number; eventsPerSecond: number; findings: number };
  /** eventsPerSecond ÷ smaller.eventsPerSecond: 1 when verifying costs the same per event at both sizes. */
  linearity: number;
}

export interface AppendBenchmarkResult {
  domain: string;
  stream: string;
  rawStream: string;
  replicas: number;
  payloadBytes: number;
  /** Size of one encoded event, and so of every raw message. */
  messageBytes: number;
  aggregates: number;
  inFlight: number;
  /** Publishes outstanding at once in both throughput phases: min(inFlight, aggregates). */
  lanes: number;
  throughput: {
    raw: ThroughputFigure;
    /** Raw publishes with the contract's message id and expected subject sequence: the server's share of the cost. */
    rawWithContract: ThroughputFigure;
    /** Appends with group commit where the stream allows atomic batches (the store's default). */
    append: ThroughputFigure;
    /** Appends with group commit off: every event its own publish and ack, as on servers before 2.12. */
    appendSingle: ThroughputFigure;
    /** appendSingle / rawWithContract: the single-message path against the same contract on raw publishes. */
    appendSingleToContractRatio: number;
    /**
     * Raw atomic batches of the size group commit made (its mean), as many in flight as it keeps:
     * the like-for-like peer of a batched append. Absent where the server has no atomic batches.
     */
    rawBatch?: ThroughputFigure & { batchSize: number; batchesInFlight: number };
    /** append / rawBatch. */
    appendToRawBatchRatio?: number;
    /** append / raw: the headline. */
    ratio: number;
    /** rawWithContract / raw: what dedup and optimistic concurrency cost the cluster. */
    contractRatio: number;
    /** append / rawWithContract: what the event store's client work costs on top. */
    appendToContractRatio: number;
  };
  /** What group commit did in the append phase; absent when the stream took no atomic batches. */
  groupCommit?: GroupCommitStats & { meanBatchSize: number };
  latency?: { rate: number; seconds: number; raw: LatencyFigure; append: LatencyFigure; p99Ratio: number };
  /** Sealing and verifying the appended stream end to end, over NATS (with `verifyWith`). */
  verify?: VerifyFigure;
  /** Acknowledged messages against what the streams hold at the end: lost > 0 is a failed run. */
  check: {
    rawAcked: number;
    rawStored: number;
    rawLost: number;
    contractAcked: number;
    contractStored: number;
    contractLost: number;
    appendAcked: number;
    appendStored: number;
    appendLost: number;
    duplicates: number;
  };
  interrupted: boolean;
}

const CAUSATION: Causation = {
  // UUID-sized, as real ids are, so the encoded events have a realistic size.
  correlationId: '01900000-0000-7000-8000-000000000001',
  causationId: '01900000-0000-7000-8000-000000000002',
  actor: 'bench',
};
const EVENT_TYPE = 'SampleRecorded';
const AGGREGATE_TYPE = 'Sample';

/** The two writers under test, each keeping its own acknowledgement count. */
class Writers {
  readonly refs: AggregateRef[];
  readonly heads: AggregateHead[];
  readonly rawSubjects: string[];
  /**
   * Aggregates with no append in flight, longest idle first (a ring of `aggregates` slots): a
   * lane takes the head and puts its aggregate back at the tail, so with lanes ≤ aggregates it
   * never gets an aggregate another lane is appending to.
   */
  private readonly idle: number[];
  private idleHead = 0;
  private idleTail = 0;
  /** Per aggregate, the last append issued at a fixed rate: the next one waits for it. */
  private readonly tails: (Promise<unknown> | undefined)[];
  rawAcked = 0;
  contractAcked = 0;
  appendAcked = 0;
  readonly contractSubjects: string[];
  private readonly contractCounts: number[];
  private readonly contractLast: number[];
  duplicates = 0;
  private readonly event: NewEvent;

  constructor(
    private readonly js: JetStreamClient,
    private store: EventStore,
    private readonly body: Uint8Array,
    domain: string,
    aggregates: number,
    rawSubjectPrefix: string,
    contractSubjectPrefix: string,
    payloadBytes: number,
  ) {
    this.contractSubjects = Array.from(
      { length: aggregates },
      (_, i) => `${contractSubjectPrefix}.${sampleAggregateId(i)}`,
    );
    this.contractCounts = this.contractSubjects.map(() => 0);
    this.contractLast = this.contractSubjects.map(() => 0);
    this.refs = Array.from({ length: aggregates }, (_, i) => ({
      domain,
      aggregate: AGGREGATE_TYPE,
      aggregateId: sampleAggregateId(i),
    }));
    this.heads = this.refs.map(() => EMPTY_HEAD);
    this.rawSubjects = this.refs.map((ref) => `${rawSubjectPrefix}.${ref.aggregateId}`);
    this.idle = this.refs.map((_, i) => i);
    this.tails = this.refs.map(() => undefined);
    // One payload object for every event: building domain data is the caller's cost, not the store's.
    this.event = { type: EVENT_TYPE, payload: samplePayload(payloadBytes) };
  }

  /** The store the next appends go through (the heads carry over: both write the same chains). */
  useStore(store: EventStore): void {
    this.store = store;
  }

  async raw(index: number): Promise<boolean> {
    try {
      await this.js.publish(this.rawSubjects[index % this.rawSubjects.length]!, this.body);
      this.rawAcked++;
      return true;
    } catch {
      return false;
    }
  }

  /** Appends to the aggregate idle longest. */
  appendNext(): Promise<boolean> {
    return this.onIdleAggregate((aggregate) => this.append(aggregate));
  }

  /** A raw publish with the contract's headers to the subject of the aggregate idle longest. */
  rawWithContractNext(): Promise<boolean> {
    return this.onIdleAggregate((aggregate) => this.rawWithContract(aggregate));
  }

  private async onIdleAggregate(operation: (aggregate: number) => Promise<boolean>): Promise<boolean> {
    const aggregate = this.idle[this.idleHead]!;
    this.idleHead = (this.idleHead + 1) % this.idle.length;
    const ok = await operation(aggregate);
    this.idle[this.idleTail] = aggregate;
    this.idleTail = (this.idleTail + 1) % this.idle.length;
    return ok;
  }

  /**
   * What the event store's contract asks of the server — a message id (dedup) and the expected
   * last subject sequence (optimistic concurrency) — on the same bytes, with none of the store's
   * client work: the most an event store honouring the contract can reach on this cluster.
   */
  async rawWithContract(aggregate: number): Promise<boolean> {
    const count = ++this.contractCounts[aggregate]!;
    try {
      const ack = await this.js.publish(this.contractSubjects[aggregate]!, this.body, {
        msgID: `${this.refs[aggregate]!.aggregateId}:${count}`,
        expect: { lastSubjectSequence: this.contractLast[aggregate]! },
      });
      this.contractLast[aggregate] = ack.seq;
      this.contractAcked++;
      return true;
    } catch {
      return false;
    }
  }

  async append(aggregate: number): Promise<boolean> {
    const ref = this.refs[aggregate]!;
    try {
      const [appended] = await this.store.append(ref, this.heads[aggregate]!, [this.event], CAUSATION);
      this.heads[aggregate] = { seq: appended!.seq, cid: appended!.cid, streamSeq: appended!.streamSeq };
      this.appendAcked++;
      if (appended!.duplicate) this.duplicates++;
      return true;
    } catch {
      // Whatever happened, the next append must extend what the stream really holds; if even the
      // head cannot be read, the next append conflicts and comes back here.
      this.heads[aggregate] = await this.store.head(ref).catch(() => this.heads[aggregate]!);
      return false;
    }
  }

  /** The next fixed-rate append to an aggregate, started when the previous one to it has finished. */
  appendAfterPrevious<T>(aggregate: number, appendOne: () => Promise<T>): Promise<T> {
    const next = (this.tails[aggregate] ?? Promise.resolve()).then(appendOne);
    this.tails[aggregate] = next;
    return next;
  }
}

/**
 * Raw atomic batches: `batchSize` messages of the same bytes over the raw subjects, the last one the
 * commit request, `batchesInFlight` batches at once, until `total` messages are acknowledged or the
 * signal stops it. What a batched append is measured against: the same batch, with no event store.
 */
async function rawBatches(
  nc: NatsConnection,
  subjects: readonly string[],
  body: Uint8Array,
  total: number,
  batchSize: number,
  batchesInFlight: number,
  onProgress: (done: number) => void,
  signal: AbortSignal | undefined,
): Promise<ThroughputFigure> {
  let issued = 0;
  let acked = 0;
  let failed = 0;
  let next = 0;
  let batchNo = 0;
  const started = performance.now();
  const lane = async () => {
    while (issued < total && !signal?.aborted) {
      const size = Math.min(batchSize, total - issued);
      issued += size;
      const id = `rawbatch-${process.pid}-${++batchNo}`;
      try {
        let reply: Uint8Array | undefined;
        for (let n = 1; n <= size; n++) {
          const h = headers();
          h.set('Nats-Batch-Id', id);
          h.set('Nats-Batch-Sequence', String(n));
          const subject = subjects[next++ % subjects.length]!;
          if (n < size) nc.publish(subject, body, { headers: h });
          else {
            h.set('Nats-Batch-Commit', '1');
            reply = (await nc.request(subject, body, { headers: h, timeout: 10_000 })).data;
          }
        }
        const ack = JSON.parse(new TextDecoder().decode(reply)) as { count?: number; error?: unknown };
        if (ack.error === undefined && ack.count === size) acked += size;
        else failed += size;
      } catch {
        failed += size;
      }
      onProgress(acked + failed);
    }
  };
  await Promise.all(Array.from({ length: batchesInFlight }, lane));
  const seconds = (performance.now() - started) / 1_000;
  return throughputFigure({ ok: acked, failed, seconds });
}

function assertNames(domain: string, rawStream: string): void {
  if (!domain.startsWith('bench')) {
    throw new CimError(
      'CIM-INVALID-INPUT',
      `domain "${domain}": the append benchmark deletes its domain's stream, so the domain must start with "bench"`,
    );
  }
  if (!rawStream.startsWith('CIM_BENCH')) {
    throw new CimError(
      'CIM-INVALID-INPUT',
      `raw stream "${rawStream}": the append benchmark deletes it, so its name must start with "CIM_BENCH"`,
    );
  }
}

async function messageCount(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

/** Seals what is unsealed of the domain, then times `verifyDomain` over it (both paths from any size, so two sizes compare). */
async function sealAndVerify(
  nc: NatsConnection,
  domain: string,
  signer: Signer,
  progress?: (done: number, total: number) => void,
) {
  const sealer = await Sealer.open(nc, { domain, signer, maxEventsPerSeal: Number.MAX_SAFE_INTEGER });
  const sealStarted = performance.now();
  let seals = 0;
  while (await sealer.sealOnce()) seals++;
  const sealSeconds = (performance.now() - sealStarted) / 1_000;
  const workers = defaultWorkers();
  const verifyStarted = performance.now();
  const result = await verifyDomain(nc, domain, {
    trusted: [signer.verifier()],
    workers,
    parallelFrom: 0,
    ...(progress ? { onProgress: (_d: string, seq: number, last: number) => progress(seq, last) } : {}),
  });
  const seconds = (performance.now() - verifyStarted) / 1_000;
  return {
    seals,
    sealSeconds,
    workers,
    events: result.events,
    seconds,
    eventsPerSecond: rate(result.events, seconds),
    findings: result.findings.length + result.findingsOmitted,
  };
}

/** `count` events over `aggregates` chains of a sample payload, published raw with the store's headers (the event store's own writes are measured elsewhere). */
async function publishSampleEvents(
  js: JetStreamClient,
  domain: string,
  count: number,
  aggregates: number,
  payloadBytes: number,
  inFlight: number,
): Promise<void> {
  const payload = samplePayload(payloadBytes);
  const subjects = new Subjects();
  const heads: { seq: number; cid: EncodedEvent['cid'] | null }[] = Array.from({ length: aggregates }, () => ({
    seq: 0,
    cid: null,
  }));
  let pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const a = i % aggregates;
    const head = heads[a]!;
    const id = sampleAggregateId(a);
    const event = encodeEnvelope(
      sampleEnvelope(id, head.seq + 1, head.cid, payload, { domain, aggregate: AGGREGATE_TYPE, type: EVENT_TYPE }),
    );
    heads[a] = { seq: head.seq + 1, cid: event.cid };
    const h = headers();
    h.set('Cim-Event-Type', EVENT_TYPE);
    h.set('Cim-Cid', event.cid.toString());
    pending.push(js.publish(subjects.event(domain, id), event.bytes, { headers: h, msgID: `${id}:${head.seq + 1}` }));
    if (pending.length >= inFlight) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
}

/**
 * Seals the appended stream and verifies it, against the best raw ordered read of the same
 * stream just before (the same run); then the same for a stream a tenth the size, so the cost
 * per event can be compared across two sizes ten times apart.
 */
async function measureVerify(
  nc: NatsConnection,
  domain: string,
  smallDomain: string,
  signer: Signer,
  shape: { aggregates: number; payloadBytes: number; inFlight: number; replicas: number },
  progress: (done: number, total: number) => void,
): Promise<VerifyFigure> {
  const stream = domainStream(domain);
  const { first_seq: firstSeq, last_seq: lastSeq } = (await (await nc.jetstreamManager()).streams.info(stream)).state;
  const rawReads: RawReadFigure[] = [];
  for (const batch of RAW_READ_BATCHES) rawReads.push(await rawOrderedRead(nc, stream, firstSeq, lastSeq, batch));
  const bestRawRead = rawReads.reduce((best, r) => (r.perSecond > best.perSecond ? r : best));
  const large = await sealAndVerify(nc, domain, signer, progress);

  const smallEvents = Math.max(1, Math.round(large.events / 10));
  await provision(nc, { domains: [smallDomain], replicas: shape.replicas, duplicateWindowMs: 120_000 });
  await publishSampleEvents(
    nc.jetstream(),
    smallDomain,
    smallEvents,
    Math.min(shape.aggregates, smallEvents),
    shape.payloadBytes,
    shape.inFlight,
  );
  const small = await sealAndVerify(nc, smallDomain, signer);
  return {
    events: large.events,
    seals: large.seals,
    sealSeconds: large.sealSeconds,
    verifySeconds: large.seconds,
    eventsPerSecond: large.eventsPerSecond,
    findings: large.findings + small.findings,
    workers: large.workers,
    rawReads,
    bestRawRead,
    toRawRead: bestRawRead.perSecond > 0 ? large.eventsPerSecond / bestRawRead.perSecond : 0,
    smaller: {
      events: small.events,
      seconds: small.seconds,
      eventsPerSecond: small.eventsPerSecond,
      findings: small.findings,
    },
    linearity: small.eventsPerSecond > 0 ? large.eventsPerSecond / small.eventsPerSecond : 0,
  };
}

export async function runAppendBenchmark(
  nc: NatsConnection,
  options: AppendBenchmarkOptions,
): Promise<AppendBenchmarkResult> {
  const domain = options.domain ?? 'benchappend';
  const rawStream = options.rawStream ?? 'CIM_BENCH_RAW';
  const rawSubjectPrefix = options.rawSubjectPrefix ?? 'cim.bench.raw';
  const contractStream = `${rawStream}_CONTRACT`;
  const contractSubjectPrefix = `${rawSubjectPrefix}contract`;
  const batchStream = `${rawStream}_BATCH`;
  const batchSubjectPrefix = `${rawSubjectPrefix}batch`;
  const atomic = hasFeature(nc.info?.version ?? '0.0.0', 'atomicBatch');
  assertNames(domain, rawStream);
  if (options.messages < 1 || options.aggregates < 1 || options.inFlight < 1) {
    throw new CimError(
      'CIM-INVALID-INPUT',
      'the append benchmark needs at least one message, aggregate and publish in flight',
    );
  }
  const stream = domainStream(domain);
  // The verify phase's stream of a tenth the size (deleted afterwards too; its seals stay).
  const smallDomain = `${domain}small`;
  const lanes = Math.min(options.inFlight, options.aggregates);
  const signal = options.signal;
  const progress = (phase: AppendBenchmarkPhase, total: number) => (done: number) =>
    options.onProgress?.(phase, done, total);

  const jsm = await nc.jetstreamManager();
  // Fresh streams: leftovers of an interrupted run would change sizes, dedup sets and sequences.
  await jsm.streams.delete(stream).catch(() => false);
  await jsm.streams.delete(rawStream).catch(() => false);
  await jsm.streams.delete(contractStream).catch(() => false);
  await jsm.streams.delete(batchStream).catch(() => false);
  const provisioned = await provision(nc, {
    domains: [domain],
    replicas: options.replicas,
    duplicateWindowMs: options.duplicateWindowMs ?? 120_000,
  });
  try {
    await jsm.streams.add({
      name: rawStream,
      subjects: [`${rawSubjectPrefix}.>`],
      num_replicas: options.replicas,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
    });
    await jsm.streams.add({
      name: contractStream,
      subjects: [`${contractSubjectPrefix}.>`],
      num_replicas: options.replicas,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      duplicate_window: nanos(options.duplicateWindowMs ?? 120_000),
    });
    if (atomic) {
      await jsm.streams.add({
        name: batchStream,
        subjects: [`${batchSubjectPrefix}.>`],
        num_replicas: options.replicas,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        allow_atomic: true,
      } as Parameters<typeof jsm.streams.add>[0]);
    }
    const store = await EventStore.open(nc, options.store);
    const singleStore = await EventStore.open(nc, { ...options.store, groupCommit: false });

    // Raw messages are exactly as large as an encoded event in the middle of its chain (prev set).
    const typicalSeq = Math.max(2, Math.round(options.messages / options.aggregates / 2));
    const typical = encodeEnvelope(
      sampleEnvelope(
        sampleAggregateId(0),
        typicalSeq,
        encodeEnvelope(sampleEnvelope(sampleAggregateId(0), 1, null, {})).cid,
        samplePayload(options.payloadBytes),
        {
          domain,
          aggregate: AGGREGATE_TYPE,
          type: EVENT_TYPE,
          ...CAUSATION,
        },
      ),
    );
    const body = new Uint8Array(typical.bytes.length).fill(0x61);
    const writers = new Writers(
      nc.jetstream(),
      store,
      body,
      domain,
      options.aggregates,
      rawSubjectPrefix,
      contractSubjectPrefix,
      options.payloadBytes,
    );

    const warmup = Math.min(
      options.warmupMessages ?? Math.min(1_000, Math.ceil(options.messages / 10)),
      options.messages,
    );
    if (warmup > 0) {
      await runLanes(lanes, warmup, (i) => writers.raw(i), progress('warmup', warmup * 2), signal);
      await runLanes(
        lanes,
        warmup,
        () => writers.appendNext(),
        (done) => options.onProgress?.('warmup', warmup + done, warmup * 2),
        signal,
      );
    }

    // Each throughput phase: the same lanes and message count, its own progress.
    const throughputPhase = (phase: AppendBenchmarkPhase, operation: (i: number) => Promise<boolean>) =>
      runLanes(lanes, options.messages, operation, progress(phase, options.messages), signal);
    const raw = await throughputPhase('raw', (i) => writers.raw(i));
    const contract = await throughputPhase('raw-contract', () => writers.rawWithContractNext());
    writers.useStore(singleStore);
    const appendSingle = await throughputPhase('append-single', () => writers.appendNext());
    writers.useStore(store);
    const append = await throughputPhase('append', () => writers.appendNext());
    const rawFigure = throughputFigure(raw);
    const contractFigure = throughputFigure(contract);
    const appendFigure = throughputFigure(append);
    const appendSingleFigure = throughputFigure(appendSingle);

    const stats = (await store.groupCommitStats())[stream];
    const groupCommit = stats
      ? { ...stats, meanBatchSize: stats.batches > 0 ? stats.batchedEvents / stats.batches : 0 }
      : undefined;
    let rawBatch: AppendBenchmarkResult['throughput']['rawBatch'];
    if (atomic && groupCommit && groupCommit.meanBatchSize >= 2 && !signal?.aborted) {
      const batchSize = Math.round(groupCommit.meanBatchSize);
      // As many messages in flight as the appends had (their lanes), in batches of their size.
      const batchesInFlight = Math.max(1, Math.min(DEFAULT_BATCHES_IN_FLIGHT, Math.round(lanes / batchSize)));
      const figure = await rawBatches(
        nc,
        writers.rawSubjects.map((s) => s.replace(rawSubjectPrefix, batchSubjectPrefix)),
        body,
        options.messages,
        batchSize,
        batchesInFlight,
        progress('raw-batch', options.messages),
        signal,
      );
      rawBatch = { ...figure, batchSize, batchesInFlight };
    }

    let latency: AppendBenchmarkResult['latency'];
    const latencySeconds = options.latencySeconds ?? 5;
    const targetRate = options.latencyRate ?? Math.round(rawFigure.perSecond / 2);
    if (latencySeconds > 0 && targetRate > 0 && !signal?.aborted) {
      const total = Math.max(1, Math.round(targetRate * latencySeconds));

      const rawLatency = await latencyAtRate(
        targetRate,
        total,
        (i) => writers.raw(i),
        progress('raw-latency', total),
        signal,
      );
      // Open loop: appends to one aggregate queue behind its previous one, and their wait counts.
      const appendLatency = await latencyAtRate(
        targetRate,
        total,
        (i) => writers.appendAfterPrevious(i % options.aggregates, () => writers.append(i % options.aggregates)),
        progress('append-latency', total),
        signal,
      );
      latency = {
        rate: targetRate,
        seconds: latencySeconds,
        raw: rawLatency,
        append: appendLatency,
        p99Ratio: rawLatency.p99Ms > 0 ? appendLatency.p99Ms / rawLatency.p99Ms : 0,
      };
    }

    const rawStored = await messageCount(jsm, rawStream);
    const contractStored = await messageCount(jsm, contractStream);
    const appendStored = await messageCount(jsm, stream);
    const verify =
      options.verifyWith && !signal?.aborted
        ? await measureVerify(
            nc,
            domain,
            smallDomain,
            options.verifyWith,
            {
              aggregates: options.aggregates,
              payloadBytes: options.payloadBytes,
              inFlight: lanes,
              replicas: options.replicas,
            },
            (done, total) => options.onProgress?.('verify', done, total),
          )
        : undefined;
    return {
      domain,
      stream,
      rawStream,
      replicas: options.replicas,
      payloadBytes: options.payloadBytes,
      messageBytes: body.length,
      aggregates: options.aggregates,
      inFlight: options.inFlight,
      lanes,
      throughput: {
        raw: rawFigure,
        rawWithContract: contractFigure,
        append: appendFigure,
        ratio: rawFigure.perSecond > 0 ? appendFigure.perSecond / rawFigure.perSecond : 0,
        contractRatio: rawFigure.perSecond > 0 ? contractFigure.perSecond / rawFigure.perSecond : 0,
        appendToContractRatio: contractFigure.perSecond > 0 ? appendFigure.perSecond / contractFigure.perSecond : 0,
        appendSingle: appendSingleFigure,
        appendSingleToContractRatio:
          contractFigure.perSecond > 0 ? appendSingleFigure.perSecond / contractFigure.perSecond : 0,
        ...(rawBatch
          ? {
              rawBatch,
              appendToRawBatchRatio: rawBatch.perSecond > 0 ? appendFigure.perSecond / rawBatch.perSecond : 0,
            }
          : {}),
      },
      ...(groupCommit ? { groupCommit } : {}),
      ...(latency ? { latency } : {}),
      ...(verify ? { verify } : {}),
      check: {
        rawAcked: writers.rawAcked,
        rawStored,
        rawLost: writers.rawAcked - rawStored,
        contractAcked: writers.contractAcked,
        contractStored,
        contractLost: writers.contractAcked - contractStored,
        appendAcked: writers.appendAcked,
        appendStored,
        appendLost: writers.appendAcked - writers.duplicates - appendStored,
        duplicates: writers.duplicates,
      },
      interrupted: signal?.aborted ?? false,
    };
  } finally {
    await jsm.streams.delete(rawStream).catch(() => false);
    await jsm.streams.delete(contractStream).catch(() => false);
    await jsm.streams.delete(batchStream).catch(() => false);
    await jsm.streams.delete(stream).catch(() => false);
    await jsm.streams.delete(domainStream(smallDomain)).catch(() => false);
    // Shared streams this run had to create go too, but only while they are still empty.
    for (const name of provisioned.created) {
      if (name === stream) continue;
      const empty = await messageCount(jsm, name).then(
        (n) => n === 0,
        () => false,
      );
      if (empty) await jsm.streams.delete(name).catch(() => false);
    }
  }
}
