// Temporary directories that are removed after the test file, whatever happened in it.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `cim-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A temporary directory for a whole test file, declared at its top: the path is known while the
 * file is collected, but the directory is made in beforeAll (before the file's own hooks) and
 * removed in afterAll, so a skipped or filtered-out file leaves nothing behind.
 */
export function fileTempDir(prefix: string): { path: string; remove: () => void } {
  const path = join(tmpdir(), `cim-${prefix}-${randomBytes(6).toString('hex')}`);
  const remove = () => rmSync(path, { recursive: true, force: true });
  beforeAll(() => void mkdirSync(path, { mode: 0o700 }));
  afterAll(remove);
  return { path, remove };
}
