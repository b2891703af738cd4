// Verification of a domain stream (docs/architecture.md#verification): every aggregate chain (CIDs recompute, `prev`
// links hold, `seq` contiguous), every seal (root recomputes, signature, seal chain), and the tail
// past the last seal; the audit log likewise, per writer chain. One pass in stream order (plus a read of its own for a seal whose range
// overlaps those before it); memory grows with the number of aggregates and seals, never with the
// number of events, so it scales to millions of events.
import type { JetStreamClient, JetStreamManager, NatsConnection, StreamInfo } from 'nats';
import { CimError } from '../errors.js';
import { AuditChainChecker } from './audit-check.js';
import { ChainChecker, cidBytesOf, type StoredMessage } from './chain-check.js';
import { FindingList, type Finding } from './findings.js';
import { MerkleAccumulator } from './merkle.js';
import {
  AUDIT_LOG,
  AUDIT_STREAM,
  domainStream,
  RETENTION_STREAM,
  SEALS_STREAM,
  Subjects,
} from '../eventstore/names.js';
import { DEFAULT_RETRY, isNotFound, withRetries, type RetryPolicy } from '../eventstore/retry.js';
import { decodeSeal, sealSignedBy, type NamedSeal } from './seal.js';
import type { Verifier } from './signing-key.js';
import { readStream, readStreamBatches } from '../eventstore/stream-reader.js';
import { messageBytes } from '../eventstore/message-bytes.js';
import { ChunkPacker, type ChunkResult, type PackedChunk } from './verify-kernel.js';
import { defaultWorkers, workerRunner, workerScript, type ChunkRunner } from './verify-pool.js';
import { readManifests } from '../retention/manifest.js';

export interface DomainVerification {
  domain: string;
  stream: string;
  /** Messages read (for a domain, its events). */
  events: number;
  /** The audit log only: the records its messages hold (a message holds one writer's batch). */
  records?: number;
  /** The stream's last sequence (0 when empty or missing). */
  lastSeq: number;
  aggregates: number;
  seals: number;
  /** Events inside sealed ranges that were read and recomputed. */
  sealedEvents: number;
  /** Events after the last seal: chains checked, no seal yet. */
  unsealedEvents: number;
  /**
   * Events of sealed ranges that retention removed: the seals prove they existed (and, where a
   * removal manifest lists them, their CIDs recompute the seal's root).
   */
  removedByRetention: number;
  /** Whether seal signatures were checked against a trusted key. */
  signaturesChecked: boolean;
  findings: Finding[];
  /** Findings beyond the cap that were counted, not kept. */
  findingsOmitted: number;
}

export interface VerifyOptions {
  subjects?: Subjects;
  /** Keys whose seal signatures are accepted; with none, signatures are not checked (and the result says so). */
  trusted?: readonly Verifier[];
  /** Findings kept per domain (default 1000); the rest are counted. */
  maxFindings?: number;
  retry?: RetryPolicy;
  onProgress?: (domain: string, streamSeq: number, lastSeq: number) => void;
  /**
   * Worker threads checking a domain stream's events (default: one per core but the reading one);
   * 0 checks them in this thread, in the one pass.
   */
  workers?: number;
  /** Domain streams with fewer messages than this are checked in this thread (default 20,000): starting workers costs more. */
  parallelFrom?: number;
}

/** Messages per chunk a worker checks: large enough that posting it costs little per event. */
const CHUNK_EVENTS = 8_192;
/** Chunks out at once per worker: one being checked, one waiting, so a worker never idles on the reader. */
const CHUNKS_PER_WORKER = 2;

interface SealRange {
  named: NamedSeal;
  streamSeq: number;
  /** The range does not start after the ranges before it (an overlap, a seal-chain finding): recomputed in a read of its own. */
  alone: boolean;
}

