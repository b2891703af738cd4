// defineDomain: turns a domain definition (a reference domain or a user's plugin) into the object
// the infrastructure drives — command validation at the edge, the pure decision with its output
// checked against the declared event schemas, and the reducer the event store loads state with.
import { CimError, firstIssue } from '../errors.js';
import type { EventEnvelope, Reducer } from '../eventstore/envelope.js';
import { UpcasterRegistry } from '../eventstore/upcasters.js';
import type { Command, CommandDefinition, CommandMetadata, DomainDefinition, DomainEvent, Facts, Requirement } from './types.js';

const domainName = /^[a-z][a-z0-9_-]*$/;
const typeName = /^[A-Z][A-Za-z0-9]*$/;


export interface ValidatedCommand {
  type: string;
  aggregateId: string;
  payload: unknown;
  requirements: Requirement[];
}

export class Domain<S = unknown> {
  readonly name: string;
  readonly aggregate: string;
  readonly reducer: Reducer<S>;
  readonly upcasters: UpcasterRegistry;

  constructor(readonly definition: DomainDefinition<S>) {
    this.name = definition.name;
    this.aggregate = definition.aggregate;
    this.reducer = { initial: () => definition.initialState(), evolve: (state, event) => definition.evolve(state, event) };
    this.upcasters = new UpcasterRegistry();
    for (const u of definition.upcasters ?? []) this.upcasters.register(u.type, u.fromVersion, u.migrate);
  }

  get commandTypes(): string[] {
    return Object.keys(this.definition.commands);
  }

  /** Validates a command at the edge: its type is known and its payload matches the schema. */
  validate(type: string, payload: unknown): ValidatedCommand {
    const definition: CommandDefinition<unknown> | undefined = this.definition.commands[type];
    if (!definition) {
      throw new CimError('CIM-INVALID-INPUT', `${this.name} has no command ${type}; it has ${this.commandTypes.join(', ')}`);
    }
    const parsed = definition.schema.safeParse(payload);
    if (!parsed.success) throw new CimError('CIM-INVALID-INPUT', `${type}: ${firstIssue(parsed.error, '(payload)')}`);
    return { type, aggregateId: definition.aggregateId(parsed.data), payload: parsed.data, requirements: definition.requires?.(parsed.data) ?? [] };
  }

  /**
   * The pure decision: the events the command produces in this state, each checked against the
   * declared event schemas (an undeclared or malformed event is a bug in the domain: CIM-INTERNAL).
   */
  decide(command: ValidatedCommand, state: S, metadata: CommandMetadata, facts: Facts = {}): DomainEvent[] {
    const full: Command = { type: command.type, aggregateId: command.aggregateId, payload: command.payload as Command['payload'], metadata, facts };
    const events = this.definition.decide(full, state);
    for (const event of events) {
      const schema = this.definition.events[event.type];
      if (!schema) throw new CimError('CIM-INTERNAL', `${this.name}: ${command.type} produced ${event.type}, which the domain does not declare`);
      const parsed = schema.safeParse(event.payload);
      if (!parsed.success) throw new CimError('CIM-INTERNAL', `${this.name}: ${command.type} produced a malformed ${event.type}: ${firstIssue(parsed.error, '(payload)')}`);
    }
    return events;
  }

  evolveAll(events: Iterable<EventEnvelope>, state: S = this.definition.initialState()): S {
    for (const event of events) state = this.definition.evolve(state, this.upcasters.upcast(event));
    return state;
  }
}

/** Checks a domain definition once, at start-up, and returns the domain the infrastructure drives. */
export function defineDomain<S>(definition: DomainDefinition<S>): Domain<S> {
  const problems: string[] = [];
  if (!domainName.test(definition.name)) problems.push(`name "${definition.name}": expected lower-case letters, digits, "-" or "_", starting with a letter`);
  if (!typeName.test(definition.aggregate)) problems.push(`aggregate "${definition.aggregate}": expected a type name like Person`);
  for (const type of Object.keys(definition.commands)) if (!typeName.test(type)) problems.push(`command "${type}": expected a type name like RegisterPerson`);
  for (const type of Object.keys(definition.events)) if (!typeName.test(type)) problems.push(`event "${type}": expected a type name like PersonRegistered`);
  if (Object.keys(definition.commands).length === 0) problems.push('commands: a domain needs at least one');
  const projectionNames = (definition.projections ?? []).map((p) => p.name);
  for (const name of projectionNames) if (!/^[a-z][a-z0-9_]*$/.test(name)) problems.push(`projection "${name}": expected lower-case letters, digits or "_"`);
  if (new Set(projectionNames).size !== projectionNames.length) problems.push('projections: names must be unique');
  for (const [type, fields] of Object.entries(definition.personalData ?? {})) {
    if (!definition.events[type]) problems.push(`personalData.${type}: no such event`);
    if (fields.length === 0) problems.push(`personalData.${type}: name at least one field`);
  }
  if (problems.length > 0) throw new CimError('CIM-INVALID-INPUT', `domain ${definition.name}: ${problems.join('; ')}`);
  return new Domain(definition);
}

export type { DomainDefinition } from './types.js';
