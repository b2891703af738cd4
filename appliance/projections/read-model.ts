// A read model: one better-sqlite3 database holding a set of projections' tables and their
// checkpoints. A batch of events and the checkpoint it reaches commit in one transaction, so a
// crash at any point neither applies an event twice nor skips one.
import Database from 'better-sqlite3';
import { CimError, firstIssue, toCimError } from '../errors.js';
import { truncateWal } from '../sqlite-scrub.js';
import type { EventEnvelope } from '../eventstore/index.js';
import type { ProjectionDefinition, RowChange } from '../decider/types.js';

/** An event and the stream sequence it was read at: the position a checkpoint records. */
export interface SequencedEvent {
  streamSeq: number;
  envelope: EventEnvelope;
}

export interface BatchResult {
  /** Events whose row changes were written. */
  applied: number;
  /** Events at or below the checkpoint (redelivered), left alone. */
  skipped: number;
  /** The checkpoint after the batch. */
  checkpoint: number;
}

export interface ReadModelOptions {
  /** The database file; created when missing. */
  path: string;
  projections: readonly ProjectionDefinition[];
  /**
   * A new model being rebuilt, which nobody reads until it is complete and which is deleted when
   * the rebuild fails: written without a journal. Only for a file nobody else has open.
   */
  rebuild?: boolean;
}

type Statement = Database.Statement<unknown[]>;
type Value = string | number | null;
/** Runs one row change's statements with its values (value columns first, then key columns). */
type Writer = (params: Value[]) => void;

/** The subjects whose rows an erasure deleted here (ids only): an instance's sweep skips them. */
const ERASURES_DDL = 'CREATE TABLE IF NOT EXISTS cim_erasures (subject_id TEXT PRIMARY KEY, erased_at TEXT NOT NULL)';

const CHECKPOINTS_DDL =
  'CREATE TABLE IF NOT EXISTS cim_checkpoints (projection TEXT NOT NULL, domain TEXT NOT NULL, stream_seq INTEGER NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (projection, domain))';

/** A trie over the shapes of row changes (table, value columns, key columns), each leading to its writer. */
class Shape {
  readonly next = new Map<string, Shape>();
  /** Where the key columns start, after the value columns. */
  keys: Shape | undefined;
  writer: Writer | undefined;
}

function child(node: Shape, name: string): Shape {
  let next = node.next.get(name);
  if (next === undefined) node.next.set(name, (next = new Shape()));
  return next;
}

/** The projections a database holds, with the DDL their tables were created by. */
const PROJECTIONS_DDL =
  'CREATE TABLE IF NOT EXISTS cim_projections (projection TEXT PRIMARY KEY, ddl TEXT NOT NULL, created_at TEXT NOT NULL)';

/** An SQL identifier, quoted: table and column names come from projection code, not from users. */
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

export class ReadModel {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly projections = new Map<string, ProjectionDefinition>();
  /** Upsert and delete writers by table and column set: a projection uses a handful of shapes. */
  private readonly upserts = new Shape();
  private readonly deletes = new Shape();
  private readonly queries = new Map<string, Statement>();
  private readonly readCheckpoint: Statement;
  private readonly writeCheckpoint: Statement;
  private readonly batch: Database.Transaction<ReadModel['runBatch']>;
  // Reused across changes: the positional values of the statement being run.
  private readonly params: Value[] = [];

