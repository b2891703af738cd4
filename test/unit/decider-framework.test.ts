// defineDomain and the spec kit: a bad definition is refused naming every problem; decide's output
// is held to the declared events; the kit fails loudly when expectations do not hold.
import { AssertionError } from 'node:assert';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import {
  defineCommand,
  defineDomain,
  firstIssue,
  isCimError,
  rejected,
  safeText,
  specFor,
  type DomainDefinition,
  type EventOf,
} from '../../appliance/index.js';

interface Counter {
  value: number;
}

const commands = {
  Increment: defineCommand({
    schema: z.object({ id: z.string(), by: z.number().int().positive() }),
    aggregateId: (p) => p.id,
  }),
  Link: defineCommand({
    schema: z.object({ id: z.string(), other: z.string() }),
    aggregateId: (p) => p.id,
    requires: (p) => [{ kind: 'exists', domain: 'counter', aggregateId: p.other }],
  }),
  Broken: defineCommand({ schema: z.object({ id: z.string() }), aggregateId: (p) => p.id }),
};
const events = { Incremented: z.object({ by: z.number() }), Linked: z.object({ other: z.string() }) };

const base: DomainDefinition<Counter, typeof commands, typeof events> = {
  name: 'counter',
  aggregate: 'Counter',
  commands,
  events,
  initialState: () => ({ value: 0 }),
  decide(command, state) {
    switch (command.type) {
      case 'Increment':
        return [{ type: 'Incremented', payload: { by: command.payload.by + state.value * 0 } }];
      case 'Link':
        if (!command.facts[`counter/${command.payload.other}`]) throw new Error('unreachable in the specs below');
        return [{ type: 'Linked', payload: { other: command.payload.other } }];
      case 'Broken': {
        // @ts-expect-error an undeclared event does not compile; a plugin in plain JavaScript can still return one.
        const undeclared: EventOf<typeof events> = { type: 'Undeclared', payload: {} };
        return [undeclared];
      }
    }
  },
  evolve: (state, e) => (e.type === 'Incremented' ? { value: state.value + e.payload.by } : state),
};

