// The results of a run as a JSON file in the state dir, written once: built under a temporary
// name and linked into place only when complete (a crash leaves no half-written file, and an
// existing file is never replaced), then made read-only.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeOnce } from '../reports/index.js';
import type { BenchResults } from './results.js';

export function writeResultsFile(path: string, results: BenchResults): string {
  writeOnce(path, JSON.stringify(results, null, 2) + '\n');
  return path;
}

/** `<state>/results/<runId>.json`. */
export function defaultResultsPath(stateDir: string, runId: string): string {
  const dir = join(stateDir, 'results');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${runId}.json`);
}
