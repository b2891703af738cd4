// The CID-chained event store: the public surface of appliance/eventstore.
export { CID, cidEquals, cidOfBlock, parseCid, sha256 } from './cid.js';
export {
  decodeEnvelope,
  encodeEnvelope,
  ENVELOPE_VERSION,
  EnvelopeSchema,
  type EncodedEvent,
  type EventEnvelope,
  type Payload,
  type Reducer,
  rfc3339Time,
  subjectToken,
} from './envelope.js';
export { positionMsgId } from './append.js';
export {
  DEFAULT_BATCHES_IN_FLIGHT,
  MAX_BATCH_MESSAGES,
  type GroupCommitOptions,
  type GroupCommitStats,
} from './group-commit.js';
export { CommandLog, type CommandEventInfo, type CommandLogEntry, type CommandRecord } from './command-log.js';
export { uuidv7 } from './event-id.js';
export { createStream, DEFAULT_RETRY, isNotFound, waitForStreamLeader, type RetryPolicy } from './retry.js';
export {
  EMPTY_HEAD,
  EventStore,
  type AggregateHead,
  type AggregateRef,
  type AppendedEvent,
  type Causation,
  type EventStoreOptions,
  type Loaded,
  type NewEvent,
  type StoredEvent,
} from './event-store.js';
export {
  assertDomain,
  AUDIT_LOG,
  AUDIT_STREAM,
  COMMAND_BUCKET,
  domainStream,
  HOLDS_BUCKET,
  RESERVED_DOMAINS,
  RETENTION_STREAM,
  SEALS_STREAM,
  SNAPSHOT_BUCKET,
  Subjects,
} from './names.js';
export { COMMAND_WINDOW_MS, provision, type ProvisionOptions, type ProvisionReport } from './provision.js';
export {
  signSnapshot,
  snapshotSignedBy,
  SnapshotStore,
  type Snapshot,
  type SnapshotKeys,
  type SnapshotSignature,
  type SnapshotSigner,
  type SnapshotVerifier,
} from './snapshots.js';
export { firstUnread, readStream, type ReadRange } from './stream-reader.js';
export { UpcasterRegistry, type Migrate } from './upcasters.js';
export { decodeEvent, scanEnvelope, type ChainFields } from './envelope-read.js';
export { encodeEnvelopeBytes } from './envelope-encode.js';
export { ERASED_FIELDS, type PayloadProtection } from './payload-protection.js';
