// The person domain: register a person, change their name or email, archive them. Name and email
// are personal data (encrypted and erasable once privacy lands, DESIGN.md §6).
import { z } from 'zod';
import { aggregateIdSchema, defineCommand, defineDomain, rejected, type DomainEvent, type ProjectionDefinition } from '../decider/index.js';
import type { EventEnvelope } from '../eventstore/index.js';

export interface PersonState {
  status: 'none' | 'active' | 'archived';
  name?: string;
  email?: string;
}

const personId = aggregateIdSchema;
const name = z.string().trim().min(1).max(200);
const email = z.email().max(320);

const events = {
  PersonRegistered: z.object({ personId, name, email }),
  PersonRenamed: z.object({ personId, name }),
  PersonEmailChanged: z.object({ personId, email }),
  PersonArchived: z.object({ personId, reason: z.string().max(500).optional() }),
};

type Payloads = { [K in keyof typeof events]: z.infer<(typeof events)[K]> };

const schemas = {
  RegisterPerson: z.object({ personId, name, email }),
  RenamePerson: z.object({ personId, name }),
  ChangePersonEmail: z.object({ personId, email }),
  ArchivePerson: z.object({ personId, reason: z.string().max(500).optional() }),
};
type Commands = { [K in keyof typeof schemas]: z.infer<(typeof schemas)[K]> };

const byPerson = (p: { personId: string }) => p.personId;
const commands = {
  RegisterPerson: defineCommand({ schema: schemas.RegisterPerson, aggregateId: byPerson }),
  RenamePerson: defineCommand({ schema: schemas.RenamePerson, aggregateId: byPerson }),
  ChangePersonEmail: defineCommand({ schema: schemas.ChangePersonEmail, aggregateId: byPerson }),
  ArchivePerson: defineCommand({ schema: schemas.ArchivePerson, aggregateId: byPerson }),
};

const event = <K extends keyof Payloads>(type: K, payload: Payloads[K]): DomainEvent => ({ type, payload });

function mustBeActive(state: PersonState, personId: string): void {
  if (state.status === 'none') throw rejected(`person ${personId} is not registered`);
  if (state.status === 'archived') throw rejected(`person ${personId} is archived`);
}

const directory: ProjectionDefinition = {
  name: 'person_directory',
  domains: ['person'],
  tables: ['CREATE TABLE IF NOT EXISTS person_directory (person_id TEXT PRIMARY KEY, name TEXT, email TEXT, status TEXT NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID'],
  apply(e: EventEnvelope) {
    const p = e.payload as { personId: string; name?: string; email?: string };
    const key = { person_id: p.personId };
    switch (e.type) {
      case 'PersonRegistered':
        return [{ op: 'upsert', table: 'person_directory', key, values: { name: p.name!, email: p.email!, status: 'active', updated_at: e.at } }];
      case 'PersonRenamed':
        return [{ op: 'upsert', table: 'person_directory', key, values: { name: p.name!, updated_at: e.at } }];
      case 'PersonEmailChanged':
        return [{ op: 'upsert', table: 'person_directory', key, values: { email: p.email!, updated_at: e.at } }];
      case 'PersonArchived':
        return [{ op: 'upsert', table: 'person_directory', key, values: { status: 'archived', updated_at: e.at } }];
      default:
        return [];
    }
  },
  queries: {
    GetPerson: { sql: 'SELECT person_id AS personId, name, email, status FROM person_directory WHERE person_id = :personId', schema: z.object({ personId }), one: true, personalData: true },
    CountPeople: { sql: "SELECT count(*) AS people FROM person_directory WHERE status = 'active'", schema: z.object({}), one: true },
  },
};

export const person = defineDomain<PersonState>({
  name: 'person',
  aggregate: 'Person',
  commands,
  events,
  initialState: () => ({ status: 'none' }),
  decide(command, state) {
    switch (command.type) {
      case 'RegisterPerson': {
        const p = command.payload as Commands['RegisterPerson'];
        if (state.status !== 'none') throw rejected(`person ${p.personId} is already registered`);
        return [event('PersonRegistered', p)];
      }
      case 'RenamePerson': {
        const p = command.payload as Commands['RenamePerson'];
        mustBeActive(state, p.personId);
        return state.name === p.name ? [] : [event('PersonRenamed', p)];
      }
      case 'ChangePersonEmail': {
        const p = command.payload as Commands['ChangePersonEmail'];
        mustBeActive(state, p.personId);
        return state.email === p.email ? [] : [event('PersonEmailChanged', p)];
      }
      case 'ArchivePerson': {
        const p = command.payload as Commands['ArchivePerson'];
        mustBeActive(state, p.personId);
        return [event('PersonArchived', p)];
      }
      default:
        throw rejected(`person has no command ${command.type}`);
    }
  },
  evolve(state, e) {
    const p = e.payload as { name?: string; email?: string };
    switch (e.type) {
      case 'PersonRegistered':
        return { status: 'active', name: p.name!, email: p.email! };
      case 'PersonRenamed':
        return { ...state, name: p.name! };
      case 'PersonEmailChanged':
        return { ...state, email: p.email! };
      case 'PersonArchived':
        return { ...state, status: 'archived' };
      default:
        return state;
    }
  },
  projections: [directory],
  personalData: { PersonRegistered: ['name', 'email'], PersonRenamed: ['name'], PersonEmailChanged: ['email'] },
});
