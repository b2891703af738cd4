// The subject key store (docs/architecture.md#erasure-crypto-shredding): one random AES-256 key per
// data subject, in `<state>/privacy/subject-keys.sqlite`, never in NATS. Destroying a key is the
// erasure: the subject's ciphertext in the streams, on every replica and in every backup of them,
// can no longer be read. So the file must not keep a copy of a destroyed key anywhere: secure_delete
// zeroes freed cells and pages, and after a destruction the WAL is checkpointed and truncated
// (retried until no reader holds it) so the old pages in it are gone too. An erased subject stays
// as a tombstone (its id and when), which tells "already erased" from "never known" and refuses
// new personal data for it. Rows are cached in memory; reads ask SQLite whether another connection
// committed to the file since (`PRAGMA data_version`) and drop the whole cache if so — once per
// callback of the event loop, and again after any store of this process committed — so an erasure
// by any process is seen by every read of a request that reached this process after it.
import Database from 'better-sqlite3';
import { randomFillSync } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CimError } from '../errors.js';
import { truncateWal } from '../sqlite-scrub.js';
import { KEY_BYTES } from './cipher.js';

export type SubjectStatus = 'active' | 'erased' | 'unknown';

export interface KeyStoreOptions {
  /** The key store's directory (default `<stateDir>/privacy`). */
  dir?: string;
  /** How long a destruction waits for readers of the WAL to let go before it gives up (ms). */
  scrubTimeoutMs?: number;
  /** How many subjects' rows the cache in memory holds at most (default 10 000); the oldest go first. */
  cacheEntries?: number;
}

/** A cached row: `key` is the store's own copy (zeroed when dropped), null when erased or unknown. */
interface Cached {
  status: SubjectStatus;
  key: Buffer | null;
}

/**
 * Per key store file, how many commits the stores of this process made to it: a store that sees the
 * count move asks SQLite again, so stores of one process see each other's commits at once.
 */
const commitsInProcess = new Map<string, number>();

/** The key store's file: in `dir`, else in the state dir's `privacy/`. */
export const keyStorePath = (stateDir: string, dir?: string) =>
  join(dir ?? join(stateDir, 'privacy'), 'subject-keys.sqlite');

