// Audit completeness: every event in a domain stream is explained by an audited command — an
// accepted `command.<domain>.<Command>` record for its aggregate, with its correlation id and
// actor, by an actor whose role may send commands. An event no audited command explains is
// critical: a forged but internally consistent event published straight to NATS, or a command
// served without its audit record, shows up this way. Also: per domain, the events, the commands
// that wrote them and the accepted records (evidence), and the audit log's own chains and seals.
import { decodeEnvelope, domainStream, readStream, type TailedRecord } from '../../appliance/index.js';
import { auditRecords } from '../audit-log.js';
import type { CheckContext, CheckOutcome, ComplianceCheck, ComplianceFinding } from '../findings.js';
import { fromIntegrityFinding, verification } from '../verification.js';

/** The roles an accepted command may come from: NATS callers (`nats`) and the gateway's writer and operator keys. */
export const COMMAND_ROLES: readonly string[] = ['nats', 'writer', 'operator'];

/** At most this many unexplained events are listed per domain; the rest are counted. */
const MAX_LISTED = 1_000;

/** What a command's events are matched on: the aggregate and the correlation id. */
export const explanationKey = (domain: string, aggregateId: string, correlationId: string) =>
  `${domain}/${aggregateId}\u0000${correlationId}`;

export interface CommandIndex {
  /** Accepted command records by key, with their actors. */
  byKey: Map<string, { actors: Set<string>; unauthorised: TailedRecord[] }>;
  /** Accepted command records per domain. */
  accepted: Map<string, number>;
}

/** Indexes the accepted command records (pure: unit-tested). */
export function indexCommands(records: readonly TailedRecord[]): CommandIndex {
  const byKey: CommandIndex['byKey'] = new Map();
  const accepted = new Map<string, number>();
  for (const t of records) {
    const r = t.record;
    if (!r || r.outcome !== 'accepted' || !r.action.startsWith('command.')) continue;
    const domain = r.action.split('.')[1]!;
    const slash = r.target.indexOf('/');
    if (slash < 0 || r.target.slice(0, slash) !== domain) continue;
    const key = explanationKey(domain, r.target.slice(slash + 1), r.correlationId);
    let entry = byKey.get(key);
    if (!entry) byKey.set(key, (entry = { actors: new Set(), unauthorised: [] }));
    if (COMMAND_ROLES.includes(r.role)) entry.actors.add(r.actor);
    else entry.unauthorised.push(t);
    accepted.set(domain, (accepted.get(domain) ?? 0) + 1);
  }
  return { byKey, accepted };
}

export interface EventFacts {
  stream: string;
  streamSeq: number;
  cid: string;
  domain: string;
  aggregateId: string;
  type: string;
  correlationId: string;
  causationId: string;
  actor: string;
  at: string;
}

/** Why an event is not explained, or undefined when an accepted, authorised command explains it (pure). */
export function unexplained(index: CommandIndex, event: EventFacts): ComplianceFinding | undefined {
  const entry = index.byKey.get(explanationKey(event.domain, event.aggregateId, event.correlationId));
  const evidence = { ...event };
  if (!entry || (entry.actors.size === 0 && entry.unauthorised.length === 0))
    return {
      id: `audit-completeness:unaudited-event:${event.stream}:${event.streamSeq}`,
      check: 'audit-completeness',
      severity: 'critical',
      message: `${event.stream} seq ${event.streamSeq} (${event.type} of ${event.aggregateId}, correlation ${event.correlationId}) is explained by no accepted command in the audit log: it was written without an audited command (published straight to NATS, or by a service without its audit log).`,
      evidence,
    };
  if (entry.actors.size === 0)
    return {
      id: `audit-completeness:unauthorised-actor:${event.stream}:${event.streamSeq}`,
      check: 'audit-completeness',
      severity: 'critical',
      message: `${event.stream} seq ${event.streamSeq} is explained only by commands of roles that may not send commands (${entry.unauthorised.map((t) => t.record!.role).join(', ')}).`,
      evidence: {
        ...evidence,
        records: entry.unauthorised.map((t) => ({ streamSeq: t.streamSeq, cid: t.cid ?? null })),
      },
    };
  if (!entry.actors.has(event.actor))
    return {
      id: `audit-completeness:actor-mismatch:${event.stream}:${event.streamSeq}`,
      check: 'audit-completeness',
      severity: 'high',
      message: `${event.stream} seq ${event.streamSeq} names actor ${event.actor}, but the audited command was by ${[...entry.actors].join(', ')}.`,
      evidence: { ...evidence, auditedActors: [...entry.actors] },
    };
  return undefined;
}

