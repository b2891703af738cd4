// Reading the audit log for people (`cim audit tail`): its records in stream order, filtered by
// actor and action, the last N of them, and then, when following, each new one as it is stored.
// A message that is no audit record is handed on as such (verification names it), never skipped.
import type { JetStreamClient, JsMsg, NatsConnection } from 'nats';
import { AUDIT_STREAM } from '../eventstore/names.js';
import { isNotFound } from '../eventstore/retry.js';
import { readStream } from '../eventstore/stream-reader.js';
import { decodeAuditMessage, type AuditRecord } from './record.js';

export interface AuditFilter {
  /** Only records of this actor (exactly). */
  actor?: string | undefined;
  /** Only records of this action, or of actions under it: `command` matches `command.person.RegisterPerson`. */
  action?: string | undefined;
}

export interface TailedRecord {
  /** The sequence of the message holding it (a writer's batch of records shares one). */
  streamSeq: number;
  subject: string;
  record?: AuditRecord;
  cid?: string;
  /** Why the message is no audit record. */
  invalid?: string;
}

export function matchesFilter(record: AuditRecord, filter: AuditFilter): boolean {
  if (filter.actor !== undefined && record.actor !== filter.actor) return false;
  if (filter.action !== undefined && record.action !== filter.action && !record.action.startsWith(filter.action + '.'))
    return false;
  return true;
}

/** A message's records in chain order, or the one entry saying why it holds none. */
function tailed(m: JsMsg): TailedRecord[] {
  try {
    const { records } = decodeAuditMessage(m.data, m.headers?.get('Cim-Cid') || undefined);
    return records.map((named) => ({
      streamSeq: m.seq,
      subject: m.subject,
      record: named.record,
      cid: named.cid.toString(),
    }));
  } catch (error) {
    return [{ streamSeq: m.seq, subject: m.subject, invalid: (error as Error).message }];
  }
}

/** Whether a filter lets a message through: one that is no record passes only an empty filter. */
function passes(t: TailedRecord, filter: AuditFilter): boolean {
  return t.record ? matchesFilter(t.record, filter) : filter.actor === undefined && filter.action === undefined;
}

/** The audit stream's last sequence now (0 when it is empty or missing). */
export async function auditLastSeq(nc: NatsConnection): Promise<number> {
  try {
    return (await (await nc.jetstreamManager()).streams.info(AUDIT_STREAM)).state.last_seq;
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
}

/** The last `limit` records (all without one) that pass the filter, up to the stream's end now, oldest first. */
export async function readAuditLog(
  nc: NatsConnection,
  options: { filter?: AuditFilter; limit?: number; toSeq?: number } = {},
): Promise<TailedRecord[]> {
  const filter = options.filter ?? {};
  const toSeq = options.toSeq ?? (await auditLastSeq(nc));
  const kept: TailedRecord[] = [];
  if (options.limit === 0) return kept;
  for await (const m of readStream(nc.jetstream(), { stream: AUDIT_STREAM, fromSeq: 1, toSeq })) {
    for (const t of tailed(m)) {
      if (!passes(t, filter)) continue;
      kept.push(t);
      if (options.limit !== undefined && kept.length > options.limit) kept.shift();
    }
  }
  return kept;
}

/** Hands on every record stored after `afterSeq` that passes the filter, until `signal` aborts. */
export async function followAuditLog(
  nc: NatsConnection,
  options: { afterSeq: number; filter?: AuditFilter; signal: AbortSignal; onRecord: (t: TailedRecord) => void },
): Promise<void> {
  if (options.signal.aborted) return;
  const js: JetStreamClient = nc.jetstream();
  const consumer = await js.consumers.get(AUDIT_STREAM, { opt_start_seq: options.afterSeq + 1 });
  const messages = await consumer.consume();
  const stop = () => messages.stop();
  options.signal.addEventListener('abort', stop, { once: true });
  try {
    for await (const m of messages) {
      for (const t of tailed(m)) if (passes(t, options.filter ?? {})) options.onRecord(t);
    }
  } finally {
    options.signal.removeEventListener('abort', stop);
  }
}
