// Retention: the live stream configs implement the policies (no stream limits on domain streams: a
// limit removes events whatever holds say); no event older than its policy (or beyond its
// aggregate's count) remains outside a hold, beyond one apply interval of slack; every held event
// remains; every removed sequence is covered by a seal, a removal manifest and a `retention.remove`
// audit record (docs/architecture.md#retention-and-legal-holds). Also the data of the retention
// report: per domain its policy, the oldest event kept, the holds and the ranges removed.
import type { JetStreamManager, NatsConnection, StreamInfo } from 'nats';
import {
  domainStream,
  durationMs,
  holdName,
  listDomains,
  parseRemovalTarget,
  readAuditLog,
  readHolds,
  readManifests,
  readSealRanges,
  readStream,
  scanEnvelope,
  Subjects,
  type ApplianceConfig,
  type Hold,
  type HoldSet,
  type NamedManifest,
  type RetentionPolicy,
  type TailedRecord,
} from '../../appliance/index.js';
import type { CheckContext, CheckOutcome, ComplianceCheck, ComplianceFinding, FindingSeverity } from '../findings.js';

/** Findings kept per kind and domain; the rest are counted in one more finding. */
const MAX_PER_KIND = 200;

interface DomainRemovals {
  manifests: NamedManifest[];
  invalid: Array<{ streamSeq: number; message: string }>;
  /** Removed sequence → event CID (text) and the manifest that lists it. */
  bySeq: Map<number, { cid: string; manifest: NamedManifest }>;
  /** Removed event CID (text) → its manifest. */
  byCid: Map<string, NamedManifest>;
}

async function domainRemovals(nc: NatsConnection, domain: string, subjects: Subjects): Promise<DomainRemovals> {
  const { manifests, invalid } = await readManifests(nc.jetstream(), await nc.jetstreamManager(), domain, subjects);
  const bySeq = new Map<number, { cid: string; manifest: NamedManifest }>();
  const byCid = new Map<string, NamedManifest>();
  for (const m of manifests)
    for (const [seq, cid] of m.manifest.removed) {
      bySeq.set(seq, { cid: cid.toString(), manifest: m });
      byCid.set(cid.toString(), m);
    }
  return { manifests, invalid, bySeq, byCid };
}

/** The CIDs of events retention removed, by domain and stream sequence (what reports cite for removed events). */
export class RemovedEvents {
  private constructor(private readonly domains: Map<string, Map<number, string>>) {}

  static async read(nc: NatsConnection, domains: readonly string[], subjects = new Subjects()): Promise<RemovedEvents> {
    const out = new Map<string, Map<number, string>>();
    for (const domain of domains) {
      const { bySeq } = await domainRemovals(nc, domain, subjects);
      out.set(domain, new Map([...bySeq].map(([seq, { cid }]) => [seq, cid])));
    }
    return new RemovedEvents(out);
  }

  /** The CID of the event a removal manifest lists at `seq`, or undefined. */
  removedEventCid(domain: string, seq: number): string | undefined {
    return this.domains.get(domain)?.get(seq);
  }
}

export interface DomainRetention {
  domain: string;
  policy: RetentionPolicy | null;
  /** The first event the stream still holds, and when it was stored. */
  oldestKept: { seq: number; at: string } | null;
  /** Holds that cover this domain's events: on its aggregates, or on data subjects (every domain). */
  holds: Array<{ target: string; placedBy: string; at: string }>;
  /** One entry per removal manifest: the range it removed and the seal that proves what existed. */
  removed: Array<{ fromSeq: number; toSeq: number; count: number; seal: string; manifest: string; at: string }>;
}

function holdsOf(holds: HoldSet, domain: string): DomainRetention['holds'] {
  return holds.holds
    .filter((h) => h.target.kind === 'subject' || h.target.domain === domain)
    .map((h) => ({ target: holdName(h.target), placedBy: h.placedBy, at: h.at }));
}

async function streamInfo(jsm: JetStreamManager, stream: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(stream, { deleted_details: true });
  } catch (error) {
    if (/not found/i.test((error as Error).message)) return undefined;
    throw error;
  }
}

