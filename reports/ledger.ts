// The ledger: one better-sqlite3 file in the state dir holding every report (its signed bytes),
// the baselines gates compare against, the checkpoints of compliance and audit reports, and the
// public keys that signed. Append-only: triggers refuse UPDATE and DELETE on every table, and a
// report is accepted only as the successor of its kind's current head, so each kind is one chain.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CimError } from '../appliance/index.js';
import { decodeReport } from './document.js';
import { reportsDir } from './files.js';
import type { NamedReport, ReportKind } from './types.js';

export const LEDGER_FILE = 'ledger.sqlite';

export interface LedgerEntry {
  cid: string;
  kind: ReportKind;
  title: string;
  createdAt: string;
  prev: string | null;
  signer: string;
  /** The report's `.cbor` bytes, signature included. */
  bytes: Uint8Array;
  position: number;
}

const TABLES = ['reports', 'baselines', 'checkpoints', 'signing_keys'] as const;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS reports (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  cid TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  created_at TEXT NOT NULL,
  prev TEXT REFERENCES reports(cid),
  signer TEXT NOT NULL,
  bytes BLOB NOT NULL
);
-- One successor per report and one first report per kind: a chain cannot fork.
CREATE UNIQUE INDEX IF NOT EXISTS reports_chain ON reports(kind, coalesce(prev, ''));
CREATE TABLE IF NOT EXISTS baselines (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  cid TEXT NOT NULL REFERENCES reports(cid),
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
  report_cid TEXT PRIMARY KEY REFERENCES reports(cid),
  tree_size INTEGER NOT NULL,
  root BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS signing_keys (
  key_id TEXT PRIMARY KEY,
  public_key_pem TEXT NOT NULL,
  added_at TEXT NOT NULL
);
${TABLES.map(
  (t) => `
CREATE TRIGGER IF NOT EXISTS ${t}_no_update BEFORE UPDATE ON ${t} BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: ${t} rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS ${t}_no_delete BEFORE DELETE ON ${t} BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: ${t} rows cannot be deleted'); END;`,
).join('\n')}
`;

interface Row {
  position: number;
  cid: string;
  kind: ReportKind;
  title: string;
  created_at: string;
  prev: string | null;
  signer: string;
  bytes: Buffer;
}

const toEntry = (row: Row): LedgerEntry => ({
  cid: row.cid,
  kind: row.kind,
  title: row.title,
  createdAt: row.created_at,
  prev: row.prev,
  signer: row.signer,
  bytes: new Uint8Array(row.bytes),
  position: row.position,
});

export class Ledger {
  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
  ) {}

  /**
   * Opens (creating when missing) `<stateDir>/ledger.sqlite`. `readOnly`: for verbs that only read —
   * a missing ledger is an empty one in memory, and no file or directory is created.
   */
  static open(stateDir: string, options: { readOnly?: boolean } = {}): Ledger {
    const path = join(stateDir, LEDGER_FILE);
    const inMemory = options.readOnly === true && !existsSync(path);
    if (!inMemory) mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(inMemory ? ':memory:' : path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA);
    } catch (error) {
      throw new CimError('CIM-UNAVAILABLE', `cannot open the ledger ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const ledger = new Ledger(path, db);
    try {
      ledger.assertHoldsReportFiles(stateDir);
    } catch (error) {
      ledger.close();
      throw error;
    }
    return ledger;
  }

  /**
   * A report's files are written only after the ledger holds it, so a signed `.cbor` in the
   * reports dir that the ledger lacks means the ledger was emptied, replaced or deleted: refused
   * (a failed check), or a new report would start the chain again as if nothing came before.
   */
  private assertHoldsReportFiles(stateDir: string): void {
    let files: string[];
    try {
      files = readdirSync(reportsDir(stateDir)).filter((f) => f.endsWith('.cbor'));
    } catch {
      return; // no reports dir: no report written yet
    }
    const held = new Set(this.db.prepare('SELECT cid FROM reports').pluck().all() as string[]);
    const missing = files.map((f) => f.slice(0, -'.cbor'.length)).filter((cid) => !held.has(cid));
    if (missing.length === 0) return;
    throw new CimError(
      'CIM-VERIFY-FAILED',
      `the ledger ${this.path} lacks ${missing.length} signed report${missing.length === 1 ? '' : 's'} found in ${reportsDir(stateDir)} (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}): it was emptied, replaced or deleted`,
      {
        hint: 'Restore ledger.sqlite from a backup; the signed .cbor files in reports/ are the evidence of what it held.',
      },
    );
  }

  /** The newest report of a kind: the `prev` of the next one. */
  head(kind: ReportKind): string | undefined {
    return (
      (this.db.prepare('SELECT cid FROM reports WHERE kind = ? ORDER BY position DESC LIMIT 1').pluck().get(kind) as
        string | undefined) ?? undefined
    );
  }

  /**
   * Appends a report (and its checkpoint): only as the successor of its kind's head, and only once.
   * CIM-CONFLICT when another report became the head first; CIM-INVALID-INPUT for a second write.
   */
  append(named: NamedReport, bytes: Uint8Array): void {
    const { report } = named;
    const cid = named.cid.toString();
    const prev = report.prev?.toString() ?? null;
    this.db
      .transaction(() => {
        if (this.get(cid))
          throw new CimError('CIM-INVALID-INPUT', `report ${cid} is already in the ledger; a report is written once`);
        const head = this.head(report.kind) ?? null;
        if (head !== prev) {
          throw new CimError(
            'CIM-CONFLICT',
            `report ${cid} follows ${prev ?? 'nothing'}, but the newest ${report.kind} report is ${head ?? 'none'}`,
            {
              hint: 'Another report was written meanwhile; write this one again so it follows the new head.',
            },
          );
        }
        this.db
          .prepare(
            'INSERT INTO reports (cid, kind, title, created_at, prev, signer, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)',
          )
          .run(cid, report.kind, report.title, report.createdAt, prev, report.signer, Buffer.from(bytes));
        if (report.checkpoint) {
          this.db
            .prepare('INSERT INTO checkpoints (report_cid, tree_size, root) VALUES (?, ?, ?)')
            .run(cid, report.checkpoint.treeSize, Buffer.from(report.checkpoint.root));
        }
      })
      .immediate();
  }

  get(cid: string): LedgerEntry | undefined {
    const row = this.db.prepare('SELECT * FROM reports WHERE cid = ?').get(cid) as Row | undefined;
    return row ? toEntry(row) : undefined;
  }

  list(options: { kind?: ReportKind; limit?: number } = {}): LedgerEntry[] {
    const rows = (
      options.kind
        ? this.db
            .prepare('SELECT * FROM reports WHERE kind = ? ORDER BY position DESC LIMIT ?')
            .all(options.kind, options.limit ?? -1)
        : this.db.prepare('SELECT * FROM reports ORDER BY position DESC LIMIT ?').all(options.limit ?? -1)
    ) as Row[];
    return rows.map(toEntry);
  }

  /**
   * A report by reference: a full CID, a unique prefix of one (at least 8 characters), `latest`
   * (newest of any kind) or `latest:<kind>` — both passing over interrupted runs, which
   * `latest-any` and `latest-any:<kind>` include — or `baseline:<name>` (`baseline` alone: `default`).
   */
  resolve(ref: string): LedgerEntry {
    const found = this.find(ref);
    if (!found) {
      throw new CimError('CIM-NOT-FOUND', `no report ${ref} in the ledger ${this.path}`, {
        hint: 'cim report list shows what is there; a reference is a CID, a unique prefix of 8+ characters, latest, latest:<kind> (latest-any[:<kind>] includes interrupted runs) or baseline:<name>.',
      });
    }
    return found;
  }

  private find(ref: string): LedgerEntry | undefined {
    const latest = /^latest(-any)?(?::(.+))?$/.exec(ref);
    if (latest) {
      const kind = latest[2] as ReportKind | undefined;
      if (latest[1]) return this.list({ ...(kind ? { kind } : {}), limit: 1 })[0];
      // An interrupted run covers only part of what it set out to measure: gating on it would
      // compare half a run, so `latest` passes over it and `latest-any` is the way to ask for it.
      // Newest first, one row at a time: the search ends at the first complete run.
      const rows = (
        kind
          ? this.db.prepare('SELECT * FROM reports WHERE kind = ? ORDER BY position DESC').iterate(kind)
          : this.db.prepare('SELECT * FROM reports ORDER BY position DESC').iterate()
      ) as IterableIterator<Row>;
      for (const row of rows) {
        const entry = toEntry(row);
        if (!isInterrupted(entry)) return entry;
      }
      return undefined;
    }
    if (ref === 'baseline' || ref.startsWith('baseline:')) {
      const cid = this.baseline(ref === 'baseline' ? 'default' : ref.slice(9));
      return cid ? this.get(cid) : undefined;
    }
    const exact = this.get(ref);
    if (exact || ref.length < 8) return exact;
    const matches = this.db
      .prepare("SELECT * FROM reports WHERE cid LIKE ? || '%' ESCAPE '\\' LIMIT 2")
      .all(ref.replace(/[%_\\]/g, '\\$&')) as Row[];
    if (matches.length > 1)
      throw new CimError('CIM-INVALID-INPUT', `${ref} is the beginning of more than one report's CID`, {
        hint: 'Give more of it.',
      });
    return matches[0] ? toEntry(matches[0]) : undefined;
  }

  /** Records `cid` as baseline `name`; a later record of the same name supersedes it (nothing is overwritten). */
  addBaseline(name: string, cid: string): void {
    if (!this.get(cid)) throw new CimError('CIM-NOT-FOUND', `no report ${cid} in the ledger to make a baseline of`);
    this.db
      .prepare('INSERT INTO baselines (name, cid, created_at) VALUES (?, ?, ?)')
      .run(name, cid, new Date().toISOString());
  }

  baseline(name: string): string | undefined {
    return (
      (this.db.prepare('SELECT cid FROM baselines WHERE name = ? ORDER BY position DESC LIMIT 1').pluck().get(name) as
        string | undefined) ?? undefined
    );
  }

  checkpoint(cid: string): { treeSize: number; root: Uint8Array } | undefined {
    const row = this.db.prepare('SELECT tree_size, root FROM checkpoints WHERE report_cid = ?').get(cid) as
      { tree_size: number; root: Buffer } | undefined;
    return row ? { treeSize: row.tree_size, root: new Uint8Array(row.root) } : undefined;
  }

  /** Remembers a key that signed reports here (first sight only). */
  addKey(keyId: string, publicKeyPem: string): void {
    this.db
      .prepare('INSERT OR IGNORE INTO signing_keys (key_id, public_key_pem, added_at) VALUES (?, ?, ?)')
      .run(keyId, publicKeyPem, new Date().toISOString());
  }

  keys(): { keyId: string; publicKeyPem: string }[] {
    return this.db
      .prepare('SELECT key_id AS keyId, public_key_pem AS publicKeyPem FROM signing_keys ORDER BY added_at')
      .all() as { keyId: string; publicKeyPem: string }[];
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** A report whose results say the run was interrupted (Ctrl-C) before it finished. */
function isInterrupted(entry: LedgerEntry): boolean {
  const results = decodeReport(entry.bytes, `ledger entry ${entry.cid}`).report.results as {
    interrupted?: unknown;
  } | null;
  return typeof results === 'object' && results !== null && results.interrupted === true;
}
