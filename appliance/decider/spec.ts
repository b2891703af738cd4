// The domain test kit: given events, when a command, then events or a rejection — the decision
// run in process, with no NATS (after Emmett's DeciderSpecification). Typed on the domain's own
// commands and events, so a wrong command name or payload field in a spec does not compile. It
// throws node's AssertionError on a mismatch — wrong events, or a rejection with the wrong code or
// message — so it works under any test runner.
import { AssertionError } from 'node:assert';
import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import { isCimError, type CimErrorCode } from '../errors.js';
import { ENVELOPE_VERSION, type EventEnvelope } from '../eventstore/envelope.js';
import type { Domain } from './define-domain.js';
import {
  factKey,
  type CommandDefinitions,
  type CommandMetadata,
  type DomainEvent,
  type EventOf,
  type EventSchemas,
  type Facts,
} from './types.js';

const METADATA: CommandMetadata = {
  actor: 'spec',
  correlationId: 'spec-correlation',
  causationId: 'spec-causation',
  at: '2026-01-01T00:00:00.000Z',
};

/** Turns given events into the envelopes `evolve` sees, numbered from seq 1. */
function envelopes(
  domain: Pick<Domain, 'name' | 'aggregate'>,
  aggregateId: string,
  events: readonly DomainEvent[],
): EventEnvelope[] {
  return events.map((event, i) => ({
    v: ENVELOPE_VERSION,
    id: `given-${i + 1}`,
    domain: domain.name,
    aggregate: domain.aggregate,
    aggregateId,
    seq: i + 1,
    type: event.type,
    typeVersion: event.typeVersion ?? 1,
    at: METADATA.at,
    correlationId: METADATA.correlationId,
    causationId: METADATA.causationId,
    actor: METADATA.actor,
    payload: event.payload,
    prev: null,
  }));
}

export interface WhenOptions {
  /** Facts the handler would have gathered: `{ 'person/p1': true }`, or use `exists`. */
  facts?: Facts;
  /** Aggregates (domain, id) that exist for the command's requirements. */
  exists?: [domain: string, aggregateId: string][];
  metadata?: Partial<CommandMetadata>;
}

export interface Then<E extends EventSchemas = EventSchemas> {
  /** The command is accepted and produces exactly these events (type, version and payload). */
  then(expected: EventOf<E>[]): void;
  /**
   * The command is refused with exactly this code and this message — a string is compared whole, a
   * pattern must match the message — so a rejection for the wrong reason fails like a wrong event.
   */
  thenRejects(code: CimErrorCode, message: string | RegExp): void;
}

/** What a decision came to: the events it produced, or the code and message it was refused with. */
type Outcome = { events: DomainEvent[] } | { rejected: { code: string; message: string } };

const normalise = (list: readonly DomainEvent[]): DomainEvent[] =>
  list.map((e) => ({ type: e.type, typeVersion: e.typeVersion ?? 1, payload: e.payload }));

function describeOutcome(outcome: Outcome): string {
  if ('rejected' in outcome) return `was rejected with ${outcome.rejected.code}: "${outcome.rejected.message}"`;
  return outcome.events.length === 0
    ? 'produced no events'
    : `produced ${outcome.events.map((e) => e.type).join(', ')}`;
}

/**
 * Throws node's AssertionError carrying both outcomes, so a runner shows their diff, with a message
 * that says what was expected and what happened instead. (The operator is the kit's method: with
 * deepStrictEqual, node would append its own copy of the diff to the message.)
 */
function assertOutcome(operator: 'then' | 'thenRejects', actual: Outcome, expected: Outcome, should: string): void {
  if (isDeepStrictEqual(actual, expected)) return;
  let message = `${should}, but it ${describeOutcome(actual)}`;
  if ('events' in actual && 'events' in expected && describeOutcome(actual) === describeOutcome(expected))
    message += ' with other payloads';
  throw new AssertionError({ message, actual, expected, operator });
}

export function specFor<S, C extends CommandDefinitions, E extends EventSchemas>(domain: Domain<S, C, E>) {
  return {
    given(events: EventOf<E>[] = []) {
      return {
        /** The payload as a caller sends it (the schema's input: defaults may be left out). */
        when<K extends keyof C & string>(
          type: K,
          payload: z.input<C[K]['schema']>,
          options: WhenOptions = {},
        ): Then<E> {
          const run = (): DomainEvent[] => {
            const command = domain.validate(type, payload);
            const state = domain.evolveAll(envelopes(domain, command.aggregateId, events));
            const facts: Record<string, boolean> = { ...options.facts };
            for (const [d, id] of options.exists ?? []) facts[factKey(d, id)] = true;
            for (const r of command.requirements) facts[factKey(r.domain, r.aggregateId)] ??= false;
            return domain.decide(command, state, { ...METADATA, ...options.metadata }, facts);
          };
          // Only a CimError is a rejection; anything else thrown is a bug in the domain and
          // propagates as it is.
          const outcome = (): Outcome => {
            try {
              return { events: normalise(run()) };
            } catch (error) {
              if (!isCimError(error)) throw error;
              return { rejected: { code: error.code, message: error.message } };
            }
          };
          return {
            then(expected) {
              const list = expected.map((e) => e.type).join(', ') || 'no events';
              assertOutcome('then', outcome(), { events: normalise(expected) }, `${type} should produce ${list}`);
            },
            thenRejects(code, message) {
              const actual = outcome();
              const actualMessage = 'rejected' in actual ? actual.rejected.message : undefined;
              // A pattern that matches stands for the message it matched, so the diff shows only what differs.
              const expectedMessage =
                typeof message === 'string'
                  ? message
                  : actualMessage !== undefined && message.test(actualMessage)
                    ? actualMessage
                    : String(message);
              const wanted = typeof message === 'string' ? `"${message}"` : `a message matching ${String(message)}`;
              assertOutcome(
                'thenRejects',
                actual,
                { rejected: { code, message: expectedMessage } },
                `${type} should be rejected with ${code}: ${wanted}`,
              );
            },
          };
        },
      };
    },
  };
}
