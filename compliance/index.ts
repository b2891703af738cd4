// The compliance checks and reports: the checkpoint leaves over sealed events, the audit report's
// content, and the three signed reports `cim comply` writes (compliance, retention, audit).
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