export const auditCompletenessCheck: ComplianceCheck = {
  name: 'audit-completeness',
  title: 'Audit completeness',
  async run(ctx: CheckContext, progress): Promise<CheckOutcome> {
    const records = await auditRecords(ctx);
    const index = indexCommands(records);
    const nc = await ctx.connect('auditor');
    const jsm = await nc.jetstreamManager();
    const js = nc.jetstream();
    const findings: ComplianceFinding[] = [];
    const counts: unknown[] = [];
    let events = 0;
    const domains = ctx.domains.map((d) => d.name);
    let done = 0;
    for (const domain of domains) {
      const stream = domainStream(domain);
      let lastSeq = 0;
      let firstSeq = 1;
      try {
        const info = await jsm.streams.info(stream);
        lastSeq = info.state.last_seq;
        firstSeq = Math.max(1, info.state.first_seq);
      } catch {
        continue; // no stream: the immutability check says whether one must exist
      }
      let domainEvents = 0;
      let listed = 0;
      let omitted = 0;
      const groups = new Set<string>();
      const invalid: number[] = [];
      if (lastSeq >= firstSeq) {
        for await (const m of readStream(js, { stream, fromSeq: firstSeq, toSeq: lastSeq })) {
          domainEvents++;
          let facts: EventFacts;
          try {
            const { envelope: e, cid } = decodeEnvelope(m.data);
            facts = {
              stream,
              streamSeq: m.seq,
              cid: cid.toString(),
              domain: e.domain,
              aggregateId: e.aggregateId,
              type: e.type,
              correlationId: e.correlationId,
              causationId: e.causationId,
              actor: e.actor,
              at: e.at,
            };
          } catch {
            invalid.push(m.seq); // not an event: the immutability check's invalid-event finding
            continue;
          }
          groups.add(explanationKey(facts.domain, facts.aggregateId, facts.correlationId));
          const finding = unexplained(index, facts);
          if (finding) {
            if (listed < MAX_LISTED) {
              findings.push(finding);
              listed++;
            } else omitted++;
          }
        }
      }
      events += domainEvents;
      const accepted = index.accepted.get(domain) ?? 0;
      counts.push({
        domain,
        stream,
        events: domainEvents,
        commandsWithEvents: groups.size,
        acceptedCommands: accepted,
        unexplained: listed + omitted,
        notEvents: invalid.length,
      });
      if (omitted > 0)
        findings.push({
          id: `audit-completeness:unaudited-omitted:${stream}`,
          check: 'audit-completeness',
          severity: 'critical',
          message: `${stream}: ${omitted} more events no audited command explains were counted, not listed`,
          evidence: { stream, omitted },
        });
      progress?.(++done, domains.length + 1);
    }
    // The audit log's own chains and seals.
    const verified = await verification(ctx);
    for (const f of verified.audit?.findings ?? []) findings.push(fromIntegrityFinding('audit-completeness', f));
    if (!verified.audit && events > 0)
      findings.push({
        id: 'audit-completeness:no-audit-log',
        check: 'audit-completeness',
        severity: 'critical',
        message: 'the domain streams hold events but there is no audit log (CIM_AUDIT): no command is accounted for',
        evidence: { events },
      });
    progress?.(++done, domains.length + 1);
    return {
      check: 'audit-completeness',
      findings,
      examined: { events, auditRecords: records.filter((t) => t.record).length },
      evidence: {
        perDomain: counts,
        auditHead: verified.audit ? { lastSeq: verified.audit.lastSeq, writers: verified.audit.aggregates } : null,
      },
    };
  },
};
