// Aggregate snapshots in KV bucket `cim_snapshots` (key `<domain>.<aggregateId>`). A snapshot
// records the seq, CID and stream sequence of the last event it covers, so a load can check it
// against the chain, and is signed by the instance that wrote it: anyone who can write the
// bucket could otherwise put a state there that the chain never held (docs/architecture.md#snapshots).
// The keys are passed in (the integrity layer's signing key fits the shapes below), so the event
// store does not depend on the integrity layer.
import * as dagCbor from '@ipld/dag-cbor';
import type { KV, NatsConnection } from 'nats';
import { CID } from './cid.js';
import { DEFAULT_RETRY, withRetries, type RetryPolicy } from './retry.js';
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
  /** Key id of the signer (`ed25519:…`); absent on an unsigned snapshot. */
  signer?: string;
  /** Signature over the dag-cbor bytes of the snapshot without this field. */
  signature?: Uint8Array;
}

/** Signs snapshots as they are written (the state dir's signing key). */
export interface SnapshotSigner {
  readonly keyId: string;
  sign(bytes: Uint8Array): Uint8Array;
}

/** A key whose snapshots are trusted. */
export interface SnapshotVerifier {
  readonly keyId: string;
  verify(bytes: Uint8Array, signature: Uint8Array): boolean;
}

/** What an event store signs its snapshots with and whose snapshots it trusts. */
export interface SnapshotKeys {
  signer?: SnapshotSigner;
  trusted: readonly SnapshotVerifier[];
}

export type SnapshotSignature = 'valid' | 'unsigned' | 'untrusted-signer' | 'bad-signature';

/** The bytes a snapshot's signature covers: the snapshot without its signature, as dag-cbor. */
function signedBytes(snapshot: Snapshot<unknown>): Uint8Array {
  const body: Partial<Snapshot<unknown>> = { ...snapshot };
  delete body.signature;
  return dagCbor.encode(body);
}

export function signSnapshot<S>(snapshot: Snapshot<S>, signer: SnapshotSigner): Snapshot<S> {
  const body: Snapshot<S> = { ...snapshot, signer: signer.keyId };
  delete body.signature;
  return { ...body, signature: signer.sign(signedBytes(body)) };
}

/** Whether one of the trusted keys signed this snapshot. */
export function snapshotSignedBy(snapshot: Snapshot<unknown>, trusted: readonly SnapshotVerifier[]): SnapshotSignature {
  if (typeof snapshot.signer !== 'string' || !(snapshot.signature instanceof Uint8Array)) return 'unsigned';
  const verifier = trusted.find((v) => v.keyId === snapshot.signer);
  if (!verifier) return 'untrusted-signer';
  return verifier.verify(signedBytes(snapshot), snapshot.signature) ? 'valid' : 'bad-signature';
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

  /** The keys of every snapshot in the bucket (`<domain>.<aggregateId>`). */
  async keys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of await (await this.bucket()).keys()) keys.push(key);
    return keys.sort();
  }

  /**
   * Deletes the aggregate's snapshot (a KV delete: the bucket keeps history 1, so the tombstone
   * replaces it); false when there was none. The deleted value's bytes stay in the bucket's block
   * files until they are compacted, which is why a snapshot never holds personal data in plain text.
   */
  async remove(domain: string, aggregateId: string, retry: RetryPolicy = DEFAULT_RETRY): Promise<boolean> {
    const kv = await this.bucket();
    const key = SnapshotStore.key(domain, aggregateId);
    // Retried while the bucket has no leader (a node down): an erasure must not give up on an election.
    const entry = await withRetries(retry, `reading snapshot ${key}`, () => kv.get(key));
    if (!entry || entry.operation !== 'PUT') return false;
    await withRetries(retry, `deleting snapshot ${key}`, () => kv.delete(key));
    return true;
  }

  /** Writes the snapshot, signed when a signer is given. */
  async put<S>(snapshot: Snapshot<S>, signer?: SnapshotSigner): Promise<void> {
    const stored = signer ? signSnapshot(snapshot, signer) : snapshot;
    await (await this.bucket()).put(SnapshotStore.key(snapshot.domain, snapshot.aggregateId), dagCbor.encode(stored));
  }
}
