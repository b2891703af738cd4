// The audit report's content (docs/architecture.md#reports): over a period — the audit log since
// the previous audit report, or all of it — the records counted by actor, action and outcome, the
// gaps (a writer's chain that breaks or forks, a record that does not decode, a stream sequence
// deleted from CIM_AUDIT), and each writer chain's head CID. The chains are checked over the whole
// log (a chain is only whole from its first record); the counts cover the period.
import type { NatsConnection } from 'nats';
import {
  AUDIT_STREAM,
  AuditChainChecker,
  FindingList,
  isNotFound,
  readStream,
  Subjects,
  type Finding,
} from '../appliance/index.js';
import { decodeReport, type Ledger, type ReportFinding } from '../reports/index.js';

export interface AuditGap {
  kind: string;
  streamSeq?: number;
  writer?: string;
  expected?: string;
  actual?: string;
  message: string;
}

export interface AuditReportResults {
  period: {
    /** The records counted are those of messages after this CIM_AUDIT sequence (0: all). */
    afterSeq: number;
    /** …up to this one, the stream's last when the report was built. */
    toSeq: number;
    /** The first and last record's time in the period, null when it holds none. */
    from: string | null;
    to: string | null;
    /** The audit report the period follows, null for the first. */
    previousReport: string | null;
  };
  /** Records and messages in the period (a message holds one writer's batch of records). */
  records: number;
  messages: number;
  /** Records and messages in the whole log. */
  totals: { records: number; messages: number; writers: number };
  byActor: { actor: string; count: number }[];
  byAction: { action: string; count: number }[];
  byOutcome: { outcome: string; count: number }[];
  /** Each writer chain: its head (last record) and the records it wrote in the period. */
  writers: { writer: string; head: string; seq: number; streamSeq: number; records: number }[];
  gaps: AuditGap[];
  /** Gaps beyond the cap, counted only. */
  gapsOmitted: number;
}

export interface AuditReportOptions {
  subjects?: Subjects;
  /** Count from after this CIM_AUDIT sequence (the previous audit report's `period.toSeq`). */
  afterSeq?: number;
  previousReport?: string | null;
  maxGaps?: number;
}

/** Where the next audit report's period starts: after the newest audit report's period, or at the beginning. */
export function auditPeriodStart(ledger: Ledger): { afterSeq: number; previousReport: string | null } {
  const head = ledger.head('audit');
  if (!head) return { afterSeq: 0, previousReport: null };
  const results = decodeReport(ledger.get(head)!.bytes, `ledger entry ${head}`).report.results as {
    period?: { toSeq?: unknown };
  } | null;
  const toSeq = results?.period?.toSeq;
  return { afterSeq: typeof toSeq === 'number' && toSeq >= 0 ? toSeq : 0, previousReport: head };
}

