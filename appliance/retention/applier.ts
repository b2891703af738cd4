// The retention applier (docs/architecture.md#retention-and-legal-holds): per domain with a policy,
// finds the events the policy expires (older than maxAge, or beyond the newest
// maxEventsPerAggregate of their aggregate) that no legal hold covers, ONLY at stream sequences a
// seal already covers (the seal proves what existed); writes a removal manifest per seal to
// CIM_RETENTION, audits it (`retention.remove`), and only then deletes the messages — connected as
// the `retention` role, whose one extra right is that delete. A crash after the manifest leaves
// deletions a re-run completes (every manifested sequence still present is deleted first); re-runs
// are idempotent. Never stream `max_age`: a hold could apply to any event.
import type { JetStreamClient, JetStreamManager, JsMsg, NatsConnection } from 'nats';
import type { AuditEntry, AuditSink } from '../audit/index.js';
import { durationMs, type RetentionPolicy } from '../config.js';
import { CimError } from '../errors.js';
import { CID, cidOfBlock } from '../eventstore/cid.js';
import { scanEnvelope } from '../eventstore/envelope-read.js';
import { domainStream, SEALS_STREAM, Subjects } from '../eventstore/names.js';
import { isNotFound } from '../eventstore/retry.js';
import { readStream } from '../eventstore/stream-reader.js';
import { decodeSeal, sealSignedBy } from '../integrity/seal.js';
import type { Verifier } from '../integrity/signing-key.js';
import { readHolds, type HoldSet } from './holds.js';
import {
  MANIFEST_VERSION,
  MAX_MANIFEST_ENTRIES,
  publishManifest,
  readManifests,
  removalTarget,
  type NamedManifest,
  type RemovalManifest,
} from './manifest.js';

export interface ApplyOptions {
  /** Policy per domain (config `retention.policies`); domains without one are left alone. */
  policies: Readonly<Record<string, RetentionPolicy>>;
  subjects?: Subjects;
  /** Report what would be removed; write and delete nothing. */
  dryRun?: boolean;
  /** Where `retention.remove` records go (required unless dryRun). */
  audit?: AuditSink;
  /** Who runs it, as the audit log records it. */
  actor?: string;
  source?: AuditEntry['source'];
  correlationId?: string;
  /** The time policies are measured from (default now). */
  now?: Date;
  /**
   * Keys whose seals count: a seal signed by another key proves nothing, so what it covers is not
   * removed. With none, seal signatures are not checked (as `cim verify` without keys).
   */
  trusted?: readonly Verifier[];
}

export interface DomainApplied {
  domain: string;
  policy: RetentionPolicy;
  /** Events read. */
  examined: number;
  /** Events the policy expires. */
  expired: number;
  /** Of those, kept because a hold covers them. */
  held: number;
  /** Of those, kept because no seal covers them yet (removed on a later run). */
  unsealed: number;
  /** Removed now (or, with dryRun, that would be). */
  removed: number;
  /** Deletions an earlier run's manifest named that were still to do, done now. */
  completed: number;
  /** The manifests written now (CID strings), each with its seal. */
  manifests: Array<{ manifest: string; seal: string; count: number; fromSeq: number; toSeq: number }>;
}

export interface RetentionApplied {
  at: string;
  dryRun: boolean;
  domains: DomainApplied[];
}

interface SealRange {
  cid: CID;
  fromSeq: number;
  toSeq: number;
}

/** The domain's seals, in order (records that are not its seals are skipped: verification names them). */
export async function readSealRanges(
  js: JetStreamClient,
  jsm: JetStreamManager,
  domain: string,
  subjects: Subjects = new Subjects(),
  trusted: readonly Verifier[] = [],
): Promise<SealRange[]> {
  const subject = subjects.seal(domain);
  let lastSeq: number;
  try {
    lastSeq = (await jsm.streams.getMessage(SEALS_STREAM, { last_by_subj: subject })).seq;
  } catch (error) {
    if (isNotFound(error) || /no message found/i.test((error as Error).message)) return [];
    throw error;
  }
  const ranges: SealRange[] = [];
  for await (const m of readStream(js, { stream: SEALS_STREAM, filterSubject: subject, fromSeq: 1, toSeq: lastSeq })) {
    try {
      const named = decodeSeal(m.data);
      const { seal, cid } = named;
      if (seal.domain !== domain) continue;
      if (trusted.length > 0 && sealSignedBy(named, trusted) !== 'valid') continue;
      // A seal overlapping those before it (a finding of verification) is not one to remove under.
      if (ranges.length > 0 && seal.fromSeq <= ranges.at(-1)!.toSeq) continue;
      ranges.push({ cid, fromSeq: seal.fromSeq, toSeq: seal.toSeq });
    } catch {
      // not a seal: verification reports it
    }
  }
  return ranges;
}

