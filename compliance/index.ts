// The compliance checks: the shared finding and check shapes (findings.ts), and the retention check
// with the retention report's data (checks/retention.ts).
export * from './findings.js';
export { RemovedEvents, retentionCheck, retentionSummary, type DomainRetention } from './checks/retention.js';
