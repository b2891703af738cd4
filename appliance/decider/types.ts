// The shapes of the decider framework: commands, events, the domain definition a reference domain
// or a user's plugin hands to `defineDomain`, and its projections' row mapping. A domain declares
// its commands and events once, as zod schemas; `decide` and `evolve` see them as discriminated
// unions inferred from those schemas, so a `switch` on `type` narrows the payload.
// Pure types: domain code built on them imports no NATS, SQLite or HTTP.
import { z } from 'zod';
import type { EventEnvelope, Payload } from '../eventstore/envelope.js';
import { safeText } from './safe-text.js';

/**
 * An aggregate id in a command payload: it closes a NATS subject and names a KV key, so only the
 * characters both allow, and short enough for a subject token. Ids key aggregate state (an
 * organization's members by person id), and `__proto__` is the one key a JavaScript object cannot
 * hold reliably: dag-cbor drops it when a snapshot is read back, so it is refused.
 */
export const aggregateIdSchema = safeText()
  .regex(/^[A-Za-z0-9_=-]{1,64}$/, 'expected 1–64 letters, digits, "_", "-" or "="')
  .refine((id) => id !== '__proto__', '__proto__ is reserved; choose another id');

/** An event as `decide` returns it; the store adds the envelope (ids, seq, prev, causation). */
export interface DomainEvent<T extends string = string, P = Payload> {
  type: T;
  payload: P;
  /** Payload schema version; 1 when absent. */
  typeVersion?: number;
}

/** Who issued a command and what led to it; flows into every event it produces. */
export interface CommandMetadata {
  actor: string;
  correlationId: string;
  causationId: string;
  /** When the command was handled (RFC 3339 UTC); the `at` of its events. */
  at: string;
}

/**
 * Facts from outside the aggregate that a decision needs, gathered by the handler before
 * deciding so that `decide` stays pure. `exists` asks whether an aggregate has any events.
 */
export interface Requirement {
  kind: 'exists';
  domain: string;
  aggregateId: string;
}

/** Answers to a command's requirements, keyed `domain/aggregateId`. */
export type Facts = Readonly<Record<string, boolean>>;

export function factKey(domain: string, aggregateId: string): string {
  return `${domain}/${aggregateId}`;
}

export interface Command<T extends string = string, P = Payload> {
  /** The command's name, e.g. `RegisterPerson`. */
  type: T;
  aggregateId: string;
  payload: P;
  metadata: CommandMetadata;
  facts: Facts;
}

export interface CommandDefinition<Schema extends z.ZodType = z.ZodType> {
  /** Validates the payload at the edge (NATS request, HTTP body, plugin call). */
  schema: Schema;
  /** The aggregate the command acts on. */
  aggregateId(payload: z.output<Schema>): string;
  /** Facts the decision needs from other aggregates or domains. */
  requires?(payload: z.output<Schema>): Requirement[];
}

/** A domain's commands by name: the one place a command's name and payload schema are written. */
export type CommandDefinitions = Record<string, CommandDefinition>;

/** A domain's event payload schemas by event name. */
export type EventSchemas = Record<string, z.ZodType<Payload>>;

/**
 * The commands `decide` receives, as a union discriminated by `type`: `switch (command.type)`
 * narrows `payload` to what that command's schema parsed.
 */
export type CommandOf<C extends CommandDefinitions> = {
  [K in keyof C & string]: Command<K, z.output<C[K]['schema']>>;
}[keyof C & string];

/** The events `decide` returns, as a union discriminated by `type`, each payload as its schema says. */
export type EventOf<E extends EventSchemas> = { [K in keyof E & string]: DomainEvent<K, z.output<E[K]>> }[keyof E &
  string];

/** The stored events `evolve`, projections and process managers receive, discriminated by `type`. */
export type EnvelopeOf<E extends EventSchemas> = {
  [K in keyof E & string]: EventEnvelope<z.output<E[K]>> & { type: K };
}[keyof E & string];

/** One row change a projection makes for one event: its pure "row mapping". */
export type RowChange =
  | {
      op: 'upsert';
      table: string;
      key: Record<string, string | number>;
      values: Record<string, string | number | null>;
    }
  | { op: 'delete'; table: string; key: Record<string, string | number> };

