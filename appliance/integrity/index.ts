// Integrity: Merkle trees, seals and the sealer, signing keys, chain checks and verification
// with its findings — the public surface of appliance/integrity.
export {
  merkleRoot,
  MerkleAccumulator,
  inclusionProof,
  consistencyProof,
  verifyInclusion,
  verifyConsistency,
  leafHash,
} from './merkle.js';
export {
  decodeSeal,
  encodeSeal,
  SEAL_VERSION,
  sealCid,
  signSeal,
  sealSignedBy,
  type NamedSeal,
  type Seal,
  type SealBody,
} from './seal.js';
export { Sealer, type SealerHandle, type SealerOptions, type SealHead } from './sealer.js';
export {
  keyIdOf,
  loadOrCreateSigner,
  loadStateVerifier,
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
  Signer,
  trustedVerifiers,
  Verifier,
} from './signing-key.js';
export { AuditChainChecker } from './audit-check.js';
export { ChunkPacker, verifyChunk, type ChunkResult, type KernelContext, type PackedChunk } from './verify-kernel.js';
export { defaultWorkers } from './verify-pool.js';
export {
  listDomains,
  missingDomain,
  verifyAudit,
  verifyDomain,
  type DomainVerification,
  type VerifyOptions,
} from './verify.js';
export { ChainChecker, cidBytesOf, type StoredMessage } from './chain-check.js';
export { verifySnapshots, type SnapshotDomain, type SnapshotVerification } from './snapshot-check.js';
export { FindingList, type Finding, type FindingKind } from './findings.js';
export { renderSnapshotVerification, renderVerification } from './render-verification.js';
export { expectedStreams, type ExpectedStreams } from './expected-streams.js';
export {
  compareWithWatermark,
  readWatermarks,
  WATERMARKS_FILE,
  watermarksFile,
  writeWatermarks,
  type DomainWatermark,
  type Watermarks,
} from './watermarks.js';
export {
  bisectDifferences,
  compareReplicas,
  describeDivergence,
  describeRanges,
  renderReplicaComparison,
  messageDigest,
  toRanges,
  type CompareOptions,
  type ReplicaComparison,
  type ReplicaCopy,
  type ReplicaDivergence,
  type ReplicaMessage,
  type ReplicaView,
  type SealClaim,
  type SeqRange,
} from './replicas.js';
export { readReplicas, type ReplicaRead, type ReplicaReadOptions } from './replica-read.js';
