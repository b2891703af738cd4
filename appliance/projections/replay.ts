// Rebuilds a projection's read model from its streams, from the first event up to now, a stream
// sequence or a point in time (time travel). The model is built in a new file beside the target
// and moved into place only when complete, so a failed or interrupted replay leaves the previous
// model as it was, and nobody ever reads a half-built one.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { JetStreamManager, JsMsg, NatsConnection } from 'nats';
import { CimError } from '../errors.js';
import { domainStream, firstUnread, type PayloadProtection, type UpcasterRegistry } from '../eventstore/index.js';
import { isNotFound } from '../eventstore/retry.js';
import type { ProjectionDefinition } from '../decider/types.js';
import type { Finding } from '../integrity/index.js';
import { applyMessages, type RebuildSetup } from './rebuild-batch.js';
import { RebuildThread, type RebuildWorkerSetup } from './rebuild-thread.js';
import { ReadModel } from './read-model.js';

export interface ReplayOptions {
  nc: NatsConnection;
  projection: ProjectionDefinition;
  /**
   * The read model file to (re)create. Stop any projector writing to it first: the file is
   * replaced, and a connection still open on the old one would keep writing to that.
   */
  path: string;
  /** Stop after this stream sequence (inclusive); one-domain projections only, since sequences are per stream. */
  toSeq?: number;
  /** Apply only events whose `at` is at or before this time; the replay stops at the first later event. */
  toTime?: string | Date;
  /** Called about every `progressEveryMs` and once at the end: events applied, events expected, rate so far. */
  onProgress?: (done: number, total: number, eventsPerSecond: number) => void;
  progressEveryMs?: number;
  /** Messages per pull, and events per transaction (default 1000). */
  batch?: number;
  upcasters?: UpcasterRegistry;
  /** Decrypts personal data (appliance/privacy/); without it, encrypted fields are stored as they are read. */
  protection?: PayloadProtection;
  /** End a stream's read when nothing arrives for this long (default 5 s, checked every as long): the last messages may have been deleted. */
  idleMs?: number;
  /**
   * Apply on a worker thread: decoding, the projection and SQLite there, reading here, so the two
   * overlap (docs/architecture.md#projections). The worker builds the projection from the served
   * domains (a function cannot be passed to a thread): `projection` must be one of them, under
   * its own name and tables (its domains may differ), and `upcasters` and `protection` are
   * ignored for what the setup names instead.
   */
  worker?: RebuildWorkerSetup;
}

export interface ReplayResult {
  /** Events applied (read and given to the projection). */
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** The last stream sequence applied (with several domains, the highest); 0 when none was. */
  lastSeq: number;
  /** Per domain, the last stream sequence applied: the model's checkpoints. */
  lastSeqs: Record<string, number>;
  /** Messages skipped because they are not valid events (stream and sequence; `cim verify` names them too). */
  invalid: Finding[];
}

interface Bounds {
  toSeq?: number | undefined;
  toTimeMs?: number | undefined;
}