/** The retention report's data: per domain (those with streams, and those with policies). */
export async function retentionSummary(
  nc: NatsConnection,
  config: Pick<ApplianceConfig, 'retention'>,
  options: { domains?: readonly string[]; subjects?: Subjects } = {},
): Promise<DomainRetention[]> {
  const subjects = options.subjects ?? new Subjects();
  const jsm = await nc.jetstreamManager();
  const domains = [
    ...new Set([...(options.domains ?? (await listDomains(nc, subjects))), ...Object.keys(config.retention.policies)]),
  ].sort();
  const holds = await readHolds(nc);
  const out: DomainRetention[] = [];
  for (const domain of domains) {
    const info = await streamInfo(jsm, domainStream(domain));
    const { manifests } = await domainRemovals(nc, domain, subjects);
    const state = info?.state;
    out.push({
      domain,
      policy: config.retention.policies[domain] ?? null,
      oldestKept: state && state.messages > 0 ? { seq: state.first_seq, at: state.first_ts } : null,
      holds: holdsOf(holds, domain),
      removed: manifests.map(({ manifest, cid }) => ({
        fromSeq: manifest.removed[0]![0],
        toSeq: manifest.removed.at(-1)![0],
        count: manifest.removed.length,
        seal: manifest.seal.toString(),
        manifest: cid.toString(),
        at: manifest.at,
      })),
    });
  }
  return out;
}

class Findings {
  readonly list: ComplianceFinding[] = [];
  private readonly counts = new Map<string, number>();

  add(kind: string, scope: string, id: string, severity: FindingSeverity, message: string, evidence: unknown): void {
    const key = `${kind}:${scope}`;
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    if (n <= MAX_PER_KIND)
      this.list.push({ id: `retention:${kind}:${id}`, check: 'retention', severity, message, evidence });
  }

  /** One finding more per kind whose findings were capped, saying how many there were. */
  finish(): ComplianceFinding[] {
    for (const [key, n] of this.counts)
      if (n > MAX_PER_KIND) {
        const first = this.list.find((f) => f.id.startsWith(`retention:${key.split(':')[0]}:`))!;
        this.list.push({
          id: `retention:${key}:omitted`,
          check: 'retention',
          severity: first.severity,
          message: `${n - MAX_PER_KIND} more findings like ${first.id} were counted, not listed`,
          evidence: { kind: key, total: n, listed: MAX_PER_KIND },
        });
      }
    return this.list;
  }
}

const policyText = (p: RetentionPolicy) =>
  [
    p.maxAge !== undefined ? `maxAge ${p.maxAge}` : undefined,
    p.maxEventsPerAggregate !== undefined ? `maxEventsPerAggregate ${p.maxEventsPerAggregate}` : undefined,
  ]
    .filter(Boolean)
    .join(', ');

