// The audit log: the record codec, the writer (an AuditSink), and reading it back — the public
// surface of appliance/audit (docs/architecture.md#audit-log).
export {
  AUDIT_VERSION,
  AuditRecordSchema,
  commandOutcome,
  decodeAuditMessage,
  decodeAuditRecord,
  encodeAuditBatch,
  encodeAuditRecord,
  MAX_RECORDS_PER_MESSAGE,
  namedAuditRecord,
  writerIdPattern,
  type AuditEntry,
  type AuditMessage,
  type AuditOutcome,
  type AuditRecord,
  type AuditSink,
  type AuditSource,
  type NamedAuditRecord,
} from './record.js';
export { AuditWriter, newWriterId, type AuditWriterOptions } from './writer.js';
export {
  auditLastSeq,
  followAuditLog,
  matchesFilter,
  readAuditLog,
  type AuditFilter,
  type TailedRecord,
} from './tail.js';
