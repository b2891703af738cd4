// Given/when/then specs of the person domain: every command, its rejections, and its read model.
import { describe, expect, it } from 'vitest';
import { person, specFor, type EventOf } from '../../../appliance/index.js';

type PersonEvent = EventOf<typeof person.events>;

const spec = specFor(person);
const registered: PersonEvent = {
  type: 'PersonRegistered',
  payload: { personId: 'p1', name: 'Ada Lovelace', email: 'ada@example.org' },
};

describe('RegisterPerson', () => {
  it('given no person, registers one', () => {
    spec
      .given([])
      .when('RegisterPerson', { personId: 'p1', name: 'Ada Lovelace', email: 'ada@example.org' })
      .then([registered]);
  });

  it('given the person is registered, rejects a second registration', () => {
    spec
      .given([registered])
      .when('RegisterPerson', { personId: 'p1', name: 'Ada', email: 'ada@example.org' })
      .thenRejects('CIM-REJECTED', 'person p1 is already registered');
  });

  it('rejects an invalid email or an empty name at the edge, naming the field', () => {
    spec
      .given([])
      .when('RegisterPerson', { personId: 'p1', name: 'Ada', email: 'not-an-email' })
      .thenRejects('CIM-INVALID-INPUT', 'RegisterPerson: email: Invalid email address');
    spec
      .given([])
      .when('RegisterPerson', { personId: 'p1', name: '  ', email: 'ada@example.org' })
      .thenRejects('CIM-INVALID-INPUT', 'RegisterPerson: name: Too small: expected string to have >=1 characters');
    spec
      .given([])
      .when('RegisterPerson', { personId: 'a.b', name: 'Ada', email: 'ada@example.org' })
      .thenRejects('CIM-INVALID-INPUT', 'RegisterPerson: personId: expected 1–64 letters, digits, "_", "-" or "="');
  });
});

describe('RenamePerson', () => {
  it('given a registered person, renames them', () => {
    spec
      .given([registered])
      .when('RenamePerson', { personId: 'p1', name: 'Ada King' })
      .then([{ type: 'PersonRenamed', payload: { personId: 'p1', name: 'Ada King' } }]);
  });

  it('given the same name, records nothing', () => {
    spec.given([registered]).when('RenamePerson', { personId: 'p1', name: 'Ada Lovelace' }).then([]);
  });

  it('given no such person, rejects', () => {
    spec
      .given([])
      .when('RenamePerson', { personId: 'p1', name: 'Ada' })
      .thenRejects('CIM-REJECTED', 'person p1 is not registered');
  });
});

describe('ChangePersonEmail', () => {
  it('given a registered person, changes the email', () => {
    spec
      .given([registered])
      .when('ChangePersonEmail', { personId: 'p1', email: 'ada@king.org' })
      .then([{ type: 'PersonEmailChanged', payload: { personId: 'p1', email: 'ada@king.org' } }]);
  });

  it('given an archived person, rejects', () => {
    spec
      .given([registered, { type: 'PersonArchived', payload: { personId: 'p1' } }])
      .when('ChangePersonEmail', { personId: 'p1', email: 'ada@king.org' })
      .thenRejects('CIM-REJECTED', 'person p1 is archived');
  });
});

describe('ArchivePerson', () => {
  it('given a registered person, archives them', () => {
    spec
      .given([registered])
      .when('ArchivePerson', { personId: 'p1', reason: 'left' })
      .then([{ type: 'PersonArchived', payload: { personId: 'p1', reason: 'left' } }]);
  });

  it('given an archived person, rejects archiving again', () => {
    spec
      .given([registered, { type: 'PersonArchived', payload: { personId: 'p1' } }])
      .when('ArchivePerson', { personId: 'p1' })
      .thenRejects('CIM-REJECTED', 'person p1 is archived');
  });
});

describe('the typed spec', () => {
  it('does not compile a command or event the domain does not declare, nor a payload field it does not have', () => {
    spec
      .given([registered])
      // @ts-expect-error RenamePerson has no field `nickname` (and lacks `name`); on the wire it is refused at the edge.
      .when('RenamePerson', { personId: 'p1', nickname: 'Ada' })
      .thenRejects('CIM-INVALID-INPUT', /^RenamePerson: name: /);
    spec
      .given([registered])
      // @ts-expect-error the person domain has no command RenamePeople.
      .when('RenamePeople', { personId: 'p1', name: 'Ada' })
      .thenRejects('CIM-INVALID-INPUT', /^person has no command RenamePeople; it has RegisterPerson, /);
    expect(() =>
      spec
        .given([registered])
        .when('RenamePerson', { personId: 'p1', name: 'Ada' })
        // @ts-expect-error PersonRenamed carries `name`, not `fullName`.
        .then([{ type: 'PersonRenamed', payload: { personId: 'p1', fullName: 'Ada' } }]),
    ).toThrow(/other payloads/);
  });
});

describe('person_directory projection', () => {
  const projection = person.definition.projections![0]!;
  const envelope = (type: string, payload: Record<string, unknown>) => ({
    v: 1,
    id: 'e',
    domain: 'person',
    aggregate: 'Person',
    aggregateId: 'p1',
    seq: 1,
    type,
    typeVersion: 1,
    at: '2026-01-01T00:00:00Z',
    correlationId: 'c',
    causationId: 'c',
    actor: 'a',
    payload,
    prev: null,
  });

  it('maps registration to a row and archiving to a status', () => {
    expect(projection.apply(envelope('PersonRegistered', registered.payload))).toEqual([
      {
        op: 'upsert',
        table: 'person_directory',
        key: { person_id: 'p1' },
        values: {
          name: 'Ada Lovelace',
          email: 'ada@example.org',
          status: 'active',
          updated_at: '2026-01-01T00:00:00Z',
        },
      },
    ]);
    expect(projection.apply(envelope('PersonArchived', { personId: 'p1' }))).toEqual([
      {
        op: 'upsert',
        table: 'person_directory',
        key: { person_id: 'p1' },
        values: { status: 'archived', updated_at: '2026-01-01T00:00:00Z' },
      },
    ]);
    expect(projection.apply(envelope('SomethingElse', {}))).toEqual([]);
  });
});
