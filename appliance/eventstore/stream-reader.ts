// Reads a range of a stream in order, optionally filtered to one subject, with an ordered
// consumer (no server-side state to clean up, flow-controlled, resumes itself after a leader
// change). It ends at the range's last sequence, or when the consumer reports nothing pending
// (the last message may have been deleted), or after a quiet spell, so a read never hangs.
import type { JetStreamClient, JsMsg } from 'nats';
import { CimError } from '../errors.js';

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
  const idle = setTimeout(() => messages.stop(), idleMs);
  try {
    for await (const m of messages) {
      idle.refresh();
      if (m.seq > range.toSeq) break;
      yield m;
      if (m.seq >= range.toSeq || m.info.pending === 0) break;
    }
  } finally {
    clearTimeout(idle);
    messages.stop();
  }
}