  private constructor(options: ReadModelOptions) {
    this.path = options.path;
    for (const p of options.projections) {
      if (this.projections.has(p.name))
        throw new CimError('CIM-INVALID-INPUT', `projection ${p.name} is listed twice for ${options.path}`);
      this.projections.set(p.name, p);
    }
    try {
      this.db = new Database(options.path);
    } catch (error) {
      throw new CimError('CIM-UNAVAILABLE', `cannot open the read model ${options.path}: ${(error as Error).message}`, {
        hint: 'Check that the directory exists and is writable.',
        cause: error,
      });
    }
    try {
      if (options.rebuild) {
        // A model being rebuilt is a new file that is thrown away whole when the rebuild fails
        // and synced before it is moved into place: it needs no journal and no syncs on the way
        // (about 20 % of a rebuild's time), and nobody else opens it meanwhile.
        this.db.pragma('journal_mode = OFF');
        this.db.pragma('synchronous = OFF');
        this.db.pragma('locking_mode = EXCLUSIVE');
      } else {
        // A commit survives a process crash; the last ones may be lost on power loss, and are then
        // applied again from the stream, since the checkpoint goes back with them.
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = NORMAL');
      }
      // Another process (a query server, a second projector by mistake) may hold the write lock briefly.
      this.db.pragma('busy_timeout = 5000');
      // Freed cells and pages are zeroed: a row updated or deleted leaves no old value behind in the
      // file, which erasure relies on (docs/architecture.md#erasure-crypto-shredding).
      this.db.pragma('secure_delete = ON');
      this.db.transaction(() => this.createTables())();
      this.readCheckpoint = this.db
        .prepare('SELECT stream_seq FROM cim_checkpoints WHERE projection = ? AND domain = ?')
        .pluck();
      this.writeCheckpoint = this.db.prepare(
        'INSERT INTO cim_checkpoints (projection, domain, stream_seq, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (projection, domain) DO UPDATE SET stream_seq = excluded.stream_seq, updated_at = excluded.updated_at',
      );
      this.batch = this.db.transaction(this.runBatch.bind(this));
      for (const p of this.projections.values()) {
        for (const [name, q] of Object.entries(p.queries ?? {})) {
          const statement = this.db.prepare(q.sql);
          // Queries are served to callers with read permission only (docs/architecture.md#projections).
          if (!statement.readonly)
            throw new CimError(
              'CIM-INVALID-INPUT',
              `query ${p.name}.${name} writes to the database; queries must be read-only`,
            );
          this.queries.set(`${p.name}\0${name}`, statement);
        }
      }
    } catch (error) {
      this.db.close();
      if (error instanceof CimError) throw error;
      throw new CimError(
        'CIM-INVALID-INPUT',
        `cannot set up the read model ${options.path}: ${(error as Error).message}`,
        {
          hint: "Check the projections' table DDL and query SQL.",
          cause: error,
        },
      );
    }
  }

  /**
   * Runs each projection's DDL once, when it first joins the database, and remembers it: a
   * projection whose tables changed since cannot use the rows built for the old ones.
   */
  private createTables(): void {
    this.db.exec(CHECKPOINTS_DDL);
    this.db.exec(ERASURES_DDL);
    this.db.exec(PROJECTIONS_DDL);
    const known = this.db.prepare('SELECT ddl FROM cim_projections WHERE projection = ?').pluck();
    const add = this.db.prepare('INSERT INTO cim_projections (projection, ddl, created_at) VALUES (?, ?, ?)');
    for (const p of this.projections.values()) {
      const ddl = JSON.stringify(p.tables);
      const existing = known.get(p.name) as string | undefined;
      if (existing === undefined) {
        for (const statement of p.tables) this.db.exec(statement);
        add.run(p.name, ddl, new Date().toISOString());
      } else if (existing !== ddl) {
        throw new CimError(
          'CIM-INVALID-INPUT',
          `projection ${p.name}: its tables changed since the read model ${this.path} was built`,
          {
            hint: `Rebuild it from the streams: cim replay ${p.name}.`,
          },
        );
      }
    }
  }

  static open(options: ReadModelOptions): ReadModel {
    return new ReadModel(options);
  }

  /** The stream sequence up to which `projection` has applied `domain`'s events; 0 before the first. */
  checkpoint(projection: string, domain: string): number {
    return (this.readCheckpoint.get(projection, domain) as number | undefined) ?? 0;
  }

