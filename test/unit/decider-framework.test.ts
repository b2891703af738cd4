// defineDomain and the spec kit: a bad definition is refused naming every problem; decide's output
// is held to the declared events; the kit fails loudly when expectations do not hold.
import { AssertionError } from 'node:assert';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { defineCommand, defineDomain, isCimError, specFor, type DomainDefinition } from '../../appliance/index.js';

interface Counter {
  value: number;
}

const base: DomainDefinition<Counter> = {
  name: 'counter',
  aggregate: 'Counter',
  commands: {
    Increment: defineCommand({ schema: z.object({ id: z.string(), by: z.number().int().positive() }), aggregateId: (p) => p.id }),
    Link: defineCommand({ schema: z.object({ id: z.string(), other: z.string() }), aggregateId: (p) => p.id, requires: (p) => [{ kind: 'exists', domain: 'counter', aggregateId: p.other }] }),
    Broken: defineCommand({ schema: z.object({ id: z.string() }), aggregateId: (p) => p.id }),
  },
  events: { Incremented: z.object({ by: z.number() }), Linked: z.object({ other: z.string() }) },
  initialState: () => ({ value: 0 }),
  decide(command, state) {
    if (command.type === 'Increment') return [{ type: 'Incremented', payload: { by: (command.payload as { by: number }).by + state.value * 0 } }];
    if (command.type === 'Link') {
      const other = (command.payload as { other: string }).other;
      if (!command.facts[`counter/${other}`]) throw new Error('unreachable in the specs below');
      return [{ type: 'Linked', payload: { other } }];
    }
    return [{ type: 'Undeclared', payload: {} }];
  },
  evolve: (state, e) => (e.type === 'Incremented' ? { value: state.value + (e.payload.by as number) } : state),
};

describe('defineDomain', () => {
  it('refuses a definition with bad names, naming each problem', () => {
    let error: unknown;
    try {
      defineDomain({ ...base, name: 'Counter', aggregate: 'counter', events: { incremented: z.object({}) } });
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
    expect(domain.validate('Link', { id: 'a', other: 'b' }).requirements).toEqual([{ kind: 'exists', domain: 'counter', aggregateId: 'b' }]);
  });

  it('holds decide to the declared events: an undeclared one is a domain bug', () => {
    const spec = specFor(defineDomain(base));
    spec.given([]).when('Broken', { id: 'a' }).thenRejects('CIM-INTERNAL', /does not declare/);
  });
});

describe('specFor', () => {
  const spec = specFor(defineDomain(base));

  it('passes facts to decide, from `exists`', () => {
    spec.given([]).when('Link', { id: 'a', other: 'b' }, { exists: [['counter', 'b']] }).then([{ type: 'Linked', payload: { other: 'b' } }]);
  });

  it('fails when the events differ, and when a rejection was expected but events came', () => {
    expect(() => spec.given([]).when('Increment', { id: 'a', by: 1 }).then([{ type: 'Incremented', payload: { by: 2 } }])).toThrow(AssertionError);
    expect(() => spec.given([]).when('Increment', { id: 'a', by: 1 }).thenRejects('CIM-REJECTED')).toThrow(/should be rejected with CIM-REJECTED, but produced Incremented/);
  });
});
