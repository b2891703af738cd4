// Publishing one encoded event with optimistic concurrency and safe retries: the expected last
// subject sequence makes the aggregate's subject an optimistic lock, and Nats-Msg-Id = position makes
// a retried publish after a timeout land at most once, and closes a race some servers leave open.
import type { Context } from '@opentelemetry/api';
import { headers, type JetStreamClient, type JetStreamManager, type MsgHdrs, type NatsError } from 'nats';
import { CimError } from '../errors.js';
import type { EncodedEvent } from './envelope.js';
import { tracePublish } from '../telemetry/tracing.js';
import {
  attemptTimeout,
  backoff,
  isMsgIdInProcess,
  isTransient,
  isWrongLastSequence,
  withRetries,
  type RetryPolicy,
} from './retry.js';

export interface Acked {
  /** Stream sequence of the event. */
  seq: number;
  /** The server had it already (a retry of a publish that had landed). */
  duplicate: boolean;
}

function conflict(subject: string, expectedSubjectSeq: number, cause?: unknown): CimError {
  return new CimError(
    'CIM-CONFLICT',
    `${subject} moved past stream sequence ${expectedSubjectSeq}: another writer appended first`,
    {
      hint: 'Reload the aggregate and decide again.',
      cause,
    },
  );
}

/**
 * The Nats-Msg-Id of an event: its position in its aggregate's chain, not its CID. A retried
 * publish of the same event has the same position, so it lands once; and two different events
 * racing for the same position collide too. That second case matters: nats-server < 2.10 checks
 * `expect.lastSubjectSequence` on a clustered stream before proposing, so concurrent publishes
 * with the same expectation can all pass it (nats-server#4320, reproduced here on 2.9.10 R3),
 * while the leader records a message id when it proposes, so the race is closed by the id.
 */
export function positionMsgId(aggregateId: string, seq: number): string {
  return `${aggregateId}:${seq}`;
}

/** An event's own headers: its type and CID (a trace context is added when it is published). */
export function eventHeaders(event: EncodedEvent): MsgHdrs {
  const h = headers();
  h.set('Cim-Event-Type', event.envelope.type);
  h.set('Cim-Cid', event.cid.toString());
  return h;
}

export class EventPublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly retry: RetryPolicy,
  ) {}

  async publish(
    stream: string,
    subject: string,
    event: EncodedEvent,
    expectedSubjectSeq: number,
    trace?: string | Context,
  ): Promise<Acked> {
    const h = eventHeaders(event);
    // A `publish` span when tracing is on; its context (or a `traceparent` as given) goes into the headers.
    return tracePublish(h, stream, subject, event.envelope, trace, () =>
      this.publishWithHeaders(stream, subject, event, expectedSubjectSeq, h),
    );
  }

  /**
   * Publishes an event whose headers (`eventHeaders`) are already made. `uncertain`: an earlier
   * publish of it went unanswered (a group commit's batch), so it may be stored already.
   */
  async publishWithHeaders(
    stream: string,
    subject: string,
    event: EncodedEvent,
    expectedSubjectSeq: number,
    h: MsgHdrs,
    uncertain = false,
  ): Promise<Acked> {
    const cid = event.cid.toString();
    const msgID = positionMsgId(event.envelope.aggregateId, event.envelope.seq);

    let lastError: unknown;
    let mayHaveLanded = uncertain; // an attempt went unanswered: the server may have stored it
    for (let attempt = 0; attempt < this.retry.attempts; attempt++) {
      await backoff(this.retry, attempt);
      try {
        const ack = await this.js.publish(subject, event.bytes, {
          msgID,
          expect: { lastSubjectSequence: expectedSubjectSeq },
          headers: h,
          timeout: attemptTimeout(this.retry, attempt),
        });
        // A duplicate is either our own earlier attempt whose ack was lost, or another writer's
        // event at the same position: only the stored CID tells which.
        if (ack.duplicate && !(await this.isOurs(stream, ack.seq, cid))) throw conflict(subject, expectedSubjectSeq);
        return { seq: ack.seq, duplicate: ack.duplicate };
      } catch (error) {
        if (error instanceof CimError) throw error;
        lastError = error;
        if (isWrongLastSequence(error)) {
          // After a lost ack, our own earlier attempt may be what moved the subject on.
          if (mayHaveLanded || attempt > 0) {
            const landed = await this.landedAsLast(stream, subject, cid);
            if (landed !== undefined) return { seq: landed, duplicate: true };
          }
          throw conflict(subject, expectedSubjectSeq, error);
        }
        if (isMsgIdInProcess(error)) continue;
        if (!isTransient(error)) {
          throw new CimError('CIM-UNAVAILABLE', `publishing to ${subject} failed: ${(error as Error).message}`, {
            cause: error,
          });
        }
        if ((error as NatsError).code === 'TIMEOUT') mayHaveLanded = true;
      }
    }
    throw new CimError(
      'CIM-UNAVAILABLE',
      `publishing to ${subject} failed after ${this.retry.attempts} attempts: ${(lastError as Error).message}` +
        (mayHaveLanded ? ' (an attempt timed out: the event may have been stored)' : ''),
      {
        hint: mayHaveLanded
          ? 'Reload the aggregate before deciding again: the event may be there. Check `cim cluster status`.'
          : 'The stream has no leader or the cluster is unreachable; check `cim cluster status`.',
        cause: lastError,
      },
    );
  }

  private async isOurs(stream: string, seq: number, cid: string): Promise<boolean> {
    const stored = await withRetries(this.retry, `reading ${stream} seq ${seq}`, () =>
      this.jsm.streams.getMessage(stream, { seq }),
    );
    return stored.header.get('Cim-Cid') === cid;
  }

  /** The stream sequence of the subject's last message if it is the event with this CID. */
  private async landedAsLast(stream: string, subject: string, cid: string): Promise<number | undefined> {
    try {
      const last = await this.jsm.streams.getMessage(stream, { last_by_subj: subject });
      return last.header.get('Cim-Cid') === cid ? last.seq : undefined;
    } catch {
      return undefined;
    }
  }
}
