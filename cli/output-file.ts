// Files a user names for a verb's output (`--out`, `--junit`, `--markdown`): one behaviour for
// every writer. A file is written whole or not at all (a temporary beside it, then renamed), and
// an existing one is replaced only with `--force`; a Markdown summary is appended to instead, as CI
// step summaries (`$GITHUB_STEP_SUMMARY`) are meant to be. Checked before the work starts, so an
// hour-long run does not end in "exists".
import { appendFileSync, existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CimError } from '../appliance/index.js';

/** Refuses, before any work, an output file that cannot be written: no such directory, a directory, or one that exists without `force`. */
export function checkOutputFile(path: string, flag: string, options: { force?: boolean; append?: boolean } = {}): void {
  const parent = dirname(path);
  if (!existsSync(parent) || !statSync(parent).isDirectory())
    throw new CimError('CIM-INVALID-INPUT', `${flag} ${path}: the directory ${parent} does not exist`);
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) throw new CimError('CIM-INVALID-INPUT', `${flag} ${path} is a directory`);
  if (!options.append && !options.force)
    throw new CimError('CIM-INVALID-INPUT', `${flag} ${path} exists`, {
      hint: 'Pass --force to replace it, or name another file.',
    });
}

/** Writes `text` to `path` whole: a temporary file beside it, renamed over it (replacing it only with `force`). */
export function writeOutputFile(path: string, text: string, flag: string, options: { force?: boolean } = {}): void {
  checkOutputFile(path, flag, options);
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new CimError('CIM-UNAVAILABLE', `${flag} ${path}: cannot write it: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Appends `text` to `path` (made when missing), after a blank line when the file has content: what was there stays. */
export function appendOutputFile(path: string, text: string, flag: string): void {
  checkOutputFile(path, flag, { append: true });
  const separator = existsSync(path) && statSync(path).size > 0 ? '\n' : '';
  try {
    appendFileSync(path, separator + text);
  } catch (error) {
    throw new CimError('CIM-UNAVAILABLE', `${flag} ${path}: cannot append to it: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
