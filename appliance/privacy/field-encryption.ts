// Encrypts and decrypts the personal-data fields domains declare (their `personalData`), with one key
// per data subject from the key store. The subject is the aggregate id. Without a key store, or once
// the subject's key is destroyed, the fields read as erased: null, and named under `$erased`.
import { CimError } from '../errors.js';
import { ERASED_FIELDS, type EventEnvelope, type PayloadProtection } from '../eventstore/index.js';
import { decryptField, encryptField, isSealedField } from './cipher.js';
import type { SubjectKeyStore } from './key-store.js';

/** Per domain, per event type, the payload fields that are personal data. */
export type PersonalDataMap = ReadonlyMap<string, Readonly<Record<string, readonly string[]>>>;

/** The personal-data declarations of served domains. */
export function personalDataOf(
  domains: readonly { name: string; definition: { personalData?: Record<string, string[]> } }[],
): PersonalDataMap {
  const map = new Map<string, Record<string, readonly string[]>>();
  for (const d of domains) if (d.definition.personalData) map.set(d.name, d.definition.personalData);
  return map;
}

export class FieldEncryption implements PayloadProtection {
  /**
   * `keys` undefined: a reader without the key store (every encrypted field reads as erased); such an
   * instance refuses to write personal data rather than store it in plain text.
   */
  constructor(
    private readonly personalData: PersonalDataMap,
    private readonly keys: SubjectKeyStore | undefined,
  ) {}

  covers(domain: string): boolean {
    return this.personalData.has(domain);
  }

  private fields(envelope: EventEnvelope): readonly string[] | undefined {
    const byType = this.personalData.get(envelope.domain);
    return byType && Object.hasOwn(byType, envelope.type) ? byType[envelope.type] : undefined;
  }

  protect(envelope: EventEnvelope): EventEnvelope {
    const fields = this.fields(envelope);
    if (!fields) return envelope;
    let payload: Record<string, unknown> | undefined;
    let key: Uint8Array | undefined;
    for (const field of fields) {
      if (!Object.hasOwn(envelope.payload, field) || envelope.payload[field] == null) continue;
      if (!key) {
        if (!this.keys)
          throw new CimError(
            'CIM-INTERNAL',
            `${envelope.domain}: personal data cannot be written without the key store`,
          );
        // Borrowed, not copied: used here before anything else can call the store.
        key = this.keys.borrowKeyForWrite(envelope.aggregateId);
        payload = { ...envelope.payload };
      }
      payload![field] = encryptField(key, this.place(envelope, field), envelope.payload[field]);
    }
    return payload ? { ...envelope, payload } : envelope;
  }

  reveal(envelope: EventEnvelope): EventEnvelope {
    const fields = this.fields(envelope);
    if (!fields) return envelope;
    let payload: Record<string, unknown> | undefined;
    let key: Uint8Array | undefined;
    let erased: string[] | undefined;
    for (const field of fields) {
      const sealed = envelope.payload[field];
      if (!isSealedField(sealed)) continue;
      if (!payload) {
        // Asked of the key store for every event (it asks SQLite, once per event-loop callback,
        // whether another connection committed): a key destroyed by another process is gone for
        // every request that arrives after the destruction.
        key = this.keys?.borrowKey(envelope.aggregateId);
        payload = { ...envelope.payload };
      }
      if (key) payload[field] = decryptField(key, this.place(envelope, field), sealed);
      else {
        payload[field] = null;
        (erased ??= []).push(field);
      }
    }
    if (!payload) return envelope;
    if (erased) payload[ERASED_FIELDS] = erased;
    return { ...envelope, payload };
  }

  erased(domain: string, aggregateId: string): boolean {
    return this.covers(domain) && this.keys?.status(aggregateId) === 'erased';
  }

  private place(envelope: EventEnvelope, field: string) {
    return { domain: envelope.domain, aggregateId: envelope.aggregateId, eventId: envelope.id, field };
  }
}
