// The read model on a real better-sqlite3 file: row changes, a batch and its checkpoint as one
// transaction, redelivery skipped below the checkpoint, named queries validated at the edge, and
// the fast event decoder agreeing with the event store's own.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  CimError,
  decodeEnvelope,
  decodeEvent,
  encodeEnvelope,
  isCimError,
  person,
  ReadModel,
  type CID,
  type EventEnvelope,
  type ProjectionDefinition,
  type SequencedEvent,
} from '../../appliance/index.js';
import { fileTempDir } from '../support/temp-dir.js';

const dir = fileTempDir('projection-store');
afterAll(() => dir.remove());

const directory = person.definition.projections![0]!;
let fileNo = 0;
let model: ReadModel;
let path: string;

beforeEach(() => {
  path = join(dir.path, `model-${++fileNo}.sqlite`);
  model = ReadModel.open({ path, projections: [directory] });
});
afterEach(() => model.close());

/** Person events at stream sequences 1, 2, …, the way a projector hands them over. */
function personEvents(...events: [type: string, payload: Record<string, unknown>][]): SequencedEvent[] {
  const seqs = new Map<string, number>();
  return events.map(([type, payload], i) => {
    const aggregateId = String(payload.personId);
    const seq = (seqs.get(aggregateId) ?? 0) + 1;
    seqs.set(aggregateId, seq);
    return {
      streamSeq: i + 1,
      envelope: envelope({ type, aggregateId, seq, payload, at: `2024-01-01T00:00:${String(i).padStart(2, '0')}Z` }),
    };
  });
}

function envelope(e: {
  type: string;
  aggregateId: string;
  seq: number;
  payload: Record<string, unknown>;
  at: string;
  prev?: CID | null;
}): EventEnvelope {
  return {
    v: 1,
    id: `id-${e.aggregateId}-${e.seq}`,
    domain: 'person',
    aggregate: 'Person',
    aggregateId: e.aggregateId,
    seq: e.seq,
    type: e.type,
    typeVersion: 1,
    at: e.at,
    correlationId: 'corr',
    causationId: 'cause',
    actor: 'test',
    payload: e.payload,
    prev: e.prev ?? null,
  };
}

const registered = (personId: string, name: string) =>
  ['PersonRegistered', { personId, name, email: `${personId}@example.com` }] as [string, Record<string, unknown>];
const renamed = (personId: string, name: string) =>
  ['PersonRenamed', { personId, name }] as [string, Record<string, unknown>];

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, none was thrown');
}

describe('row changes', () => {
  it('given a registration, when applied, then the row holds every value', () => {
    model.applyBatch('person_directory', 'person', personEvents(registered('ada', 'Ada')), 1);
    expect(model.rows('person_directory')).toEqual([
      { person_id: 'ada', name: 'Ada', email: 'ada@example.com', status: 'active', updated_at: '2024-01-01T00:00:00Z' },
    ]);
  });

  it('given a row, when a partial upsert arrives, then only its columns change', () => {
    model.applyBatch(
      'person_directory',
      'person',
      personEvents(registered('ada', 'Ada'), renamed('ada', 'Ada Lovelace')),
      2,
    );
    expect(model.rows('person_directory')).toEqual([
      {
        person_id: 'ada',
        name: 'Ada Lovelace',
        email: 'ada@example.com',
        status: 'active',
        updated_at: '2024-01-01T00:00:01Z',
      },
    ]);
  });

  it('given rows, when a delete arrives, then only the keyed row goes', () => {
    const forgetting: ProjectionDefinition = {
      name: 'forgetting',
      domains: ['person'],
      tables: ['CREATE TABLE names (person_id TEXT, lang TEXT, name TEXT, PRIMARY KEY (person_id, lang))'],
      apply: (e) =>
        e.type === 'PersonErased'
          ? [{ op: 'delete', table: 'names', key: { person_id: e.aggregateId, lang: 'en' } }]
          : [
              {
                op: 'upsert',
                table: 'names',
                key: { person_id: e.aggregateId, lang: String(e.payload.lang) },
                values: { name: String(e.payload.name) },
              },
            ],
    };
    const m = ReadModel.open({ path: join(dir.path, 'forgetting.sqlite'), projections: [forgetting] });
    try {
      m.applyBatch(
        'forgetting',
        'person',
        personEvents(
          ['Named', { personId: 'ada', lang: 'en', name: 'Ada' }],
          ['Named', { personId: 'ada', lang: 'fr', name: 'Adà' }],
          ['PersonErased', { personId: 'ada' }],
        ),
        3,
      );
      expect(m.rows('names')).toEqual([{ person_id: 'ada', lang: 'fr', name: 'Adà' }]);
    } finally {
      m.close();
    }
  });
});

