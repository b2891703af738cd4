// The results of a run as a JSON file in the state dir, written once: built under a temporary
// name and linked into place only when complete (a crash leaves no half-written file, and an
// existing file is never replaced), then made read-only.
import { chmodSync, linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CimError } from '../appliance/index.js';
import type { BenchResults } from './results.js';

export function writeResultsFile(path: string, results: BenchResults): string {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, JSON.stringify(results, null, 2) + '\n', { mode: 0o644 });
  try {
    chmodSync(temporary, 0o444);
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CimError('CIM-INVALID-INPUT', `${path} exists; results are never overwritten`, { hint: 'Give another --out file.' });
    }
    throw new CimError('CIM-UNAVAILABLE', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    rmSync(temporary, { force: true });
  }
  return path;
}

/** `<state>/results/<runId>.json`. */
export function defaultResultsPath(stateDir: string, runId: string): string {
  const dir = join(stateDir, 'results');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${runId}.json`);
}
