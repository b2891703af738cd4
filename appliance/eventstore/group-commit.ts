// Group commit (docs/architecture.md#group-commit): appends to different aggregates that are in
// flight at the same moment leave as one JetStream atomic batch (nats-server ≥ 2.12, a stream with
// `allow_atomic`), so the cluster replicates, and the client parses, one acknowledgement for many
// events. Each append keeps its own guarantees inside the batch: its first event carries the
// aggregate's expected last subject sequence (the optimistic lock), every event its position
// Nats-Msg-Id (a retried append lands once), and the batch is stored whole or not at all, so an
// append's events are never half there and nothing is acknowledged before it is stored.
//
// No timer: while batches are in flight, new appends wait in a queue and go as the next batch when
// one returns, so at a low rate every append leaves at once, alone, and under load the batches grow
// by themselves. A batch the server refuses (an aggregate that moved on, a duplicate position, a
// leader change mid-batch, no answer) is not retried whole: each of its appends is published on its
// own through the single-message path, which tells a conflict from our own earlier write, so the
// others commit and only the conflicting one fails with CIM-CONFLICT.
import type { MsgHdrs, NatsConnection, NatsError } from 'nats';
import { randomBytes } from 'node:crypto';
import type { EncodedEvent } from './envelope.js';
import type { Acked, EventPublisher } from './append.js';
import { positionMsgId } from './append.js';
import { attemptTimeout, type RetryPolicy } from './retry.js';

/** The server's default (and highest default) number of messages in one atomic batch. */
export const MAX_BATCH_MESSAGES = 1_000;

/**
 * Batches of one stream in flight at once. The server takes 50 a stream by default; a few are
 * enough to keep the stream leader busy while the next batch gathers, and fewer make larger batches.
 */
export const DEFAULT_BATCHES_IN_FLIGHT = 4;

/** What a batch adds to an event's headers (the single-message path sets its own id and expectation). */
const BATCH_HEADERS = [
  'Nats-Batch-Id',
  'Nats-Batch-Sequence',
  'Nats-Batch-Commit',
  'Nats-Msg-Id',
  'Nats-Expected-Last-Subject-Sequence',
] as const;

/** JetStream's err_code when the stream does not (or no longer) allow atomic batches. */
const ATOMIC_PUBLISH_DISABLED = 10174;

export interface GroupCommitOptions {
  maxBatchMessages?: number;
  batchesInFlight?: number;
}

export interface GroupCommitStats {
  /** Atomic batches committed. */
  batches: number;
  /** Events committed in those batches. */
  batchedEvents: number;
  /** Appends that left alone because nothing else was waiting (the single-message path). */
  alone: number;
  /** Batches the server refused whose appends were then published one by one. */
  splits: number;
}

/** One append waiting for its batch: its events, their headers (event type, CID, trace) and its lock. */
interface Pending {
  subject: string;
  events: readonly EncodedEvent[];
  headers: MsgHdrs[];
  expectedSubjectSeq: number;
  settle: (outcome: { acks: Acked[] } | { error: unknown }) => void;
}

interface PubAckReply {
  seq?: number;
  count?: number;
  error?: { code?: number; err_code?: number; description?: string };
}