describe('a batch and its checkpoint', () => {
  it('given a projection that throws on the 3rd event of a batch, then neither rows nor checkpoint change', () => {
    let calls = 0;
    const failing: ProjectionDefinition = {
      name: 'failing_directory',
      domains: ['person'],
      tables: [
        'CREATE TABLE failing_directory (person_id TEXT PRIMARY KEY, name TEXT, email TEXT, status TEXT NOT NULL, updated_at TEXT NOT NULL)',
      ],
      apply: (e) => {
        if (++calls === 5) throw new Error('projection bug');
        return directory.apply(e).map((c) => ({ ...c, table: 'failing_directory' }));
      },
    };
    const m = ReadModel.open({ path: join(dir.path, 'failing.sqlite'), projections: [failing] });
    try {
      const events = personEvents(
        registered('ada', 'Ada'),
        registered('bob', 'Bob'),
        registered('cy', 'Cy'),
        registered('dee', 'Dee'),
        registered('eve', 'Eve'),
      );
      m.applyBatch('failing_directory', 'person', events.slice(0, 2), 2);
      const before = m.rows('failing_directory');

      const error = thrown(() => m.applyBatch('failing_directory', 'person', events.slice(2), 5));

      expect(isCimError(error, 'CIM-INTERNAL')).toBe(true);
      expect((error as CimError).message).toMatch(
        /PersonRegistered at person stream seq 5 \(eve\): its apply\(\) threw: projection bug/,
      );
      expect(m.rows('failing_directory')).toEqual(before);
      expect(m.checkpoint('failing_directory', 'person')).toBe(2);
    } finally {
      m.close();
    }
  });

  it('given a row change SQLite refuses, then the batch is rolled back and the error names the table', () => {
    const broken: ProjectionDefinition = {
      name: 'broken',
      domains: ['person'],
      tables: ['CREATE TABLE broken (id TEXT PRIMARY KEY, must TEXT NOT NULL)'],
      apply: (e) => [
        {
          op: 'upsert',
          table: 'broken',
          key: { id: e.aggregateId },
          values: e.seq === 1 ? { must: 'x' } : { must: null },
        },
      ],
    };
    const m = ReadModel.open({ path: join(dir.path, 'broken.sqlite'), projections: [broken] });
    try {
      const error = thrown(() =>
        m.applyBatch('broken', 'person', personEvents(registered('ada', 'Ada'), renamed('ada', 'A')), 2),
      );
      expect((error as CimError).message).toMatch(/upsert on broken failed: NOT NULL constraint failed/);
      expect(m.rows('broken')).toEqual([]);
      expect(m.checkpoint('broken', 'person')).toBe(0);
    } finally {
      m.close();
    }
  });

  it('given a committed batch, when the file is reopened, then rows and checkpoint are there', () => {
    model.applyBatch('person_directory', 'person', personEvents(registered('ada', 'Ada')), 7);
    model.close();
    model = ReadModel.open({ path, projections: [directory] });
    expect(model.checkpoint('person_directory', 'person')).toBe(7);
    expect(model.rows('person_directory')).toHaveLength(1);
  });

  it('moves the checkpoint past messages that carried no events for it', () => {
    const result = model.applyBatch('person_directory', 'person', [], 42);
    expect(result).toEqual({ applied: 0, skipped: 0, checkpoint: 42 });
    expect(model.checkpoint('person_directory', 'person')).toBe(42);
  });
});

describe('redelivery', () => {
  it('given events applied up to seq 3, when seqs 2–5 arrive again, then only 4 and 5 are applied', () => {
    let applied = 0;
    const counting: ProjectionDefinition = {
      ...directory,
      name: 'counting',
      tables: [],
      apply: (e) => (applied++, directory.apply(e)),
    };
    const m = ReadModel.open({ path: join(dir.path, 'counting.sqlite'), projections: [directory, counting] });
    try {
      const events = personEvents(
        registered('ada', 'Ada'),
        renamed('ada', 'A1'),
        renamed('ada', 'A2'),
        renamed('ada', 'A3'),
        renamed('ada', 'A4'),
      );
      m.applyBatch('counting', 'person', events.slice(0, 3), 3);

      const result = m.applyBatch('counting', 'person', events.slice(1), 5);

      expect(result).toEqual({ applied: 2, skipped: 2, checkpoint: 5 });
      expect(applied).toBe(5);
      expect(m.query('person_directory', 'GetPerson', { personId: 'ada' })).toMatchObject({ name: 'A4' });
    } finally {
      m.close();
    }
  });

  it('never moves the checkpoint back', () => {
    model.applyBatch('person_directory', 'person', personEvents(registered('ada', 'Ada'), renamed('ada', 'A')), 2);
    expect(model.applyBatch('person_directory', 'person', personEvents(registered('ada', 'Ada')), 1)).toEqual({
      applied: 0,
      skipped: 1,
      checkpoint: 2,
    });
    expect(model.checkpoint('person_directory', 'person')).toBe(2);
  });
});