  /**
   * Applies the row changes of `events` (in stream order) and moves the checkpoint to
   * `lastStreamSeq`, in one transaction: all of it or none. Events at or below the checkpoint
   * were applied before (a redelivery) and are skipped. `lastStreamSeq` may lie beyond the last
   * event, when the messages after it are not events of this projection.
   */
  applyBatch(
    projection: string,
    domain: string,
    events: readonly SequencedEvent[],
    lastStreamSeq: number,
    prepare?: (envelope: EventEnvelope) => EventEnvelope,
  ): BatchResult {
    const definition = this.definition(projection);
    const last = events.length > 0 ? events[events.length - 1]!.streamSeq : 0;
    if (lastStreamSeq < last) {
      throw new CimError(
        'CIM-INTERNAL',
        `${projection}/${domain}: batch checkpoint ${lastStreamSeq} lies before its last event (stream seq ${last})`,
      );
    }
    try {
      // IMMEDIATE takes the write lock first, so the checkpoint read inside cannot go stale before the write.
      return this.batch.immediate(definition, domain, events, lastStreamSeq, prepare);
    } catch (error) {
      if (error instanceof CimError) throw error;
      // The database itself refused (locked past the busy timeout, disk full, file gone).
      throw new CimError('CIM-UNAVAILABLE', `cannot write the read model ${this.path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  private runBatch(
    definition: ProjectionDefinition,
    domain: string,
    events: readonly SequencedEvent[],
    lastStreamSeq: number,
    prepare: ((envelope: EventEnvelope) => EventEnvelope) | undefined,
  ): BatchResult {
    const before = this.checkpoint(definition.name, domain);
    let position = before;
    let applied = 0;
    for (const event of events) {
      if (event.streamSeq <= position) continue;
      this.applyEvent(definition, domain, event, prepare);
      position = event.streamSeq;
      applied++;
    }
    const checkpoint = Math.max(before, lastStreamSeq);
    if (checkpoint !== before) this.writeCheckpoint.run(definition.name, domain, checkpoint, new Date().toISOString());
    return { applied, skipped: events.length - applied, checkpoint };
  }

  private applyEvent(
    definition: ProjectionDefinition,
    domain: string,
    event: SequencedEvent,
    prepare: ((envelope: EventEnvelope) => EventEnvelope) | undefined,
  ): void {
    let changes: RowChange[];
    try {
      changes = definition.apply(prepare ? prepare(event.envelope) : event.envelope);
    } catch (error) {
      throw this.eventError(definition, domain, event, 'its apply() threw', error);
    }
    for (const change of changes) {
      try {
        this.write(change);
      } catch (error) {
        throw this.eventError(definition, domain, event, `${change.op} on ${change.table} failed`, error);
      }
    }
  }

  private eventError(
    definition: ProjectionDefinition,
    domain: string,
    event: SequencedEvent,
    what: string,
    cause: unknown,
  ): CimError {
    const e = event.envelope;
    return new CimError(
      'CIM-INTERNAL',
      `projection ${definition.name}: ${e.type} at ${domain} stream seq ${event.streamSeq} (${e.aggregateId}): ${what}: ${toCimError(cause).message}`,
      {
        hint: 'Nothing of the batch was written; the projection resumes from its checkpoint once the cause is fixed.',
        cause,
      },
    );
  }

  private write(change: RowChange): void {
    // The writer is found by walking the change's shape, collecting its positional values (value
    // columns first, then keys) on the way: no string is built per change.
    const params = this.params;
    params.length = 0;
    let node = child(change.op === 'upsert' ? this.upserts : this.deletes, change.table);
    if (change.op === 'upsert') {
      for (const column in change.values) {
        node = child(node, column);
        params.push(change.values[column]!);
      }
    }
    node = node.keys ??= new Shape();
    for (const column in change.key) {
      node = child(node, column);
      params.push(change.key[column]!);
    }
    (node.writer ??= this.prepareWrite(change))(params);
  }

  private prepareWrite(change: RowChange): Writer {
    const keys = Object.keys(change.key);
    if (keys.length === 0) throw new CimError('CIM-INTERNAL', `a ${change.op} on ${change.table} has no key columns`);
    const table = quote(change.table);
    const where = keys.map((k) => `${quote(k)} = ?`).join(' AND ');
    if (change.op === 'delete') {
      const remove = this.db.prepare(`DELETE FROM ${table} WHERE ${where}`);
      return (params) => void remove.run(params);
    }
    const values = Object.keys(change.values);
    const columns = [...values, ...keys];
    const insert = `INSERT INTO ${table} (${columns.map(quote).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
    if (values.length === 0) {
      const statement = this.db.prepare(`${insert} ON CONFLICT (${keys.map(quote).join(', ')}) DO NOTHING`);
      return (params) => void statement.run(params);
    }
    const given = new Set(columns);
    const required = this.requiredColumns(change.table);
    if (required.every((c) => given.has(c))) {
      // Only the given columns change on conflict: the row's other values stay.
      const set = values.map((v) => `${quote(v)} = excluded.${quote(v)}`).join(', ');
      const upsert = this.db.prepare(`${insert} ON CONFLICT (${keys.map(quote).join(', ')}) DO UPDATE SET ${set}`);
      return (params) => void upsert.run(params);
    }
    // A partial upsert (a rename) that leaves out a NOT NULL column: SQLite checks NOT NULL on the
    // row to insert before it looks for the conflict, so ON CONFLICT cannot express it. Update the
    // row that exists; insert only when none does (and fail, rightly, for lack of the column).
    const update = this.db.prepare(
      `UPDATE ${table} SET ${values.map((v) => `${quote(v)} = ?`).join(', ')} WHERE ${where}`,
    );
    const add = this.db.prepare(insert);
    return (params) => {
      if (update.run(params).changes === 0) add.run(params);
    };
  }

  /** Columns an INSERT must name: NOT NULL without a default. */
  private requiredColumns(table: string): string[] {
    const columns = this.db.pragma(`table_info(${quote(table)})`) as {
      name: string;
      notnull: number;
      dflt_value: unknown;
    }[];
    return columns.filter((c) => c.notnull === 1 && c.dflt_value === null).map((c) => c.name);
  }

  /**
   * Runs a projection's named query with `params` validated by its schema: rows, or with `one`
   * the first row or null. Throws CIM-INVALID-INPUT naming the bad field, CIM-NOT-FOUND for an
   * unknown projection or query.
   */
  query(projection: string, name: string, params: unknown = {}): unknown {
    const definition = this.definition(projection);
    const query = definition.queries?.[name];
    const statement = this.queries.get(`${projection}\0${name}`);
    if (!query || !statement) {
      const known = Object.keys(definition.queries ?? {});
      throw new CimError('CIM-NOT-FOUND', `projection ${projection} has no query ${name}`, {
        hint: known.length ? `Its queries: ${known.join(', ')}.` : 'It has no queries.',
      });
    }
    const parsed = query.schema.safeParse(params);
    if (!parsed.success) {
      throw new CimError('CIM-INVALID-INPUT', `query ${projection}.${name}: ${firstIssue(parsed.error, '(params)')}`);
    }
    // better-sqlite3 refuses a parameter object for a statement that takes no parameters.
    const args = Object.keys(parsed.data).length > 0 ? [parsed.data] : [];
    try {
      return query.one ? (statement.get(...args) ?? null) : statement.all(...args);
    } catch (error) {
      throw new CimError('CIM-INTERNAL', `query ${projection}.${name} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /**
   * Erasure's part in the read model: deletes every row a projection declares as the subject's
   * (`subjectRows`), in one transaction, then scrubs the file (see `scrub`). Returns the rows deleted.
   */
  async eraseSubject(subjectId: string, options: { timeoutMs?: number } = {}): Promise<number> {
    let deleted = 0;
    this.db
      .transaction(() => {
        for (const p of this.projections.values())
          for (const { table, column } of p.subjectRows ?? [])
            deleted += this.db.prepare(`DELETE FROM ${quote(table)} WHERE ${quote(column)} = ?`).run(subjectId).changes;
        this.db
          .prepare(
            'INSERT INTO cim_erasures (subject_id, erased_at) VALUES (?, ?) ON CONFLICT (subject_id) DO UPDATE SET erased_at = excluded.erased_at',
          )
          .run(subjectId, new Date().toISOString());
      })
      .immediate();
    await this.scrub(options.timeoutMs ?? 30_000);
    return deleted;
  }

  /** Whether an erasure of the subject already deleted its rows here. */
  erasedHere(subjectId: string): boolean {
    return this.db.prepare('SELECT 1 FROM cim_erasures WHERE subject_id = ?').get(subjectId) !== undefined;
  }

  /**
   * Copies the WAL into the database and truncates it, so that the old versions of pages it held
   * (with values since deleted) are gone; secure_delete has zeroed them in the database. Another
   * connection reading an older snapshot of the WAL (a query of a running `cim serve`) holds the
   * checkpoint back: retried until it is complete.
   */
  async scrub(timeoutMs: number): Promise<void> {
    await truncateWal(this.db, {
      timeoutMs: timeoutMs,
      what: `the read model ${this.path}`,
      hint: 'Its rows are deleted; run the erasure again to finish scrubbing the file.',
    });
  }

  /** Every row of a table, ordered by all its columns: for comparing read models. */
  rows(table: string): Record<string, unknown>[] {
    const columns = (this.db.pragma(`table_info(${quote(table)})`) as { name: string }[]).map((c) => quote(c.name));
    if (columns.length === 0) throw new CimError('CIM-NOT-FOUND', `the read model ${this.path} has no table ${table}`);
    return this.db.prepare(`SELECT * FROM ${quote(table)} ORDER BY ${columns.join(', ')}`).all() as Record<
      string,
      unknown
    >[];
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** A projection this model holds, by name. */
  definition(projection: string): ProjectionDefinition {
    const definition = this.projections.get(projection);
    if (!definition) {
      throw new CimError('CIM-NOT-FOUND', `the read model ${this.path} has no projection ${projection}`, {
        hint: `It holds: ${[...this.projections.keys()].join(', ') || 'nothing'}.`,
      });
    }
    return definition;
  }
}
