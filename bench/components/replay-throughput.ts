// Projection rebuild against the best raw read of the same stream, in one run: an ordered
// consumer that only counts messages, at several pull sizes (the best one is the baseline, as
// the pull size alone moves the raw read by 1.6×), then `replay` of the
// projection into a fresh SQLite file. The ratio is what decoding, validating and applying
// events to the read model cost on top of reading them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { JsMsg, NatsConnection } from 'nats';
import {
  CimError,
  domainStream,
  firstUnread,
  replay,
  type ProjectionDefinition,
  type RebuildWorkerSetup,
} from '../../appliance/index.js';
import { rate } from '../schedule.js';

export interface ReplayBenchmarkOptions {
  /** The projection to rebuild; it must read exactly one domain, whose stream is measured. */
  projection: ProjectionDefinition;
  /** Pull sizes tried for the raw read (default 256, 1000, 4000). */
  rawBatches?: readonly number[];
  /** Events per pull and per SQLite transaction of the replay (default: replay's own, 1000). */
  replayBatch?: number;
  /** Time travel: build the model as of a stream sequence, a time, or a fraction of the stream; the raw reads cover the same span. */
  to?: { seq: number } | { time: string } | { fraction: number };
  /** Apply on a worker thread (`replay`'s `worker`); the projection must be a served one. */
  worker?: RebuildWorkerSetup;
  /** The model file to write (default: a temporary file, removed afterwards). */
  path?: string;

  onProgress?: (done: number, total: number) => void;
}

export interface RawReadFigure {
  batch: number;
  messages: number;
  seconds: number;
  perSecond: number;
}

export interface ReplayBenchmarkResult {
  projection: string;
  stream: string;
  /** Messages in the stream when measured (the replay may cover fewer: see `replay.events`). */
  events: number;
  rawReads: RawReadFigure[];
  /** The fastest raw read: the baseline. */
  bestRaw: RawReadFigure;
  replay: { events: number; seconds: number; perSecond: number; lastSeq: number };
  /** replay / best raw read. */
  replayToRaw: number;
}

/** Pull sizes of the raw reads that are a read's baseline: the pull size alone moves a raw read by 1.6×. */
export const RAW_READ_BATCHES = [256, 1_000, 4_000] as const;

export async function runReplayBenchmark(
  nc: NatsConnection,
  options: ReplayBenchmarkOptions,
): Promise<ReplayBenchmarkResult> {
  const { projection } = options;
  if (projection.domains.length !== 1) {
    throw new CimError(
      'CIM-INVALID-INPUT',
      `replay benchmark: ${projection.name} reads ${projection.domains.length} domains; it measures one stream`,
    );
  }
  const stream = domainStream(projection.domains[0]!);
  const state = (await (await nc.jetstreamManager()).streams.info(stream)).state;
  const to = options.to;
  const bound: { toSeq: number } | { toTime: string } =
    to === undefined
      ? { toSeq: state.last_seq }
      : 'seq' in to
        ? { toSeq: Math.min(to.seq, state.last_seq) }
        : 'fraction' in to
          ? { toSeq: state.first_seq - 1 + Math.round((state.last_seq - state.first_seq + 1) * to.fraction) }
          : { toTime: to.time };
  const rawBatches = options.rawBatches ?? RAW_READ_BATCHES;
  const rawReads: RawReadFigure[] = [];
  const readRaw = async (toSeq: number) => {
    for (const batch of rawBatches) rawReads.push(await rawOrderedRead(nc, stream, state.first_seq, toSeq, batch));
  };

  const dir = options.path ? undefined : mkdtempSync(join(tmpdir(), 'cim-replay-bench-'));
  try {
    // With a known end the raw reads go first; a time bound's end is known once the replay found it.
    if ('toSeq' in bound) await readRaw(bound.toSeq);
    const result = await replay({
      nc,
      projection,
      path: options.path ?? join(dir!, 'model.sqlite'),
      ...bound,
      ...(options.replayBatch ? { batch: options.replayBatch } : {}),
      ...(options.worker ? { worker: options.worker } : {}),
      ...(options.onProgress ? { onProgress: (done: number, total: number) => options.onProgress!(done, total) } : {}),
    });
    if (!('toSeq' in bound)) await readRaw(result.lastSeq);
    const bestRaw = rawReads.reduce((best, r) => (r.perSecond > best.perSecond ? r : best));
    if (result.events !== bestRaw.messages) {
      throw new CimError(
        'CIM-VERIFY-FAILED',
        `replay benchmark: the replay applied ${result.events} events of ${stream}, the raw read of the same span saw ${bestRaw.messages}`,
      );
    }
    const figure = {
      events: result.events,
      seconds: result.seconds,
      perSecond: result.eventsPerSecond,
      lastSeq: result.lastSeq,
    };
    return {
      projection: projection.name,
      stream,
      events: state.messages,
      rawReads,
      bestRaw,
      replay: figure,
      replayToRaw: bestRaw.perSecond > 0 ? figure.perSecond / bestRaw.perSecond : 0,
    };
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** How long a raw read waits for a quiet consumer before asking the stream whether more is stored. */
const QUIET_MS = 5_000;

/** An ordered consumer over [fromSeq, toSeq] that touches each body and nothing more: what a read of the stream is compared with. */
export async function rawOrderedRead(
  nc: NatsConnection,
  stream: string,
  fromSeq: number,
  toSeq: number,
  batch: number,
): Promise<RawReadFigure> {
  const started = performance.now();
  let messages = 0;
  let bytes = 0;
  // A consumer that goes quiet before the span's end (deleted messages, or a stall seen on loaded
  // 2.10–2.15 clusters) is followed by a fresh one while the stream still holds unread messages.
  let next = Math.max(1, fromSeq);
  let last = next - 1;
  for (let attempt = 1; toSeq >= next && toSeq > 0; attempt++) {
    const consumer = await nc.jetstream().consumers.get(stream, { opt_start_seq: next });
    let done!: () => void;
    let finishedReading = false;
    const finished = new Promise<void>((resolve) => (done = resolve));
    // The same delivery as replay's: a callback per message, no promise per message.
    const iterator = await consumer.consume({
      max_messages: batch,
      callback: (m: JsMsg) => {
        // Messages of the last pull keep coming after the end: they are not part of the span.
        if (finishedReading || m.seq > toSeq) return;
        messages++;
        bytes += m.data.length;
        last = m.seq;
        if (m.seq >= toSeq || m.info.pending === 0) {
          finishedReading = true;
          done();
        }
      },
    });
    // A consumer that ends early (the stream deleted under it) ends the read too, with what it saw.
    void iterator.closed().then(() => done());
    const quiet = setTimeout(() => done(), QUIET_MS);
    await finished;
    clearTimeout(quiet);
    iterator.stop();
    if (last >= toSeq || attempt >= 3 || (await firstUnread(nc.jetstream(), { stream, toSeq }, last)) === undefined)
      break;
    next = last + 1;
  }
  const seconds = (performance.now() - started) / 1_000;
  // `bytes` keeps the body access from being optimised away; it is not reported.
  void bytes;
  return { batch, messages, seconds, perSecond: rate(messages, seconds) };
}