describe('queries', () => {
  beforeEach(() => {
    model.applyBatch('person_directory', 'person', personEvents(registered('ada', 'Ada'), registered('bob', 'Bob')), 2);
  });

  it('answers a `one` query with the row, or null when there is none', () => {
    expect(model.query('person_directory', 'GetPerson', { personId: 'ada' })).toEqual({
      personId: 'ada',
      name: 'Ada',
      email: 'ada@example.com',
      status: 'active',
    });
    expect(model.query('person_directory', 'GetPerson', { personId: 'nobody' })).toBeNull();
    expect(model.query('person_directory', 'CountPeople', {})).toEqual({ people: 2 });
  });

  it('refuses bad parameters naming the field', () => {
    const error = thrown(() => model.query('person_directory', 'GetPerson', { personId: 'not/valid' }));
    expect(isCimError(error, 'CIM-INVALID-INPUT')).toBe(true);
    expect((error as Error).message).toMatch(/^query person_directory\.GetPerson: personId: /);
    expect((thrown(() => model.query('person_directory', 'GetPerson', {})) as Error).message).toMatch(/personId/);
  });

  it('says which queries exist when asked for an unknown one', () => {
    const error = thrown(() => model.query('person_directory', 'FindEveryone', {}));
    expect(isCimError(error, 'CIM-NOT-FOUND')).toBe(true);
    expect((error as CimError).hint).toMatch(/GetPerson, CountPeople/);
    expect(
      isCimError(
        thrown(() => model.query('nope', 'GetPerson', {})),
        'CIM-NOT-FOUND',
      ),
    ).toBe(true);
  });
});

describe('setting up', () => {
  it('refuses to reuse rows built by different DDL', () => {
    model.close();
    const changed = {
      ...directory,
      tables: ['CREATE TABLE IF NOT EXISTS person_directory (person_id TEXT PRIMARY KEY, name TEXT)'],
    };
    const error = thrown(() => ReadModel.open({ path, projections: [changed] }));
    expect(isCimError(error, 'CIM-INVALID-INPUT')).toBe(true);
    expect((error as CimError).hint).toMatch(/cim replay person_directory/);
    model = ReadModel.open({ path, projections: [directory] });
  });

  it('refuses a query that writes', () => {
    const writing: ProjectionDefinition = {
      ...directory,
      name: 'writing',
      tables: [],
      queries: { Wipe: { sql: 'DELETE FROM person_directory', schema: directory.queries!.CountPeople!.schema } },
    };
    const error = thrown(() =>
      ReadModel.open({ path: join(dir.path, 'writing.sqlite'), projections: [directory, writing] }),
    );
    expect((error as Error).message).toMatch(/query writing\.Wipe writes to the database/);
  });
});

describe('decoding events for read models', () => {
  it('gives what the event store decoder gives, for every kind of payload value', () => {
    const first = encodeEnvelope(
      envelope({
        type: 'PersonRegistered',
        aggregateId: 'ada',
        seq: 1,
        at: '2024-01-01T00:00:00.123Z',
        payload: { personId: 'ada', name: 'Zoë 🦊' },
      }),
    );
    const payload = {
      text: 'a'.repeat(100),
      ints: [0, 23, 24, 255, 256, 65_536, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -1_000_000],
      float: 1.5,
      flags: [true, false, null],
      bytes: new Uint8Array([1, 2, 3]),
      nested: { link: first.cid, deeper: { empty: {} } },
    };
    const second = encodeEnvelope(
      envelope({
        type: 'PersonRenamed',
        aggregateId: 'ada',
        seq: 2,
        at: '2024-01-01T00:00:01Z',
        payload,
        prev: first.cid,
      }),
    );
    for (const e of [first, second]) expect(decodeEvent(e.bytes)).toEqual(decodeEnvelope(e.bytes).envelope);
  });

  it("refuses what is not an envelope with the event store decoder's words", () => {
    const bad = encodeEnvelope(
      envelope({ type: 'X', aggregateId: 'ada', seq: 1, at: '2024-01-01T00:00:00Z', payload: {} }),
    );
    const tampered = new Uint8Array(bad.bytes);
    // seq 1 → 2, which needs a prev link the envelope does not have.
    tampered[Buffer.from(tampered).indexOf(Buffer.from([0x63, ...Buffer.from('seq')])) + 4] = 2;
    const error = thrown(() => decodeEvent(tampered));
    expect(isCimError(error, 'CIM-INVALID-EVENT')).toBe(true);
    expect((error as Error).message).toMatch(/prev/);
    expect(
      isCimError(
        thrown(() => decodeEvent(new Uint8Array([0xff]))),
        'CIM-INVALID-EVENT',
      ),
    ).toBe(true);
  });
});
