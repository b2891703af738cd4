// Projections at run time: read models in better-sqlite3, the live projector that feeds them from
// the domain streams, and replay (rebuild, time travel). The public surface of domain/projections.
export { Projector, type DomainProgress, type ProjectorOptions, type ProjectorProgress } from './projector.js';
export { ReadModel, type BatchResult, type ReadModelOptions, type SequencedEvent } from './read-model.js';
export { replay, type ReplayOptions, type ReplayResult } from './replay.js';
export type { RebuildWorkerSetup } from './rebuild-thread.js';
