// Runs one projection live: follows each of its domain streams from the read model's checkpoint
// and applies the events in batches, each batch and its checkpoint in one SQLite transaction.
//
// Why an ordered consumer rather than a durable one (docs/architecture.md#projections): the
// checkpoint lives in SQLite, committed with the rows, and it is the only position that matters
// after a crash. A durable consumer would keep a second position (its ack floor) that can
// disagree with the first — ahead of it when the process dies between ack and commit, behind it
// between commit and ack — and would need deleting and recreating whenever the read model is
// rebuilt or moved. An ordered consumer started at checkpoint + 1 has no position of its own,
// needs no acks, leaves no server state to clean up, and recreates itself after a leader change.
// Crash safety is the same: whatever was not committed is read again from the stream.
import { ConsumerEvents, Events, type ConsumerMessages, type JsMsg, type NatsConnection } from 'nats';
import { CimError } from '../errors.js';
import {
  decodeEvent,
  domainStream,
  type EventEnvelope,
  type PayloadProtection,
  type UpcasterRegistry,
} from '../eventstore/index.js';
import type { ProjectionDefinition } from '../decider/types.js';
import type { Finding } from '../integrity/index.js';
import type { ReadModel, SequencedEvent } from './read-model.js';
import { Attr, BatchSpans } from '../telemetry/tracing.js';

export interface ProjectorOptions {
  nc: NatsConnection;
  model: ReadModel;
  /**
   * A projection the model holds, or its name. The model applies batches with its own
   * definition, so a definition passed here must be that same object.
   */
  projection: ProjectionDefinition | string;
  /** Events per transaction at most (default 500). */
  batchSize?: number;
  /** How long a partial batch may wait for more events before it is applied (default 50 ms). */
  maxWaitMs?: number;
  /** Migrates old payload versions before `apply` sees them. */
  upcasters?: UpcasterRegistry;
  /**
   * Decrypts personal data for `apply` (appliance/privacy/). It runs inside the batch's transaction,
   * so an erasure that deleted a subject's rows cannot be undone by a batch decrypted before it.
   */
  protection?: PayloadProtection;
  /**
   * Told about every failure: a batch that could not be applied (nothing of it was written), an
   * event that does not decode, a stream that cannot be read. The projector then waits and
   * resumes from its checkpoint, until `stop()`.
   */
  onError?: (error: CimError, domain: string) => void;
  /**
   * Told about each message that is not a valid event (an `invalid-event` finding, naming stream
   * and sequence, never the message's contents): it is skipped, the checkpoint moves past it, and
   * the projector carries on. `cim verify` reports the same message.
   */
  onInvalid?: (finding: Finding, domain: string) => void;
  /** First wait after a failure; doubles per consecutive failure up to `maxRetryMs` (default 100 ms / 10 s). */
  retryMs?: number;
  maxRetryMs?: number;
}

export interface DomainProgress {
  /** Stream sequence applied up to (committed). */
  checkpoint: number;
  /** Messages in the stream after the checkpoint, as of the last message read. */
  lag: number;
}

export interface ProjectorProgress {
  /** Events whose rows were written since start. */
  applied: number;
  /** Redelivered events found at or below the checkpoint. */
  skipped: number;
  batches: number;
  failures: number;
  domains: Record<string, DomainProgress>;
  /** Messages skipped since start because they are not valid events (the first 100; `invalidCount` counts all). */
  invalid: Finding[];
  invalidCount: number;
}

/** Skipped messages kept in the progress; the rest are counted. */
const MAX_INVALID_KEPT = 100;

interface Settings {
  nc: NatsConnection;
  model: ReadModel;
  projection: ProjectionDefinition;
  batchSize: number;
  maxWaitMs: number;
  upcasters: UpcasterRegistry | undefined;
  protection: PayloadProtection | undefined;
}

/** One domain's follower: its consumer, the batch being gathered, its counters. */
class DomainFollower {
  checkpoint: number;
  lag = 0;
  private batch: SequencedEvent[] = [];
  /** The stream sequence the next commit moves the checkpoint to. */
  private lastSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private messages: ConsumerMessages | undefined;
  private failure: unknown;
  private stopped = false;
  private readonly stream: string;
  /** The `process` spans of the batch being gathered (none while nothing traces). */
  private readonly spans: BatchSpans;