/**
 * A read model. Typed on the envelopes it consumes: a domain's own projection is written as
 * `ProjectionDefinition<EnvelopeOf<typeof events>>`, so a `switch (event.type)` narrows the payload.
 */
export interface ProjectionDefinition<Ev extends EventEnvelope = EventEnvelope> {
  /** Unique across the appliance; names its SQLite tables' owner and its checkpoint (projections follow their streams with ordered consumers). */
  name: string;
  /** Domains whose streams it consumes. */
  domains: string[];
  /** DDL run once when the read model is created (CREATE TABLE ...). */
  tables: string[];
  /** The row changes for one event; events it does not care about give []. */
  apply(event: Ev): RowChange[];
  /**
   * The tables whose rows hold a data subject's personal data, each by the column holding the
   * subject's id (the aggregate id of the events with personal data): erasure deletes those rows.
   */
  subjectRows?: { table: string; column: string }[];
  /** Named read-only SQL queries (named parameters `:name`), served on `cim.<domain>.queries.<query>`. */
  queries?: Record<
    string,
    { sql: string; schema: z.ZodType<Record<string, unknown>>; one?: boolean; personalData?: boolean }
  >;
}

export interface UpcasterDefinition {
  type: string;
  fromVersion: number;
  migrate(payload: Payload): Payload;
}

/** Keeps a command's payload type, inferred from its schema, for its own functions and for `decide`. */
export function defineCommand<Schema extends z.ZodType>(
  definition: CommandDefinition<Schema>,
): CommandDefinition<Schema> {
  return definition;
}

export interface DomainDefinition<
  S,
  C extends CommandDefinitions = CommandDefinitions,
  E extends EventSchemas = EventSchemas,
> {
  /** Lower-case; names the stream (`CIM_<NAME>`) and subjects (`cim.<name>.…`). */
  name: string;
  /** The aggregate type, e.g. `Person`. */
  aggregate: string;
  /** By command name; build each with `defineCommand` so its payload keeps its type. */
  commands: C;
  /** Payload schemas of the events `decide` may return; what it returns is checked against them. */
  events: E;
  /** The state of an aggregate with no events; its return type is the domain's state type. */
  initialState(): S;
  /** Throws a DomainError to reject the command. */
  decide(command: CommandOf<C>, state: NoInfer<S>): EventOf<E>[];
  /**
   * The state after one stored event. Annotate its return type with the state type: the state is
   * inferred from `initialState`, and without the annotation a literal such as `status: 'active'`
   * would widen to string.
   */
  evolve(state: NoInfer<S>, event: EnvelopeOf<E>): NoInfer<S>;
  /** Each typed on this domain's events if it likes: `ProjectionDefinition<EnvelopeOf<typeof events>>`. */
  projections?: ProjectionDefinition[];
  upcasters?: UpcasterDefinition[];
  /** Per event type, the payload fields that are personal data (to be encrypted and erasable). */
  personalData?: Record<string, string[]>;
}

/** A command a process manager asks its runner to send, addressed like a command request. */
export interface ProcessCommand<P extends Payload = Payload> {
  domain: string;
  /** The command's name, e.g. `StartWorkflow`. */
  type: string;
  aggregateId: string;
  payload: P;
}

/**
 * A process manager: the events it reacts to and, per event, the commands it issues. `react` is
 * pure and deterministic — a redelivered or replayed event must yield the same commands, since
 * that (and the target aggregate treating a repeated command as done) is what makes the flow
 * exactly-once over at-least-once delivery.
 *
 * The runner, not `react`, stamps each command's metadata: `correlationId` carried from the event,
 * `causationId` = the event's `id`, so the whole flow can be traced back to the first command.
 */
export interface ProcessManagerDefinition<Ev extends EventEnvelope = EventEnvelope> {
  /** Unique across the appliance; names its durable consumers. */
  name: string;
  /** The (domain, event type) pairs it consumes; the runner filters on them before `react`. */
  reactsTo: readonly { domain: string; type: Ev['type'] }[];
  /** Typed on the envelopes it consumes, like a projection: `ProcessManagerDefinition<EnvelopeOf<…>>`. */
  react(event: Ev): ProcessCommand[];
}
