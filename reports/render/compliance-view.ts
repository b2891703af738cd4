// What the Markdown and HTML renderings of a compliance, retention or audit report show, computed
// once: the verdict from the findings, the checkpoint (tree head, its origin, the verifier key of
// its signed note), and the evidence as tables. `reports/` reads the results structurally — the
// shapes compliance/ writes — without importing compliance/; a field that is not there is shown
// as missing, never guessed.
import { noteKeyId } from '../signed-note.js';
import { failingSeverity, SEVERITY_ORDER, type Report, type ReportFinding, type Severity } from '../types.js';
import { base64, count, MISSING } from './format.js';
import { toJsonValue } from './json.js';

export interface EvidenceTable {
  caption: string;
  headers: string[];
  rows: string[][];
  /** Cells from this column on are figures (right-aligned). */
  numericFrom: number;
}

export interface ComplianceView {
  verdict: { outcome: 'pass' | 'attention' | 'fail'; text: string };
  checkpoint?: {
    treeSize: number;
    root: string;
    origin?: string;
    previousSize?: number;
    /** The checkpoint note's verifier key, `<name>+<key ID>+<key>`. */
    vkey?: string;
    note?: string;
  };
  /** Said in a sentence, before the tables (e.g. that the checkpoint stops before a seal). */
  notes: string[];
  tables: EvidenceTable[];
}

export const COMPLIANCE_KINDS: readonly string[] = ['compliance', 'retention', 'audit'];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const text = (v: unknown): string =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : MISSING;
/** A map's entries by key: a report read back from dag-cbor has its keys in another order than when written. */
const entries = (v: Record<string, unknown>): [string, unknown][] =>
  Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const json = (v: unknown): string => JSON.stringify(toJsonValue(v));
const num = (v: unknown): string => (typeof v === 'number' ? count(v) : MISSING);

/** The verdict a report's findings give: fail on any critical, high or error finding; attention on medium, low or warning. */
export function verdictOf(findings: readonly ReportFinding[]): ComplianceView['verdict'] {
  const bySeverity = new Map<Severity, number>();
  for (const f of findings) bySeverity.set(f.severity, (bySeverity.get(f.severity) ?? 0) + 1);
  const counted = SEVERITY_ORDER.filter((s) => s !== 'info' && bySeverity.has(s)).map(
    (s) => `${bySeverity.get(s)} ${s}`,
  );
  if (findings.some((f) => failingSeverity(f.severity)))
    return { outcome: 'fail', text: `fail: ${counted.join(', ')}` };
  if (counted.length > 0) return { outcome: 'attention', text: `pass with findings: ${counted.join(', ')}` };
  return { outcome: 'pass', text: 'pass: no finding above info' };
}

/** The view of a compliance, retention or audit report; undefined for other kinds. */
export function readComplianceView(report: Report): ComplianceView | undefined {
  if (!COMPLIANCE_KINDS.includes(report.kind)) return undefined;
  const results = isRecord(report.results) ? report.results : {};
  const view: ComplianceView = { verdict: verdictOf(report.findings), notes: [], tables: [] };
  if (report.checkpoint) view.checkpoint = checkpointOf(report);
  if (report.kind === 'compliance') view.tables.push(checksTable(results.checks));
  if (report.kind === 'retention') view.tables.push(...retentionTables(results.domains));
  if (report.kind === 'audit') view.tables.push(...auditTables(results));
  const coverage = isRecord(results.coverage) ? results.coverage : undefined;
  if (coverage) {
    const stop = isRecord(coverage.stoppedAt) ? coverage.stoppedAt : undefined;
    if (stop)
      view.notes.push(
        `The checkpoint covers the sealed events before seal ${text(stop.seal)} (${text(stop.domain)} seq ${text(stop.fromSeq)}..${text(stop.toSeq)}) only: ${text(stop.reason)}.`,
      );
    view.tables.push(coverageTable(coverage));
  }
  return view;
}

function checkpointOf(report: Report): NonNullable<ComplianceView['checkpoint']> {
  const c = report.checkpoint!;
  const out: NonNullable<ComplianceView['checkpoint']> = { treeSize: c.treeSize, root: base64(c.root) };
  if (c.previous) out.previousSize = c.previous.treeSize;
  if (c.note) {
    out.note = c.note;
    out.origin = c.note.slice(0, c.note.indexOf('\n'));
    const name = /^\u2014 (\S+) /mu.exec(c.note)?.[1];
    const raw = Buffer.from(report.signer.replace(/^ed25519:/, ''), 'base64url');
    if (name && raw.length === 32)
      out.vkey = `${name}+${Buffer.from(noteKeyId(name, raw)).toString('hex')}+${Buffer.concat([Buffer.from([1]), raw]).toString('base64')}`;
  }
  return out;
}

function examinedText(examined: unknown): string {
  if (!isRecord(examined)) return MISSING;
  const parts = entries(examined).map(([k, v]) => `${k} ${num(v)}`);
  return parts.length > 0 ? parts.join(', ') : MISSING;
}

const CHECK_SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

function checksTable(checks: unknown): EvidenceTable {
  return {
    caption: 'Checks run: what each examined, and its findings by severity',
    headers: ['check', 'examined', ...CHECK_SEVERITIES],
    rows: list(checks).map((c) => {
      const check = isRecord(c) ? c : {};
      const findings = isRecord(check.findings) ? check.findings : {};
      return [
        `${text(check.check)}${typeof check.title === 'string' ? ` (${check.title})` : ''}`,
        examinedText(check.examined),
        ...CHECK_SEVERITIES.map((s) => (typeof findings[s] === 'number' ? count(findings[s]) : '0')),
      ];
    }),
    numericFrom: 2,
  };
}