describe('defineDomain', () => {
  it('refuses a definition with bad names, naming each problem', () => {
    let error: unknown;
    try {
      defineDomain({
        ...base,
        name: 'Counter',
        aggregate: 'counter',
        events: { incremented: z.object({}) },
        decide: () => [],
        evolve: (state) => state,
      });
    } catch (e) {
      error = e;
    }
    expect(isCimError(error, 'CIM-INVALID-INPUT')).toBe(true);
    expect((error as Error).message).toMatch(/name "Counter".*aggregate "counter".*event "incremented"/);
  });

  it('validates commands at the edge: unknown type, bad payload', () => {
    const domain = defineDomain(base);
    expect(() => domain.validate('Decrement', {})).toThrow(/has no command Decrement; it has Increment, Link, Broken/);
    expect(() => domain.validate('Increment', { id: 'a', by: -1 })).toThrow(/by:/);
    expect(domain.validate('Link', { id: 'a', other: 'b' }).requirements).toEqual([
      { kind: 'exists', domain: 'counter', aggregateId: 'b' },
    ]);
  });

  it("knows only its own commands, events and facts: names of Object.prototype's properties are none of them", () => {
    const domain = defineDomain(base);
    for (const type of ['toString', 'constructor', '__proto__', 'hasOwnProperty'])
      expect(() => domain.validate(type, {})).toThrow(`counter has no command ${type}; it has Increment, Link, Broken`);
    const metadata = { actor: 'a', correlationId: 'c', causationId: 'c', at: '2026-01-01T00:00:00Z' };
    const plain = defineDomain({
      ...base,
      // A plugin in plain JavaScript may return any type, and read facts it did not ask for.
      // @ts-expect-error an undeclared event does not compile
      decide: (command) => [{ type: 'toString', payload: { facts: String(command.facts['constructor']) } }],
    });
    expect(() => plain.decide(plain.validate('Increment', { id: 'a', by: 1 }), { value: 0 }, metadata)).toThrow(
      'counter: Increment produced toString, which the domain does not declare',
    );
    const reader = defineDomain({
      ...base,
      decide: (command) => [{ type: 'Linked', payload: { other: typeof command.facts['constructor'] } }],
    });
    expect(reader.decide(reader.validate('Increment', { id: 'a', by: 1 }), { value: 0 }, metadata)).toEqual([
      { type: 'Linked', payload: { other: 'undefined' } },
    ]);
    expect(() => defineDomain({ ...base, personalData: { toString: ['by'] } })).toThrow(
      'personalData.toString: no such event',
    );
  });

  it('refuses a lone surrogate anywhere in a payload, whatever the schema: UTF-8 cannot store it', () => {
    const notes = defineDomain({
      name: 'notes',
      aggregate: 'Note',
      commands: {
        Note: defineCommand({
          schema: z.object({ id: z.string(), tags: z.record(z.string(), z.array(z.string())) }),
          aggregateId: (p) => p.id,
        }),
      },
      events: {},
      initialState: () => ({}),
      decide: () => [],
      evolve: (state) => state,
    });
    expect(() => notes.validate('Note', { id: 'a', tags: { x: ['ok', 'b\ud800'] } })).toThrow(
      'Note: tags.x.1: contains \\ud800 (a lone surrogate) at index 1; text is stored as UTF-8, which cannot hold it',
    );
    expect(() => notes.validate('Note', { id: 'a', tags: { ['\udc00']: [] } })).toThrow(
      'Note: tags.\\udc00: contains \\udc00 (a lone surrogate) at index 0;',
    );
    // Anything else is the plugin's schema's to decide: safeText() refuses it, a plain z.string() does not.
    expect(notes.validate('Note', { id: 'a', tags: { x: ['line\none', '\u202e', '👩‍💻'] } }).payload).toEqual({
      id: 'a',
      tags: { x: ['line\none', '\u202e', '👩‍💻'] },
    });
    expect(safeText().safeParse('a\u0000').error?.issues[0]?.message).toBe(
      'contains \\u0000 (a control character) at index 1; text may not hold control characters, bidi controls or lone surrogates',
    );
  });

  it('holds decide to the declared events: an undeclared one is a domain bug', () => {
    const spec = specFor(defineDomain(base));
    spec
      .given([])
      .when('Broken', { id: 'a' })
      .thenRejects('CIM-INTERNAL', 'counter: Broken produced Undeclared, which the domain does not declare');
  });
});

