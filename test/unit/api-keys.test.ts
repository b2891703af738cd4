// The gateway's key file: only salted scrypt hashes stored, a token verifies against its own
// entry and nothing else, and a key file others can read is refused.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createApiKey, isCimError, KeyRing, readKeyFile, writeKeyFile } from '../../appliance/index.js';
import { fileTempDir } from '../support/temp-dir.js';

const dir = fileTempDir('api-keys');

describe('API keys', () => {
  it('given a new key, the file holds its hash and salt but never the token or its secret', async () => {
    const { token, entry } = await createApiKey('writer', 'alice');
    const path = join(dir.path, 'hash.json');
    writeKeyFile(path, [entry]);
    const text = readFileSync(path, 'utf8');
    const secret = token.split('_')[2]!;
    expect(text).not.toContain(secret);
    expect(text).toContain(entry.id);
    expect(token.startsWith(`cim_${entry.id}_`)).toBe(true);
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
    const wrongSecret = `cim_${entry.id}_${other.token.split('_')[2]}`;
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
});
