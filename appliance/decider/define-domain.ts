// defineDomain: turns a domain definition (a reference domain or a user's plugin) into the object
// the infrastructure drives — command validation at the edge, the pure decision with its output
// checked against the declared event schemas, and the reducer the event store loads state with.
import { CimError, firstIssue } from '../errors.js';
import type { EventEnvelope, Reducer } from '../eventstore/envelope.js';
import { UpcasterRegistry } from '../eventstore/upcasters.js';
import { escapeUnsafe, unsafeCharacters, type UnsafeCharacter } from '../text.js';
import { own } from './own.js';
import { describeUnsafe } from './safe-text.js';
import type {
  CommandDefinition,
  CommandDefinitions,
  CommandMetadata,
  CommandOf,
  DomainDefinition,
  DomainEvent,
  EnvelopeOf,
  EventSchemas,
  Facts,
  Requirement,
} from './types.js';

const domainName = /^[a-z][a-z0-9_-]*$/;
const typeName = /^[A-Z][A-Za-z0-9]*$/;

export interface ValidatedCommand {
  type: string;
  aggregateId: string;
  payload: unknown;
  requirements: Requirement[];
}

/**
 * A domain as the infrastructure drives it. `C` and `E` keep the domain's own commands and events
 * for the spec kit; `definition` is the same definition seen from outside, where commands and
 * events are any of the declared ones, so every domain is a `Domain<unknown>` to the runtime.
 */
export class Domain<
  S = unknown,
  C extends CommandDefinitions = CommandDefinitions,
  E extends EventSchemas = EventSchemas,
> {
  readonly name: string;
  readonly aggregate: string;
  readonly definition: DomainDefinition<S>;
  readonly commands: C;
  readonly events: E;
  readonly reducer: Reducer<S>;
  readonly upcasters: UpcasterRegistry;

  constructor(definition: DomainDefinition<S, C, E>) {
    this.name = definition.name;
    this.aggregate = definition.aggregate;
    this.commands = definition.commands;
    this.events = definition.events;
    this.definition = {
      ...definition,
      // Called through the definition, so a plugin's definition may be an instance of its own class.
      initialState: () => definition.initialState(),
      // Only a command `validate` parsed with its own schema reaches `decide`, and a stored event of
      // this domain's stream was checked against its schema when it was decided: each is one of the
      // union the domain's own `decide` and `evolve` are written against.
      decide: (command, state) => definition.decide(command as CommandOf<C>, state),
      evolve: (state, event) => definition.evolve(state, event as EnvelopeOf<E>),
    };
    this.reducer = {
      initial: () => definition.initialState(),
      evolve: (state, event) => this.definition.evolve(state, event),
    };
    this.upcasters = new UpcasterRegistry();
    for (const u of definition.upcasters ?? []) this.upcasters.register(u.type, u.fromVersion, u.migrate);
  }

  get commandTypes(): string[] {
    return Object.keys(this.definition.commands);
  }

  /** Validates a command at the edge: its type is known and its payload matches the schema. */
  validate(type: string, payload: unknown): ValidatedCommand {
    const definition: CommandDefinition | undefined = own(this.definition.commands, type);
    if (!definition) {
      throw new CimError(
        'CIM-INVALID-INPUT',
        `${this.name} has no command ${type}; it has ${this.commandTypes.join(', ')}`,
      );
    }
    const parsed = definition.schema.safeParse(payload);
    if (!parsed.success) throw new CimError('CIM-INVALID-INPUT', `${type}: ${firstIssue(parsed.error, '(payload)')}`);
    const lone = loneSurrogate(parsed.data, []);
    if (lone)
      throw new CimError(
        'CIM-INVALID-INPUT',
        `${type}: ${escapeUnsafe(lone.path.join('.')) || '(payload)'}: ${describeUnsafe(lone.found, 'text is stored as UTF-8, which cannot hold it')}`,
      );
    return {
      type,
      aggregateId: definition.aggregateId(parsed.data),
      payload: parsed.data,
      requirements: definition.requires?.(parsed.data) ?? [],
    };
  }

  /**
   * The pure decision: the events the command produces in this state, each checked against the
   * declared event schemas (an undeclared or malformed event is a bug in the domain: CIM-INTERNAL).
   */
  decide(command: ValidatedCommand, state: S, metadata: CommandMetadata, facts: Facts = {}): DomainEvent[] {
    // Facts are keyed by ids from the command: only the ones gathered are there, not Object.prototype's.
    const known: Facts = Object.freeze(Object.assign(Object.create(null) as Record<string, boolean>, facts));
    const events = this.definition.decide(
      { type: command.type, aggregateId: command.aggregateId, payload: command.payload, metadata, facts: known },
      state,
    );
    for (const event of events) {
      const schema = own(this.definition.events, event.type);
      if (!schema)
        throw new CimError(
          'CIM-INTERNAL',
          `${this.name}: ${command.type} produced ${event.type}, which the domain does not declare`,
        );
      const parsed = schema.safeParse(event.payload);
      if (!parsed.success)
        throw new CimError(
          'CIM-INTERNAL',
          `${this.name}: ${command.type} produced a malformed ${event.type}: ${firstIssue(parsed.error, '(payload)')}`,
        );
    }
    return events;
  }

  evolveAll(events: Iterable<EventEnvelope>, state: S = this.definition.initialState()): S {
    for (const event of events) state = this.reducer.evolve(state, this.upcasters.upcast(event));
    return state;
  }
}

