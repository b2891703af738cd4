// What became of each command that carries a command id, per aggregate, in KV bucket
// `cim_commands` (key `<domain>.<aggregateId>.<base64url(commandId)>`, entries expire after the
// idempotency window): the events it was decided to append, encoded before they were published,
// or its outcome. Written with compare-and-set, so one decision per command id wins across
// instances (docs/architecture.md#commands-and-queries).
import * as dagCbor from '@ipld/dag-cbor';
import type { JetStreamClient, JetStreamManager, NatsConnection, NatsError } from 'nats';
import { CimError } from '../errors.js';
import { CID } from './cid.js';
import { COMMAND_BUCKET } from './names.js';
import { DEFAULT_RETRY, isMsgIdInProcess, isNotFound, isWrongLastSequence, withRetries } from './retry.js';

/** An event a command appended, as its reply names it. */
export interface CommandEventInfo {
  type: string;
  cid: string;
  seq: number;
  streamSeq: number;
}

export type CommandRecord =
  /** Decided: these events (dag-cbor envelopes) extend the chain at `head`; they may or may not be stored yet. */
  | {
      v: 1;
      kind: 'intent';
      head: { seq: number; cid: CID | null; streamSeq: number };
      events: Uint8Array[];
    }
  /** Done: the command appended these events (none for a command that changed nothing). */
  | { v: 1; kind: 'done'; events: CommandEventInfo[] };

export interface CommandLogEntry {
  /** Undefined when the entry cannot be read as a record: it is overwritten like a missing one. */
  record: CommandRecord | undefined;
  revision: number;
}

/**
 * Reads and compare-and-set writes go to the bucket's stream directly rather than through the KV
 * view: a read asks the stream leader (a KV read may be answered by a follower that is behind),
 * and a write carries a Nats-Msg-Id naming the revision it expects, because nats-server < 2.10
 * checks the expected revision of a clustered stream before proposing, so two writes expecting
 * the same revision can both pass it; the id makes the second a duplicate (see append.ts).
 */
export class CommandLog {
  private readonly js: JetStreamClient;
  private jsm: Promise<JetStreamManager> | undefined;

  constructor(private readonly nc: NatsConnection) {
    this.js = nc.jetstream();
  }

  static key(domain: string, aggregateId: string, commandId: string): string {
    return `${domain}.${aggregateId}.${Buffer.from(commandId, 'utf8').toString('base64url')}`;
  }

  private manager(): Promise<JetStreamManager> {
    this.jsm ??= this.nc.jetstreamManager().catch((error: unknown) => {
      this.jsm = undefined;
      throw error;
    });
    return this.jsm;
  }

  async get(key: string): Promise<CommandLogEntry | undefined> {
    const jsm = await this.manager();
    const stored = await withRetries(
      DEFAULT_RETRY,
      `reading ${COMMAND_BUCKET} ${key}`,
      () => jsm.streams.getMessage(STREAM, { last_by_subj: `${SUBJECT_PREFIX}${key}` }),
      (error) => {
        if (isNotFound(error)) return undefined;
        throw unavailable(`reading ${COMMAND_BUCKET} ${key}`, error);
      },
    );
    if (!stored) return undefined;
    const operation = stored.header?.get('KV-Operation');
    if (operation === 'DEL' || operation === 'PURGE') return { record: undefined, revision: stored.seq };
    return { record: decodeRecord(stored.data), revision: stored.seq };
  }

  /**
   * Writes `record` if the entry is still at `revision` (undefined: if there is none). Returns the
   * new revision, or undefined when another writer got there first.
   */
  async write(key: string, record: CommandRecord, revision: number | undefined): Promise<number | undefined> {
    const expected = revision ?? 0;
    try {
      const ack = await this.js.publish(`${SUBJECT_PREFIX}${key}`, dagCbor.encode(record), {
        msgID: `${key}@${expected}`,
        expect: { lastSubjectSequence: expected },
      });
      return ack.duplicate ? undefined : ack.seq;
    } catch (error) {
      // A lost race: the entry moved on; or a write with the same expectation is being proposed
      // (it commits, or this one may be tried again after reading the entry). Clustered
      // nats-server 2.9 may report the first from where it applies the write, as "wrong last
      // sequence" without the usual error code.
      if (
        isWrongLastSequence(error) ||
        isMsgIdInProcess(error) ||
        /wrong last sequence/i.test((error as NatsError).api_error?.description ?? '')
      )
        return undefined;
      throw unavailable(`writing ${COMMAND_BUCKET} ${key}`, error);
    }
  }
}

const STREAM = `KV_${COMMAND_BUCKET}`;
const SUBJECT_PREFIX = `$KV.${COMMAND_BUCKET}.`;

function unavailable(what: string, error: unknown): CimError {
  return new CimError('CIM-UNAVAILABLE', `${what} failed: ${(error as Error).message}`, {
    hint: `Provisioning creates bucket ${COMMAND_BUCKET} (\`cim serve\` does on start); check \`cim cluster status\`.`,
    cause: error,
  });
}

function decodeRecord(bytes: Uint8Array): CommandRecord | undefined {
  try {
    const r = dagCbor.decode<CommandRecord>(bytes);
    if (r.v !== 1) return undefined;
    if (r.kind === 'done' && Array.isArray(r.events)) return r;
    if (
      r.kind === 'intent' &&
      Number.isInteger(r.head?.seq) &&
      Number.isInteger(r.head.streamSeq) &&
      (r.head.cid === null || CID.asCID(r.head.cid) !== null) &&
      Array.isArray(r.events) &&
      r.events.every((e) => e instanceof Uint8Array)
    )
      return r;
    return undefined;
  } catch {
    return undefined;
  }
}
