// The state dir's signing key and seal records: created once and kept, verifiable by the public
// key alone; a changed byte or another key fails.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CID,
  decodeSeal,
  encodeSeal,
  isCimError,
  loadOrCreateSigner,
  loadStateVerifier,
  PRIVATE_KEY_FILE,
  sealSignedBy,
  Signer,
  signSeal,
  type SealBody,
} from '../../appliance/index.js';

const dirs: string[] = [];
const tempState = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cim-keys-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const body: SealBody = {
  v: 1,
  domain: 'person',
  fromSeq: 1,
  toSeq: 10,
  count: 10,
  merkleRoot: new Uint8Array(32).fill(7),
  prevSeal: null,
  at: '2026-11-25T10:00:00Z',
  signer: '',
};

describe('loadOrCreateSigner', () => {
  it('creates a private key only its owner can read, and the same key on every later load', () => {
    const state = tempState();
    const first = loadOrCreateSigner(state);
    expect(statSync(join(state, 'keys', PRIVATE_KEY_FILE)).mode & 0o777).toBe(0o600);
    const again = loadOrCreateSigner(state);
    expect(again.keyId).toBe(first.keyId);
    expect(first.keyId).toMatch(/^ed25519:[A-Za-z0-9_-]{43}$/);
    expect(loadStateVerifier(state)!.keyId).toBe(first.keyId);
  });

  it('refuses a damaged key file with a hint instead of silently making a new key', () => {
    const state = tempState();
    loadOrCreateSigner(state);
    writeFileSync(join(state, 'keys', PRIVATE_KEY_FILE), 'garbage');
    let error: unknown;
    try {
      loadOrCreateSigner(state);
    } catch (e) {
      error = e;
    }
    expect(isCimError(error, 'CIM-INVALID-CONFIG')).toBe(true);
    expect(readFileSync(join(state, 'keys', PRIVATE_KEY_FILE), 'utf8')).toBe('garbage');
  });

  it('has no verifier for a state dir that never had a key', () => {
    expect(loadStateVerifier(tempState())).toBeUndefined();
  });
});

describe('seal records', () => {
  const signer = Signer.ephemeral();

  it('round-trip through dag-cbor and verify with the public key', () => {
    const named = signSeal(body, signer);
    const decoded = decodeSeal(encodeSeal(named.seal));
    expect(decoded.cid.equals(named.cid)).toBe(true);
    expect(sealSignedBy(decoded, [signer.verifier()])).toBe('valid');
  });

  it('fail on a changed field, a changed signature byte, or a key nobody trusts', () => {
    const named = signSeal(body, signer);
    const altered = decodeSeal(encodeSeal({ ...named.seal, count: 9 }));
    expect(sealSignedBy(altered, [signer.verifier()])).toBe('bad-signature');
    const signature = new Uint8Array(named.seal.signature);
    signature[5]! ^= 0x80;
    expect(sealSignedBy(decodeSeal(encodeSeal({ ...named.seal, signature })), [signer.verifier()])).toBe(
      'bad-signature',
    );
    expect(sealSignedBy(named, [Signer.ephemeral().verifier()])).toBe('untrusted-signer');
  });

  it('refuses records that are no seal, naming the field', () => {
    const named = signSeal(body, signer);
    expect(() => decodeSeal(encodeSeal({ ...named.seal, count: 11 }))).toThrow(/count/);
    expect(() => decodeSeal(encodeSeal({ ...named.seal, prevSeal: 'x' as unknown as CID }))).toThrow(/prevSeal/);
    expect(() => decodeSeal(new Uint8Array([0xff]))).toThrow(/dag-cbor/);
  });
});
