// `cim comply`'s three signed reports (docs/architecture.md#reports): compliance (the checks'
// findings and what each examined), retention (per domain: policy, oldest event kept, holds,
// ranges removed with their seals) and audit (counts over the period, gaps, chain heads). Each
// carries a checkpoint over the sealed event CIDs (compliance/leaves.ts) with a consistency proof
// from its kind's previous report and the tree head as a signed C2SP checkpoint note. A log never
// signs a tree head inconsistent with one it signed: when the leaves read now do not extend the
// previous report's tree, the report keeps that tree head and says why in a critical finding.
import type { Signer } from '../appliance/index.js';
import {
  CheckpointTree,
  checkpointOrigin,
  decodeReport,
  Ledger,
  renderFiles,
  verifierKey,
  writeReport,
  type ReportEnvironment,
  type ReportFinding,
  type ReportKind,
  type Severity,
  type WrittenReport,
} from '../reports/index.js';
import { auditFindings, type AuditReportResults } from './audit-report.js';
import type { DomainRetention } from './checks/retention.js';
import type { CheckOutcome, ComplianceFinding } from './findings.js';
import type { SealedLeaves } from './leaves.js';

/** A compliance check's finding, as the checks produce it. */
export type CheckFinding = ComplianceFinding;

/** What one check returned: its findings, what it examined, and evidence of its own. */
export type CheckSummary = CheckOutcome & { title?: string };

/** The retention report's content for one domain (`retentionSummary`). */
export type RetentionDomainSummary = DomainRetention;

export interface RetentionSummary {
  domains: RetentionDomainSummary[];
}

export interface ComplianceReportsInput {
  compliance: { findings: readonly CheckFinding[]; checks: readonly CheckSummary[] };
  retention: RetentionSummary;
  audit: AuditReportResults;
  /** The checkpoint's leaves: from `sealedEventLeaves`, or the CIDs themselves. */
  leaves: SealedLeaves | readonly Uint8Array[];
  /** The cluster's name: the checkpoints' origin is `cim-appliance/<cluster name>/compliance`. */
  clusterName: string;
  environment: ReportEnvironment;
  config: Record<string, unknown>;
}

export interface ComplianceReportsOptions {
  stateDir: string;
  signer: Signer;
  now?: Date;
}

export interface WrittenComplianceReports {
  compliance: WrittenReport;
  retention: WrittenReport;
  audit: WrittenReport;
  /** The checkpoint notes' verifier key, `<origin>+<key ID>+<key>`. */
  vkey: string;
  origin: string;
  treeSize: number;
}

/** What the leaves cover, as the reports state it. */
export interface CheckpointCoverage {
  origin: string;
  events: number;
  seals?: number;
  domains?: SealedLeaves['domains'];
  stoppedAt?: SealedLeaves['stoppedAt'];
}

/** Writes the compliance, retention and audit reports, in that order, each chained to its kind's previous one. */
export function writeComplianceReports(
  input: ComplianceReportsInput,
  options: ComplianceReportsOptions,
): WrittenComplianceReports {
  const origin = checkpointOrigin(input.clusterName);
  const sealed = isSealedLeaves(input.leaves) ? input.leaves : undefined;
  const leaves = sealed ? sealed.leaves : (input.leaves as readonly Uint8Array[]);
  // One tree for the three reports: its root and each proof computed once.
  const tree = new CheckpointTree(leaves);
  const coverage: CheckpointCoverage = {
    origin,
    events: leaves.length,
    ...(sealed ? { seals: sealed.seals, domains: sealed.domains } : {}),
    ...(sealed?.stoppedAt ? { stoppedAt: sealed.stoppedAt } : {}),
  };
  const coverageFindings: ReportFinding[] = sealed?.stoppedAt
    ? [
        {
          id: `checkpoint:seal-not-reproduced:${sealed.stoppedAt.domain}:${sealed.stoppedAt.fromSeq}`,
          check: 'immutability',
          severity: 'critical',
          message: `the checkpoint covers the sealed events up to seal ${sealed.stoppedAt.seal} only: ${sealed.stoppedAt.reason}`,
          evidence: sealed.stoppedAt,
        },
      ]
    : [];

  const findings = [...input.compliance.findings].map((f) => ({ ...f }) as ReportFinding);
  const checks = input.compliance.checks.map((c) => ({
    check: c.check,
    ...(c.title ? { title: c.title } : {}),
    examined: c.examined,
    findings: countBySeverity(c.findings),
    ...(c.evidence === undefined ? {} : { evidence: c.evidence }),
  }));
  const common = { environment: input.environment, config: input.config, checkpointOrigin: origin };
  const write = (kind: ReportKind, title: string, results: unknown, kindFindings: ReportFinding[]) => {
    const keep = !extendsPrevious(options.stateDir, kind, tree);
    const all = keep
      ? [
          ...kindFindings,
          {
            id: 'checkpoint:not-extended',
            check: 'immutability',
            severity: 'critical' as const,
            message: `the ${leaves.length} sealed events read now do not extend the previous ${kind} report's checkpoint: events it covered were removed or changed; this report keeps that checkpoint`,
            evidence: { leaves: leaves.length, root: Buffer.from(tree.root()).toString('base64') },
          },
        ]
      : kindFindings;
    return writeReport(
      {
        kind,
        title,
        ...common,
        results,
        findings: all,
        ...(keep ? { keepPreviousCheckpoint: true } : { checkpointLeaves: tree }),
      },
      {
        stateDir: options.stateDir,
        signer: options.signer,
        render: renderFiles,
        ...(options.now ? { now: options.now } : {}),
      },
    );
  };

  const compliance = write('compliance', `Compliance report: ${input.clusterName}`, { checks, coverage }, [
    ...findings,
    ...coverageFindings,
  ]);
  const retention = write(
    'retention',
    `Retention report: ${input.clusterName}`,
    { domains: input.retention.domains, coverage },
    findings.filter((f) => f.check === 'retention'),
  );
  const audit = write(
    'audit',
    `Audit report: ${input.clusterName}`,
    { ...input.audit, coverage },
    auditFindings(input.audit),
  );
  return {
    compliance,
    retention,
    audit,
    vkey: verifierKey(origin, options.signer.publicKeyPem),
    origin,
    treeSize: compliance.named.report.checkpoint!.treeSize,
  };
}

function isSealedLeaves(leaves: ComplianceReportsInput['leaves']): leaves is SealedLeaves {
  return !Array.isArray(leaves) && 'leaves' in (leaves as object);
}

/** Whether the leaves extend the newest report of the kind's checkpoint (true when there is none). */
function extendsPrevious(stateDir: string, kind: ReportKind, tree: CheckpointTree): boolean {
  const ledger = Ledger.open(stateDir);
  try {
    const head = ledger.head(kind);
    if (!head) return true;
    const previous = decodeReport(ledger.get(head)!.bytes, `ledger entry ${head}`).report.checkpoint;
    return !previous || tree.extends(previous);
  } finally {
    ledger.close();
  }
}

function countBySeverity(findings: readonly CheckFinding[]): Partial<Record<Severity, number>> {
  const out: Partial<Record<Severity, number>> = {};
  for (const f of findings) out[f.severity] = (out[f.severity] ?? 0) + 1;
  return out;
}