/** Reads CIM_AUDIT once (memory per writer, actor and action, not per record). */
export async function buildAuditReport(
  nc: NatsConnection,
  options: AuditReportOptions = {},
): Promise<AuditReportResults> {
  const subjects = options.subjects ?? new Subjects();
  const afterSeq = options.afterSeq ?? 0;
  const jsm = await nc.jetstreamManager();
  const findings = new FindingList(options.maxGaps ?? 1_000);
  const results: AuditReportResults = {
    period: { afterSeq, toSeq: afterSeq, from: null, to: null, previousReport: options.previousReport ?? null },
    records: 0,
    messages: 0,
    totals: { records: 0, messages: 0, writers: 0 },
    byActor: [],
    byAction: [],
    byOutcome: [],
    writers: [],
    gaps: [],
    gapsOmitted: 0,
  };
  let state;
  try {
    ({ state } = await jsm.streams.info(AUDIT_STREAM, { deleted_details: true }));
  } catch (error) {
    if (!isNotFound(error)) throw error;
    results.gaps.push({ kind: 'stream-missing', message: `${AUDIT_STREAM} does not exist: there is no audit log` });
    return results;
  }
  results.period.toSeq = state.last_seq;
  const actors = new Map<string, number>();
  const actions = new Map<string, number>();
  const outcomes = new Map<string, number>();
  const perWriter = new Map<string, number>();
  const checker = new AuditChainChecker(subjects, findings);
  checker.onRecord = ({ record }, streamSeq) => {
    if (streamSeq <= afterSeq) return;
    results.records++;
    bump(actors, record.actor);
    bump(actions, record.action);
    bump(outcomes, record.outcome);
    bump(perWriter, record.writer);
    if (results.period.from === null || record.at < results.period.from) results.period.from = record.at;
    if (results.period.to === null || record.at > results.period.to) results.period.to = record.at;
  };
  if (state.messages > 0) {
    for await (const m of readStream(nc.jetstream(), {
      stream: AUDIT_STREAM,
      fromSeq: state.first_seq,
      toSeq: state.last_seq,
    })) {
      results.totals.messages++;
      if (m.seq > afterSeq) results.messages++;
      checker.check({
        streamSeq: m.seq,
        subject: m.subject,
        data: m.data,
        claimedCid: m.headers?.get('Cim-Cid') || undefined,
      });
    }
  }
  // The audit log keeps every record: a sequence missing from it (deleted, or before its first) is a gap.
  if (state.first_seq > 1 && state.messages > 0)
    findings.add(removed(1, state.first_seq - 1, `${AUDIT_STREAM} starts at seq ${state.first_seq}`));
  for (const seq of state.deleted ?? []) findings.add(removed(seq, seq, `${AUDIT_STREAM} seq ${seq} was deleted`));

  results.totals.records = checker.records;
  results.totals.writers = checker.aggregates;
  results.byActor = sorted(actors).map(([actor, count]) => ({ actor, count }));
  results.byAction = sorted(actions).map(([action, count]) => ({ action, count }));
  results.byOutcome = sorted(outcomes).map(([outcome, count]) => ({ outcome, count }));
  results.writers = checker
    .heads()
    .sort((a, b) => a.writer.localeCompare(b.writer))
    .map((h) => ({
      writer: h.writer,
      head: h.cid,
      seq: h.seq,
      streamSeq: h.streamSeq,
      records: perWriter.get(h.writer) ?? 0,
    }));
  results.gaps = findings.list.map(gapOf);
  results.gapsOmitted = findings.omitted;
  return results;
}

/** The audit report's findings: each gap (high: the log no longer shows everything that was done). */
export function auditFindings(results: AuditReportResults): ReportFinding[] {
  const findings: ReportFinding[] = results.gaps.map((gap) => ({
    id: `audit:${gap.kind}:${gap.streamSeq ?? 0}${gap.writer ? `:${gap.writer}` : ''}`,
    check: 'audit-completeness',
    severity: 'high',
    message: gap.message,
    evidence: gap,
  }));
  if (results.gapsOmitted > 0)
    findings.push({
      id: 'audit:gaps-omitted',
      check: 'audit-completeness',
      severity: 'high',
      message: `${results.gapsOmitted} more gaps were counted, not listed`,
    });
  return findings;
}

function removed(from: number, to: number, message: string): Finding {
  return {
    domain: 'audit',
    stream: AUDIT_STREAM,
    kind: 'events-removed',
    streamSeq: from,
    expected: 'a record',
    actual: 'deleted',
    message: `${message}: ${from === to ? `seq ${from} is` : `seq ${from}..${to} are`} gone, and audit records are kept for good`,
  };
}

function gapOf(f: Finding): AuditGap {
  return {
    kind: f.kind,
    ...(f.streamSeq !== undefined ? { streamSeq: f.streamSeq } : {}),
    ...(f.aggregateId !== undefined ? { writer: f.aggregateId } : {}),
    ...(f.expected !== undefined ? { expected: f.expected } : {}),
    ...(f.actual !== undefined ? { actual: f.actual } : {}),
    message: f.message,
  };
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Largest count first, then by name: the same log always gives the same order. */
function sorted(map: Map<string, number>): [string, number][] {
  return [...map].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
