// Checkpoints as C2SP signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint), so standard
// transparency-log tooling can check a report's tree head: the note text is the origin line, the
// tree size in decimal and the standard base64 of the RFC 6962 root, each ending in a newline; then
// a blank line and one line per signature, `— <key name> base64(key ID ‖ Ed25519 signature)`, the
// signature over the note text. The key ID is the first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖
// public key); a verifier key (vkey) is `<key name>+<hex key ID>+base64(0x01 ‖ public key)`.
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { CimError, type Signer } from '../appliance/index.js';

/** The signature type byte of Ed25519 note signatures. */
const ED25519 = 0x01;
const EM_DASH = '\u2014';

/** A checkpoint's origin (and its signing key's name): `cim-appliance/<cluster name>/compliance`. */
export function checkpointOrigin(clusterName: string): string {
  return assertKeyName(`cim-appliance/${clusterName}/compliance`);
}

// `\s` covers the Unicode spaces; control characters are not allowed anywhere in a note.
// eslint-disable-next-line no-control-regex
const NOT_IN_KEY_NAMES = /[\s+\u0000-\u001f\u007f\u0085]/u;

/** Key names are non-empty, with no Unicode space, no plus, no control character (the note's own rules). */
export function assertKeyName(name: string): string {
  if (name.length === 0 || NOT_IN_KEY_NAMES.test(name))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `${JSON.stringify(name)} is no note key name: it must be non-empty, with no spaces and no "+"`,
    );
  return name;
}

/** The raw 32-byte Ed25519 public key of a signer or verifier key. */
export function rawPublicKey(key: KeyObject | string): Uint8Array {
  const object = typeof key === 'string' ? createPublicKey(key) : key;
  const x = object.export({ format: 'jwk' }).x;
  if (object.asymmetricKeyType !== 'ed25519' || !x)
    throw new CimError('CIM-INVALID-INPUT', `a note key must be Ed25519, not ${object.asymmetricKeyType}`);
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

/** The 4-byte key ID: SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]. */
export function noteKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  const hash = createHash('sha256')
    .update(Buffer.from(name, 'utf8'))
    .update(Buffer.from([0x0a, ED25519]))
    .update(publicKey)
    .digest();
  return new Uint8Array(hash.subarray(0, 4));
}

/** The verifier key of a public key (PEM) under a key name. */
export function verifierKey(name: string, publicKeyPem: string): string {
  const key = rawPublicKey(publicKeyPem);
  const material = Buffer.concat([Buffer.from([ED25519]), key]).toString('base64');
  return `${assertKeyName(name)}+${Buffer.from(noteKeyId(name, key)).toString('hex')}+${material}`;
}

export interface NoteVerifierKey {
  name: string;
  keyId: Uint8Array;
  publicKey: KeyObject;
  /** The raw 32-byte Ed25519 key. */
  raw: Uint8Array;
}

/** Parses a vkey (`name+hex key ID+base64(0x01 ‖ key)`); CIM-INVALID-INPUT says what is wrong. */
export function parseVerifierKey(vkey: string): NoteVerifierKey {
  const bad = (why: string) => new CimError('CIM-INVALID-INPUT', `${JSON.stringify(vkey)} is no verifier key: ${why}`);
  const first = vkey.indexOf('+');
  const second = vkey.indexOf('+', first + 1);
  if (first <= 0 || second < 0) throw bad('expected <name>+<key ID>+<key>');
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  const material = vkey.slice(second + 1);
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw bad('the key ID is not 8 lowercase hex digits');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(material) || material.length % 4 !== 0) throw bad('the key is not base64');
  const bytes = Buffer.from(material, 'base64');
  if (bytes.length !== 33 || bytes[0] !== ED25519) throw bad('the key is not type 0x01 and 32 bytes of Ed25519');
  const raw = new Uint8Array(bytes.subarray(1));
  const keyId = noteKeyId(name, raw);
  if (Buffer.from(keyId).toString('hex') !== idHex) throw bad(`its key ID ${idHex} is not that of its name and key`);
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
  return { name, keyId, publicKey, raw };
}