  constructor(
    private readonly projector: Projector,
    private readonly options: Settings,
    readonly domain: string,
  ) {
    this.stream = domainStream(domain);
    this.checkpoint = options.model.checkpoint(options.projection.name, domain);
    this.spans = new BatchSpans({ stream: this.stream, attributes: { [Attr.projection]: options.projection.name } });
    const { protection, upcasters } = options;
    if (protection?.covers(domain)) {
      // Decrypted (and then upcast: upcasters see plain payloads) when the batch is applied.
      this.prepare = upcasters ? (e) => upcasters.upcast(protection.reveal(e)) : (e) => protection.reveal(e);
    }
  }

  private readonly prepare: ((envelope: EventEnvelope) => EventEnvelope) | undefined;

  /** Follows the stream until `stop()` (resolves) or a failure (rejects, after committing what came before it). */
  async follow(): Promise<void> {
    const { nc, model, projection, batchSize } = this.options;
    this.checkpoint = model.checkpoint(projection.name, this.domain);
    this.lastSeq = this.checkpoint;
    this.batch = [];
    this.failure = undefined;
    const consumer = await nc.jetstream().consumers.get(this.stream, { opt_start_seq: this.checkpoint + 1 });
    if (this.stopped) return;
    // A callback, not an iterator: messages are handled as they are parsed, with no promise per message.
    // Pulls expire after 5 s (heartbeats every 2.5 s) rather than nats.js's 30 s: an ordered
    // consumer whose server went down is noticed after two missed heartbeats and made anew, so the
    // read model falls behind for seconds when a node is lost, not for about a minute.
    const starting = consumer.consume({
      max_messages: batchSize,
      expires: PULL_EXPIRES_MS,
      callback: (m) => this.receive(m),
    });
    // nats.js retries making the consumer for minutes (with the node it was placed on dead, or the
    // meta leader moving); meanwhile neither a stop nor a fresh consumer could get through. Bounded
    // here: the projector follows again with a new consumer, and a stop ends the wait at once.
    const started = await Promise.race([starting, this.startDeadline()]);
    this.wakeStart?.(); // the deadline's timer, when the consumer came first
    if (!started) {
      void starting.then((late) => late.stop()).catch(() => {});
      if (this.stopped) return;
      throw this.followAgain(`no consumer of ${this.stream} could be made in ${CONSUMER_START_MS / 1_000} s`);
    }
    this.messages = started;
    void this.watchHeartbeats(this.messages);
    const reconnects = this.watchReconnects(nc, this.messages);
    // Messages may have come (and failed, or met a stop) before consume() resolved.
    if (this.failure !== undefined || this.stopped) this.messages.stop();
    const ended = await this.messages.closed().finally(() => reconnects.stop());
    this.messages = undefined;
    // The client ends a consumer on its own only when it cannot go on (its stream is gone, say).
    if (!this.stopped) this.fail(ended instanceof Error ? ended : new Error(`the consumer of ${this.stream} ended`));
    // The batch in flight is committed on a stop; after a failure, `fail` has dropped it.
    this.tryFlush();
    if (this.failure !== undefined) throw this.failure;
  }

  stop(): void {
    this.stopped = true;
    this.messages?.stop();
    this.wakeStart?.();
  }

  private wakeStart: (() => void) | undefined;

  /** Why this run ends and the projector follows again from the checkpoint with a new consumer. */
  private followAgain(why: string): CimError {
    return new CimError('CIM-UNAVAILABLE', `${why}: following again from seq ${this.checkpoint + 1}`);
  }

