// The domain test kit: given events, when a command, then events or a rejection — the decision
// run in process, with no NATS (STYLE.md: Emmett's DeciderSpecification). It throws node's
// AssertionError on a mismatch, so it works under any test runner.
import { deepStrictEqual, fail } from 'node:assert/strict';
import { isCimError, type CimErrorCode } from '../errors.js';
import { ENVELOPE_VERSION, type EventEnvelope } from '../eventstore/index.js';
import type { Domain } from './define-domain.js';
import { factKey, type CommandMetadata, type DomainEvent, type Facts } from './types.js';

const METADATA: CommandMetadata = { actor: 'spec', correlationId: 'spec-correlation', causationId: 'spec-causation', at: '2026-01-01T00:00:00.000Z' };

/** Turns given events into the envelopes `evolve` sees, numbered from seq 1. */
function envelopes(domain: Domain, aggregateId: string, events: readonly DomainEvent[]): EventEnvelope[] {
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

export interface Then {
  then(expected: DomainEvent[]): void;
  thenRejects(code: CimErrorCode, message?: RegExp): void;
}

export function specFor<S>(domain: Domain<S>) {
  return {
    given(events: DomainEvent[] = []) {
      return {
        when(type: string, payload: unknown, options: WhenOptions = {}): Then {
          const run = (): DomainEvent[] => {
            const command = domain.validate(type, payload);
            const state = domain.evolveAll(envelopes(domain, command.aggregateId, events));
            const facts: Record<string, boolean> = { ...options.facts };
            for (const [d, id] of options.exists ?? []) facts[factKey(d, id)] = true;
            for (const r of command.requirements) facts[factKey(r.domain, r.aggregateId)] ??= false;
            return domain.decide(command, state, { ...METADATA, ...options.metadata }, facts);
          };
          return {
            then(expected) {
              const actual = run();
              const normalise = (list: DomainEvent[]) => list.map((e) => ({ type: e.type, typeVersion: e.typeVersion ?? 1, payload: e.payload }));
              deepStrictEqual(normalise(actual), normalise(expected), `${type} should produce ${expected.map((e) => e.type).join(', ') || 'no events'}`);
            },
            thenRejects(code, message) {
              let events: DomainEvent[];
              try {
                events = run();
              } catch (error) {
                if (!isCimError(error, code)) fail(`${type} should be rejected with ${code}, but threw ${isCimError(error) ? error.code : ''} ${(error as Error).message}`);
                if (message && !message.test(error.message)) fail(`${type} was rejected with ${code}, but "${error.message}" does not match ${message}`);
                return;
              }
              fail(`${type} should be rejected with ${code}, but produced ${events.map((e) => e.type).join(', ') || 'no events'}`);
            },
          };
        },
      };
    },
  };
}