/** The note text of a checkpoint: origin, tree size, base64 root, each line ending in a newline. */
export function checkpointText(origin: string, treeSize: number, root: Uint8Array): string {
  if (!Number.isSafeInteger(treeSize) || treeSize < 0)
    throw new CimError('CIM-INVALID-INPUT', `tree size ${treeSize} is not a count`);
  return `${origin}\n${treeSize}\n${Buffer.from(root).toString('base64')}\n`;
}

/** Signs a note text (it must end in a newline) with the signer's key under `name`: the whole note. */
export function signNote(text: string, name: string, signer: Signer): string {
  if (!text.endsWith('\n')) throw new CimError('CIM-INVALID-INPUT', 'a note text ends in a newline');
  const key = rawPublicKey(signer.publicKeyPem);
  const signature = signer.sign(Buffer.from(text, 'utf8'));
  const blob = Buffer.concat([noteKeyId(assertKeyName(name), key), signature]).toString('base64');
  return `${text}\n${EM_DASH} ${name} ${blob}\n`;
}

/** The signed checkpoint note of a tree head, its key name the origin (as tlog-checkpoint advises). */
export function signCheckpoint(origin: string, treeSize: number, root: Uint8Array, signer: Signer): string {
  return signNote(checkpointText(origin, treeSize, root), origin, signer);
}

export interface OpenedNote {
  text: string;
  /** Names of the known keys whose signatures verified. */
  verifiedBy: string[];
}

/**
 * Checks a signed note against known verifier keys: signatures of unknown keys are ignored; one
 * from a known key that fails rejects the note, and so does a note no known key signed.
 * CIM-VERIFY-FAILED says which.
 */
export function openNote(note: string, known: readonly NoteVerifierKey[]): OpenedNote {
  const fail = (why: string) => new CimError('CIM-VERIFY-FAILED', `signed note: ${why}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw fail('it holds a control character other than newline');
  if (!note.endsWith('\n')) throw fail('it does not end in a newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw fail('no blank line separates the text from the signatures');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  const verifiedBy: string[] = [];
  for (const line of lines) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line);
    if (!match) throw fail(`${JSON.stringify(line)} is no signature line`);
    const [, name, blob] = match as unknown as [string, string, string];
    const bytes = Buffer.from(blob, 'base64');
    if (bytes.length < 5) throw fail(`the signature of ${name} is too short`);
    const id = bytes.subarray(0, 4);
    const key = known.find((k) => k.name === name && Buffer.compare(Buffer.from(k.keyId), id) === 0);
    if (!key) continue;
    if (!verifySignature(null, Buffer.from(text, 'utf8'), key.publicKey, bytes.subarray(4)))
      throw fail(`the signature of ${name} (key ID ${id.toString('hex')}) does not verify`);
    verifiedBy.push(name);
  }
  if (verifiedBy.length === 0)
    throw fail(
      `no signature by a known key (known: ${known.map((k) => `${k.name}+${Buffer.from(k.keyId).toString('hex')}`).join(', ') || 'none'})`,
    );
  return { text, verifiedBy };
}

/** A checkpoint's note text read back: CIM-VERIFY-FAILED when it is not origin, size, root. */
export function parseCheckpointText(text: string): { origin: string; treeSize: number; root: Uint8Array } {
  const lines = text.split('\n');
  const [origin, size, root] = lines;
  if (lines.length < 4 || lines.at(-1) !== '' || !origin || !size || !root)
    throw new CimError('CIM-VERIFY-FAILED', 'checkpoint: expected an origin, a tree size and a root hash');
  if (!/^(0|[1-9][0-9]*)$/.test(size) || !Number.isSafeInteger(Number(size)))
    throw new CimError('CIM-VERIFY-FAILED', `checkpoint: tree size ${JSON.stringify(size)} is not a decimal count`);
  const hash = Buffer.from(root, 'base64');
  if (hash.length !== 32 || hash.toString('base64') !== root)
    throw new CimError('CIM-VERIFY-FAILED', `checkpoint: root ${JSON.stringify(root)} is not the base64 of 32 bytes`);
  return { origin, treeSize: Number(size), root: new Uint8Array(hash) };
}
