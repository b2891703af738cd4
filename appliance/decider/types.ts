// The shapes of the decider framework (DESIGN.md §5): commands, events, the domain definition a
// reference domain or a user's plugin hands to `defineDomain`, and its projections' row mapping.
// Pure types: domain code built on them imports no NATS, SQLite or HTTP.
import { z } from 'zod';
import type { EventEnvelope, Payload } from '../eventstore/envelope.js';

/**
 * An aggregate id in a command payload: it closes a NATS subject and names a KV key, so only the
 * characters both allow, and short enough for a subject token.
 */
export const aggregateIdSchema = z.string().regex(/^[A-Za-z0-9_=-]{1,64}$/, 'expected 1–64 letters, digits, "_", "-" or "="');

/** An event as `decide` returns it; the store adds the envelope (ids, seq, prev, causation). */
export interface DomainEvent<P extends Payload = Payload> {
  type: string;
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

export interface Command<P = Payload> {
  /** The command's name, e.g. `RegisterPerson`. */
  type: string;
  aggregateId: string;
  payload: P;
  metadata: CommandMetadata;
  facts: Facts;
}

export interface CommandDefinition<P = Payload> {
  /** Validates the payload at the edge (NATS request, HTTP body, plugin call). */
  schema: z.ZodType<P>;
  /** The aggregate the command acts on. */
  aggregateId(payload: P): string;
  /** Facts the decision needs from other aggregates or domains. */
  requires?(payload: P): Requirement[];
}

/** One row change a projection makes for one event: its pure "row mapping". */
export type RowChange =
  | { op: 'upsert'; table: string; key: Record<string, string | number>; values: Record<string, string | number | null> }
  | { op: 'delete'; table: string; key: Record<string, string | number> };

export interface ProjectionDefinition {
  /** Unique across the appliance; names its SQLite tables' owner and its durable consumer. */
  name: string;
  /** Domains whose streams it consumes. */
  domains: string[];
  /** DDL run once when the read model is created (CREATE TABLE ...). */
  tables: string[];
  /** The row changes for one event; events it does not care about give []. */
  apply(event: EventEnvelope): RowChange[];
  /** Named read-only SQL queries (named parameters `:name`), served on `cim.<domain>.queries.<query>`. */
  queries?: Record<string, { sql: string; schema: z.ZodType<Record<string, unknown>>; one?: boolean; personalData?: boolean }>;
}

export interface UpcasterDefinition {
  type: string;
  fromVersion: number;
  migrate(payload: Payload): Payload;
}

/**
 * Keeps a command's payload type — inferred from its schema — for its own functions, and erases
 * it for the domain's table of commands.
 */
export function defineCommand<Schema extends z.ZodType>(definition: {
  schema: Schema;
  aggregateId(payload: z.output<Schema>): string;
  requires?(payload: z.output<Schema>): Requirement[];
}): CommandDefinition<unknown> {
  return definition as CommandDefinition<unknown>;
}

export interface DomainDefinition<S> {
  /** Lower-case; names the stream (`CIM_<NAME>`) and subjects (`cim.<name>.…`). */
  name: string;
  /** The aggregate type, e.g. `Person`. */
  aggregate: string;
  /** By command name; build each with `defineCommand` so its payload keeps its type. */
  commands: Record<string, CommandDefinition<unknown>>;
  /** Payload schemas of the events `decide` may return; what it returns is checked against them. */
  events: Record<string, z.ZodType<Payload>>;
  initialState(): S;
  /** Throws a DomainError to reject the command. */
  decide(command: Command, state: S): DomainEvent[];
  evolve(state: S, event: EventEnvelope): S;
  projections?: ProjectionDefinition[];
  upcasters?: UpcasterDefinition[];
  /** Per event type, the payload fields that are personal data (encrypted, erasable; DESIGN.md §6). */
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
export interface ProcessManagerDefinition {
  /** Unique across the appliance; names its durable consumers. */
  name: string;
  /** The (domain, event type) pairs it consumes; the runner filters on them before `react`. */
  reactsTo: readonly { domain: string; type: string }[];
  react(event: EventEnvelope): ProcessCommand[];
}
