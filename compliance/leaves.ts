// The leaves of the compliance reports' checkpoints (docs/architecture.md#reports): the event CIDs
// in the order the seal stream sealed them — for each seal in CIM_SEALS stream order, its range's
// event CIDs in stream order. Seals are only ever appended, so the leaves are too, and each
// report's tree extends the one before (a consistency proof shows it). Events after a domain's
// last seal are not covered yet. A range is taken only when its leaves recompute to its seal's
// count and root; events retention removed are supplied by `removedEventCid`. The first seal whose
// range cannot be reproduced ends the leaves (later ones would no longer extend the same log).
import type { NatsConnection } from 'nats';
import {
  cidBytesOf,
  CID,
  decodeSeal,
  domainStream,
  isNotFound,
  MerkleAccumulator,
  readStream,
  SEALS_STREAM,
  sealSignedBy,
  Subjects,
  type NamedSeal,
  type Verifier,
} from '../appliance/index.js';

/** The CID of an event retention removed (from its removal manifest), or undefined when unknown. */
export type RemovedEventCid = (
  domain: string,
  seq: number,
) => Uint8Array | string | undefined | Promise<Uint8Array | string | undefined>;

export interface SealedLeavesOptions {
  subjects?: Subjects;
  removedEventCid?: RemovedEventCid;
  /** When given, seals not signed by one of these keys attest nothing and are passed over. */
  trusted?: readonly Verifier[];
}

/** Why the leaves end before the last seal. */
export interface LeavesStop {
  domain: string;
  seal: string;
  /** The seal's sequence in CIM_SEALS. */
  sealsSeq: number;
  fromSeq: number;
  toSeq: number;
  reason: string;
}

export interface SealedLeaves {
  /** Binary event CIDs (36 bytes each), in seal order. */
  leaves: Uint8Array[];
  /** Seals whose ranges the leaves hold. */
  seals: number;
  /** Per domain: seals and events covered, and how many of those events retention had removed. */
  domains: Record<string, { seals: number; events: number; removed: number; lastSealedSeq: number }>;
  /** Seals passed over: records that are no seal of their subject's domain, untrusted, or overlapping. */
  skipped: { sealsSeq: number; reason: string }[];
  /** Set when a seal's range could not be reproduced: the leaves end before it. */
  stoppedAt?: LeavesStop;
}

interface Candidate {
  named: NamedSeal;
  sealsSeq: number;
}

/** Reads CIM_SEALS and each sealed domain stream once; memory grows with the events covered (the leaves). */
export async function sealedEventLeaves(nc: NatsConnection, options: SealedLeavesOptions = {}): Promise<SealedLeaves> {
  const subjects = options.subjects ?? new Subjects();
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const result: SealedLeaves = { leaves: [], seals: 0, domains: {}, skipped: [] };

  let sealsLast: number;
  try {
    sealsLast = (await jsm.streams.info(SEALS_STREAM)).state.last_seq;
  } catch (error) {
    if (isNotFound(error)) return result;
    throw error;
  }
  const candidates: Candidate[] = [];
  const sealedTo = new Map<string, number>();
  const prefix = `${subjects.prefix}.seals.`;
  for await (const m of readStream(js, { stream: SEALS_STREAM, fromSeq: 1, toSeq: sealsLast })) {
    const skip = (reason: string) => result.skipped.push({ sealsSeq: m.seq, reason });
    if (!m.subject.startsWith(prefix)) continue;
    let named: NamedSeal;
    try {
      named = decodeSeal(m.data);
    } catch (error) {
      skip((error as Error).message);
      continue;
    }
    const { seal } = named;
    if (`${prefix}${seal.domain}` !== m.subject) {
      skip(`a seal of ${seal.domain} under ${m.subject}`);
      continue;
    }
    if (options.trusted && sealSignedBy(named, options.trusted) !== 'valid') {
      skip(`seal ${named.cid} is not signed by a trusted key`);
      continue;
    }
    if (seal.fromSeq <= (sealedTo.get(seal.domain) ?? 0)) {
      skip(`seal ${named.cid} overlaps the ranges sealed before it`);
      continue;
    }
    sealedTo.set(seal.domain, seal.toSeq);
    candidates.push({ named, sealsSeq: m.seq });
  }

  // Each sealed domain stream read once, its CIDs by sequence from its first seal's start.
  const cids = new Map<string, { base: number; bySeq: (Uint8Array | undefined)[] }>();
  for (const [domain, last] of sealedTo) {
    const base = candidates.find((c) => c.named.seal.domain === domain)!.named.seal.fromSeq;
    const bySeq: (Uint8Array | undefined)[] = [];
    try {
      for await (const m of readStream(js, { stream: domainStream(domain), fromSeq: base, toSeq: last }))
        bySeq[m.seq - base] = cidBytesOf(m.data);
    } catch (error) {
      if (!isNotFound(error)) throw error; // a missing stream: its seals' ranges cannot be reproduced
    }
    cids.set(domain, { base, bySeq });
  }

  for (const { named, sealsSeq } of candidates) {
    const { seal } = named;
    const stored = cids.get(seal.domain)!;
    const range: Uint8Array[] = [];
    let removed = 0;
    let unknown = 0;
    for (let seq = seal.fromSeq; seq <= seal.toSeq; seq++) {
      const cid = stored.bySeq[seq - stored.base];
      if (cid) {
        range.push(cid);
        continue;
      }
      const supplied = await options.removedEventCid?.(seal.domain, seq);
      if (supplied === undefined) {
        unknown++;
        continue;
      }
      range.push(typeof supplied === 'string' ? CID.parse(supplied).bytes : supplied);
      removed++;
    }
    const tree = new MerkleAccumulator();
    for (const leaf of range) tree.push(leaf);
    const root = tree.root();
    if (tree.size !== seal.count || Buffer.compare(Buffer.from(root), Buffer.from(seal.merkleRoot)) !== 0) {
      result.stoppedAt = {
        domain: seal.domain,
        seal: named.cid.toString(),
        sealsSeq,
        fromSeq: seal.fromSeq,
        toSeq: seal.toSeq,
        reason:
          tree.size !== seal.count
            ? `${domainStream(seal.domain)} seq ${seal.fromSeq}..${seal.toSeq} gives ${tree.size} events (${unknown} gone with no CID known), the seal counts ${seal.count}`
            : `${domainStream(seal.domain)} seq ${seal.fromSeq}..${seal.toSeq} no longer recomputes to the seal's root`,
      };
      break;
    }
    for (const leaf of range) result.leaves.push(leaf);
    result.seals++;
    const domain = (result.domains[seal.domain] ??= { seals: 0, events: 0, removed: 0, lastSealedSeq: 0 });
    domain.seals++;
    domain.events += range.length;
    domain.removed += removed;
    domain.lastSealedSeq = seal.toSeq;
  }
  return result;
}