/** The appends of one stream, gathered into atomic batches. */
export class StreamGroupCommit {
  private readonly queue: Pending[] = [];
  /** Subjects with an append in a batch in flight: a second append to one waits (its lock could not hold in the same batch). */
  private readonly busySubjects = new Set<string>();
  private inFlight = 0;
  private pumpScheduled = false;
  private readonly maxBatchMessages: number;
  private readonly batchesInFlight: number;
  readonly stats: GroupCommitStats = { batches: 0, batchedEvents: 0, alone: 0, splits: 0 };
  /** Set when the server says the stream takes no atomic batches: every append goes alone from then on. */
  private disabled = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly publisher: EventPublisher,
    private readonly stream: string,
    private readonly retry: RetryPolicy,
    options: GroupCommitOptions = {},
  ) {
    this.maxBatchMessages = Math.max(1, Math.min(options.maxBatchMessages ?? MAX_BATCH_MESSAGES, MAX_BATCH_MESSAGES));
    this.batchesInFlight = Math.max(1, options.batchesInFlight ?? DEFAULT_BATCHES_IN_FLIGHT);
  }

  /**
   * Publishes an append's events (one chain, extending `expectedSubjectSeq`) in the next batch;
   * resolves with one ack per event once the batch is stored, or rejects as the single-message path
   * does (CIM-CONFLICT, CIM-UNAVAILABLE). `eventHeaders` are the events' own headers.
   */
  append(
    subject: string,
    events: readonly EncodedEvent[],
    eventHeaders: MsgHdrs[],
    expectedSubjectSeq: number,
  ): Promise<Acked[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        subject,
        events,
        headers: eventHeaders,
        expectedSubjectSeq,
        settle: (outcome) => ('acks' in outcome ? resolve(outcome.acks) : reject(outcome.error)),
      });
      this.pump();
    });
  }

  /**
   * Sends what waits once the appends started in this turn of the event loop are all queued
   * (setImmediate runs after the I/O callbacks that start them, so a burst gathers without a
   * timer); at a low rate that is at once.
   */
  private pump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.sendWaiting();
    });
  }

  /**
   * Spreads what waits over the free batch slots, so several batches are in flight and the stream
   * leader stores one while the client settles another.
   */
  private sendWaiting(): void {
    while (this.inFlight < this.batchesInFlight && this.queue.length > 0) {
      const target = Math.ceil(this.waitingMessages() / (this.batchesInFlight - this.inFlight));
      const batch = this.take(Math.min(this.maxBatchMessages, Math.max(1, target)));
      if (batch.length === 0) return; // everything waiting is behind a busy subject
      this.inFlight++;
      for (const p of batch) this.busySubjects.add(p.subject);
      void this.send(batch).finally(() => {
        this.inFlight--;
        for (const p of batch) this.busySubjects.delete(p.subject);
        this.sendWaiting();
      });
    }
  }

  private waitingMessages(): number {
    let n = 0;
    for (const p of this.queue) n += p.events.length;
    return n;
  }

  /** The next batch: waiting appends in arrival order, one per subject, up to `limit` messages. */
  private take(limit: number): Pending[] {
    const batch: Pending[] = [];
    const left: Pending[] = [];
    const subjects = new Set<string>();
    let messages = 0;
    let i = 0;
    for (; i < this.queue.length; i++) {
      const p = this.queue[i]!;
      if (messages + p.events.length > limit && batch.length > 0) break;
      if (subjects.has(p.subject) || this.busySubjects.has(p.subject)) {
        left.push(p);
        continue;
      }
      batch.push(p);
      subjects.add(p.subject);
      messages += p.events.length;
    }
    // One pass, one splice: the queue keeps the skipped appends first, in their order.
    this.queue.splice(0, i, ...left);
    return batch;
  }

  private async send(batch: Pending[]): Promise<void> {
    const messages = batch.reduce((n, p) => n + p.events.length, 0);
    // One event alone gains nothing from a batch (the server stages it first); more than a batch
    // holds cannot be atomic: both take the single-message path.
    if (this.disabled || messages === 1 || messages > this.maxBatchMessages) {
      if (messages === 1) this.stats.alone++;
      await Promise.all(batch.map((p) => this.alone(p, false)));
      return;
    }
    let uncertain = false;
    try {
      const reply = await this.publishBatch(batch, messages);
      if (reply.error === undefined && typeof reply.seq === 'number' && reply.count === messages) {
        this.stats.batches++;
        this.stats.batchedEvents += messages;
        // An atomic batch is stored as one run of sequences ending at the ack's.
        let seq = reply.seq - messages + 1;
        for (const p of batch) p.settle({ acks: p.events.map(() => ({ seq: seq++, duplicate: false })) });
        return;
      }
      if (reply.error?.err_code === ATOMIC_PUBLISH_DISABLED) this.disabled = true;
    } catch (error) {
      // No answer: the batch may have been stored. The single-message path finds out event by
      // event (our own position id, our own CID), so nothing lands twice.
      uncertain = (error as NatsError).code === 'TIMEOUT';
    }
    this.stats.splits++;
    await Promise.all(batch.map((p) => this.alone(p, uncertain)));
  }

  /** One append on the single-message path, each event extending the one before. */
  private async alone(p: Pending, uncertain: boolean): Promise<void> {
    for (const h of p.headers) for (const key of BATCH_HEADERS) h.delete(key);
    try {
      const acks: Acked[] = [];
      let expected = p.expectedSubjectSeq;
      for (const [i, event] of p.events.entries()) {
        const ack = await this.publisher.publishWithHeaders(
          this.stream,
          p.subject,
          event,
          expected,
          p.headers[i]!,
          uncertain,
        );
        acks.push(ack);
        expected = ack.seq;
      }
      p.settle({ acks });
    } catch (error) {
      p.settle({ error });
    }
  }

  /**
   * Publishes the batch's messages in order on one connection, the last one as the commit request.
   * Resolves with the server's answer to the commit (an ack or an error); rejects when none came.
   */
  private async publishBatch(batch: Pending[], messages: number): Promise<PubAckReply> {
    const batchId = randomBytes(12).toString('base64url');
    let n = 0;
    for (const p of batch) {
      for (const [i, event] of p.events.entries()) {
        n++;
        // The event's own headers carry the batch's too (no copy per message, which showed in the
        // profile); `alone` takes the batch's off again before a message goes on its own.
        const h = p.headers[i]!;
        h.set('Nats-Msg-Id', positionMsgId(event.envelope.aggregateId, event.envelope.seq));
        // The lock on the first event covers the rest: the batch is stored whole or not at all
        // (and the server refuses a second expectation on a subject the batch already wrote).
        if (i === 0) h.set('Nats-Expected-Last-Subject-Sequence', String(p.expectedSubjectSeq));
        h.set('Nats-Batch-Id', batchId);
        h.set('Nats-Batch-Sequence', String(n));
        if (n < messages) {
          this.nc.publish(p.subject, event.bytes, { headers: h });
        } else {
          h.set('Nats-Batch-Commit', '1');
          const reply = await this.nc.request(p.subject, event.bytes, {
            headers: h,
            timeout: attemptTimeout(this.retry, 1),
          });
          return JSON.parse(new TextDecoder().decode(reply.data)) as PubAckReply;
        }
      }
    }
    throw new Error('unreachable: a batch always ends with its commit');
  }
}
