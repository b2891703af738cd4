// `cim verify --snapshots`: every snapshot in `cim_snapshots` must be signed by a trusted key and
// hold exactly the state the chain folds to up to the event it names (docs/architecture.md#verification).
// A load already refuses an unsigned or untrusted one; this finds the ones a load would trust
// wrongly (a signed snapshot whose state the chain does not give) and the forged ones no load
// has met yet.
import * as dagCbor from '@ipld/dag-cbor';
import type { NatsConnection } from 'nats';
import {
  EventStore,
  snapshotSignedBy,
  SnapshotStore,
  type Reducer,
  type Snapshot,
  type SnapshotVerifier,
  type UpcasterRegistry,
} from '../eventstore/index.js';
import { domainStream, SNAPSHOT_BUCKET } from '../eventstore/names.js';
import { FindingList, type Finding } from './findings.js';

/** What a domain needs for its snapshots to be checked: its name, reducer and upcasters (a served domain fits). */
export interface SnapshotDomain {
  readonly name: string;
  readonly reducer: Reducer<unknown>;
  readonly upcasters?: UpcasterRegistry;
}

export interface SnapshotVerification {
  /** Snapshots whose signature and state were checked. */
  checked: number;
  /** Snapshots of domains not given (not served): listed, not checked. */
  unchecked: string[];
  findings: Finding[];
  findingsOmitted: number;
}

const SIGNATURE_PROBLEM = {
  unsigned: 'is not signed',
  'untrusted-signer': 'is signed by a key that is not trusted',
  'bad-signature': 'has a signature that does not verify',
} as const;

export async function verifySnapshots(
  nc: NatsConnection,
  domains: readonly SnapshotDomain[],
  options: { trusted: readonly SnapshotVerifier[]; maxFindings?: number },
): Promise<SnapshotVerification> {
  const snapshots = new SnapshotStore(nc);
  const findings = new FindingList(options.maxFindings ?? 1_000);
  const result: SnapshotVerification = { checked: 0, unchecked: [], findings: findings.list, findingsOmitted: 0 };
  let keys: string[];
  try {
    keys = await snapshots.keys();
  } catch (error) {
    // No bucket: nothing was ever snapshotted (or provisioned), which is not a finding here.
    if (/not found|no stream/i.test((error as Error).message)) return result;
    throw error;
  }
  const stores = new Map<string, EventStore>();
  for (const key of keys) {
    const dot = key.indexOf('.');
    const domainName = key.slice(0, dot);
    const aggregateId = key.slice(dot + 1);
    const domain = domains.find((d) => d.name === domainName);
    if (!domain) {
      result.unchecked.push(key);
      continue;
    }
    result.checked++;
    const stream = domainStream(domainName);
    const base = { domain: domainName, stream, aggregateId };
    const snapshot = await snapshots.get<unknown>(domainName, aggregateId);
    if (!snapshot) {
      findings.add({
        ...base,
        kind: 'snapshot-mismatch',
        message: `snapshot ${SNAPSHOT_BUCKET}/${key} does not decode as a snapshot`,
      });
      continue;
    }
    const signature = snapshotSignedBy(snapshot, options.trusted);
    if (signature !== 'valid') {
      findings.add({
        ...base,
        kind: 'snapshot-signature',
        streamSeq: snapshot.streamSeq,
        ...(snapshot.signer ? { actual: snapshot.signer } : {}),
        message: `snapshot ${SNAPSHOT_BUCKET}/${key} ${SIGNATURE_PROBLEM[signature]}`,
      });
    }
    let store = stores.get(domainName);
    if (!store) {
      store = await EventStore.open(nc, domain.upcasters ? { upcasters: domain.upcasters } : {});
      stores.set(domainName, store);
    }
    const problem = await foldMismatch(store, snapshot, domain);
    if (problem) findings.add({ ...base, kind: 'snapshot-mismatch', streamSeq: snapshot.streamSeq, ...problem });
  }
  result.findingsOmitted = findings.omitted;
  return result;
}

/** How the snapshot differs from the fold of the chain up to the event it names; undefined when it does not. */
async function foldMismatch(
  store: EventStore,
  snapshot: Snapshot<unknown>,
  domain: SnapshotDomain,
): Promise<Pick<Finding, 'message' | 'expected' | 'actual'> | undefined> {
  const key = `${SNAPSHOT_BUCKET}/${SnapshotStore.key(snapshot.domain, snapshot.aggregateId)}`;
  let state = domain.reducer.initial();
  let last: { seq: number; cid: string } | undefined;
  try {
    const head = { seq: snapshot.seq, cid: snapshot.cid, streamSeq: snapshot.streamSeq };
    for await (const event of store.readAggregate(snapshot, undefined, head)) {
      state = domain.reducer.evolve(state, event.envelope);
      last = { seq: event.envelope.seq, cid: event.cid.toString() };
    }
  } catch (error) {
    return { message: `snapshot ${key}: the chain up to it cannot be read: ${(error as Error).message}` };
  }
  if (last?.seq !== snapshot.seq || last.cid !== snapshot.cid.toString()) {
    return {
      expected: `seq ${snapshot.seq} = ${snapshot.cid.toString()}`,
      actual: last ? `seq ${last.seq} = ${last.cid}` : 'no event',
      message: `snapshot ${key} names an event its chain does not hold at stream seq ${snapshot.streamSeq}`,
    };
  }
  let folded: Uint8Array;
  try {
    folded = dagCbor.encode(state);
  } catch (error) {
    return { message: `snapshot ${key}: the folded state cannot be encoded: ${(error as Error).message}` };
  }
  if (Buffer.compare(Buffer.from(folded), Buffer.from(dagCbor.encode(snapshot.state))) !== 0) {
    // Names no values: a state may hold personal data.
    return { message: `snapshot ${key}: its state is not the fold of the chain up to seq ${snapshot.seq}` };
  }
  return undefined;
}
