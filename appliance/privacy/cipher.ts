// Field encryption for personal data (docs/architecture.md#erasure-crypto-shredding): AES-256-GCM
// with a random 12-byte IV per field, and associated data that binds the ciphertext to its place
// (domain, aggregate, event, field), so a ciphertext copied into another event or field does not
// decrypt there. A sealed field is one byte string: version ‖ IV ‖ ciphertext ‖ tag.
import * as dagCbor from '@ipld/dag-cbor';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CimError } from '../errors.js';

export const KEY_BYTES = 32;
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Where a field's ciphertext belongs: what its associated data binds it to. */
export interface FieldPlace {
  domain: string;
  aggregateId: string;
  eventId: string;
  field: string;
}

/** The associated data of a field: its place, each part length-prefixed so no two places share one. */
export function fieldAad(place: FieldPlace): Buffer {
  const parts = ['cim-field-v1', place.domain, place.aggregateId, place.eventId, place.field].map((p) =>
    Buffer.from(p, 'utf8'),
  );
  const out: Buffer[] = [];
  for (const part of parts) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part.length);
    out.push(length, part);
  }
  return Buffer.concat(out);
}

/** Encrypts one field's value (any dag-cbor value) with the subject's key. */
export function encryptField(key: Uint8Array, place: FieldPlace, value: unknown): Uint8Array {
  if (key.length !== KEY_BYTES) throw new CimError('CIM-INTERNAL', `a subject key has ${KEY_BYTES} bytes`);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(fieldAad(place));
  const body = Buffer.concat([cipher.update(dagCbor.encode(value)), cipher.final()]);
  const out = new Uint8Array(1 + IV_BYTES + body.length + TAG_BYTES);
  out[0] = VERSION;
  out.set(iv, 1);
  out.set(body, 1 + IV_BYTES);
  out.set(cipher.getAuthTag(), 1 + IV_BYTES + body.length);
  return out;
}

/** Whether a stored value has the shape of a sealed field (it may still fail to decrypt). */
export function isSealedField(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length >= 1 + IV_BYTES + TAG_BYTES && value[0] === VERSION;
}

/**
 * Decrypts a sealed field. Throws CIM-INVALID-EVENT when it does not authenticate: the wrong key,
 * another place's ciphertext, or altered bytes.
 */
export function decryptField(key: Uint8Array, place: FieldPlace, sealed: Uint8Array): unknown {
  if (!isSealedField(sealed)) throw new CimError('CIM-INVALID-EVENT', `${describe(place)}: not an encrypted field`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 1 + IV_BYTES));
    decipher.setAAD(fieldAad(place));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plain = Buffer.concat([
      decipher.update(sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]);
    return dagCbor.decode(plain);
  } catch (error) {
    throw new CimError('CIM-INVALID-EVENT', `${describe(place)}: the encrypted field does not authenticate`, {
      cause: error,
    });
  }
}

// Names the place by ids only: never a value.
const describe = (p: FieldPlace) => `${p.domain}/${p.aggregateId} event ${p.eventId} field ${p.field}`;
