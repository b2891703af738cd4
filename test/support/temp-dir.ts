// Temporary directories that are removed after the test file, whatever happened in it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `cim-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