export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const { projection, path } = options;
  const bounds = checkBounds(options);
  const jsm = await options.nc.jetstreamManager();
  const started = performance.now();
  const progress = new Progress(options.onProgress, options.progressEveryMs ?? 1_000, started);

  const spans = [];
  for (const domain of projection.domains) spans.push(await streamSpan(jsm, domain, bounds.toSeq));
  progress.total = spans.reduce((n, s) => n + s.expected, 0);

  removeAbandonedBuilds(path);
  const building = `${path}.replay-${process.pid}-${Date.now()}`;
  const invalid: Finding[] = [];
  let lastSeqs: Record<string, number> = {};
  try {
    if (options.worker) {
      const applier = new ThreadApplier(building, options, options.worker, bounds.toTimeMs, progress, invalid);
      try {
        // The worker starts (loads the domains, opens the model) while the first messages are read.
        for (const span of spans) if (span.toSeq >= span.fromSeq) await readSpan(options, applier, span);
      } catch (error) {
        await applier.thread.abort();
        throw error;
      }
      lastSeqs = await applier.thread.close();
    } else {
      const model = ReadModel.open({ path: building, projections: [projection], rebuild: true });
      const applier = new InlineApplier(model, options, bounds.toTimeMs, progress, invalid);
      try {
        for (const span of spans) if (span.toSeq >= span.fromSeq) await readSpan(options, applier, span);
      } finally {
        model.close();
      }
      lastSeqs = applier.lastSeqs;
    }
    for (const span of spans) lastSeqs[span.domain] ??= 0;
  } catch (error) {
    removeDatabase(building);
    throw error;
  }
  try {
    install(building, path);
  } catch (error) {
    removeDatabase(building);
    throw new CimError(
      'CIM-INVALID-INPUT',
      `cannot put the replayed read model at ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }

  const seconds = (performance.now() - started) / 1_000;
  progress.report(true);
  return {
    events: progress.done,
    seconds,
    eventsPerSecond: seconds > 0 ? progress.done / seconds : 0,
    lastSeq: Math.max(0, ...Object.values(lastSeqs)),
    lastSeqs,
    invalid,
  };
}

function checkBounds(options: ReplayOptions): Bounds {
  const { toSeq, toTime, projection } = options;
  if (toSeq !== undefined && toTime !== undefined)
    throw new CimError('CIM-INVALID-INPUT', 'replay: give toSeq or toTime, not both');
  if (toSeq !== undefined) {
    if (!Number.isSafeInteger(toSeq) || toSeq < 0)
      throw new CimError('CIM-INVALID-INPUT', `replay: toSeq must be a stream sequence (an integer ≥ 0), got ${toSeq}`);
    if (projection.domains.length !== 1) {
      throw new CimError(
        'CIM-INVALID-INPUT',
        `replay: toSeq names a position in one stream, and ${projection.name} reads ${projection.domains.length} (${projection.domains.join(', ')})`,
        {
          hint: 'Travel to a point in time (toTime) instead.',
        },
      );
    }
  }
  let toTimeMs: number | undefined;
  if (toTime !== undefined) {
    toTimeMs = toTime instanceof Date ? toTime.getTime() : Date.parse(toTime);
    if (Number.isNaN(toTimeMs))
      throw new CimError('CIM-INVALID-INPUT', `replay: toTime must be an RFC 3339 timestamp, got ${String(toTime)}`);
  }
  return { toSeq, toTimeMs };
}

interface StreamSpan {
  domain: string;
  stream: string;
  fromSeq: number;
  toSeq: number;
  /** Messages in the span, for progress. */
  expected: number;
}

async function streamSpan(jsm: JetStreamManager, domain: string, toSeq: number | undefined): Promise<StreamSpan> {
  const stream = domainStream(domain);
  let state;
  try {
    state = (await jsm.streams.info(stream)).state;
  } catch (error) {
    if (isNotFound(error))
      throw new CimError('CIM-NOT-FOUND', `replay: stream ${stream} does not exist`, {
        hint: 'Provision the domain first.',
      });
    throw new CimError('CIM-UNAVAILABLE', `replay: cannot read the state of ${stream}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // Events appended during the replay are left to the live projector, which resumes at the checkpoint.
  const last = Math.min(state.last_seq, toSeq ?? Infinity);
  const fromSeq = Math.max(1, state.first_seq);
  return { domain, stream, fromSeq, toSeq: last, expected: state.messages === 0 ? 0 : Math.max(0, last - fromSeq + 1) };
}

/**
 * Where a span's messages go once read: applied here (`inline`) or handed to the rebuild's worker
 * thread. Either way in batches of consecutive messages, each committed with its checkpoint.
 */
interface Applier {
  /** Takes a full batch (the arrays are the applier's from then on). */
  submit(span: StreamSpan, seqs: number[], bodies: Uint8Array[]): void;
  /** A time bound was met, or applying failed: reading this span can stop. */
  readonly stopped: boolean;
}

/** Applies each batch on the reading thread, as it is read. */
class InlineApplier implements Applier {
  stopped = false;
  readonly lastSeqs: Record<string, number> = {};

  constructor(
    private readonly model: ReadModel,
    private readonly setup: RebuildSetup,
    private readonly toTimeMs: number | undefined,
    private readonly progress: Progress,
    private readonly invalid: Finding[],
  ) {}

  submit(span: StreamSpan, seqs: number[], bodies: Uint8Array[]): void {
    if (this.stopped) return;
    const batch = { domain: span.domain, stream: span.stream, seqs, bodies };
    const result = applyMessages(this.model, this.setup, batch, this.lastSeqs[span.domain] ?? 0, this.toTimeMs);
    this.lastSeqs[span.domain] = result.lastSeq;
    this.invalid.push(...result.invalid);
    this.progress.add(result.applied);
    if (result.ended) this.stopped = true;
  }
}

/** Hands each batch to the worker thread; its results come back as it commits them. */
class ThreadApplier implements Applier {
  readonly thread: RebuildThread;

  constructor(
    path: string,
    options: ReplayOptions,
    setup: RebuildWorkerSetup,
    toTimeMs: number | undefined,
    progress: Progress,
    invalid: Finding[],
  ) {
    this.thread = new RebuildThread(path, options.projection, setup, toTimeMs, (result) => {
      invalid.push(...result.invalid);
      progress.add(result.applied);
      if (result.ended) this.ended = true;
    });
  }

  private ended = false;

  get stopped(): boolean {
    return this.ended || this.thread.failed !== undefined;
  }

  submit(span: StreamSpan, seqs: number[], bodies: Uint8Array[]): void {
    this.thread.submit(span.domain, span.stream, seqs, bodies);
  }
}

/** Reads one stream's span and hands it to `applier` in batches; resolves with the last stream sequence read. */
async function readSpan(options: ReplayOptions, applier: Applier, span: StreamSpan): Promise<number> {
  const batchSize = options.batch ?? 1_000;
  let seqs: number[] = [];
  let bodies: Uint8Array[] = [];
  let lastSeq = 0;
  let failure: unknown;
  let finished = false;

  const flush = () => {
    // An empty batch is nothing to apply: the checkpoint is already where the last one left it.
    if (seqs.length === 0) return;
    const full = { seqs, bodies };
    seqs = [];
    bodies = [];
    applier.submit(span, full.seqs, full.bodies);
  };

  /** One consumer over the span from `fromSeq`: 'done' at the span's end (or the time bound), 'quiet' when it went quiet first. */
  const consumeSpan = async (fromSeq: number): Promise<'done' | 'quiet'> => {
    let ended: 'done' | 'quiet' = 'quiet';
    const consumer = await options.nc.jetstream().consumers.get(span.stream, { opt_start_seq: fromSeq });
    let messages: Awaited<ReturnType<typeof consumer.consume>> | undefined;
    const finish = () => {
      finished = true;
      messages?.stop();
    };
    // Checked on an interval rather than re-armed per message, which would cost a timer update per event.
    let received = 0;
    let seenByIdleCheck = -1;
    const idle = setInterval(() => {
      if (received === seenByIdleCheck) finish();
      seenByIdleCheck = received;
    }, options.idleMs ?? 5_000);
    const receive = (m: JsMsg) => {
      if (finished) return;
      received++;
      try {
        const seq = m.seq;
        if (seq > span.toSeq || applier.stopped) {
          ended = 'done';
          return finish();
        }
        // The body is a view into a chunk the connection read (a fresh buffer per read): held
        // until the batch is applied (inline) or copied (handed to the worker).
        seqs.push(seq);
        bodies.push(m.data);
        lastSeq = seq;
        if (seqs.length >= batchSize) flush();
        if (seq >= span.toSeq) ended = 'done';
        // Nothing pending before the end: deleted events, or a momentary count; the caller asks the stream.
        if (seq >= span.toSeq || m.info.pending === 0) finish();
      } catch (error) {
        failure = error;
        finish();
      }
    };
    try {
      // A callback, not an iterator: each message is handled as it is parsed, with no promise per message.
      messages = await consumer.consume({ max_messages: batchSize, callback: receive });
      if (finished) messages.stop();
      const closed = await messages.closed();
      if (!finished)
        failure ??=
          closed instanceof Error ? closed : new Error(`the consumer of ${span.stream} ended before the replay did`);
    } finally {
      clearInterval(idle);
    }
    // A batch is never left half-read across consumers: whatever this one delivered is applied now.
    flush();
    if (applier.stopped) ended = 'done';
    return ended;
  };

  // A consumer that goes quiet before the span's end either met deleted events or stalled (seen on
  // loaded 2.10–2.15 clusters): the stream tells which, and a fresh consumer reads the rest.
  let from = span.fromSeq;
  for (let attempt = 1; ; attempt++) {
    const ended = await consumeSpan(from);
    if (failure !== undefined || ended === 'done' || lastSeq >= span.toSeq) break;
    const unread = await firstUnread(
      options.nc.jetstream(),
      { stream: span.stream, toSeq: span.toSeq },
      Math.max(lastSeq, from - 1),
    );
    if (unread === undefined) break;
    if (attempt >= 3)
      throw new CimError(
        'CIM-UNAVAILABLE',
        `replay: reading ${span.stream} stalled: seq ${unread} is stored but ${attempt} consumers in a row did not deliver it`,
      );
    finished = false;
    from = Math.max(lastSeq, from - 1) + 1;
  }
  if (failure !== undefined) throw failure;
  return lastSeq;
}

class Progress {
  done = 0;
  total = 0;
  private last: number;

  constructor(
    private readonly onProgress: ReplayOptions['onProgress'],
    private readonly everyMs: number,
    private readonly started: number,
  ) {
    this.last = started;
  }

  add(events: number): void {
    this.done += events;
    if (this.onProgress && performance.now() - this.last >= this.everyMs) this.report(false);
  }

  report(final: boolean): void {
    if (!this.onProgress) return;
    const now = performance.now();
    this.last = now;
    const seconds = (now - this.started) / 1_000;
    // Deleted messages and a time bound make the expected total an upper bound; the end says what it was.
    this.onProgress(
      this.done,
      final ? this.done : Math.max(this.total, this.done),
      seconds > 0 ? this.done / seconds : 0,
    );
  }
}

/** Moves a completed (closed, hence checkpointed) build into place: synced first, and the old model's WAL removed so it cannot be replayed onto the new file. */
function install(building: string, path: string): void {
  const fd = openSync(building, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
  renameSync(building, path);
}

/**
 * Removes the half-built files of replays into `path` whose process is gone (killed with -9 or
 * crashed, so its own cleanup never ran). A replay still running elsewhere keeps its file.
 */
function removeAbandonedBuilds(path: string): void {
  const prefix = `${basename(path)}.replay-`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return; // the directory does not exist yet: nothing was abandoned in it
  }
  for (const name of names) {
    const pid = Number(/^(\d+)-\d+$/.exec(name.slice(prefix.length).replace(/-(wal|shm|journal)$/, ''))?.[1]);
    if (!name.startsWith(prefix) || !Number.isSafeInteger(pid) || processAlive(pid)) continue;
    rmSync(join(dirname(path), name), { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
}
