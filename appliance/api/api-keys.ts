// API keys for the HTTP gateway: each a bearer token mapped to a role and an actor. The key file
// holds only a salted scrypt hash of each key's secret, found by the key's non-secret id.
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { CimError, firstIssue } from '../errors.js';
import { safeText } from '../decider/safe-text.js';

export const ROLES = ['operator', 'writer', 'reader', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/** Who a verified key speaks for. */
export interface ApiKeyIdentity {
  keyId: string;
  role: Role;
  actor: string;
}

/** scrypt's cost: N = 2^14, r = 8, p = 1 (node's defaults, about 16 MiB and tens of ms per hash). */
const SCRYPT = { N: 16_384, r: 8, p: 1, keyLength: 32 } as const;

const base64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/);

const KeyEntrySchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9]{12}$/),
  role: z.enum(ROLES),
  actor: safeText().min(1).max(200),
  salt: base64,
  hash: base64,
  N: z.number().int().min(1024),
  r: z.number().int().min(1),
  p: z.number().int().min(1),
  created: z.string().optional(),
});
export type ApiKeyEntry = z.infer<typeof KeyEntrySchema>;

const KeyFileSchema = z.strictObject({ version: z.literal(1), keys: z.array(KeyEntrySchema) });

/** A key is `cim_<id>_<secret>`: the id finds the entry, only the secret is hashed. */
const TOKEN = /^cim_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

function scrypt(secret: string, salt: Buffer, entry: Pick<ApiKeyEntry, 'N' | 'r' | 'p'>): Promise<Buffer> {
  const options: ScryptOptions = { N: entry.N, r: entry.r, p: entry.p, maxmem: 256 * entry.N * entry.r };
  return new Promise((resolve, reject) =>
    scryptCallback(secret, salt, SCRYPT.keyLength, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** A new key: the token to hand out once, and the entry (hash only) to store. */
export async function createApiKey(
  role: Role,
  actor: string,
  /** scrypt's N; lower only where thousands of wrong secrets are verified on purpose (tests). */
  cost: number = SCRYPT.N,
): Promise<{ token: string; entry: ApiKeyEntry }> {
  const id = randomBytes(9).toString('hex').slice(0, 12);
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, { ...SCRYPT, N: cost });
  const entry = KeyEntrySchema.parse({
    id,
    role,
    actor,
    salt: salt.toString('base64'),
    hash: hash.toString('base64'),
    N: cost,
    r: SCRYPT.r,
    p: SCRYPT.p,
    created: new Date().toISOString(),
  });
  return { token: `cim_${id}_${secret}`, entry };
}

/**
 * Writes the key file private to its owner (0600), whatever the umask: written beside it and
 * renamed over it, so a reader (a running gateway) never sees half a file.
 */
export function writeKeyFile(path: string, entries: readonly ApiKeyEntry[]): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, `${JSON.stringify({ version: 1, keys: entries }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new CimError('CIM-INVALID-INPUT', `cannot write the API key file ${path}: ${(error as Error).message}`);
  }
}

/** Adds a new key to the key file (made if missing): the token is returned once, only its hash is kept. */
/**
 * Adds a new key to the key file. `before` runs once the key is made and before the file changes
 * (the CLI records the change in the audit log there); if it throws, the file is left as it was.
 */
export async function addApiKey(
  path: string,
  role: Role,
  actor: string,
  before?: (entry: ApiKeyEntry) => Promise<void>,
): Promise<{ token: string; entry: ApiKeyEntry }> {
  const parsedActor = KeyEntrySchema.shape.actor.safeParse(actor);
  if (!parsedActor.success)
    throw new CimError('CIM-INVALID-INPUT', `--actor: ${firstIssue(parsedActor.error, 'actor')}`);
  const entries = existsSync(path) ? readKeyFile(path) : [];
  const created = await createApiKey(role, parsedActor.data);
  await before?.(created.entry);
  writeKeyFile(path, [...entries, created.entry]);
  return created;
}

/** Removes a key by its id; false when the file has no such key. */
export function removeApiKey(path: string, id: string): boolean {
  const entries = readKeyFile(path);
  const kept = entries.filter((e) => e.id !== id);
  if (kept.length === entries.length) return false;
  writeKeyFile(path, kept);
  return true;
}

/** Reads a key file; one that others may read or write is refused, like an ssh key. */
export function readKeyFile(path: string): ApiKeyEntry[] {
  let text: string;
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0)
      throw new CimError('CIM-INVALID-CONFIG', `the API key file ${path} has mode ${mode.toString(8)}`, {
        hint: `Make it private to its owner: chmod 600 ${path}`,
      });
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof CimError) throw error;
    throw new CimError('CIM-INVALID-CONFIG', `cannot read the API key file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CimError('CIM-INVALID-CONFIG', `the API key file ${path} is not JSON`);
  }
  const parsed = KeyFileSchema.safeParse(json);
  if (!parsed.success) throw new CimError('CIM-INVALID-CONFIG', `${path}: ${firstIssue(parsed.error)}`);
  const ids = new Set<string>();
  for (const k of parsed.data.keys) {
    if (ids.has(k.id)) throw new CimError('CIM-INVALID-CONFIG', `${path}: key id ${k.id} appears twice`);
    ids.add(k.id);
  }
  return parsed.data.keys;
}