  /** Resolves undefined after CONSUMER_START_MS, at once on a stop, or when `wakeStart` is called. */
  private startDeadline(): Promise<undefined> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeStart === done) this.wakeStart = undefined;
        resolve(undefined);
      };
      const timer = setTimeout(done, CONSUMER_START_MS);
      this.wakeStart = done;
      if (this.stopped) done();
    });
  }

  /**
   * Ends the consumer when the connection comes back after losing its server. nats.js stops
   * counting missed heartbeats while disconnected and, on reconnecting, asks the server whether
   * the consumer still exists before it counts again; when the consumer lived on the lost node that
   * question times out for ever, and the read model would stop for good. The checkpoint is the only
   * position, so following again from it after a reconnect loses and repeats nothing.
   */
  private watchReconnects(nc: NatsConnection, messages: ConsumerMessages): { stop(): void } {
    const status = nc.status();
    void (async () => {
      for await (const s of status) {
        if (s.type !== Events.Reconnect) continue;
        if (this.messages !== messages || this.stopped) return;
        this.fail(this.followAgain(`the connection of ${this.stream}'s consumer reconnected (to ${String(s.data)})`));
        return;
      }
    })().catch(() => {});
    // nats.js gives a QueuedIterator, whose stop() ends the loop above; its type says only AsyncIterable.
    return { stop: () => (status as { stop?: () => void }).stop?.() };
  }

  /**
   * Ends a consumer whose server went away. nats.js makes an ordered consumer anew only when the
   * server says the old one is gone; in a cluster whose node holding it was killed, the info
   * request it asks that with just times out, again and again (nats.js 2.29), and the read model
   * would stop for good. After MISSED_HEARTBEATS missed heartbeats the follower fails here, and the
   * projector follows again from the checkpoint with a consumer on a live replica.
   */
  private async watchHeartbeats(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const s of await messages.status()) {
        if (s.type !== ConsumerEvents.HeartbeatsMissed || Number(s.data) < MISSED_HEARTBEATS) continue;
        if (this.messages !== messages || this.stopped) return;
        this.fail(
          this.followAgain(`the consumer of ${this.stream} missed ${String(s.data)} heartbeats (its server gone?)`),
        );
        return;
      }
    } catch {
      // The status stream ends with the consumer; nothing to watch then.
    }
  }

  private receive(m: JsMsg): void {
    // Messages still arriving after a stop or a failure are left for the next run to read.
    if (this.failure !== undefined || this.stopped) return;
    let envelope;
    try {
      envelope = decodeEvent(m.data);
    } catch (error) {
      // Not an event (anyone allowed to publish on the stream's subjects can put anything there):
      // a finding, and skipped, so one bad message cannot stall the projection. The checkpoint
      // moves past it with the next commit.
      this.projector.invalidFound(this.domain, this.stream, m.seq, error);
      this.lastSeq = m.seq;
      this.lag = m.info.pending + this.batch.length;
      this.scheduleFlush(m.info.pending);
      return;
    }
    try {
      if (this.options.upcasters && !this.prepare) envelope = this.options.upcasters.upcast(envelope);
    } catch (error) {
      // A valid event an upcaster cannot migrate is a fault of the code, not of the message:
      // commit what came before it, so the checkpoint stops right at it, and retry.
      if (this.tryFlush()) this.fail(error);
      return;
    }
    this.batch.push({ streamSeq: m.seq, envelope });
    this.spans.begin(m);
    this.lastSeq = m.seq;
    this.lag = m.info.pending + this.batch.length;
    this.scheduleFlush(m.info.pending);
  }

  private scheduleFlush(pending: number): void {
    // Nothing more waiting on the server: apply now rather than wait for a full batch.
    if (this.batch.length >= this.options.batchSize || pending === 0) this.tryFlush();
    else this.timer ??= setTimeout(() => this.tryFlush(), this.options.maxWaitMs);
  }

  /** Commits the batch; on failure, records it and ends the run. */
  private tryFlush(): boolean {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.failure !== undefined) return false;
    if (this.batch.length === 0 && this.lastSeq <= this.checkpoint) return true;
    const batch = this.batch;
    this.batch = [];
    try {
      const result = this.options.model.applyBatch(
        this.options.projection.name,
        this.domain,
        batch,
        this.lastSeq,
        this.prepare,
      );
      this.checkpoint = result.checkpoint;
      this.lag = Math.max(0, this.lag - batch.length);
      this.projector.counted(result.applied, result.skipped);
      this.spans.end();
      return true;
    } catch (error) {
      this.fail(error);
      return false;
    }
  }

  /** Nothing after the checkpoint may be committed any more: the next run reads it again. */
  private fail(error: unknown): void {
    this.failure ??= error;
    this.batch = [];
    this.spans.end(error);
    this.lastSeq = this.checkpoint;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.messages?.stop();
  }
}

/** How long one pull of the projector's consumer waits (its idle heartbeat is half of it). */
const PULL_EXPIRES_MS = 5_000;

/** How long a follower waits for its consumer to be made before it tries a new one. */
const CONSUMER_START_MS = 15_000;

/** Missed heartbeats (every PULL_EXPIRES_MS / 2) after which a follower takes a new consumer. */
const MISSED_HEARTBEATS = 2;

export class Projector {
  private stopping = false;
  private applied = 0;
  private skipped = 0;
  private batches = 0;
  private failures = 0;
  private readonly invalid = new Map<string, Finding>();
  private invalidCount = 0;
  private readonly name: string;
  private readonly followers: DomainFollower[];
  private readonly wakeUps = new Set<() => void>();
  private readonly done: Promise<void>;

