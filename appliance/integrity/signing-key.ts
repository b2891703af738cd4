// The appliance's Ed25519 signing key: created in the state dir on first use (private key 0600),
// its public key exported beside it, so seals and reports can be checked by anyone, offline.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CimError } from '../errors.js';

export const PRIVATE_KEY_FILE = 'signing.ed25519.key';
export const PUBLIC_KEY_FILE = 'signing.ed25519.pub';

/** Who signed: `ed25519:` + base64url of the raw 32-byte public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  return `ed25519:${jwk.x}`;
}

export class Signer {
  readonly keyId: string;
  readonly publicKeyPem: string;

  constructor(private readonly privateKey: KeyObject) {
    const publicKey = createPublicKey(privateKey);
    this.keyId = keyIdOf(publicKey);
    this.publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** A key that lives only in memory (tests, and forged signatures in tamper tests). */
  static ephemeral(): Signer {
    return new Signer(generateKeyPairSync('ed25519').privateKey);
  }

  sign(bytes: Uint8Array): Uint8Array {
    return sign(null, bytes, this.privateKey);
  }

  /** The matching verifier, which is all a reader of seals needs. */
  verifier(): Verifier {
    return Verifier.fromPem(this.publicKeyPem);
  }
}

export class Verifier {
  readonly keyId: string;

  private constructor(private readonly key: KeyObject) {
    this.keyId = keyIdOf(key);
  }

  /** The public key itself (for checks in other formats, e.g. a checkpoint's signed note). */
  publicKey(): KeyObject {
    return this.key;
  }

  static fromPem(pem: string | Buffer, source = 'public key'): Verifier {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (error) {
      throw new CimError('CIM-INVALID-INPUT', `${source}: not a PEM public key (${(error as Error).message})`);
    }
    if (key.asymmetricKeyType !== 'ed25519')
      throw new CimError('CIM-INVALID-INPUT', `${source}: expected an Ed25519 key, got ${key.asymmetricKeyType}`);
    return new Verifier(key);
  }

  static fromFile(path: string): Verifier {
    let pem: Buffer;
    try {
      pem = readFileSync(path);
    } catch (error) {
      throw new CimError(
        'CIM-INVALID-INPUT',
        `cannot read public key ${path} (${(error as NodeJS.ErrnoException).code})`,
      );
    }
    return Verifier.fromPem(pem, path);
  }

  verify(bytes: Uint8Array, signature: Uint8Array): boolean {
    try {
      return verify(null, bytes, this.key, signature);
    } catch {
      return false; // a malformed signature is simply not a valid one
    }
  }
}

/**
 * The state dir's signing key, created on first use. Two processes starting at once both try an
 * exclusive create; the loser reads the winner's key, so a state dir never has two keys.
 */
export function loadOrCreateSigner(stateDir: string): Signer {
  const dir = join(stateDir, 'keys');
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let pem: string;
  try {
    pem = readFileSync(privatePath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const created = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    try {
      writeFileSync(privatePath, created, { flag: 'wx', mode: 0o600 });
      pem = created;
    } catch (raced) {
      if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
      pem = readFileSync(privatePath, 'utf8');
    }
  }
  let signer: Signer;
  try {
    signer = new Signer(createPrivateKey(pem));
  } catch (error) {
    throw new CimError('CIM-INVALID-CONFIG', `${privatePath}: not a PEM private key (${(error as Error).message})`, {
      hint: 'Restore the key from a backup; a new key would not match the signatures made so far.',
    });
  }
  writeFileSync(join(dir, PUBLIC_KEY_FILE), signer.publicKeyPem, { mode: 0o644 });
  return signer;
}

/** The state dir's public key, for verifying; undefined when no key was ever created there. */
export function loadStateVerifier(stateDir: string): Verifier | undefined {
  const dir = join(stateDir, 'keys');
  try {
    return Verifier.fromPem(readFileSync(join(dir, PUBLIC_KEY_FILE)), join(dir, PUBLIC_KEY_FILE));
  } catch (error) {
    if (error instanceof CimError) throw error;
    return undefined;
  }
}

/** The keys a verification trusts: the state dir's own (when it has one) and each public key file given. */
export function trustedVerifiers(stateDir: string, keyFiles: readonly string[] = []): Verifier[] {
  const trusted = keyFiles.map((file) => Verifier.fromFile(file));
  const own = loadStateVerifier(stateDir);
  if (own) trusted.push(own);
  return trusted;
}
