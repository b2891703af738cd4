// Retention with legal holds: the public surface of appliance/retention (docs/architecture.md#retention-and-legal-holds).
export {
  aggregateTarget,
  erasureHoldOf,
  holdName,
  HoldSet,
  HoldStore,
  readHolds,
  subjectTarget,
  type Hold,
  type HoldTarget,
} from './holds.js';
export {
  applyRetention,
  readSealRanges,
  type ApplyOptions,
  type DomainApplied,
  type RetentionApplied,
} from './applier.js';
export {
  decodeManifest,
  encodeManifest,
  MANIFEST_VERSION,
  manifestCid,
  parseRemovalTarget,
  publishManifest,
  readManifests,
  removalTarget,
  type DomainManifests,
  type ManifestPolicy,
  type NamedManifest,
  type RemovalManifest,
} from './manifest.js';
