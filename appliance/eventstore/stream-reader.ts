// Reads a range of a stream in order, optionally filtered to one subject, with an ordered
// consumer (no server-side state to clean up, flow-controlled, resumes itself after a leader
// change). It ends at the range's last sequence, or when the consumer reports nothing pending
// and the stream agrees (the last messages may have been deleted), or after a quiet spell, so a
// read never hangs and never ends early on a momentary count.
import type { JetStreamClient, JsMsg } from 'nats';
import { CimError } from '../errors.js';
import { isNotFound } from './retry.js';

export interface ReadRange {
  stream: string;
  filterSubject?: string | undefined;
  /** First stream sequence to deliver (inclusive). */
  fromSeq: number;
  /** Stop after this stream sequence (inclusive). */
  toSeq: number;
  /** Messages fetched per pull; larger is faster for long reads (PERFORMANCE.md: 1000 ≈ 1.6×). */
  batch?: number;
  /** End the read when nothing arrives for this long (default 5 s). */
  idleMs?: number;
  /**
   * Give up when the consumer cannot be created for this long (default 30 s). nats.js retries an
   * ordered consumer's creation forever; with JetStream unavailable (a cluster that lost its meta
   * leader and cannot elect one) a read would otherwise never end.
   */
  startTimeoutMs?: number;
}

export async function* readStream(js: JetStreamClient, range: ReadRange): AsyncGenerator<JsMsg> {
  if (range.toSeq < range.fromSeq) return;
  const consumer = await js.consumers.get(range.stream, {
    // A string sets the single `filter_subject`, which nats-server 2.9 understands (the array form needs 2.10).
    ...(range.filterSubject ? { filterSubjects: range.filterSubject } : {}),
    opt_start_seq: Math.max(1, range.fromSeq),
  });
  const starting = consumer.consume({ max_messages: range.batch ?? 1000 });
  let timer: NodeJS.Timeout | undefined;
  const startTimeoutMs = range.startTimeoutMs ?? 30_000;
  const messages = await Promise.race([
    starting,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Should it start after all, stop it rather than leave it reading.
        void starting.then((late) => late.stop()).catch(() => {});
        reject(new CimError('CIM-UNAVAILABLE', `cannot read ${range.stream}: no consumer could be created in ${startTimeoutMs / 1_000} s (JetStream unavailable?)`));
      }, startTimeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  const idleMs = range.idleMs ?? 5_000;
  let idle = setTimeout(() => messages.stop(), idleMs);
  const quiet = (ms: number) => {
    clearTimeout(idle);
    idle = setTimeout(() => messages.stop(), ms);
  };
  try {
    for await (const m of messages) {
      quiet(idleMs);
      if (m.seq > range.toSeq) break;
      yield m;
      if (m.seq >= range.toSeq) break;
      if (m.info.pending === 0) {
        // Nothing pending before the range's end: the rest was deleted — or the count is momentary
        // (seen on a loaded 2.15 cluster, where ending here read back a third of a stream). The
        // stream tells the first case apart; a deleted tail ends after a short quiet spell.
        if ((await lastSequence(js, range)) <= m.seq) break;
        quiet(Math.min(idleMs, DELETED_TAIL_QUIET_MS));
      }
    }
  } finally {
    clearTimeout(idle);
    messages.stop();
  }
}

/** How long a read waits for more after the consumer says nothing is pending before the range's end. */
const DELETED_TAIL_QUIET_MS = 1_000;

/** The last sequence of the stream, or of the filtered subject in it (0 when none is left). */
async function lastSequence(js: JetStreamClient, range: ReadRange): Promise<number> {
  const jsm = await js.jetstreamManager();
  if (!range.filterSubject) return (await jsm.streams.info(range.stream)).state.last_seq;
  try {
    return (await jsm.streams.getMessage(range.stream, { last_by_subj: range.filterSubject })).seq;
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
}
