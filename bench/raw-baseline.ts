// The raw JetStream baseline: the best publish and ordered read the same client can do on the
// same cluster, with no event store on top. Every headline figure is a ratio to it
// (ratios within one run hold where absolute figures do not), and every message is read back and checked, so a fast but lossy run shows.
import { performance } from 'node:perf_hooks';
import { RetentionPolicy, StorageType, type NatsConnection, type PubAck } from 'nats';
import { createStream, DEFAULT_RETRY, waitForStreamLeader } from '../appliance/index.js';

export interface RawBaselineOptions {
  stream: string;
  subjectPrefix: string;
  messages: number;
  payloadBytes: number;
  /** Distinct subjects the messages are spread over (round robin). */
  subjects: number;
  /** Publishes awaiting their ack at any moment. */
  inFlight: number;
  replicas: number;
  /** Called now and then with messages done so far. */
  onProgress?: (phase: 'publish' | 'read', done: number, total: number) => void;
  /** Set to stop early (Ctrl-C); results cover what was done. */
  signal?: AbortSignal;
}

export interface RateFigure {
  messages: number;
  seconds: number;
  perSecond: number;
}

export interface RawBaselineResult {
  stream: string;
  replicas: number;
  payloadBytes: number;
  subjects: number;
  inFlight: number;
  publish: RateFigure;
  read: RateFigure;
  /** Messages acknowledged but not read back, or read back with the wrong body. */
  lost: number;
  corrupted: number;
  interrupted: boolean;
}

/** A payload that says which message it is, so the read-back can check every body. */
function payloadFor(index: number, size: number): Uint8Array {
  const payload = new Uint8Array(Math.max(size, 8));
  new DataView(payload.buffer).setFloat64(0, index);
  for (let i = 8; i < payload.length; i++) payload[i] = (index + i) & 0xff;
  return payload;
}

function figure(messages: number, startedMs: number): RateFigure {
  const seconds = (performance.now() - startedMs) / 1000;
  return { messages, seconds, perSecond: seconds > 0 ? messages / seconds : 0 };
}

export async function runRawBaseline(nc: NatsConnection, options: RawBaselineOptions): Promise<RawBaselineResult> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(options.stream).catch(() => false);
  // Right after a cluster forms, JetStream may answer 503 for a moment: ask again (an identical add is a no-op).
  await createStream(DEFAULT_RETRY, options.stream, () =>
    jsm.streams.add({
      name: options.stream,
      subjects: [`${options.subjectPrefix}.>`],
      num_replicas: options.replicas,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
    }),
  );
  await waitForStreamLeader(jsm, options.stream);
  const js = nc.jetstream();
  const progressEvery = Math.max(1, Math.floor(options.messages / 20));

  // Publish with a fixed window of unacknowledged messages.
  const acked = new Map<number, number>(); // stream seq → message index
  let lastSeq = 0;
  const window = new Set<Promise<void>>();
  const publishStart = performance.now();
  let sent = 0;
  for (; sent < options.messages && !options.signal?.aborted; sent++) {
    const index = sent;
    const subject = `${options.subjectPrefix}.${index % options.subjects}`;
    const pending: Promise<void> = js.publish(subject, payloadFor(index, options.payloadBytes)).then((ack: PubAck) => {
      acked.set(ack.seq, index);
      if (ack.seq > lastSeq) lastSeq = ack.seq;
      window.delete(pending);
    });
    window.add(pending);
    if (window.size >= options.inFlight) await Promise.race(window);
    if (sent % progressEvery === 0) options.onProgress?.('publish', sent, options.messages);
  }
  await Promise.all(window);
  const publish = figure(acked.size, publishStart);

  // Read everything back in stream order with an ordered consumer and check every body.
  const readStart = performance.now();
  let read = 0;
  let corrupted = 0;
  if (lastSeq > 0) {
    const consumer = await js.consumers.get(options.stream);
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      const index = acked.get(m.seq);
      const expected = index === undefined ? undefined : payloadFor(index, options.payloadBytes);
      if (expected === undefined || Buffer.compare(Buffer.from(m.data), Buffer.from(expected)) !== 0) corrupted++;
      else acked.delete(m.seq);
      read++;
      if (read % progressEvery === 0) options.onProgress?.('read', read, publish.messages);
      if (m.seq >= lastSeq || options.signal?.aborted) break;
    }
    messages.stop();
  }
  const readFigure = figure(read, readStart);
  await jsm.streams.delete(options.stream).catch(() => false);
  return {
    stream: options.stream,
    replicas: options.replicas,
    payloadBytes: options.payloadBytes,
    subjects: options.subjects,
    inFlight: options.inFlight,
    publish,
    read: readFigure,
    lost: options.signal?.aborted ? 0 : acked.size,
    corrupted,
    interrupted: options.signal?.aborted ?? false,
  };
}
