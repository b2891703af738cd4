// Publishing one encoded event with optimistic concurrency and safe retries: the expected last
// subject sequence makes the aggregate's subject an optimistic lock, and Nats-Msg-Id = CID makes
// a retried publish after a timeout land at most once.
import { headers, type JetStreamClient, type JetStreamManager, type NatsError } from 'nats';
import { CimError } from '../errors.js';
import type { EncodedEvent } from './envelope.js';

/** JetStream's err_code for a failed `expect.lastSubjectSequence`. */
const WRONG_LAST_SEQUENCE = 10071;

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** First backoff; doubles per attempt, with jitter. */
  backoffMs: number;
  /** Ack timeout of the first attempt; doubles per attempt up to `maxTimeoutMs`, since a slow ack is often a busy leader. */
  timeoutMs: number;
  maxTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, backoffMs: 50, timeoutMs: 2_000, maxTimeoutMs: 10_000 };

export interface Acked {
  /** Stream sequence of the event. */
  seq: number;
  /** The server had it already (a retry of a publish that had landed). */
  duplicate: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function isWrongLastSequence(error: unknown): boolean {
  return (error as NatsError).api_error?.err_code === WRONG_LAST_SEQUENCE;
}

/** Failures after which the same publish may well succeed: no ack in time, no stream leader, reconnecting. */
function isTransient(error: unknown): boolean {
  const e = error as NatsError;
  if (e.api_error) return e.api_error.code === 503 || e.api_error.code === 504;
  return ['TIMEOUT', '503', 'DISCONNECT', 'CONNECTION_REFUSED', 'REQUEST_ERROR'].includes(e.code);
}

export class EventPublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {}

  async publish(stream: string, subject: string, event: EncodedEvent, expectedSubjectSeq: number, traceparent?: string): Promise<Acked> {
    const cid = event.cid.toString();
    const h = headers();
    h.set('Cim-Event-Type', event.envelope.type);
    h.set('Cim-Cid', cid);
    if (traceparent) h.set('traceparent', traceparent);

    let lastError: unknown;
    for (let attempt = 0; attempt < this.retry.attempts; attempt++) {
      if (attempt > 0) await sleep(this.retry.backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
      try {
        const ack = await this.js.publish(subject, event.bytes, {
          msgID: cid,
          expect: { lastSubjectSequence: expectedSubjectSeq },
          headers: h,
          timeout: Math.min(this.retry.timeoutMs * 2 ** attempt, this.retry.maxTimeoutMs),
        });
        return { seq: ack.seq, duplicate: ack.duplicate };
      } catch (error) {
        lastError = error;
        if (isWrongLastSequence(error)) {
          // After a lost ack, our own earlier attempt may be what moved the subject on.
          if (attempt > 0) {
            const landed = await this.landedAsLast(stream, subject, cid);
            if (landed !== undefined) return { seq: landed, duplicate: true };
          }
          throw new CimError('CIM-CONFLICT', `${subject} moved past stream sequence ${expectedSubjectSeq}: another writer appended first`, {
            hint: 'Reload the aggregate and decide again.',
            cause: error,
          });
        }
        if (!isTransient(error)) {
          throw new CimError('CIM-UNAVAILABLE', `publishing to ${subject} failed: ${(error as Error).message}`, { cause: error });
        }
      }
    }
    throw new CimError('CIM-UNAVAILABLE', `publishing to ${subject} failed after ${this.retry.attempts} attempts: ${(lastError as Error).message}`, {
      hint: 'The stream has no leader or the cluster is unreachable; check `cim cluster status`.',
      cause: lastError,
    });
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
