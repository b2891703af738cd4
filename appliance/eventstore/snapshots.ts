// Aggregate snapshots in KV bucket `cim_snapshots` (key `<domain>.<aggregateId>`). A snapshot
// records the seq, CID and stream sequence of the last event it covers, so a load can check it
// against the chain before trusting it.
import * as dagCbor from '@ipld/dag-cbor';
import type { KV, NatsConnection } from 'nats';
import { CID } from './cid.js';
import { SNAPSHOT_BUCKET } from './names.js';

export interface Snapshot<S = unknown> {
  v: 1;
  domain: string;
  aggregateId: string;
  seq: number;
  cid: CID;
  streamSeq: number;
  at: string;
  state: S;
}

export class SnapshotStore {
  private kv: Promise<KV> | undefined;

  constructor(private readonly nc: NatsConnection) {}

  private bucket(): Promise<KV> {
    this.kv ??= this.nc.jetstream().views.kv(SNAPSHOT_BUCKET, { bindOnly: true });
    return this.kv;
  }

  static key(domain: string, aggregateId: string): string {
    return `${domain}.${aggregateId}`;
  }

  async get<S>(domain: string, aggregateId: string): Promise<Snapshot<S> | undefined> {
    const entry = await (await this.bucket()).get(SnapshotStore.key(domain, aggregateId));
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
    try {
      const snapshot = dagCbor.decode<Snapshot<S>>(entry.value);
      return CID.asCID(snapshot.cid) && Number.isInteger(snapshot.seq) ? snapshot : undefined;
    } catch {
      return undefined; // an unreadable snapshot is no snapshot: the chain is replayed instead
    }
  }

  async put<S>(snapshot: Snapshot<S>): Promise<void> {
    await (await this.bucket()).put(SnapshotStore.key(snapshot.domain, snapshot.aggregateId), dagCbor.encode(snapshot));
  }
}
