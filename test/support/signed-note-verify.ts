// A verifier of C2SP signed notes and tlog checkpoints written from the specifications' text alone
// (c2sp.org/signed-note: Format, Signatures, Ed25519 signatures, Verifier keys; c2sp.org/tlog-checkpoint:
// Note text), importing nothing of the appliance — only node:crypto — so tests check the
// appliance's notes with an implementation that is not its own.
import { createHash, createPublicKey, verify } from 'node:crypto';

export interface Vkey {
  name: string;
  id: number;
  type: number;
  key: Buffer;
}

/** `<key name>+hex(32-bit key ID)+base64(signature type || public key)`; throws when malformed. */
export function parseVkey(vkey: string): Vkey {
  const parts = vkey.split('+');
  // The base64 part may itself hold '+': the name and the ID are the first two parts.
  if (parts.length < 3) throw new Error('vkey: three parts separated by +');
  const name = parts[0]!;
  const idText = parts[1]!;
  const material = parts.slice(2).join('+');
  if (name === '' || /\s/u.test(name)) throw new Error('vkey: bad key name');
  if (!/^[0-9a-f]{8}$/.test(idText)) throw new Error('vkey: the key ID is fixed-length lowercase hex');
  const decoded = Buffer.from(material, 'base64');
  if (decoded.toString('base64') !== material) throw new Error('vkey: the key is not standard base64');
  const type = decoded[0]!;
  const key = decoded.subarray(1);
  if (type !== 0x01 || key.length !== 32) throw new Error('vkey: only Ed25519 (type 0x01, 32 bytes) is supported');
  const id = Number.parseInt(idText, 16);
  const expected = createHash('sha256')
    .update(Buffer.concat([Buffer.from(name, 'utf8'), Buffer.from([0x0a, type]), key]))
    .digest()
    .readUInt32BE(0);
  if (expected !== id) throw new Error('vkey: the key ID does not match SHA-256(name || 0x0A || type || key)[:4]');
  return { name, id, type, key };
}

export interface VerifiedNote {
  text: string;
  signers: string[];
}

/**
 * Verifies a signed note with the given keys. Throws when the note is malformed, when a signature
 * of a known key (same name and ID) does not verify, or when no known key signed it; signatures of
 * unknown keys are ignored.
 */
export function verifyNote(note: string | Buffer, vkeys: readonly string[]): VerifiedNote {
  const bytes = typeof note === 'string' ? Buffer.from(note, 'utf8') : note;
  const textual = bytes.toString('utf8');
  if (!Buffer.from(textual, 'utf8').equals(bytes)) throw new Error('note: not valid UTF-8');
  for (const ch of textual) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 && c !== 0x0a) throw new Error('note: ASCII control character');
  }
  if (!textual.endsWith('\n')) throw new Error('note: must end in a newline');
  // The text is separated from the signatures by the last empty line.
  const lines = textual.slice(0, -1).split('\n');
  let blank = -1;
  for (let i = lines.length - 1; i >= 0; i--)
    if (lines[i] === '') {
      blank = i;
      break;
    }
  if (blank < 1) throw new Error('note: no text, or no blank line before the signatures');
  const text = `${lines.slice(0, blank).join('\n')}\n`;
  const signatureLines = lines.slice(blank + 1);
  if (signatureLines.length === 0) throw new Error('note: no signature lines');
  const keys = vkeys.map(parseVkey);
  const signers: string[] = [];
  for (const line of signatureLines) {
    if (!line.startsWith('\u2014 ')) throw new Error(`note: signature line does not start with an em dash: ${line}`);
    const rest = line.slice(2);
    const space = rest.lastIndexOf(' ');
    if (space <= 0) throw new Error('note: signature line without a key name and a signature');
    const name = rest.slice(0, space);
    const sig64 = rest.slice(space + 1);
    if (/\s|\+/u.test(name)) throw new Error('note: key name with a space or a plus');
    const sig = Buffer.from(sig64, 'base64');
    if (sig.toString('base64') !== sig64 || sig.length < 4)
      throw new Error('note: signature is not base64 of 4+n bytes');
    const id = sig.readUInt32BE(0);
    const known = keys.find((k) => k.name === name && k.id === id);
    if (!known) continue;
    const publicKey = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), known.key]),
      format: 'der',
      type: 'spki',
    });
    if (!verify(null, Buffer.from(text, 'utf8'), publicKey, sig.subarray(4)))
      throw new Error(`note: the signature of the known key ${name} does not verify`);
    signers.push(name);
  }
  if (signers.length === 0) throw new Error('note: no signature from a known key');
  return { text, signers };
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  extensions: string[];
}

/** A tlog checkpoint: at least three non-empty lines, origin, decimal tree size, base64 root hash. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new Error('checkpoint: the text ends in a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3 || lines.some((l) => l === '')) throw new Error('checkpoint: three or more non-empty lines');
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  if (!/^(0|[1-9]\d*)$/.test(size)) throw new Error('checkpoint: tree size is decimal without leading zeroes');
  const hash = Buffer.from(root, 'base64');
  if (hash.toString('base64') !== root) throw new Error('checkpoint: root hash is not standard base64');
  return { origin, size: Number(size), root: hash, extensions };
}

/** Verifies a checkpoint note with the given keys and returns its parsed text. */
export function verifyCheckpoint(note: string | Buffer, vkeys: readonly string[]): Checkpoint & VerifiedNote {
  const opened = verifyNote(note, vkeys);
  return { ...opened, ...parseCheckpoint(opened.text) };
}