export interface KeyRingOptions {
  /**
   * How long a verified token is remembered in memory (default 60 s; 0: never), so a client's
   * requests cost one scrypt per window instead of one each. The cache is keyed by the token's
   * SHA-256, never the token itself.
   */
  cacheMs?: number;
  now?: () => number;
  /**
   * For a ring read from a file: how often the file is looked at again (default 2 s); a changed
   * file replaces the keys and forgets every verified token, so `cim keys add` and `cim keys
   * remove` take effect on a running gateway without a restart.
   */
  reloadMs?: number;
  /** Called when a changed key file cannot be used; the keys read before stay in force. */
  onReloadError?: (error: CimError) => void;
}

interface WatchedFile {
  path: string;
  reloadMs: number;
  checkedAt: number;
  stamp: string;
  onReloadError: (error: CimError) => void;
}

function fileStamp(path: string): string {
  const stat = statSync(path);
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

/** The keys a gateway accepts: verifies a bearer token with one scrypt, found by its id. */
export class KeyRing {
  private byId: Map<string, ApiKeyEntry>;
  private readonly cache = new Map<string, { identity: ApiKeyIdentity; until: number }>();
  /** Verifications running now, by the token's SHA-256: a burst with one new token costs one scrypt. */
  private readonly pending = new Map<string, Promise<ApiKeyIdentity | undefined>>();
  private readonly cacheMs: number;
  private readonly now: () => number;
  private watched: WatchedFile | undefined;

  constructor(entries: readonly ApiKeyEntry[], options: KeyRingOptions = {}) {
    this.byId = new Map(entries.map((e) => [e.id, e]));
    this.cacheMs = options.cacheMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** The keys of a key file, looked at again every `reloadMs`. */
  static fromFile(path: string, options: KeyRingOptions = {}): KeyRing {
    const stamp = existsSync(path) ? fileStamp(path) : '';
    const ring = new KeyRing(readKeyFile(path), options);
    ring.watched = {
      path,
      reloadMs: options.reloadMs ?? 2_000,
      checkedAt: ring.now(),
      stamp,
      onReloadError: options.onReloadError ?? (() => {}),
    };
    return ring;
  }

  /** Reads the key file again if it changed since it was last read (at most once per `reloadMs`). */
  private refresh(now: number): void {
    const watched = this.watched;
    if (!watched || now - watched.checkedAt < watched.reloadMs) return;
    watched.checkedAt = now;
    try {
      const stamp = fileStamp(watched.path);
      if (stamp === watched.stamp) return;
      this.byId = new Map(readKeyFile(watched.path).map((e) => [e.id, e]));
      watched.stamp = stamp;
      this.cache.clear();
    } catch (error) {
      watched.onReloadError(
        error instanceof CimError
          ? error
          : new CimError(
              'CIM-INVALID-CONFIG',
              `cannot read the API key file ${watched.path}: ${(error as Error).message}`,
            ),
      );
    }
  }

  get size(): number {
    return this.byId.size;
  }

  /** The identity of a valid token, undefined for anything else (unknown id, wrong secret, malformed). */
  async verify(token: string): Promise<ApiKeyIdentity | undefined> {
    const match = TOKEN.exec(token);
    if (!match) return undefined;
    const now = this.now();
    this.refresh(now);
    const [, id, secret] = match as unknown as [string, string, string];
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    const digest = createHash('sha256').update(token).digest('base64');
    const cached = this.cache.get(digest);
    if (cached && cached.until > now) return cached.identity;
    if (cached) this.cache.delete(digest);
    let running = this.pending.get(digest);
    if (!running) {
      running = this.check(entry, secret, digest, now).finally(() => this.pending.delete(digest));
      this.pending.set(digest, running);
    }
    return running;
  }

  private async check(
    entry: ApiKeyEntry,
    secret: string,
    digest: string,
    now: number,
  ): Promise<ApiKeyIdentity | undefined> {
    const expected = Buffer.from(entry.hash, 'base64');
    const actual = await scrypt(secret, Buffer.from(entry.salt, 'base64'), entry);
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
    const identity: ApiKeyIdentity = { keyId: entry.id, role: entry.role, actor: entry.actor };
    if (this.cacheMs > 0) {
      // Bounded: an entry per live token, the oldest dropped first.
      if (this.cache.size >= 10_000) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(digest, { identity, until: now + this.cacheMs });
    }
    return identity;
  }
}
