// The seam through which the event store encrypts personal data (docs/architecture.md#erasure-crypto-shredding):
// a payload is protected after an event is made and before its envelope is encoded, so its CID,
// its chain and its seals cover ciphertext only, and revealed after it is decoded. The event store
// knows nothing of keys; appliance/privacy/ implements this.
import type { EventEnvelope } from './envelope.js';

/** The payload key an event read without its subject's key names its unreadable fields under. */
export const ERASED_FIELDS = '$erased';

export interface PayloadProtection {
  /** Whether events of `domain` may hold personal data (then none of its aggregates is snapshotted). */
  covers(domain: string): boolean;
  /** The envelope to encode: its declared personal-data fields encrypted with its subject's key. */
  protect(envelope: EventEnvelope): EventEnvelope;
  /**
   * The envelope as readers see it: its encrypted fields decrypted, or, when the subject's key is
   * gone (erased) or not available here, null with their names listed under `$erased`.
   */
  reveal(envelope: EventEnvelope): EventEnvelope;
  /**
   * Whether the aggregate's subject was erased: a state decrypted before (a command service's cache)
   * must then be read again, with its personal data erased.
   */
  erased(domain: string, aggregateId: string): boolean;
}