export const retentionCheck: ComplianceCheck = {
  name: 'retention',
  title: 'Retention and legal holds',
  async run(ctx: CheckContext, progress): Promise<CheckOutcome> {
    const nc = await ctx.connect('auditor');
    const jsm = await nc.jetstreamManager();
    const subjects = ctx.subjects;
    const policies = ctx.config.retention.policies;
    const slackMs = durationMs(ctx.config.retention.applyEvery) ?? 0;
    const now = ctx.now().getTime();
    const served = ctx.domains.map((d) => d.name);
    const domains = [...new Set([...served, ...(await listDomains(nc, subjects)), ...Object.keys(policies)])].sort();
    const holds = await readHolds(nc);
    const records: TailedRecord[] = await ctx.once('audit-records', async () => {
      try {
        return await readAuditLog(nc);
      } catch (error) {
        if (/not found/i.test((error as Error).message)) return [];
        throw error;
      }
    });
    const audited = new Set<string>();
    for (const t of records) {
      const target = t.record?.action === 'retention.remove' && t.record.outcome === 'ok' ? t.record.target : undefined;
      const parsed = target ? parseRemovalTarget(target) : undefined;
      if (parsed) audited.add(`${parsed.domain}/${parsed.manifest}`);
    }
    const findings = new Findings();
    const examined = { streams: 0, events: 0, holds: holds.holds.length, manifests: 0, removed: 0 };
    const config = { policies, applyEvery: ctx.config.retention.applyEvery };

    let done = 0;
    for (const domain of domains) {
      const stream = domainStream(domain);
      const policy = policies[domain];
      const info = await streamInfo(jsm, stream);
      if (!info) {
        if (policy)
          findings.add(
            'policy-without-stream',
            domain,
            domain,
            'medium',
            `retention.policies.${domain} (${policyText(policy)}) names a domain with no stream ${stream}: the policy applies to nothing`,
            { domain, stream, policy, config },
          );
        continue;
      }
      examined.streams++;
      const c = info.config;
      const limits = {
        max_age: c.max_age ?? 0,
        max_msgs: c.max_msgs ?? -1,
        max_bytes: c.max_bytes ?? -1,
        max_msgs_per_subject: c.max_msgs_per_subject ?? -1,
      };
      if (limits.max_age > 0 || limits.max_msgs > 0 || limits.max_bytes > 0 || limits.max_msgs_per_subject > 0)
        findings.add(
          'stream-limits',
          stream,
          stream,
          'high',
          `${stream} has stream limits (${Object.entries(limits)
            .filter(([, v]) => v > 0)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}): JetStream removes events by them without regard for legal holds, seals or manifests. ` +
            'Remove the limits (nats stream edit) and set retention.policies instead.',
          { stream, limits, policy: policy ?? null },
        );

      const seals = await readSealRanges(nc.jetstream(), jsm, domain, subjects, ctx.trusted);
      const sealCids = new Map(seals.map((s) => [s.cid.toString(), s]));
      const removals = await domainRemovals(nc, domain, subjects);
      examined.manifests += removals.manifests.length;
      for (const bad of removals.invalid)
        findings.add(
          'manifest-invalid',
          domain,
          `${domain}:${bad.streamSeq}`,
          'high',
          `CIM_RETENTION seq ${bad.streamSeq} under the manifests of ${domain} is no valid removal manifest: ${bad.message}`,
          { stream: 'CIM_RETENTION', streamSeq: bad.streamSeq, domain },
        );
      for (const { manifest, cid, streamSeq } of removals.manifests) {
        const seal = sealCids.get(manifest.seal.toString());
        const outside = manifest.removed.filter(([seq]) => !seal || seq < seal.fromSeq || seq > seal.toSeq);
        if (outside.length > 0)
          findings.add(
            'removal-unsealed',
            domain,
            `${stream}:${cid.toString()}`,
            'high',
            `removal manifest ${cid} of ${stream} lists ${outside.length} sequences its seal ${manifest.seal} does not cover${seal ? '' : ' (no seal of the domain has that CID)'}`,
            {
              stream,
              manifest: cid.toString(),
              manifestSeq: streamSeq,
              seal: manifest.seal.toString(),
              sealRange: seal ? [seal.fromSeq, seal.toSeq] : null,
              sequences: outside.map(([seq]) => seq),
            },
          );
        if (!audited.has(`${domain}/${cid.toString()}`))
          findings.add(
            'removal-unaudited',
            domain,
            `${stream}:${cid.toString()}`,
            'high',
            `removal manifest ${cid} of ${stream} (${manifest.removed.length} events) has no retention.remove audit record`,
            { stream, manifest: cid.toString(), manifestSeq: streamSeq, seal: manifest.seal.toString() },
          );
      }
      // Every sequence gone from the stream — deleted inside it, or before its first — must be in a manifest.
      const gone = [
        ...Array.from({ length: Math.max(0, info.state.first_seq - 1) }, (_, i) => i + 1),
        ...(info.state.deleted ?? []),
      ].filter((seq) => seq >= 1 && seq <= info.state.last_seq); // an empty stream's state may list seq 0

      examined.removed += gone.length;
      for (const seq of gone)
        if (!removals.bySeq.has(seq))
          findings.add(
            'unrecorded-removal',
            stream,
            `${stream}:${seq}`,
            'critical',
            `${stream} seq ${seq} is gone, and no removal manifest records it: it was deleted outside retention`,
            { stream, streamSeq: seq },
          );

      // Events still there: over their policy outside a hold, and held aggregates' chains whole.
      const maxAgeMs = policy?.maxAge !== undefined ? durationMs(policy.maxAge) : undefined;
      const maxEvents = policy?.maxEventsPerAggregate;
      const totals = new Map<string, number>();
      const { first_seq: firstSeq, last_seq: lastSeq } = info.state;
      if (info.state.messages > 0 && maxEvents !== undefined)
        for await (const m of readStream(nc.jetstream(), { stream, fromSeq: firstSeq, toSeq: lastSeq })) {
          const f = scanEnvelope(m.data);
          if (f) totals.set(f.aggregateId, (totals.get(f.aggregateId) ?? 0) + 1);
        }
      const sealedTo = seals.at(-1)?.toSeq ?? 0;
      const seen = new Map<string, number>();
      /** Per held aggregate: the chain seq next expected (0: none seen yet). */
      const heldChains = new Map<string, { next: number; hold: Hold }>();
      /** Excess events per aggregate, decided when the event displacing the newest of them arrives. */
      const excess = new Map<string, number[]>();
      if (info.state.messages > 0)
        for await (const m of readStream(nc.jetstream(), { stream, fromSeq: firstSeq, toSeq: lastSeq })) {
          examined.events++;
          const f = scanEnvelope(m.data);
          if (!f) continue; // not an event: the immutability check names it
          const at = Number(m.info.timestampNanos / 1_000_000);
          const index = seen.get(f.aggregateId) ?? 0;
          seen.set(f.aggregateId, index + 1);
          const hold = holds.covering(domain, f.aggregateId);
          if (hold) {
            const chain = heldChains.get(f.aggregateId);
            if (!chain && f.seq !== 1) {
              // Events before it are gone: fine only if a manifest removed them before the hold was placed.
              const prev = f.prev?.toString();
              const manifest = prev ? removals.byCid.get(prev) : undefined;
              if (!manifest || manifest.manifest.at >= hold.at)
                findings.add(
                  'held-event-removed',
                  stream,
                  `${stream}:${f.aggregateId}`,
                  'critical',
                  manifest
                    ? `${domain}/${f.aggregateId} is under a legal hold (${holdName(hold.target)}, since ${hold.at}), yet removal manifest ${manifest.cid} removed its events before seq ${f.seq} at ${manifest.manifest.at}`
                    : `${domain}/${f.aggregateId} is under a legal hold (${holdName(hold.target)}), yet its events before seq ${f.seq} are gone and no manifest removed them before the hold`,
                  {
                    stream,
                    aggregateId: f.aggregateId,
                    hold: holdName(hold.target),
                    holdAt: hold.at,
                    firstKept: { streamSeq: m.seq, seq: f.seq, prev: prev ?? null },
                    manifest: manifest ? manifest.cid.toString() : null,
                  },
                );
            } else if (chain && f.seq !== chain.next) {
              findings.add(
                'held-event-removed',
                stream,
                `${stream}:${f.aggregateId}:${chain.next}`,
                'critical',
                `${domain}/${f.aggregateId} is under a legal hold (${holdName(hold.target)}), yet its chain jumps from seq ${chain.next - 1} to ${f.seq} at ${stream} seq ${m.seq}`,
                {
                  stream,
                  aggregateId: f.aggregateId,
                  hold: holdName(hold.target),
                  expected: chain.next,
                  found: f.seq,
                  streamSeq: m.seq,
                },
              );
            }
            heldChains.set(f.aggregateId, { next: f.seq + 1, hold });
            continue;
          }
          if (!policy) continue;
          const sealed = m.seq <= sealedTo; // an unsealed event retention may not remove yet
          if (sealed && maxAgeMs !== undefined && at < now - maxAgeMs - slackMs)
            findings.add(
              'over-age',
              stream,
              `${stream}:${m.seq}`,
              'high',
              `${stream} seq ${m.seq} (${domain}/${f.aggregateId}) was stored ${new Date(at).toISOString()}, older than its policy (maxAge ${policy.maxAge}) plus one apply interval (${ctx.config.retention.applyEvery}), and no hold covers it`,
              {
                stream,
                streamSeq: m.seq,
                aggregateId: f.aggregateId,
                storedAt: new Date(at).toISOString(),
                policy,
                config,
              },
            );
          if (maxEvents !== undefined) {
            const total = totals.get(f.aggregateId) ?? 0;
            if (total - index > maxEvents) {
              if (!sealed) continue;
              const list = excess.get(f.aggregateId) ?? [];
              list.push(m.seq);
              excess.set(f.aggregateId, list);
            } else if (index === total - maxEvents && excess.has(f.aggregateId)) {
              // The oldest event kept displaced the newest excess one: past the slack, they should be gone.
              if (at < now - slackMs)
                for (const seq of excess.get(f.aggregateId)!)
                  findings.add(
                    'over-count',
                    stream,
                    `${stream}:${seq}`,
                    'high',
                    `${stream} seq ${seq} (${domain}/${f.aggregateId}) is beyond the newest ${maxEvents} events of its aggregate (policy maxEventsPerAggregate), and no hold covers it`,
                    { stream, streamSeq: seq, aggregateId: f.aggregateId, policy, config },
                  );
              excess.delete(f.aggregateId);
            }
          }
        }
      progress?.(++done, domains.length);
    }
    const outcomeFindings = findings.finish();
    return {
      check: 'retention',
      findings: outcomeFindings,
      examined,
      evidence: {
        config,
        holds: holds.holds.map((h) => ({ target: holdName(h.target), placedBy: h.placedBy, at: h.at })),
      },
    };
  },
};
