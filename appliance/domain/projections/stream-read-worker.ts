// A worker thread that reads a span of a stream and hands the raw messages over in batches, so a
// replay's main thread only decodes and writes SQLite while this one parses the NATS protocol:
// on one thread a rebuild spends ~40 % of its time in the client's parsing. Flow control: at most
// `maxOutstanding` batches are handed over and not yet acknowledged; the next pull waits.
import { parentPort, workerData } from 'node:worker_threads';
import { connectNats, type NatsEndpoint } from '../../cluster/connection.js';

export interface StreamReadJob {
  endpoint: NatsEndpoint;
  stream: string;
  fromSeq: number;
  toSeq: number;
  batch: number;
  idleMs: number;
  maxOutstanding: number;
}

/** Messages to the main thread. */
export type StreamReadMessage =
  | { type: 'batch'; seqs: Float64Array; offsets: Uint32Array; bytes: Uint8Array }
  | { type: 'end' }
  | { type: 'error'; message: string };

/** Messages from the main thread. */
export type StreamReadControl = { type: 'ack' } | { type: 'stop' };

async function run(job: StreamReadJob, port: NonNullable<typeof parentPort>): Promise<void> {
  let outstanding = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  port.on('message', (control: StreamReadControl) => {
    if (control.type === 'ack') outstanding--;
    else stopped = true;
    wake?.();
  });
  const nc = await connectNats(job.endpoint, { name: 'cim-replay-reader' });
  try {
    const consumer = await nc.jetstream().consumers.get(job.stream, { opt_start_seq: Math.max(1, job.fromSeq) });
    let done = false;
    while (!done && !stopped) {
      while (outstanding >= job.maxOutstanding && !stopped) await new Promise<void>((resolve) => (wake = resolve));
      if (stopped) break;
      const seqs: number[] = [];
      const chunks: Uint8Array[] = [];
      let size = 0;
      const messages = await consumer.fetch({ max_messages: job.batch, expires: job.idleMs });
      for await (const m of messages) {
        if (m.seq > job.toSeq) {
          done = true;
          break;
        }
        // The message's bytes live in the connection's read buffer: copy them out.
        chunks.push(m.data.slice());
        seqs.push(m.seq);
        size += m.data.length;
        if (m.seq >= job.toSeq || m.info.pending === 0) {
          done = true;
          break;
        }
      }
      // A pull that expired with nothing: the rest of the span was deleted, or never came.
      if (seqs.length === 0) break;
      const bytes = new Uint8Array(size);
      const offsets = new Uint32Array(seqs.length + 1);
      let at = 0;
      chunks.forEach((chunk, i) => {
        offsets[i] = at;
        bytes.set(chunk, at);
        at += chunk.length;
      });
      offsets[seqs.length] = at;
      const batch: StreamReadMessage = { type: 'batch', seqs: Float64Array.from(seqs), offsets, bytes };
      outstanding++;
      port.postMessage(batch, [batch.seqs.buffer as ArrayBuffer, batch.offsets.buffer as ArrayBuffer, batch.bytes.buffer as ArrayBuffer]);
    }
    port.postMessage({ type: 'end' } satisfies StreamReadMessage);
  } finally {
    await nc.close().catch(() => {});
  }
}

if (parentPort) {
  const port = parentPort;
  run(workerData as StreamReadJob, port).catch((error: unknown) => {
    port.postMessage({ type: 'error', message: (error as Error).message } satisfies StreamReadMessage);
  });
}
