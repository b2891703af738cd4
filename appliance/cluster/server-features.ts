// What a nats-server version can do, decided from the version the running binary reports, so a
// setting an old server lacks is refused up front with the version that has it, never guessed.
import { CimError } from '../errors.js';
import { compareVersions } from './server-binary.js';

/** The first release of each feature the appliance uses or offers. */
export const FEATURE_SINCE = {
  /** `jetstream.sync_interval` in the server config. */
  syncInterval: '2.10.0',
  /** A consumer's `filter_subjects` array. */
  filterSubjects: '2.10.0',
  /** Per-message TTLs (`Nats-TTL`). */
  messageTtl: '2.11.0',
  /** Atomic batch publish (`Nats-Batch-Id`, `Nats-Batch-Sequence`, `Nats-Batch-Commit`). */
  atomicBatch: '2.12.0',
} as const;

export type ServerFeature = keyof typeof FEATURE_SINCE;

export function hasFeature(version: string, feature: ServerFeature): boolean {
  return compareVersions(version, FEATURE_SINCE[feature]) >= 0;
}

/** Refuses a setting the server cannot honour: CIM-INVALID-CONFIG (exit 2), naming the version that can. */
export function requireFeature(version: string, feature: ServerFeature, setting: string): void {
  if (hasFeature(version, feature)) return;
  throw new CimError(
    'CIM-INVALID-CONFIG',
    `${setting} needs nats-server ≥ ${FEATURE_SINCE[feature].replace(/\.0$/, '')}; this cluster runs ${version}`,
    {
      hint: 'Choose a newer server with --nats-server (e.g. --nats-server default; see `cim servers list`), or leave the setting out.',
    },
  );
}
