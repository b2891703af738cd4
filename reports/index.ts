// Report documents (dag-cbor, CID, signature), the ledger and the renderers: the public surface of reports/.
export * from './types.js';
export { decodeReport, encodeReport, plainData, reportCid, reportSignedBy, signReport } from './document.js';
export { reportFile, reportsDir, writeOnce } from './files.js';
export { Ledger, LEDGER_FILE, type LedgerEntry } from './ledger.js';
export { verifyReport, type ReportVerification, type VerifyReportOptions } from './verify.js';
export {
  CheckpointTree,
  leavesExtend,
  writeReport,
  writeReportFiles,
  type NewReport,
  type WriteOptions,
  type WrittenReport,
} from './writer.js';
export {
  assertKeyName,
  checkpointOrigin,
  checkpointText,
  noteKeyId,
  openNote,
  parseCheckpointText,
  parseVerifierKey,
  signCheckpoint,
  signNote,
  verifierKey,
  type NoteVerifierKey,
  type OpenedNote,
} from './signed-note.js';
export { diffMetrics, type DiffRow } from './diff.js';
export { gateVerdict, type GateVerdict, type GateVerdictKind } from './gate-verdict.js';
export { loadReport, withLedger } from './lookup.js';
export { renderFiles } from './renderings.js';
export * from './render/index.js';
export { ReportJsonSchema, reportJsonSchema } from './report-json-schema.js';
export * from './verdict.js';
