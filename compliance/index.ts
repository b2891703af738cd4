// The compliance checks (docs/architecture.md#compliance-checks): immutability, erasure, access
// control, audit completeness and durability posture, each returning findings whose evidence an
// auditor can re-check; and the three signed reports `cim comply` writes (compliance, retention,
// audit) with their checkpoint leaves over sealed events — the public surface of compliance/.
export * from './findings.js';
export { DEFAULT_MAX_UNSEALED_AGE_MS, openCheckContext, type CheckContextOptions } from './context.js';
export { CHECKS, countBySeverity, failed, runChecks, selectChecks, type RunOptions } from './run.js';
export { KNOWN_BUGS, knownBugsOf, type BugMatch, type KnownBug } from './known-bugs.js';
export {
  evaluateMatrix,
  httpProbes,
  natsProbes,
  NEVER_SEQ,
  PROBE_STREAM,
  type MatrixCell,
  type MatrixScope,
  type Outcome,
  type Probe,
} from './access-matrix.js';
export { RoleProbe } from './access-probe.js';
export { fromIntegrityFinding, INTEGRITY_SEVERITY } from './verification.js';
export { serverFindings, streamFindings, type ServerPosture } from './checks/durability.js';
export { indexCommands, unexplained, type EventFacts } from './checks/audit-completeness.js';
export { erasedSubjects } from './checks/erasure.js';
export {
  sealedEventLeaves,
  type LeavesStop,
  type RemovedEventCid,
  type SealedLeaves,
  type SealedLeavesOptions,
} from './leaves.js';
export {
  auditFindings,
  auditPeriodStart,
  buildAuditReport,
  type AuditGap,
  type AuditReportOptions,
  type AuditReportResults,
} from './audit-report.js';
export {
  writeComplianceReports,
  type CheckFinding,
  type CheckpointCoverage,
  type CheckSummary,
  type ComplianceReportsInput,
  type ComplianceReportsOptions,
  type RetentionDomainSummary,
  type RetentionSummary,
  type WrittenComplianceReports,
} from './write-reports.js';
export { RemovedEvents, retentionCheck, retentionSummary, type DomainRetention } from './checks/retention.js';
