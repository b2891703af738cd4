// Scrubs an SQLite file in WAL mode of what was deleted from it: with `secure_delete` on, deleted
// content is zeroed in the database's pages, but the WAL still holds older versions of those pages
// until a checkpoint copies it into the database and truncates it. The subject key store and the
// read models both need this after an erasure (docs/architecture.md#erasure-crypto-shredding).
import type { Database } from 'better-sqlite3';
import { CimError } from './errors.js';
import { sleep } from './sleep.js';

/**
 * Checkpoints the WAL with TRUNCATE until it is complete. A reader of another process that still
 * reads an older snapshot of the WAL holds the checkpoint back, so it is retried until `timeoutMs`,
 * then CIM-UNAVAILABLE with `what` named and `hint` given.
 */
export async function truncateWal(
  db: Database,
  options: { timeoutMs: number; what: string; hint: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    // Without waiting inside SQLite: its busy wait would block this process's event loop, and with
    // it a reader of this very process that is about to let go.
    db.pragma('busy_timeout = 0');
    let result: { busy: number; log: number } | undefined;
    try {
      [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number }[];
    } finally {
      db.pragma('busy_timeout = 5000');
    }
    if (result && result.busy === 0 && result.log <= 0) return;
    if (Date.now() > deadline)
      throw new CimError('CIM-UNAVAILABLE', `${options.what} could not be checkpointed: a reader holds its WAL`, {
        hint: options.hint,
      });
    await sleep(20);
  }
}