/** The seal covering a sequence (ranges in order, as sealers write them). */
function sealOf(ranges: readonly SealRange[], seq: number): SealRange | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (seq < r.fromSeq) hi = mid - 1;
    else if (seq > r.toSeq) lo = mid + 1;
    else return r;
  }
  return undefined;
}

const timestampMs = (m: JsMsg) => Number(m.info.timestampNanos / 1_000_000);

/** Deletes one message (not erased: crypto-erasure is another matter); false when it was gone already. */
async function deleteMessage(jsm: JetStreamManager, stream: string, seq: number): Promise<boolean> {
  try {
    return await jsm.streams.deleteMessage(stream, seq, false);
  } catch (error) {
    if (/no message found|not found/i.test((error as Error).message)) return false;
    throw new CimError('CIM-UNAVAILABLE', `deleting ${stream} seq ${seq}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Applies every domain's policy once; see the file's header. `nc` is a `retention` connection (or operator). */
export async function applyRetention(nc: NatsConnection, options: ApplyOptions): Promise<RetentionApplied> {
  const subjects = options.subjects ?? new Subjects();
  if (!options.dryRun && !options.audit)
    throw new CimError('CIM-INTERNAL', 'retention without an audit sink: every removal must be on record');
  const now = options.now ?? new Date();
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const holds = await readHolds(nc);
  const result: RetentionApplied = { at: now.toISOString(), dryRun: options.dryRun ?? false, domains: [] };
  for (const domain of Object.keys(options.policies).sort()) {
    const policy = options.policies[domain]!;
    result.domains.push(await applyDomain(js, jsm, domain, policy, holds, subjects, now, options));
  }
  return result;
}

async function applyDomain(
  js: JetStreamClient,
  jsm: JetStreamManager,
  domain: string,
  policy: RetentionPolicy,
  holds: HoldSet,
  subjects: Subjects,
  now: Date,
  options: ApplyOptions,
): Promise<DomainApplied> {
  const stream = domainStream(domain);
  const applied: DomainApplied = {
    domain,
    policy,
    examined: 0,
    expired: 0,
    held: 0,
    unsealed: 0,
    removed: 0,
    completed: 0,
    manifests: [],
  };
  let info;
  try {
    info = await jsm.streams.info(stream);
  } catch (error) {
    if (isNotFound(error))
      throw new CimError('CIM-INVALID-CONFIG', `retention.policies.${domain}: there is no stream ${stream}`, {
        hint: 'A policy names a served domain; remove it, or serve the domain.',
      });
    throw error;
  }
  const { first_seq: firstSeq, last_seq: lastSeq } = info.state;
  if (info.state.messages === 0) return applied;
  const seals = await readSealRanges(js, jsm, domain, subjects, options.trusted);
  const sealedTo = seals.at(-1)?.toSeq ?? 0;
  // What earlier runs manifested: their deletions still to do are done first, and never manifested twice.
  const manifested = new Map<number, NamedManifest>();
  for (const named of (await readManifests(js, jsm, domain, subjects)).manifests)
    for (const [seq] of named.manifest.removed) manifested.set(seq, named);

  const maxAgeMs = policy.maxAge !== undefined ? durationMs(policy.maxAge)! : undefined;
  const cutoff = maxAgeMs !== undefined ? now.getTime() - maxAgeMs : undefined;
  const maxEvents = policy.maxEventsPerAggregate;
  // Events per aggregate still kept (the count policy keeps the newest maxEvents of each): one
  // entry per aggregate, not per event.
  const totals = new Map<string, number>();
  if (maxEvents !== undefined) {
    for await (const m of readStream(js, { stream, fromSeq: firstSeq, toSeq: lastSeq })) {
      if (manifested.has(m.seq)) continue;
      const fields = scanEnvelope(m.data);
      if (fields) totals.set(fields.aggregateId, (totals.get(fields.aggregateId) ?? 0) + 1);
    }
  }
  const seen = new Map<string, number>();
  const leftover = new Map<NamedManifest, number[]>();
  const removals = new Map<string, { seal: SealRange; removed: Array<[number, CID]> }>();
  for await (const m of readStream(js, { stream, fromSeq: firstSeq, toSeq: lastSeq })) {
    const earlier = manifested.get(m.seq);
    if (earlier) {
      leftover.set(earlier, [...(leftover.get(earlier) ?? []), m.seq]);
      continue;
    }
    applied.examined++;
    const fields = scanEnvelope(m.data);
    if (!fields) continue; // never remove what cannot be read: verification names it
    const index = seen.get(fields.aggregateId) ?? 0;
    seen.set(fields.aggregateId, index + 1);
    const tooOld = cutoff !== undefined && timestampMs(m) < cutoff;
    const tooMany = maxEvents !== undefined && (totals.get(fields.aggregateId) ?? 0) - index > maxEvents;
    if (!tooOld && !tooMany) continue;
    applied.expired++;
    if (holds.covering(domain, fields.aggregateId)) {
      applied.held++;
      continue;
    }
    const seal = m.seq <= sealedTo ? sealOf(seals, m.seq) : undefined;
    if (!seal) {
      applied.unsealed++;
      continue;
    }
    const key = seal.cid.toString();
    let group = removals.get(key);
    if (!group) removals.set(key, (group = { seal, removed: [] }));
    group.removed.push([m.seq, cidOfBlock(m.data)]);
  }

  if (options.dryRun) {
    for (const { seal, removed } of removals.values()) {
      applied.removed += removed.length;
      applied.manifests.push({
        manifest: '(dry run)',
        seal: seal.cid.toString(),
        count: removed.length,
        fromSeq: removed[0]![0],
        toSeq: removed.at(-1)![0],
      });
    }
    applied.completed = [...leftover.values()].reduce((n, seqs) => n + seqs.length, 0);
    return applied;
  }

  const record = (manifest: CID, seal: CID) =>
    options.audit!.record({
      actor: options.actor ?? 'retention',
      role: 'retention',
      source: options.source ?? 'nats',
      action: 'retention.remove',
      target: removalTarget(domain, manifest, seal),
      outcome: 'ok',
      correlationId: options.correlationId ?? manifest.toString(),
    });
  // A run that stopped after a manifest: its record may be missing too, so it is written (again) before the deletions.
  for (const [named, seqs] of leftover) {
    await record(named.cid, named.manifest.seal);
    for (const seq of seqs) if (await deleteMessage(jsm, stream, seq)) applied.completed++;
  }

  const manifestPolicy = {
    ...(policy.maxAge !== undefined ? { maxAge: policy.maxAge } : {}),
    ...(maxEvents !== undefined ? { maxEventsPerAggregate: maxEvents } : {}),
  };
  for (const { seal, removed } of removals.values()) {
    for (let i = 0; i < removed.length; i += MAX_MANIFEST_ENTRIES) {
      const chunk = removed.slice(i, i + MAX_MANIFEST_ENTRIES);
      const manifest: RemovalManifest = {
        v: MANIFEST_VERSION,
        domain,
        seal: seal.cid,
        removed: chunk,
        policy: manifestPolicy,
        at: new Date().toISOString(),
      };
      // Manifest, then its audit record, then the deletions: what is removed is always on record first.
      const named = await publishManifest(js, manifest, subjects);
      await record(named.cid, seal.cid);
      for (const [seq] of chunk) if (await deleteMessage(jsm, stream, seq)) applied.removed++;
      applied.manifests.push({
        manifest: named.cid.toString(),
        seal: seal.cid.toString(),
        count: chunk.length,
        fromSeq: chunk[0]![0],
        toSeq: chunk.at(-1)![0],
      });
    }
  }
  return applied;
}