export class SubjectKeyStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly select: Database.Statement<[string], { key: Buffer | null; erased_at: string | null }>;
  private readonly insert: Database.Statement<[string, Buffer, string]>;
  private readonly erase: Database.Statement<[string, string]>;
  private readonly scrubTimeoutMs: number;
  private readonly erasedAfter: Database.Statement<[string], { subjectId: string; erasedAt: string }>;
  private readonly dataVersion: Database.Statement<[], number>;
  private version: number;
  /** Whether data_version was read in this callback of the event loop (cleared by a microtask). */
  private checked = false;
  /** `commitsInProcess` for this file when data_version was last read. */
  private commitsSeen = 0;
  private readonly cache = new Map<string, Cached>();
  private readonly cacheEntries: number;

  private constructor(path: string, options: KeyStoreOptions) {
    this.path = path;
    this.scrubTimeoutMs = options.scrubTimeoutMs ?? 30_000;
    this.cacheEntries = Math.max(1, options.cacheEntries ?? 10_000);
    try {
      // Created private before SQLite opens it: its -wal and -shm files take the same mode.
      closeSync(openSync(path, 'a', 0o600));
      chmodSync(path, 0o600);
      this.db = new Database(path);
    } catch (error) {
      throw new CimError('CIM-UNAVAILABLE', `cannot open the subject key store ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.db.pragma('secure_delete = ON');
    this.db.pragma('journal_mode = WAL');
    // A key must be on disk before the ciphertext it encrypts is published: FULL syncs every commit.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS subject_keys (subject_id TEXT PRIMARY KEY, key BLOB, created_at TEXT NOT NULL, erased_at TEXT)',
    );
    this.select = this.db.prepare('SELECT key, erased_at FROM subject_keys WHERE subject_id = ?');
    this.insert = this.db.prepare(
      'INSERT INTO subject_keys (subject_id, key, created_at) VALUES (?, ?, ?) ON CONFLICT (subject_id) DO NOTHING',
    );
    this.erasedAfter = this.db.prepare(
      'SELECT subject_id AS subjectId, erased_at AS erasedAt FROM subject_keys WHERE erased_at >= ? ORDER BY erased_at',
    );
    this.erase = this.db.prepare(
      'UPDATE subject_keys SET key = NULL, erased_at = ? WHERE subject_id = ? AND erased_at IS NULL',
    );
    this.dataVersion = this.db.prepare<[], number>('PRAGMA data_version').pluck();
    this.version = this.dataVersion.get()!;
  }

  /** Opens (and creates, directory 0700 and file 0600) the state dir's key store. */
  static open(stateDir: string, options: KeyStoreOptions = {}): SubjectKeyStore {
    const path = keyStorePath(stateDir, options.dir);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    chmodSync(dirname(path), 0o700);
    return new SubjectKeyStore(path, options);
  }

  /**
   * The subject's key, as a copy the caller owns: undefined for an unknown or erased subject. Read
   * as `row` reads, so a key another process destroyed is gone for every request that arrives
   * after the destruction.
   */
  key(subjectId: string): Uint8Array | undefined {
    const key = this.borrowKey(subjectId);
    return key && Uint8Array.from(key);
  }

  /**
   * The subject's key itself, not a copy: the store zeroes it when it drops it from its cache, which
   * only a later call into this store can do. Use it at once (field encryption does) and keep no
   * reference; `key()` is for callers that keep one.
   */
  borrowKey(subjectId: string): Uint8Array | undefined {
    return this.row(subjectId).key ?? undefined;
  }

  status(subjectId: string): SubjectStatus {
    return this.row(subjectId).status;
  }

  /**
   * Subjects erased at or after `since` (an RFC 3339 time; '' for all), oldest first: what an
   * instance's own read model still has to catch up on.
   */
  erasedSince(since: string): { subjectId: string; erasedAt: string }[] {
    return this.erasedAfter.all(since);
  }

  /** A copy of the subject's key, made (random, synced to disk) on first use; refuses an erased subject. */
  keyForWrite(subjectId: string): Uint8Array {
    return Uint8Array.from(this.borrowKeyForWrite(subjectId));
  }

  /** `keyForWrite` without the copy: the same terms as `borrowKey`. */
  borrowKeyForWrite(subjectId: string): Uint8Array {
    let row = this.row(subjectId);
    if (row.status === 'unknown') {
      const made = randomFillSync(Buffer.alloc(KEY_BYTES));
      if (this.insert.run(subjectId, made, new Date().toISOString()).changes === 1) {
        this.committed();
        row = { status: 'active', key: made };
        this.remember(subjectId, row);
      } else {
        made.fill(0);
        this.forget(subjectId);
        row = this.row(subjectId); // another process made it first: its key wins
      }
    }
    if (row.key === null)
      throw new CimError('CIM-REJECTED', `subject ${subjectId} was erased: no personal data is stored for it again`);
    return row.key;
  }

  /** How many subjects the cache holds now. */
  get cachedSubjects(): number {
    return this.cache.size;
  }

  /**
   * The subject's row, from the cache when no other connection has committed to the file since the
   * cache was last known good. `PRAGMA data_version` changes exactly when another connection (of
   * this process or another) committed; this connection's own writes keep the cache right
   * themselves. It is read first, then the row: a row is never older than the version recorded.
   *
   * It is read once per callback of the event loop (a microtask clears the mark, and Node runs
   * every microtask before it starts the next I/O callback or timer), not for every read: it costs
   * a read transaction, about 5 µs under load, twice per command. That misses nothing a request
   * could depend on: every request handled in this callback arrived before the callback began, so
   * before its data_version read; an erasure that returned before such a request was sent had
   * committed before that read. Not once per turn of the loop: libuv runs many I/O callbacks in one
   * poll phase, and a later one can bring a request sent after an erasure the turn's first check
   * did not see. A commit by another store of this process is seen at once (`commitsInProcess`).
   */
  private row(subjectId: string): Cached {
    const commits = commitsInProcess.get(this.path) ?? 0;
    let current = this.checked && commits === this.commitsSeen;
    if (!current) {
      const version = this.dataVersion.get()!;
      this.commitsSeen = commits;
      if (!this.checked) {
        this.checked = true;
        queueMicrotask(() => (this.checked = false));
      }
      current = version === this.version;
      if (!current) {
        this.dropAll();
        this.version = version;
      }
    }
    if (current) {
      const cached = this.cache.get(subjectId);
      if (cached !== undefined) return cached;
    }
    const found = this.select.get(subjectId);
    const row: Cached =
      found === undefined
        ? { status: 'unknown', key: null }
        : { status: found.erased_at !== null ? 'erased' : 'active', key: found.key };
    this.remember(subjectId, row);
    return row;
  }

  private remember(subjectId: string, row: Cached): void {
    this.forget(subjectId);
    if (this.cache.size >= this.cacheEntries) {
      // Map order is insertion order: the oldest entry goes.
      const oldest = this.cache.keys().next().value as string;
      this.forget(oldest);
    }
    this.cache.set(subjectId, row);
  }

  /** Drops a subject's cached row, zeroing its key: the bytes are the store's own (a row read or made here). */
  private forget(subjectId: string): void {
    this.cache.get(subjectId)?.key?.fill(0);
    this.cache.delete(subjectId);
  }

  /** Tells the other stores of this process on the same file that it changed. */
  private committed(): void {
    const commits = (commitsInProcess.get(this.path) ?? 0) + 1;
    commitsInProcess.set(this.path, commits);
    this.commitsSeen = commits; // this connection's own commit: its cache is right already
  }

  private dropAll(): void {
    for (const row of this.cache.values()) row.key?.fill(0);
    this.cache.clear();
  }

  /**
   * Destroys the subject's key and scrubs the file so no copy of it remains: `erased` when a key
   * was destroyed now, `already-erased`, or `unknown` (nothing was ever stored for it).
   */
  async destroy(subjectId: string): Promise<'erased' | 'already-erased' | 'unknown'> {
    const changed = this.erase.run(new Date().toISOString(), subjectId).changes;
    if (changed === 1) this.committed();
    // This connection's own commit does not change its data_version: the cache is told here.
    if (changed === 1) this.remember(subjectId, { status: 'erased', key: null });
    const outcome = changed === 1 ? 'erased' : this.status(subjectId) === 'erased' ? 'already-erased' : 'unknown';
    // Also for an already-erased subject: a destruction that stopped before its scrub is completed.
    if (outcome !== 'unknown') await this.scrub();
    return outcome;
  }

  /**
   * Copies the WAL into the database and truncates it to nothing, so the pages that held a destroyed
   * key are neither in the WAL nor (secure_delete zeroed them) in the database. A checkpoint cannot
   * pass a reader of another process that still reads an older snapshot of the WAL: retried until
   * it is complete.
   */
  async scrub(): Promise<void> {
    await truncateWal(this.db, {
      timeoutMs: this.scrubTimeoutMs,
      what: `the key store ${this.path}`,
      hint: 'The key is destroyed; run the erasure again to finish scrubbing the file.',
    });
  }

  close(): void {
    this.dropAll();
    if (this.db.open) this.db.close();
  }
}
