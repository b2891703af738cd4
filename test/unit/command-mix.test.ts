// The generated mix against the real deciders: every command it makes, sent one at a time to an
// in-memory copy of each aggregate, validates and is accepted — the mix measures the services,
// not rejections of its own making. And it repeats for a seed.
import { describe, expect, it } from 'vitest';
import { factKey, referenceDomains, type Domain } from '../../appliance/index.js';
import { CommandMix, GENERATED_COMMANDS, type GeneratedCommand } from '../../bench/command-mix.js';
import { seededRandom } from '../../bench/random.js';

const domains = new Map<string, Domain<unknown>>(referenceDomains.map((d) => [d.name, d as Domain<unknown>]));
const metadata = { actor: 'test', correlationId: 'c', causationId: 'c', commandId: 'c' };

/** Decides `command` on its aggregate's in-memory state; returns the events, or throws the rejection. */
function decideInMemory(states: Map<string, unknown>, command: GeneratedCommand) {
  const domain = domains.get(command.domain)!;
  const validated = domain.validate(command.command, command.payload);
  const key = `${command.domain}/${validated.aggregateId}`;
  const state = states.has(key) ? states.get(key) : domain.definition.initialState();
  const facts: Record<string, boolean> = {};
  const personId = (command.payload as { personId?: string }).personId;
  if (personId !== undefined) facts[factKey('person', personId)] = states.has(`person/${personId}`);
  const events = domain.decide(validated, state, metadata as never, facts);
  let next = state;
  for (const e of events) next = domain.definition.evolve(next, { type: e.type, payload: e.payload } as never);
  states.set(key, next);
  return events;
}

const everything = GENERATED_COMMANDS.map((command) => ({ command, weight: 1 }));

describe('CommandMix', () => {
  it('makes only commands the deciders accept, across every generated command', () => {
    const mix = new CommandMix(everything, seededRandom(7), 'run1', 50);
    const states = new Map<string, unknown>();
    const made = new Map<string, number>();
    for (let i = 0; i < 3_000; i++) {
      const command = mix.next();
      if (!command) continue;
      decideInMemory(states, command);
      mix.settle(command, true);
      made.set(`${command.domain}.${command.command}`, (made.get(`${command.domain}.${command.command}`) ?? 0) + 1);
    }
    expect([...made.keys()].sort()).toEqual([...GENERATED_COMMANDS].sort());
    // At most `aggregates` of each kind are created.
    expect(made.get('person.RegisterPerson')).toBe(50);
    expect(mix.world.people.every((id) => id.startsWith('run1-p-'))).toBe(true);
  });

  it('does not pick an aggregate that has a command in flight, and learns nothing from a failure', () => {
    // A failed creation uses up its id (it may have been applied after all), so three ids make two people.
    const mix = new CommandMix([{ command: 'person.RenamePerson', weight: 1 }], seededRandom(3), 'r', 3);
    const first = mix.next()!;
    expect(first.command).toBe('RegisterPerson'); // nobody to rename yet: the creation it needs
    mix.settle(first, false);
    expect(mix.world.people).toEqual([]);
    const a = mix.next()!;
    const b = mix.next()!;
    mix.settle(a, true);
    mix.settle(b, true);
    const c = mix.next()!;
    const d = mix.next()!;
    expect(c.command).toBe('RenamePerson');
    expect(d === undefined || d.aggregateId !== c.aggregateId).toBe(true);
  });

  it('repeats for the same seed', () => {
    const run = (seed: number) => {
      const mix = new CommandMix(everything, seededRandom(seed), 'r', 20);
      return Array.from({ length: 200 }, () => {
        const c = mix.next();
        if (c) mix.settle(c, true);
        return c && `${c.command}:${JSON.stringify(c.payload)}`;
      });
    };
    expect(run(11)).toEqual(run(11));
    expect(run(11)).not.toEqual(run(12));
  });

  it('refuses a command it cannot make, naming those it can', () => {
    expect(() => new CommandMix([{ command: 'person.Teleport', weight: 1 }], seededRandom(1), 'r')).toThrow(
      expect.objectContaining({
        code: 'CIM-INVALID-INPUT',
        message: expect.stringContaining('cannot make person.Teleport'),
        hint: expect.stringContaining('person.RegisterPerson'),
      }),
    );
  });
});
