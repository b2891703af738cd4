// The gateway's key file: only salted scrypt hashes stored, a token verifies against its own
// entry and nothing else, and a key file others can read is refused.
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  addApiKey,
  createApiKey,
  isCimError,
  KeyRing,
  readKeyFile,
  removeApiKey,
  writeKeyFile,
} from '../../appliance/index.js';
import { fileTempDir } from '../support/temp-dir.js';

const dir = fileTempDir('api-keys');

describe('API keys', () => {
  it('given a new key, the file holds its hash and salt but never the token or its secret', async () => {
    const { token, entry } = await createApiKey('writer', 'alice');
    const path = join(dir.path, 'hash.json');
    writeKeyFile(path, [entry]);
    const text = readFileSync(path, 'utf8');
    expect(token.startsWith(`cim_${entry.id}_`)).toBe(true);
    // The whole secret: base64url has "_" in its alphabet, so splitting the token on "_" could cut
    // it down to a few characters that appear in the file by chance.
    const secret = token.slice(`cim_${entry.id}_`.length);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(text).not.toContain(secret);
    expect(text).toContain(entry.id);
    const [read] = readKeyFile(path);
    expect(read).toMatchObject({ id: entry.id, role: 'writer', actor: 'alice', N: 16_384 });
    expect(Buffer.from(read!.hash, 'base64')).toHaveLength(32);
    expect(Buffer.from(read!.salt, 'base64')).toHaveLength(16);
  });

  it('given two keys for the same role, each has its own salt and hash', async () => {
    const a = await createApiKey('reader', 'r');
    const b = await createApiKey('reader', 'r');
    expect(a.entry.salt).not.toBe(b.entry.salt);
    expect(a.entry.hash).not.toBe(b.entry.hash);
    expect(a.entry.id).not.toBe(b.entry.id);
  });

  it('when the right token is presented, it verifies to the role and actor of its entry', async () => {
    const { token, entry } = await createApiKey('auditor', 'audit-bot');
    const ring = new KeyRing([entry]);
    expect(await ring.verify(token)).toEqual({ keyId: entry.id, role: 'auditor', actor: 'audit-bot' });
  });

  it('when a wrong secret, an unknown id or a malformed token is presented, nothing verifies', async () => {
    const { token, entry } = await createApiKey('operator', 'ops');
    const other = await createApiKey('operator', 'ops');
    const ring = new KeyRing([entry], { cacheMs: 0 });
    const wrongSecret = `cim_${entry.id}_${other.token.slice(`cim_${other.entry.id}_`.length)}`;
    expect(await ring.verify(wrongSecret)).toBeUndefined();
    expect(await ring.verify(other.token)).toBeUndefined(); // its id is not in the ring
    expect(await ring.verify(`${token}x`)).toBeUndefined();
    expect(await ring.verify('')).toBeUndefined();
    expect(await ring.verify('cim_abc')).toBeUndefined();
    // The last character flipped: same id, same length, different secret.
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect(await ring.verify(flipped)).toBeUndefined();
  });

  it('given a verified token, it is remembered for the cache window and verified again after it', async () => {
    let now = 1_000;
    const { token, entry } = await createApiKey('writer', 'w');
    const ring = new KeyRing([entry], { cacheMs: 100, now: () => now });
    const first = await ring.verify(token);
    now += 50;
    expect(await ring.verify(token)).toEqual(first);
    now += 100;
    expect(await ring.verify(token)).toEqual(first);
    // A wrong token with the same id is never answered from the cache.
    expect(await ring.verify(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
  });

  it('the key file is written with mode 0600, and one others may read is refused', async () => {
    const { entry } = await createApiKey('reader', 'r');
    const path = join(dir.path, 'mode.json');
    writeKeyFile(path, [entry]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    chmodSync(path, 0o644);
    expect(() => readKeyFile(path)).toThrow(/mode 644/);
    try {
      readKeyFile(path);
    } catch (error) {
      expect(isCimError(error, 'CIM-INVALID-CONFIG')).toBe(true);
    }
  });

  it('a key file that is not JSON, has an unknown role or repeats an id is refused; a valid one loads', async () => {
    const { entry } = await createApiKey('reader', 'r');
    const path = join(dir.path, 'bad.json');
    writeKeyFile(path, [{ ...entry, role: 'admin' as 'reader' }]);
    expect(() => readKeyFile(path)).toThrow(/role/);
    writeKeyFile(path, [entry, entry]);
    expect(() => readKeyFile(path)).toThrow(/appears twice/);
    expect(() => readKeyFile(join(dir.path, 'missing.json'))).toThrow(/cannot read/);
    writeFileSync(path, '{ not json', { mode: 0o600 });
    expect(() => readKeyFile(path)).toThrow(/not JSON/);
    writeKeyFile(path, [entry]);
    expect(KeyRing.fromFile(path).size).toBe(1);
  });

  it('addApiKey makes the file (0600) or adds to it, keeps the others, and refuses an actor with control characters', async () => {
    const path = join(dir.path, 'added.json');
    const first = await addApiKey(path, 'writer', 'svc-a');
    const second = await addApiKey(path, 'reader', 'svc-b');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readKeyFile(path).map((e) => [e.id, e.role, e.actor])).toEqual([
      [first.entry.id, 'writer', 'svc-a'],
      [second.entry.id, 'reader', 'svc-b'],
    ]);
    const ring = KeyRing.fromFile(path);
    expect(await ring.verify(first.token)).toMatchObject({ role: 'writer', actor: 'svc-a' });
    const bad = await addApiKey(path, 'writer', 'evil\u001b[2J').catch((e: unknown) => e);
    expect(isCimError(bad, 'CIM-INVALID-INPUT')).toBe(true);
    expect(readKeyFile(path)).toHaveLength(2);
    // Written beside and renamed over: no temporary file is left behind.
    expect(readdirSync(dir.path).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('removeApiKey drops one key by id, and says false for an id the file does not have', async () => {
    const path = join(dir.path, 'removed.json');
    const a = await addApiKey(path, 'writer', 'a');
    const b = await addApiKey(path, 'writer', 'b');
    expect(removeApiKey(path, a.entry.id)).toBe(true);
    expect(removeApiKey(path, a.entry.id)).toBe(false);
    expect(readKeyFile(path).map((e) => e.id)).toEqual([b.entry.id]);
  });

  it('a ring read from a file sees keys added and removed after its reload interval, and keeps its keys when the file turns bad', async () => {
    const path = join(dir.path, 'reloaded.json');
    const a = await addApiKey(path, 'writer', 'a');
    let now = 1_000_000;
    const errors: string[] = [];
    const ring = KeyRing.fromFile(path, { now: () => now, reloadMs: 2_000, onReloadError: (e) => errors.push(e.code) });
    expect(await ring.verify(a.token)).toBeDefined();
    const b = await addApiKey(path, 'reader', 'b');
    expect(await ring.verify(b.token)).toBeUndefined(); // within the interval: not looked at yet
    now += 2_000;
    expect(await ring.verify(b.token)).toMatchObject({ actor: 'b' });
    removeApiKey(path, a.entry.id);
    now += 2_000;
    // Removed: the cached verification is forgotten with the old keys.
    expect(await ring.verify(a.token)).toBeUndefined();
    writeFileSync(path, 'not json', { mode: 0o600 });
    now += 2_000;
    expect(await ring.verify(b.token)).toMatchObject({ actor: 'b' });
    expect(errors).toEqual(['CIM-INVALID-CONFIG']);
  });
});
