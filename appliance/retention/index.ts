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