function policyText(policy: unknown): string {
  if (policy === null) return 'none';
  if (!isRecord(policy)) return MISSING;
  const parts = entries(policy).map(([k, v]) => `${k} ${typeof v === 'object' ? json(v) : String(v)}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function retentionTables(domains: unknown): EvidenceTable[] {
  const entries = list(domains).map((d) => (isRecord(d) ? d : {}));
  const removedRows: string[][] = [];
  const holdRows: string[][] = [];
  const summary = entries.map((d) => {
    const removed = list(d.removed).map((r) => (isRecord(r) ? r : {}));
    for (const r of removed)
      removedRows.push([
        text(d.domain),
        `${text(r.fromSeq)}..${text(r.toSeq)}`,
        num(r.count),
        text(r.seal),
        text(r.manifest),
        text(r.at),
      ]);
    for (const h of list(d.holds)) holdRows.push([text(d.domain), typeof h === 'string' ? h : json(h)]);
    const oldest = isRecord(d.oldestKept) ? `seq ${text(d.oldestKept.seq)} at ${text(d.oldestKept.at)}` : 'none';
    const removedEvents = removed.reduce((n, r) => n + (typeof r.count === 'number' ? r.count : 0), 0);
    return [
      text(d.domain),
      policyText(d.policy),
      oldest,
      count(list(d.holds).length),
      count(removed.length),
      count(removedEvents),
    ];
  });
  return [
    {
      caption: 'Per domain: the policy, the oldest event kept, holds, and what retention removed',
      headers: ['domain', 'policy', 'oldest kept', 'holds', 'ranges removed', 'events removed'],
      rows: summary,
      numericFrom: 3,
    },
    {
      caption: 'Ranges removed, each with the seal that proves what existed and its removal manifest',
      headers: ['domain', 'seq', 'events', 'seal', 'manifest', 'removed at'],
      rows: removedRows,
      numericFrom: 2,
    },
    { caption: 'Legal holds', headers: ['domain', 'hold'], rows: holdRows, numericFrom: 2 },
  ];
}

function countsTable(caption: string, key: string, entries: unknown): EvidenceTable {
  return {
    caption,
    headers: [key, 'records'],
    rows: list(entries).map((e) => (isRecord(e) ? [text(e[key]), num(e.count)] : [MISSING, MISSING])),
    numericFrom: 1,
  };
}

function auditTables(results: Record<string, unknown>): EvidenceTable[] {
  const period = isRecord(results.period) ? results.period : {};
  const totals = isRecord(results.totals) ? results.totals : {};
  const gaps = list(results.gaps).map((g) => (isRecord(g) ? g : {}));
  return [
    {
      caption: 'The period and what it holds',
      headers: ['', 'value'],
      rows: [
        ['CIM_AUDIT sequences', `after ${text(period.afterSeq)} up to ${text(period.toSeq)}`],
        ['first record', text(period.from)],
        ['last record', text(period.to)],
        ['records in the period', `${num(results.records)} in ${num(results.messages)} messages`],
        [
          'the whole log',
          `${num(totals.records)} records in ${num(totals.messages)} messages, ${num(totals.writers)} writers`,
        ],
        [
          'follows audit report',
          typeof period.previousReport === 'string' ? period.previousReport : 'none (the first)',
        ],
        [
          'gaps',
          `${count(gaps.length)}${typeof results.gapsOmitted === 'number' && results.gapsOmitted > 0 ? ` (and ${count(results.gapsOmitted)} more)` : ''}`,
        ],
      ],
      numericFrom: 2,
    },
    countsTable('Records by outcome', 'outcome', results.byOutcome),
    countsTable('Records by actor', 'actor', results.byActor),
    countsTable('Records by action', 'action', results.byAction),
    {
      caption: "Writer chains: each chain's head (its last record), and the records it wrote in the period",
      headers: ['writer', 'head CID', 'seq', 'stream seq', 'records'],
      rows: list(results.writers).map((w) => {
        const writer = isRecord(w) ? w : {};
        return [text(writer.writer), text(writer.head), num(writer.seq), num(writer.streamSeq), num(writer.records)];
      }),
      numericFrom: 2,
    },
    {
      caption: 'Gaps: chain breaks and sequences missing from CIM_AUDIT',
      headers: ['kind', 'stream seq', 'writer', 'what'],
      rows: gaps.map((g) => [text(g.kind), num(g.streamSeq), text(g.writer), text(g.message)]),
      numericFrom: 4,
    },
  ];
}

function coverageTable(coverage: Record<string, unknown>): EvidenceTable {
  const domains = isRecord(coverage.domains) ? coverage.domains : {};
  return {
    caption: `The checkpoint's leaves: ${num(coverage.events)} sealed event CIDs${typeof coverage.seals === 'number' ? ` from ${count(coverage.seals)} seals` : ''}, in seal order`,
    headers: ['domain', 'seals', 'events', 'removed by retention', 'sealed up to seq'],
    rows: entries(domains).map(([domain, d]) => {
      const entry = isRecord(d) ? d : {};
      return [domain, num(entry.seals), num(entry.events), num(entry.removed), num(entry.lastSealedSeq)];
    }),
    numericFrom: 1,
  };
}