function hasRetention(info: StreamInfo): boolean {
  const c = info.config;
  return (
    (c.max_age ?? 0) > 0 || (c.max_msgs ?? -1) > 0 || (c.max_bytes ?? -1) > 0 || (c.max_msgs_per_subject ?? -1) > 0
  );
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Reads the domain's seals in order, checking each one's signature and its link to the one before. */
async function readSeals(
  js: JetStreamClient,
  jsm: JetStreamManager,
  domain: string,
  subjects: Subjects,
  trusted: readonly Verifier[],
  findings: FindingList,
): Promise<SealRange[]> {
  const subject = subjects.seal(domain);
  let lastSeq: number;
  try {
    lastSeq = (await jsm.streams.getMessage(SEALS_STREAM, { last_by_subj: subject })).seq;
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const seals: SealRange[] = [];
  let sealedTo = 0;
  const base = { domain, stream: SEALS_STREAM };
  for await (const m of readStream(js, { stream: SEALS_STREAM, filterSubject: subject, fromSeq: 1, toSeq: lastSeq })) {
    let named: NamedSeal;
    try {
      named = decodeSeal(m.data);
    } catch (error) {
      findings.add({ ...base, kind: 'seal-invalid', streamSeq: m.seq, message: (error as Error).message });
      continue;
    }
    // A seal of another domain under this one's subject is no seal of this domain (the sealer skips it too).
    if (named.seal.domain !== domain) {
      findings.add({
        ...base,
        kind: 'seal-invalid',
        streamSeq: m.seq,
        expected: domain,
        actual: named.seal.domain,
        message: `the record at ${SEALS_STREAM} seq ${m.seq} is a seal of domain ${named.seal.domain}, under the seal subject of ${domain}`,
      });
      continue;
    }
    const claimed = m.headers?.get('Cim-Cid');
    if (claimed && claimed !== named.cid.toString()) {
      findings.add({
        ...base,
        kind: 'seal-signature',
        streamSeq: m.seq,
        expected: claimed,
        actual: named.cid.toString(),
        message: `seal at ${SEALS_STREAM} seq ${m.seq} was altered: its record hashes to ${named.cid}, it was published as ${claimed}`,
      });
    }
    if (trusted.length > 0) {
      const signature = sealSignedBy(named, trusted);
      if (signature === 'untrusted-signer') {
        findings.add({
          ...base,
          kind: 'seal-untrusted',
          streamSeq: m.seq,
          actual: named.seal.signer,
          message: `seal ${named.cid} is signed by ${named.seal.signer}, which is not a trusted key`,
        });
      } else if (signature === 'bad-signature') {
        findings.add({
          ...base,
          kind: 'seal-signature',
          streamSeq: m.seq,
          actual: named.cid.toString(),
          message: `seal ${named.cid}: the signature of ${named.seal.signer} does not verify`,
        });
      }
    }
    const prev = seals.at(-1);
    const expectedPrev = prev?.named.cid ?? null;
    const expectedFrom = prev ? prev.named.seal.toSeq + 1 : undefined;
    const linkOk =
      expectedPrev === null ? named.seal.prevSeal === null : named.seal.prevSeal?.equals(expectedPrev) === true;
    if (!linkOk) {
      findings.add({
        ...base,
        kind: 'seal-chain',
        streamSeq: m.seq,
        expected: String(expectedPrev),
        actual: String(named.seal.prevSeal),
        message: `seal ${named.cid} does not link to the seal before it`,
      });
    } else if (expectedFrom !== undefined && named.seal.fromSeq !== expectedFrom) {
      findings.add({
        ...base,
        kind: 'seal-chain',
        streamSeq: m.seq,
        expected: String(expectedFrom),
        actual: String(named.seal.fromSeq),
        message: `seal ${named.cid} starts at seq ${named.seal.fromSeq}, the previous one ended at ${expectedFrom - 1}`,
      });
    }
    const alone = named.seal.fromSeq <= sealedTo;
    if (!alone) sealedTo = named.seal.toSeq;
    seals.push({ named, streamSeq: m.seq, alone });
  }
  return seals;
}

/** What checks each message of a sealed stream: a domain's events, or the audit log's records. */
interface MessageChecker {
  check(m: StoredMessage): Uint8Array;
  readonly aggregates: number;
  /** Records checked, where a message holds several (the audit log). */
  readonly records?: number;
}

export async function verifyDomain(
  nc: NatsConnection,
  domain: string,
  options: VerifyOptions = {},
): Promise<DomainVerification> {
  const subjects = options.subjects ?? new Subjects();
  return verifySealedStream(
    nc,
    domain,
    (findings, lateStartAllowed, removed) =>
      new ChainChecker(domain, domainStream(domain), subjects, findings, lateStartAllowed, removed),
    options,
  );
}

/**
 * The audit log verified as a domain stream is (its seals under `<prefix>.seals.audit`), its
 * records checked per writer chain (`audit-check.ts`); `aggregates` counts the writers. The audit
 * stream keeps every record (no limits, deny_delete, deny_purge): a record deleted from inside it
 * is a finding naming its sequence, wherever it was.
 */
export async function verifyAudit(nc: NatsConnection, options: VerifyOptions = {}): Promise<DomainVerification> {
  const subjects = options.subjects ?? new Subjects();
  const result = await verifySealedStream(
    nc,
    AUDIT_LOG,
    (findings) => new AuditChainChecker(subjects, findings),
    options,
  );
  const jsm = await nc.jetstreamManager();
  const { state } = await jsm.streams.info(AUDIT_STREAM, { deleted_details: true });
  const findings = new FindingList(options.maxFindings ?? 1_000);
  for (const seq of state.deleted ?? []) {
    findings.add({
      domain: AUDIT_LOG,
      stream: AUDIT_STREAM,
      kind: 'events-removed',
      streamSeq: seq,
      expected: 'a record',
      actual: 'deleted',
      message: `${AUDIT_STREAM} seq ${seq} was deleted: audit records are kept for good`,
    });
  }
  result.findings.push(...findings.list);
  result.findingsOmitted += findings.omitted;
  return result;
}

async function verifySealedStream(
  nc: NatsConnection,
  domain: string,
  checkerFor: (findings: FindingList, lateStartAllowed: boolean, removed: ReadonlySet<string>) => MessageChecker,
  options: VerifyOptions,
): Promise<DomainVerification> {
  const subjects = options.subjects ?? new Subjects();
  const retry = options.retry ?? DEFAULT_RETRY;
  const trusted = options.trusted ?? [];
  const stream = domainStream(domain);
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const findings = new FindingList(options.maxFindings ?? 1_000);
  const base = { domain, stream };

  let info: StreamInfo;
  try {
    info = await withRetries(retry, `reading ${stream}`, () => jsm.streams.info(stream));
  } catch (error) {
    if (isNotFound(error))
      throw new CimError(
        'CIM-NOT-FOUND',
        domain === AUDIT_LOG ? `there is no audit log (${stream})` : `domain ${domain} has no stream ${stream}`,
      );
    throw error;
  }
  const allSeals = await readSeals(js, jsm, domain, subjects, trusted, findings);
  // The one pass recomputes ranges in stream order; a range overlapping those before it gets a read of its own.
  const seals = allSeals.filter((s) => !s.alone);
  const alone = allSeals.filter((s) => s.alone);
  const { first_seq: firstSeq, last_seq: lastSeq } = info.state;
  const retention = hasRetention(info);
  // What retention removed under manifests: sequence → CID, where the manifest names a seal of the domain covering it.
  const removed =
    domain === AUDIT_LOG
      ? new Map<number, Uint8Array>()
      : await manifestedRemovals(js, jsm, domain, subjects, allSeals, findings);
  const removedSeqs = [...removed.keys()].sort((a, b) => a - b);
  const removedCids = new Set([...removed.values()].map((c) => Buffer.from(c).toString('hex')));

  const result: DomainVerification = {
    ...base,
    events: 0,
    lastSeq,
    aggregates: 0,
    seals: allSeals.length,
    sealedEvents: 0,
    unsealedEvents: 0,
    removedByRetention: 0,
    signaturesChecked: trusted.length > 0,
    findings: findings.list,
    findingsOmitted: 0,
  };

  const lastSealed = allSeals.at(-1)?.named.seal.toSeq ?? 0;
  if (lastSealed > lastSeq) {
    findings.add({
      ...base,
      kind: 'truncated',
      streamSeq: lastSeq,
      expected: String(lastSealed),
      actual: String(lastSeq),
      message: `${stream} ends at seq ${lastSeq}, but seal ${allSeals.at(-1)!.named.cid} covers it up to seq ${lastSealed}`,
    });
  }

  // Seals whose range retention (or someone) removed, wholly or in part, cannot be recomputed;
  // the events left of a partly removed range are checked as chains only.
  let next = 0;
  let partlyRemovedTo = 0;
  // Without manifests (stream limits, or removals nobody recorded) such seals are skipped; with
  // them, every seal is recomputed, the manifests' CIDs standing in for the removed events.
  while (removed.size === 0 && next < seals.length && seals[next]!.named.seal.fromSeq < firstSeq) {
    const seal = seals[next]!.named.seal;
    result.removedByRetention += seal.toSeq < firstSeq ? seal.count : firstSeq - seal.fromSeq;
    partlyRemovedTo = Math.max(partlyRemovedTo, seal.toSeq);
    next++;
  }
  const headRemoved = removedSeqs.filter((seq) => seq < firstSeq).length === firstSeq - 1;
  if (firstSeq > 1 && !retention && !headRemoved) {
    findings.add({
      ...base,
      kind: 'events-removed',
      streamSeq: firstSeq,
      expected: '1',
      actual: String(firstSeq),
      message: `${stream} starts at seq ${firstSeq} but has no retention policy: events 1..${firstSeq - 1} were removed`,
    });
  }

  // The seal being recomputed: its tree, and the next sequence its range should hold.
  let current: { range: SealRange; tree: MerkleAccumulator; nextSeq: number; dense: boolean } | undefined;
  const open = (range: SealRange) => {
    const s = range.named.seal;
    current = { range, tree: new MerkleAccumulator(), nextSeq: s.fromSeq, dense: s.count === s.toSeq - s.fromSeq + 1 };
  };
  const missing = (from: number, to: number) => {
    findings.add({
      ...base,
      kind: 'missing-event',
      streamSeq: from,
      expected: `seq ${from}..${to}`,
      actual: 'absent',
      message: `${stream} seq ${from}${to > from ? `..${to}` : ''} sealed by ${current!.range.named.cid} is gone`,
    });
  };
  const close = (counted = true) => {
    const { range, tree, nextSeq, dense } = current!;
    const s = range.named.seal;
    if (s.toSeq <= lastSeq) {
      if (dense && nextSeq <= s.toSeq) missing(nextSeq, s.toSeq);
      const root = tree.root();
      if (tree.size !== s.count || !equalBytes(root, s.merkleRoot)) {
        findings.add({
          ...base,
          kind: 'seal-mismatch',
          streamSeq: s.fromSeq,
          expected: `${s.count} events, root ${hex(s.merkleRoot)}`,
          actual: `${tree.size} events, root ${hex(root)}`,
          message: `${stream} seq ${s.fromSeq}..${s.toSeq} no longer matches seal ${range.named.cid}`,
        });
      }
      if (counted) result.sealedEvents += tree.size;
    }
    current = undefined;
  };

  const chains = checkerFor(findings, retention && firstSeq > 1, removedCids);
  const progressEvery = 10_000;
  /** Moves the seal being recomputed up to `seq`. */
  const reach = (seq: number) => {
    while (current && current.range.named.seal.toSeq < seq) close();
    while (!current && next < seals.length && seals[next]!.named.seal.toSeq < seq) {
      open(seals[next++]!);
      close();
    }
    if (!current && next < seals.length && seals[next]!.named.seal.fromSeq <= seq) open(seals[next++]!);
  };
  /** One leaf of the seal being recomputed, present or (removed under a manifest) not. */
  const leaf = (seq: number, cid: Uint8Array, hashed = false) => {
    if (current!.dense && seq > current!.nextSeq) missing(current!.nextSeq, seq - 1);
    if (hashed) current!.tree.pushLeafHash(cid);
    else current!.tree.push(cid);
    current!.nextSeq = seq + 1;
  };
  let nextRemoved = 0;
  /** The removed events before `seq` take their places in the seals, by the manifests' CIDs. */
  const removedBefore = (seq: number) => {
    for (; nextRemoved < removedSeqs.length && removedSeqs[nextRemoved]! < seq; nextRemoved++) {
      const at = removedSeqs[nextRemoved]!;
      reach(at);
      if (!current) continue; // under an overlapping seal only: recomputed in its own read below
      leaf(at, removed.get(at)!);
      result.removedByRetention++;
    }
    // A manifested event still present (its deletion not done yet) is checked as it is.
    if (nextRemoved < removedSeqs.length && removedSeqs[nextRemoved] === seq) nextRemoved++;
  };
  /** What the one pass does with each message once its checks are done (`leafOf` gives its leaf). */
  const counted = (seq: number, leafOf: () => Uint8Array, hashed: boolean) => {
    if (current) {
      leaf(seq, leafOf(), hashed);
    } else if (seq > partlyRemovedTo) {
      if (alone.some((r) => r.named.seal.fromSeq <= seq && seq <= r.named.seal.toSeq)) result.sealedEvents++;
      else result.unsealedEvents++;
    }
  };
  const read = { stream, fromSeq: Math.max(1, firstSeq), toSeq: lastSeq, onLeader: true };
  const workers = options.workers ?? defaultWorkers();
  // A domain's events (the audit log's records are checked here), in a stream large enough to
  // repay starting workers, and a worker script to start (see workerScript).
  const chainChecker = chains instanceof ChainChecker ? chains : undefined;
  const script =
    chainChecker && workers > 0 && info.state.messages >= (options.parallelFrom ?? 20_000) ? workerScript() : undefined;
  if (lastSeq >= firstSeq && info.state.messages > 0 && chainChecker && script) {
    // The one pass below in chunks: each chunk's events checked by a worker, the results taken
    // in stream order and fed to the same seal bookkeeping, so the findings are the plain pass's,
    // in the same order.
    const context = { domain, stream, subjectPrefix: subjects.prefix, maxFindings: options.maxFindings ?? 1_000 };
    const runner: ChunkRunner = workerRunner(context, workers, script);
    // Dense seals (every sequence of the range sealed) whose leaves no manifest stands in for:
    // there an event's place in its seal's tree is its offset from the seal's first sequence,
    // which lets workers hash whole subtrees. Used only where the one pass's tree is at that place.
    const expected =
      removed.size === 0
        ? seals
            .map((r) => r.named.seal)
            .filter((s) => s.fromSeq >= firstSeq && s.count === s.toSeq - s.fromSeq + 1)
            .map((s) => ({ fromSeq: s.fromSeq, toSeq: s.toSeq }))
        : [];
    const take = (r: ChunkResult) => {
      let f = 0;
      let o = 0;
      let t = 0;
      let coveredTo = 0; // events before this index are leaves of a subtree already pushed
      for (let i = 0; i < r.count; i++) {
        const seq = r.seqs[i]!;
        result.events++;
        if (result.events % progressEvery === 0) options.onProgress?.(domain, seq, lastSeq);
        removedBefore(seq);
        reach(seq);
        for (; f < r.findingIndices.length && r.findingIndices[f] === i; f++) findings.add(r.findings[f]!);
        const opening = r.openings[o];
        if (opening?.index === i) {
          chainChecker.extend(seq, opening.aggregateId, opening.seq, opening.prev, opening.cid);
          o++;
        }
        const subtree = r.subtrees[t];
        if (subtree?.index === i) {
          t++;
          const s = current?.range.named.seal;
          if (s && current!.dense && current!.nextSeq === seq && current!.tree.size === seq - s.fromSeq) {
            current!.tree.pushSubtree(subtree.root, subtree.height);
            coveredTo = i + 2 ** subtree.height;
          }
        }
        if (i < coveredTo)
          current!.nextSeq = seq + 1; // what leaf() does for the next present event
        else counted(seq, () => r.leafHashes.subarray(i * 32, i * 32 + 32), true);
      }
      findings.omitted += r.findingsOmitted;
      packer.recycle(r);
      for (const head of r.heads) chainChecker.settle(head.aggregateId, head.seq, head.cid);
    };
    const out: Promise<ChunkResult>[] = [];
    const packer = new ChunkPacker(CHUNK_EVENTS);
    let nextExpected = 0;
    const send = (chunk: PackedChunk) => {
      const first = chunk.seqs[0]!;
      const last = chunk.seqs[chunk.count - 1]!;
      while (nextExpected < expected.length && expected[nextExpected]!.toSeq < first) nextExpected++;
      const ranges = [];
      for (let e = nextExpected; e < expected.length && expected[e]!.fromSeq <= last; e++) ranges.push(expected[e]!);
      if (ranges.length > 0) chunk.ranges = ranges;
      const running = runner.run(chunk);
      running.catch(() => {}); // awaited in order below; a failure surfaces there
      out.push(running);
    };
    try {
      for await (const batch of readStreamBatches(js, { ...read, batch: 4_000 })) {
        for (const m of batch) {
          packer.add(m.seq, messageBytes(m));
          if (packer.full) send(packer.take());
        }
        while (out.length > Math.max(1, runner.workers) * CHUNKS_PER_WORKER) take(await out.shift()!);
      }
      if (packer.count > 0) send(packer.take());
      while (out.length > 0) take(await out.shift()!);
    } finally {
      await runner.close();
    }
  } else if (lastSeq >= firstSeq && info.state.messages > 0) {
    for await (const m of readStream(js, read)) {
      const seq = m.seq;
      result.events++;
      if (result.events % progressEvery === 0) options.onProgress?.(domain, seq, lastSeq);

      removedBefore(seq);
      reach(seq);
      const cid = chains.check({
        streamSeq: seq,
        subject: m.subject,
        data: m.data,
        claimedCid: m.headers?.get('Cim-Cid') || undefined,
      });
      counted(seq, () => cid, false);
    }
  }
  removedBefore(Number.MAX_SAFE_INTEGER);
  while (current) close();
  while (next < seals.length) {
    open(seals[next++]!);
    close();
  }
  for (const range of alone) {
    const s = range.named.seal;
    if ((removed.size === 0 && s.fromSeq < firstSeq) || s.toSeq > lastSeq) continue; // removed (counted as such above) or truncated (a finding above)
    open(range);
    const gone = removedSeqs.filter((seq) => s.fromSeq <= seq && seq <= s.toSeq);
    let g = 0;
    for await (const m of readStream(js, { stream, fromSeq: s.fromSeq, toSeq: s.toSeq, onLeader: true })) {
      for (; g < gone.length && gone[g]! < m.seq; g++) leaf(gone[g]!, removed.get(gone[g]!)!);
      if (g < gone.length && gone[g] === m.seq) g++;
      leaf(m.seq, cidBytesOf(m.data));
    }
    for (; g < gone.length; g++) leaf(gone[g]!, removed.get(gone[g]!)!);
    close(false); // its events were counted by the one pass
  }
  result.aggregates = chains.aggregates;
  if (chains.records !== undefined) result.records = chains.records;
  result.findingsOmitted = findings.omitted;
  return result;
}

/**
 * The removals retention recorded for a domain: sequence → CID of each event a valid manifest
 * lists inside the range of the seal it names. A manifest that does not decode, names no seal of
 * the domain, or lists a sequence outside its seal's range is a finding, and those entries count
 * for nothing (their events, if gone, are missing events).
 */
async function manifestedRemovals(
  js: JetStreamClient,
  jsm: JetStreamManager,
  domain: string,
  subjects: Subjects,
  seals: readonly SealRange[],
  findings: FindingList,
): Promise<Map<number, Uint8Array>> {
  const removed = new Map<number, Uint8Array>();
  const { manifests, invalid } = await readManifests(js, jsm, domain, subjects);
  const base = { domain, stream: RETENTION_STREAM };
  for (const { streamSeq, message } of invalid)
    findings.add({
      ...base,
      kind: 'manifest-invalid',
      streamSeq,
      message: `${RETENTION_STREAM} seq ${streamSeq}: ${message}`,
    });
  const byCid = new Map(seals.map((s) => [s.named.cid.toString(), s.named.seal]));
  for (const { manifest, cid, streamSeq } of manifests) {
    const seal = byCid.get(manifest.seal.toString());
    if (!seal) {
      findings.add({
        ...base,
        kind: 'manifest-invalid',
        streamSeq,
        actual: manifest.seal.toString(),
        message: `removal manifest ${cid} names seal ${manifest.seal}, which is no seal of ${domain}`,
      });
      continue;
    }
    const outside = manifest.removed.filter(([seq]) => seq < seal.fromSeq || seq > seal.toSeq);
    if (outside.length > 0)
      findings.add({
        ...base,
        kind: 'manifest-invalid',
        streamSeq,
        expected: `seq ${seal.fromSeq}..${seal.toSeq}`,
        actual: outside.map(([seq]) => seq).join(','),
        message: `removal manifest ${cid} lists sequences outside seal ${manifest.seal}: ${outside.map(([seq]) => seq).join(', ')}`,
      });
    for (const [seq, eventCid] of manifest.removed)
      if (seq >= seal.fromSeq && seq <= seal.toSeq) removed.set(seq, eventCid.bytes);
  }
  return removed;
}

/** The result for a domain whose stream must exist and does not: no events, one finding. */
export function missingDomain(domain: string, why: string): DomainVerification {
  const stream = domainStream(domain);
  return {
    domain,
    stream,
    events: 0,
    lastSeq: 0,
    aggregates: 0,
    seals: 0,
    sealedEvents: 0,
    unsealedEvents: 0,
    removedByRetention: 0,
    signaturesChecked: false,
    findings: [
      { domain, stream, kind: 'stream-missing', message: `${stream} does not exist, but ${why}: its events are gone` },
    ],
    findingsOmitted: 0,
  };
}

/** The domains that have event streams: streams whose subjects are `<prefix>.<domain>.events.>`. */
export async function listDomains(nc: NatsConnection, subjects: Subjects = new Subjects()): Promise<string[]> {
  const jsm = await nc.jetstreamManager();
  const domains: string[] = [];
  const pattern = new RegExp(`^${subjects.prefix.replace(/\./g, '\\.')}\\.([a-z][a-z0-9_-]*)\\.events\\.>$`);
  for await (const info of jsm.streams.list()) {
    for (const subject of info.config.subjects ?? []) {
      const match = pattern.exec(subject);
      if (match && domainStream(match[1]!) === info.config.name) domains.push(match[1]!);
    }
  }
  return domains.sort();
}
