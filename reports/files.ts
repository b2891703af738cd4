// Report files: `<state>/reports/<cid>.<ext>`, each written once — built under a temporary name
// and linked into place, so a crash leaves no half-written file and an existing file is never
// replaced — then made read-only (0444).
import { chmodSync, linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CimError } from '../appliance/index.js';

export function reportsDir(stateDir: string): string {
  return join(stateDir, 'reports');
}

export function reportFile(stateDir: string, cid: string, extension: string): string {
  return join(reportsDir(stateDir), `${cid}.${extension}`);
}

/** Writes `data` to `path` once: CIM-INVALID-INPUT when the file exists. */
export function writeOnce(path: string, data: Uint8Array | string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(temporary, data, { mode: 0o644 });
  try {
    chmodSync(temporary, 0o444);
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CimError('CIM-INVALID-INPUT', `${path} exists; it is written once and never replaced`);
    }
    throw new CimError('CIM-UNAVAILABLE', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    rmSync(temporary, { force: true });
  }
}