  private constructor(private readonly options: ProjectorOptions) {
    const settings: Settings = {
      nc: options.nc,
      model: options.model,
      projection: projectionOf(options),
      batchSize: options.batchSize ?? 500,
      maxWaitMs: options.maxWaitMs ?? 50,
      upcasters: options.upcasters,
      protection: options.protection,
    };
    this.name = settings.projection.name;
    if (settings.batchSize < 1)
      throw new CimError('CIM-INVALID-INPUT', `batchSize must be at least 1, got ${settings.batchSize}`);
    this.followers = settings.projection.domains.map((domain) => new DomainFollower(this, settings, domain));
    this.done = Promise.all(this.followers.map((f) => this.run(f))).then(() => undefined);
  }

  /** Starts following every domain of the projection; `stop()` ends it. */
  static start(options: ProjectorOptions): Projector {
    return new Projector(options);
  }

  private async run(follower: DomainFollower): Promise<void> {
    const retryMs = this.options.retryMs ?? 100;
    const maxRetryMs = this.options.maxRetryMs ?? 10_000;
    let consecutive = 0;
    while (!this.stopping) {
      try {
        await follower.follow();
        consecutive = 0;
      } catch (error) {
        this.failures++;
        consecutive++;
        if (!this.stopping)
          this.options.onError?.(asProjectionError(error, this.name, follower.domain), follower.domain);
        await this.pause(Math.min(retryMs * 2 ** (consecutive - 1), maxRetryMs));
      }
    }
  }

  /** Waits, unless `stop()` comes first (and then leaves no timer behind to hold the process). */
  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakeUps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakeUps.add(wake);
    });
  }

  /** Called by followers after each committed batch. */
  counted(applied: number, skipped: number): void {
    this.applied += applied;
    this.skipped += skipped;
    this.batches++;
  }

  /** Called by followers for a message that is not a valid event; one finding per stream sequence. */
  invalidFound(domain: string, stream: string, streamSeq: number, error: unknown): void {
    const key = `${stream}:${streamSeq}`;
    // Read again after a retry from the checkpoint: already found.
    if (this.invalid.has(key)) return;
    const finding: Finding = {
      kind: 'invalid-event',
      domain,
      stream,
      streamSeq,
      message: `projection ${this.name} skipped ${stream} seq ${streamSeq}: not a valid event (${(error as Error).message})`,
    };
    this.invalidCount++;
    if (this.invalid.size < MAX_INVALID_KEPT) this.invalid.set(key, finding);
    this.options.onInvalid?.(finding, domain);
  }

  progress(): ProjectorProgress {
    const domains: Record<string, DomainProgress> = {};
    for (const f of this.followers) domains[f.domain] = { checkpoint: f.checkpoint, lag: f.lag };
    return {
      applied: this.applied,
      skipped: this.skipped,
      batches: this.batches,
      failures: this.failures,
      domains,
      invalid: [...this.invalid.values()],
      invalidCount: this.invalidCount,
    };
  }

  /** Stops reading, applies the batch in flight, and resolves once everything read is committed. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const f of this.followers) f.stop();
    for (const wake of this.wakeUps) wake();
    await this.done;
  }

  /** Resolves when the projector has stopped. */
  closed(): Promise<void> {
    return this.done;
  }
}

function projectionOf(options: ProjectorOptions): ProjectionDefinition {
  const name = typeof options.projection === 'string' ? options.projection : options.projection.name;
  const held = options.model.definition(name);
  if (typeof options.projection !== 'string' && options.projection !== held) {
    throw new CimError(
      'CIM-INVALID-INPUT',
      `projection ${name}: the read model ${options.model.path} holds another definition of that name`,
      {
        hint: 'Open the read model with the definition the projector should run, or pass its name.',
      },
    );
  }
  return held;
}

/** Read model and decoding failures are CimErrors already; anything else came from the client. */
function asProjectionError(error: unknown, projection: string, domain: string): CimError {
  if (error instanceof CimError) return error;
  return new CimError(
    'CIM-UNAVAILABLE',
    `projection ${projection} cannot read ${domainStream(domain)}: ${(error as Error).message}`,
    {
      hint: 'The projector retries from its checkpoint; check that the stream exists (provision) and the cluster is reachable.',
      cause: error,
    },
  );
}
