// What earlier verifications saw, kept in the state dir (`verified.json`, mode 0600): per domain
// the highest stream sequence and the number of seals. Both only grow in a healthy appliance, so
// a later verification that sees less has found a stream deleted and made anew, or seals removed.
// The file keeps the highest values ever seen: the finding stays until an operator who accepts
// the loss removes the file.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CimError } from '../errors.js';
import { SEALS_STREAM } from '../eventstore/names.js';
import type { Finding } from './findings.js';

export const WATERMARKS_FILE = 'verified.json';

export interface DomainWatermark {
  lastSeq: number;
  seals: number;
}

export type Watermarks = Record<string, DomainWatermark>;

export function watermarksFile(stateDir: string): string {
  return join(stateDir, WATERMARKS_FILE);
}

export function readWatermarks(stateDir: string): Watermarks {
  const file = watermarksFile(stateDir);
  if (!existsSync(file)) return Object.create(null) as Watermarks;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { domains?: Watermarks };
    return Object.assign(Object.create(null) as Watermarks, parsed.domains ?? {});
  } catch (error) {
    throw new CimError('CIM-INVALID-INPUT', `${file} is not what cim verify wrote: ${(error as Error).message}`, {
      hint: 'It records what earlier verifications saw; remove it to start again from what the cluster holds now.',
    });
  }
}

/** The findings of a domain that now shows less than an earlier verification saw. */
export function compareWithWatermark(
  domain: string,
  stream: string,
  seen: DomainWatermark | undefined,
  now: DomainWatermark,
  file: string,
): Finding[] {
  if (!seen) return [];
  const findings: Finding[] = [];
  if (now.lastSeq < seen.lastSeq) {
    findings.push({
      domain,
      stream,
      kind: 'events-removed',
      streamSeq: now.lastSeq,
      expected: `last seq ≥ ${seen.lastSeq}`,
      actual: `last seq ${now.lastSeq}`,
      message: `${stream} ends at seq ${now.lastSeq}, but an earlier verification saw seq ${seen.lastSeq} (the stream was deleted or replaced; recorded in ${file})`,
    });
  }
  if (now.seals < seen.seals) {
    findings.push({
      domain,
      stream: SEALS_STREAM,
      kind: 'seals-removed',
      expected: `≥ ${seen.seals} seals`,
      actual: `${now.seals} seals`,
      message: `${SEALS_STREAM} holds ${now.seals} seals of ${domain}, but an earlier verification saw ${seen.seals} (recorded in ${file})`,
    });
  }
  return findings;
}

/** Records the highest values seen, atomically (a crash leaves the old file or the new one). */
export function writeWatermarks(stateDir: string, before: Watermarks, now: Watermarks): void {
  const merged: Watermarks = Object.assign(Object.create(null) as Watermarks, before);
  for (const [domain, mark] of Object.entries(now)) {
    const old = merged[domain];
    merged[domain] = {
      lastSeq: Math.max(old?.lastSeq ?? 0, mark.lastSeq),
      seals: Math.max(old?.seals ?? 0, mark.seals),
    };
  }
  const file = watermarksFile(stateDir);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ version: 1, domains: merged }, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}