/**
 * The first lone surrogate in a payload's strings (keys too), whatever its schema said: one has no
 * UTF-8 encoding, so the event stored would say U+FFFD where the state in memory kept the original.
 */
function loneSurrogate(value: unknown, path: string[]): { path: string[]; found: UnsafeCharacter } | undefined {
  if (typeof value === 'string') {
    for (const found of unsafeCharacters(value)) if (found.kind === 'a lone surrogate') return { path, found };
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const inKey = loneSurrogate(key, [...path, key]);
    if (inKey) return inKey;
    const inItem = loneSurrogate(item, [...path, key]);
    if (inItem) return inItem;
  }
  return undefined;
}

/** Checks a domain definition once, at start-up, and returns the domain the infrastructure drives. */
export function defineDomain<S, C extends CommandDefinitions, E extends EventSchemas>(
  definition: DomainDefinition<S, C, E>,
): Domain<S, C, E> {
  const problems: string[] = [];
  if (!domainName.test(definition.name))
    problems.push(`name "${definition.name}": expected lower-case letters, digits, "-" or "_", starting with a letter`);
  if (!typeName.test(definition.aggregate))
    problems.push(`aggregate "${definition.aggregate}": expected a type name like Person`);
  for (const type of Object.keys(definition.commands))
    if (!typeName.test(type)) problems.push(`command "${type}": expected a type name like RegisterPerson`);
  for (const type of Object.keys(definition.events))
    if (!typeName.test(type)) problems.push(`event "${type}": expected a type name like PersonRegistered`);
  if (Object.keys(definition.commands).length === 0) problems.push('commands: a domain needs at least one');
  const projectionNames = (definition.projections ?? []).map((p) => p.name);
  for (const name of projectionNames)
    if (!/^[a-z][a-z0-9_]*$/.test(name))
      problems.push(`projection "${name}": expected lower-case letters, digits or "_"`);
  if (new Set(projectionNames).size !== projectionNames.length) problems.push('projections: names must be unique');
  for (const [type, fields] of Object.entries(definition.personalData ?? {})) {
    if (!Object.hasOwn(definition.events, type)) problems.push(`personalData.${type}: no such event`);
    if (fields.length === 0) problems.push(`personalData.${type}: name at least one field`);
  }
  if (problems.length > 0) throw new CimError('CIM-INVALID-INPUT', `domain ${definition.name}: ${problems.join('; ')}`);
  return new Domain(definition);
}

export type { DomainDefinition } from './types.js';
