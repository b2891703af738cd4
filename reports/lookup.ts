// Reports by reference: from the ledger (CID, prefix, latest, baseline:<name>) or from a .cbor
// file, and the ledger opened for one use and closed again.
import { readFileSync } from 'node:fs';
import { CimError } from '../appliance/index.js';
import { decodeReport } from './document.js';
import { Ledger } from './ledger.js';
import type { NamedReport } from './types.js';

/** A report by ledger reference, or from a `.cbor` file. */
export function loadReport(ledger: Ledger, ref: string): NamedReport {
  if (ref.endsWith('.cbor')) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(ref);
    } catch (error) {
      throw new CimError(
        'CIM-NOT-FOUND',
        `${ref}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    return decodeReport(bytes, ref);
  }
  const entry = ledger.resolve(ref);
  return decodeReport(entry.bytes, `ledger entry ${entry.cid}`);
}

/** Runs `fn` on the state dir's ledger. `readOnly` verbs create nothing: a missing ledger is an empty one. */
export function withLedger<T>(stateDir: string, fn: (ledger: Ledger) => T, options: { readOnly?: boolean } = {}): T {
  const ledger = Ledger.open(stateDir, options);
  try {
    return fn(ledger);
  } finally {
    ledger.close();
  }
}