describe('specFor', () => {
  // The counter, with a business rule to break: it is full at 10.
  const spec = specFor(
    defineDomain({
      ...base,
      decide(command, state) {
        if (command.type === 'Increment' && state.value >= 10)
          throw rejected(`counter ${command.aggregateId} is full at ${state.value}`);
        return base.decide(command, state);
      },
    }),
  );
  const full: EventOf<typeof events>[] = [{ type: 'Incremented', payload: { by: 10 } }];

  /** Runs an expectation that must not hold; returns the AssertionError it threw. */
  const failure = (expectation: () => void): AssertionError => {
    try {
      expectation();
    } catch (error) {
      expect(error).toBeInstanceOf(AssertionError);
      return error as AssertionError;
    }
    throw new Error('the expectation held, but it should have failed');
  };

  it('passes facts to decide, from `exists`', () => {
    spec
      .given([])
      .when('Link', { id: 'a', other: 'b' }, { exists: [['counter', 'b']] })
      .then([{ type: 'Linked', payload: { other: 'b' } }]);
  });

  it("passes when the events, or the rejection's code and message, are the ones expected", () => {
    spec
      .given([])
      .when('Increment', { id: 'a', by: 1 })
      .then([{ type: 'Incremented', payload: { by: 1 } }]);
    spec.given(full).when('Increment', { id: 'a', by: 1 }).thenRejects('CIM-REJECTED', 'counter a is full at 10');
    spec
      .given(full)
      .when('Increment', { id: 'a', by: 1 })
      .thenRejects('CIM-REJECTED', /^counter a is full at \d+$/);
  });

  it('fails on wrong events, with both lists in the error', () => {
    const error = failure(() =>
      spec
        .given([])
        .when('Increment', { id: 'a', by: 1 })
        .then([{ type: 'Incremented', payload: { by: 2 } }]),
    );
    expect(error.message).toBe('Increment should produce Incremented, but it produced Incremented with other payloads');
    expect(error.actual).toEqual({ events: [{ type: 'Incremented', typeVersion: 1, payload: { by: 1 } }] });
    expect(error.expected).toEqual({ events: [{ type: 'Incremented', typeVersion: 1, payload: { by: 2 } }] });
  });

  it('fails on a rejection with the wrong code, naming both codes', () => {
    const error = failure(() =>
      spec.given(full).when('Increment', { id: 'a', by: 1 }).thenRejects('CIM-NOT-FOUND', 'counter a is full at 10'),
    );
    expect(error.message).toBe(
      'Increment should be rejected with CIM-NOT-FOUND: "counter a is full at 10", but it was rejected with CIM-REJECTED: "counter a is full at 10"',
    );
    expect(error.actual).toEqual({ rejected: { code: 'CIM-REJECTED', message: 'counter a is full at 10' } });
    expect(error.expected).toEqual({ rejected: { code: 'CIM-NOT-FOUND', message: 'counter a is full at 10' } });
  });

  it('fails on a rejection with the wrong message, whether a string or a pattern was expected', () => {
    const exact = failure(() =>
      spec.given(full).when('Increment', { id: 'a', by: 1 }).thenRejects('CIM-REJECTED', 'counter a is full'),
    );
    expect(exact.message).toBe(
      'Increment should be rejected with CIM-REJECTED: "counter a is full", but it was rejected with CIM-REJECTED: "counter a is full at 10"',
    );
    expect(exact.expected).toEqual({ rejected: { code: 'CIM-REJECTED', message: 'counter a is full' } });
    const pattern = failure(() =>
      spec
        .given(full)
        .when('Increment', { id: 'a', by: 1 })
        .thenRejects('CIM-REJECTED', /is empty/),
    );
    expect(pattern.message).toBe(
      'Increment should be rejected with CIM-REJECTED: a message matching /is empty/, but it was rejected with CIM-REJECTED: "counter a is full at 10"',
    );
    expect(pattern.expected).toEqual({ rejected: { code: 'CIM-REJECTED', message: '/is empty/' } });
  });

  it('fails on a rejection where events were expected, naming the rejection', () => {
    const error = failure(() =>
      spec
        .given(full)
        .when('Increment', { id: 'a', by: 1 })
        .then([{ type: 'Incremented', payload: { by: 1 } }]),
    );
    expect(error.message).toBe(
      'Increment should produce Incremented, but it was rejected with CIM-REJECTED: "counter a is full at 10"',
    );
    const invalid = failure(() => spec.given([]).when('Increment', { id: 'a', by: 0 }).then([]));
    expect(invalid.message).toMatch(
      /^Increment should produce no events, but it was rejected with CIM-INVALID-INPUT: "Increment: by: /,
    );
  });

  it('fails when an expected rejection did not happen, naming the events that came instead', () => {
    const error = failure(() =>
      spec.given([]).when('Increment', { id: 'a', by: 1 }).thenRejects('CIM-REJECTED', 'counter a is full at 10'),
    );
    expect(error.message).toBe(
      'Increment should be rejected with CIM-REJECTED: "counter a is full at 10", but it produced Incremented',
    );
    expect(error.actual).toEqual({ events: [{ type: 'Incremented', typeVersion: 1, payload: { by: 1 } }] });
  });

  it('lets an error that is no rejection through as it is: a bug in decide is not a refusal', () => {
    expect(() => spec.given([]).when('Link', { id: 'a', other: 'b' }).thenRejects('CIM-REJECTED', 'anything')).toThrow(
      /^unreachable in the specs below$/,
    );
  });
});

describe('firstIssue', () => {
  it('shows input in a path or a message as escapes: a key may hold anything', () => {
    const strict = z.strictObject({ a: z.record(z.string(), z.number()) });
    expect(firstIssue(strict.safeParse({ a: { 'x\u202ey': 'no' } }).error!)).toBe(
      'a.x\\u202ey: Invalid input: expected number, received string',
    );
    expect(firstIssue(strict.safeParse({ a: {}, 'b\nc': 1 }).error!)).toBe('(root): Unrecognized key: "b\\u000ac"');
  });
});
