// The sealed-field format does not change with how it is made: ciphertexts made by the first
// implementation (fixed key and IV, hard-coded here) still decrypt, the associated data is byte for
// byte the reference layout, new ciphertexts decrypt with the reference construction, the
// plaintext is the value's dag-cbor, and IVs stay fresh across refills of the IV pool.
import * as dagCbor from '@ipld/dag-cbor';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptField, encryptField, fieldAad, type FieldPlace } from '../../appliance/index.js';

/** The associated data as first built: each part length-prefixed (u32 big-endian), in this order. */
function referenceAad(place: FieldPlace): Buffer {
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

/** The plaintext, decrypted with the reference construction: version 1 ‖ IV(12) ‖ ciphertext ‖ tag(16). */
function referenceDecrypt(key: Uint8Array, place: FieldPlace, sealed: Uint8Array): Buffer {
  expect(sealed[0]).toBe(1);
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 13));
  decipher.setAAD(referenceAad(place));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(13, sealed.length - 16)), decipher.final()]);
}

const fixedKey = Uint8Array.from({ length: 32 }, (_, i) => i);
// Made by the first implementation of encryptField with IV 000102…0b.
const made = [
  {
    place: { domain: 'person', aggregateId: 'ada', eventId: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', field: 'name' },
    value: 'Ada Lovelace',
    hex: '01000102030405060708090a0b2b43b27ae5a9ad6de82df6e8d4c886bd0e964fee5802f89646216e3bc2',
  },
  {
    place: { domain: 'person', aggregateId: 'zoë-ü', eventId: 'e-2', field: 'email' },
    value: { nested: ['Grâce', 7] },
    hex: '01000102030405060708090a0be664b87eb691a77f0f27d0f9724b1b0884081f6bd66cff9ecf12323d29a547f743',
  },
];

const places: FieldPlace[] = [
  made[0]!.place,
  made[1]!.place,
  { domain: '', aggregateId: '', eventId: '', field: '' },
  { domain: 'd', aggregateId: 'ä'.repeat(300), eventId: '𝄞 clef', field: 'f'.repeat(70_000) },
];

describe('sealed-field format', () => {
  it('decrypts ciphertexts made by the first implementation', () => {
    for (const m of made) expect(decryptField(fixedKey, m.place, Buffer.from(m.hex, 'hex'))).toEqual(m.value);
  });

  it('builds the associated data byte for byte as the reference layout', () => {
    for (const place of places) expect(Buffer.from(fieldAad(place)).equals(referenceAad(place))).toBe(true);
  });

  it('makes ciphertexts the reference construction decrypts, of any dag-cbor value', () => {
    const key = randomBytes(32);
    const texts = ['', 'a', 'x'.repeat(23), 'x'.repeat(24), 'y'.repeat(255), 'y'.repeat(256), 'z'.repeat(65_536)];
    const odd = [
      'Zoë Ünïcödé 𝄞',
      'lone \ud800 surrogate',
      '\udfff',
      'nul \u0000 byte',
      'é'.repeat(12),
      'é'.repeat(128),
    ];
    const values: unknown[] = [...texts, ...odd, null, 42, -1, true, { a: [1, 'b'] }, new Uint8Array([1, 2])];
    for (const place of places)
      for (const value of values) {
        const sealed = encryptField(key, place, value);
        expect(sealed).toBeInstanceOf(Uint8Array);
        // The plaintext is the value's dag-cbor, byte for byte.
        expect(referenceDecrypt(key, place, sealed).equals(Buffer.from(dagCbor.encode(value)))).toBe(true);
        expect(decryptField(key, place, sealed)).toEqual(dagCbor.decode(dagCbor.encode(value)));
      }
  });

  it('draws a fresh IV for every field, across refills of its pool', () => {
    const key = randomBytes(32);
    const ivs = new Set<string>();
    const count = 2_000; // several pools' worth of IVs
    for (let i = 0; i < count; i++)
      ivs.add(Buffer.from(encryptField(key, made[0]!.place, 'same').subarray(1, 13)).toString('hex'));
    expect(ivs.size).toBe(count);
  });
});
