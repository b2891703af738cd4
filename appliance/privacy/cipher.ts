// Field encryption for personal data (docs/architecture.md#erasure-crypto-shredding): AES-256-GCM
// with a random 12-byte IV per field, and associated data that binds the ciphertext to its place
// (domain, aggregate, event, field), so a ciphertext copied into another event or field does not
// decrypt there. A sealed field is one byte string: version ‖ IV ‖ ciphertext ‖ tag.
import * as dagCbor from '@ipld/dag-cbor';
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { CimError } from '../errors.js';
import { textItem } from '../eventstore/cbor-head.js';

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

const AAD_TAG = Buffer.from('cim-field-v1', 'utf8');

/**
 * The associated data of a field: its place, each part length-prefixed (u32 big-endian) so no two
 * places share one: tag ‖ domain ‖ aggregate id ‖ event id ‖ field. Built in one allocation.
 */
export function fieldAad(place: FieldPlace): Buffer {
  const { domain, aggregateId, eventId, field } = place;
  const d = Buffer.byteLength(domain, 'utf8');
  const a = Buffer.byteLength(aggregateId, 'utf8');
  const e = Buffer.byteLength(eventId, 'utf8');
  const f = Buffer.byteLength(field, 'utf8');
  const out = Buffer.allocUnsafe(20 + AAD_TAG.length + d + a + e + f);
  let at = out.writeUInt32BE(AAD_TAG.length, 0);
  at += AAD_TAG.copy(out, at);
  at = out.writeUInt32BE(d, at);
  at += out.write(domain, at, 'utf8');
  at = out.writeUInt32BE(a, at);
  at += out.write(aggregateId, at, 'utf8');
  at = out.writeUInt32BE(e, at);
  at += out.write(eventId, at, 'utf8');
  at = out.writeUInt32BE(f, at);
  out.write(field, at, 'utf8');
  return out;
}

// IVs come from a pool of CSPRNG bytes rather than one randomBytes call each (a call costs more
// than the pool's share of a refill). Every IV is still 12 fresh random bytes: each byte of the
// pool is handed out once, and the whole pool is refilled from the CSPRNG before any is handed out
// again, so no IV is reused. The pool is per process and per worker thread (module state): nothing
// copies it into another process.
const IV_POOL_BYTES = IV_BYTES * 341; // 4092 bytes
const ivPool = Buffer.allocUnsafeSlow(IV_POOL_BYTES);
let ivTaken = IV_POOL_BYTES;

/** Writes a fresh random IV into `out` at `offset`. */
function drawIv(out: Uint8Array, offset: number): void {
  if (ivTaken === IV_POOL_BYTES) {
    randomFillSync(ivPool);
    ivTaken = 0;
  }
  out.set(ivPool.subarray(ivTaken, ivTaken + IV_BYTES), offset);
  ivTaken += IV_BYTES;
}

/** The value's dag-cbor: a text string (the usual personal datum) encoded directly, the same bytes. */
function encodeValue(value: unknown): Uint8Array {
  return typeof value === 'string' ? textItem(value) : dagCbor.encode(value);
}

/** Encrypts one field's value (any dag-cbor value) with the subject's key. */
export function encryptField(key: Uint8Array, place: FieldPlace, value: unknown): Uint8Array {
  if (key.length !== KEY_BYTES) throw new CimError('CIM-INTERNAL', `a subject key has ${KEY_BYTES} bytes`);
  const plain = encodeValue(value);
  const out = new Uint8Array(1 + IV_BYTES + plain.length + TAG_BYTES);
  out[0] = VERSION;
  drawIv(out, 1);
  const cipher = createCipheriv('aes-256-gcm', key, out.subarray(1, 1 + IV_BYTES));
  cipher.setAAD(fieldAad(place));
  // GCM is a stream mode: update gives exactly the plaintext's length, final nothing more.
  out.set(cipher.update(plain), 1 + IV_BYTES);
  cipher.final();
  out.set(cipher.getAuthTag(), 1 + IV_BYTES + plain.length);
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
    const plain = decipher.update(sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES));
    decipher.final(); // throws unless the tag authenticates; GCM yields no more bytes here
    return dagCbor.decode(plain);
  } catch (error) {
    throw new CimError('CIM-INVALID-EVENT', `${describe(place)}: the encrypted field does not authenticate`, {
      cause: error,
    });
  }
}

// Names the place by ids only: never a value.
const describe = (p: FieldPlace) => `${p.domain}/${p.aggregateId} event ${p.eventId} field ${p.field}`;
