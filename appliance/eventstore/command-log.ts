// What became of each command that carries a command id, per aggregate, in KV bucket
// `cim_commands` (key `<domain>.<aggregateId>.<base64url(commandId)>`, entries expire after the
// idempotency window): the events it was decided to append, encoded before they were published,
// or its outcome. Written with compare-and-set, so one decision per command id wins across
// instances (docs/architecture.md#commands-and-queries).
import * as dagCbor from '@ipld/dag-cbor';
import type { KV, NatsConnection } from 'nats';
import { CimError } from '../errors.js';
import { CID } from './cid.js';
import { COMMAND_BUCKET } from './names.js';
import { isWrongLastSequence } from './retry.js';

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

export class CommandLog {
  private kv: Promise<KV> | undefined;

  constructor(private readonly nc: NatsConnection) {}

  private bucket(): Promise<KV> {
    this.kv ??= this.nc
      .jetstream()
      .views.kv(COMMAND_BUCKET, { bindOnly: true })
      .catch((error: unknown) => {
        this.kv = undefined;
        throw new CimError(
          'CIM-UNAVAILABLE',
          `bucket ${COMMAND_BUCKET} cannot be opened: ${(error as Error).message}`,
          {
            hint: 'Provisioning creates it (`cim serve` does on start); check `cim cluster status`.',
            cause: error,
          },
        );
      });
    return this.kv;
  }

  static key(domain: string, aggregateId: string, commandId: string): string {
    return `${domain}.${aggregateId}.${Buffer.from(commandId, 'utf8').toString('base64url')}`;
  }

  async get(key: string): Promise<CommandLogEntry | undefined> {
    const entry = await (await this.bucket()).get(key);
    if (!entry || entry.operation !== 'PUT') return undefined;
    return { record: decodeRecord(entry.value), revision: entry.revision };
  }

  /**
   * Writes `record` if the entry is still at `revision` (undefined: if there is none). Returns the
   * new revision, or undefined when another writer got there first.
   */
  async write(key: string, record: CommandRecord, revision: number | undefined): Promise<number | undefined> {
    const kv = await this.bucket();
    const bytes = dagCbor.encode(record);
    try {
      return revision === undefined ? await kv.create(key, bytes) : await kv.update(key, bytes, revision);
    } catch (error) {
      if (isWrongLastSequence(error)) return undefined;
      throw new CimError('CIM-UNAVAILABLE', `writing ${COMMAND_BUCKET} ${key} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
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
