// The person domain: register a person, change their name or email, archive them. Name and email
// are personal data: encrypted with the person's key and erasable (the person is the data subject);
// an event read after its subject's erasure has them null, and the state and rows then hold null.
import { z } from 'zod';
import {
  aggregateIdSchema,
  defineCommand,
  defineDomain,
  rejected,
  safeText,
  safeTextCheck,
  type EnvelopeOf,
  type ProjectionDefinition,
} from '../decider/index.js';

export interface PersonState {
  status: 'none' | 'active' | 'archived';
  /** Null once the person's personal data was erased. */
  name?: string | null;
  email?: string | null;
}

const personId = aggregateIdSchema;
const name = safeText().trim().min(1).max(200);
const email = z.email().max(320).check(safeTextCheck);
const reason = safeText().max(500).optional();

const events = {
  PersonRegistered: z.object({ personId, name, email }),
  PersonRenamed: z.object({ personId, name }),
  PersonEmailChanged: z.object({ personId, email }),
  PersonArchived: z.object({ personId, reason }),
};

const byPerson = (p: { personId: string }) => p.personId;
const commands = {
  RegisterPerson: defineCommand({ schema: z.object({ personId, name, email }), aggregateId: byPerson }),
  RenamePerson: defineCommand({ schema: z.object({ personId, name }), aggregateId: byPerson }),
  ChangePersonEmail: defineCommand({ schema: z.object({ personId, email }), aggregateId: byPerson }),
  ArchivePerson: defineCommand({ schema: z.object({ personId, reason }), aggregateId: byPerson }),
};

function mustBeActive(state: PersonState, personId: string): void {
  if (state.status === 'none') throw rejected(`person ${personId} is not registered`);
  if (state.status === 'archived') throw rejected(`person ${personId} is archived`);
}

const directory: ProjectionDefinition<EnvelopeOf<typeof events>> = {
  name: 'person_directory',
  domains: ['person'],
  // Erasure deletes a person's row; one an event brings back later holds null name and email.
  subjectRows: [{ table: 'person_directory', column: 'person_id' }],
  tables: [
    'CREATE TABLE IF NOT EXISTS person_directory (person_id TEXT PRIMARY KEY, name TEXT, email TEXT, status TEXT NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID',
  ],
  apply(e) {
    const key = { person_id: e.payload.personId };
    switch (e.type) {
      case 'PersonRegistered':
        return [
          {
            op: 'upsert',
            table: 'person_directory',
            key,
            values: { name: e.payload.name, email: e.payload.email, status: 'active', updated_at: e.at },
          },
        ];
      case 'PersonRenamed':
        return [{ op: 'upsert', table: 'person_directory', key, values: { name: e.payload.name, updated_at: e.at } }];
      case 'PersonEmailChanged':
        return [{ op: 'upsert', table: 'person_directory', key, values: { email: e.payload.email, updated_at: e.at } }];
      case 'PersonArchived':
        return [{ op: 'upsert', table: 'person_directory', key, values: { status: 'archived', updated_at: e.at } }];
      default:
        return [];
    }
  },
  queries: {
    GetPerson: {
      sql: 'SELECT person_id AS personId, name, email, status FROM person_directory WHERE person_id = :personId',
      schema: z.object({ personId }),
      one: true,
      personalData: true,
    },
    CountPeople: {
      sql: "SELECT count(*) AS people FROM person_directory WHERE status = 'active'",
      schema: z.object({}),
      one: true,
    },
  },
};

export const person = defineDomain({
  name: 'person',
  aggregate: 'Person',
  commands,
  events,
  initialState: (): PersonState => ({ status: 'none' }),
  decide(command, state) {
    switch (command.type) {
      case 'RegisterPerson':
        if (state.status !== 'none') throw rejected(`person ${command.payload.personId} is already registered`);
        return [{ type: 'PersonRegistered', payload: command.payload }];
      case 'RenamePerson':
        mustBeActive(state, command.payload.personId);
        return state.name === command.payload.name ? [] : [{ type: 'PersonRenamed', payload: command.payload }];
      case 'ChangePersonEmail':
        mustBeActive(state, command.payload.personId);
        return state.email === command.payload.email ? [] : [{ type: 'PersonEmailChanged', payload: command.payload }];
      case 'ArchivePerson':
        mustBeActive(state, command.payload.personId);
        return [{ type: 'PersonArchived', payload: command.payload }];
    }
  },
  evolve(state, e): PersonState {
    switch (e.type) {
      case 'PersonRegistered':
        return { status: 'active', name: e.payload.name, email: e.payload.email };
      case 'PersonRenamed':
        return { ...state, name: e.payload.name };
      case 'PersonEmailChanged':
        return { ...state, email: e.payload.email };
      case 'PersonArchived':
        return { ...state, status: 'archived' };
      default:
        return state;
    }
  },
  projections: [directory],
  personalData: { PersonRegistered: ['name', 'email'], PersonRenamed: ['name'], PersonEmailChanged: ['email'] },
});
