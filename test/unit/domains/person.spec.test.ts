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

describe('text that is not accepted', () => {
  const rule = 'text may not hold control characters, bidi controls or lone surrogates';
  // Every C0 and C1 control (tab and newline too: names are one line), DEL, the bidi embeddings,
  // overrides and isolates, and lone surrogates of either half.
  const refused: [escape: string, kind: string, character: string][] = [
    ['\\u0000', 'a control character', '\u0000'],
    ['\\u0009', 'a control character', '\t'],
    ['\\u000a', 'a control character', '\n'],
    ['\\u001b', 'a control character', '\u001b'],
    ['\\u007f', 'a control character', '\u007f'],
    ['\\u0085', 'a control character', '\u0085'],
    ['\\u202a', 'a bidi control', '\u202a'],
    ['\\u202e', 'a bidi control', '\u202e'],
    ['\\u2066', 'a bidi control', '\u2066'],
    ['\\u2069', 'a bidi control', '\u2069'],
    ['\\ud800', 'a lone surrogate', '\ud800'],
    ['\\udfff', 'a lone surrogate', '\udfff'],
  ];

  it.each(refused)('refuses a name holding %s (%s) at the edge, naming it as an escape', (escape, kind, character) => {
    spec
      .given([])
      .when('RegisterPerson', { personId: 'p1', name: `Ada${character}`, email: 'ada@example.org' })
      .thenRejects('CIM-INVALID-INPUT', `RegisterPerson: name: contains ${escape} (${kind}) at index 3; ${rule}`);
    spec
      .given([registered])
      .when('RenamePerson', { personId: 'p1', name: `${character}Ada` })
      .thenRejects('CIM-INVALID-INPUT', `RenamePerson: name: contains ${escape} (${kind}) at index 0; ${rule}`);
  });

  it('refuses such a character in an archive reason and in an email', () => {
    spec
      .given([registered])
      .when('ArchivePerson', { personId: 'p1', reason: 'left\u202e' })
      .thenRejects('CIM-INVALID-INPUT', `ArchivePerson: reason: contains \\u202e (a bidi control) at index 4; ${rule}`);
    spec
      .given([registered])
      .when('ChangePersonEmail', { personId: 'p1', email: 'ada\u0000@example.org' })
      .thenRejects('CIM-INVALID-INPUT', /^ChangePersonEmail: email: /);
  });

  it('accepts a surrogate pair, right-to-left script with its marks, and combining accents', () => {
    const name = 'Ada 👩‍💻 \u05e2\u05d3\u05d4\u200f Lovela\u0301ce';
    spec
      .given([registered])
      .when('RenamePerson', { personId: 'p1', name })
      .then([{ type: 'PersonRenamed', payload: { personId: 'p1', name } }]);
  });
});
