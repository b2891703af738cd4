// The organization domain: create and rename an organization, add and remove its members. A member
// is a person of the person domain, so adding one needs the fact that the person exists.
import { z } from 'zod';
import {
  aggregateIdSchema,
  defineCommand,
  defineDomain,
  factKey,
  notFound,
  own,
  rejected,
  safeText,
  type EnvelopeOf,
  type ProjectionDefinition,
} from '../decider/index.js';

export type MemberRole = 'member' | 'admin';

export interface OrganizationState {
  status: 'none' | 'active';
  name?: string;
  /** Current members by person id; a removed member is no longer here. Read it with `own`: ids like `constructor` are keys too. */
  members: Readonly<Record<string, MemberRole>>;
}

const aggregateId = aggregateIdSchema;
const organizationId = aggregateId;
const personId = aggregateId;
const name = safeText().trim().min(1).max(200);
const role = z.enum(['member', 'admin']);

const events = {
  OrganizationCreated: z.object({ organizationId, name }),
  OrganizationRenamed: z.object({ organizationId, name }),
  MemberAdded: z.object({ organizationId, personId, role }),
  MemberRemoved: z.object({ organizationId, personId }),
};

const byOrganization = (p: { organizationId: string }) => p.organizationId;
const commands = {
  CreateOrganization: defineCommand({ schema: z.object({ organizationId, name }), aggregateId: byOrganization }),
  RenameOrganization: defineCommand({ schema: z.object({ organizationId, name }), aggregateId: byOrganization }),
  AddMember: defineCommand({
    schema: z.object({ organizationId, personId, role: role.default('member') }),
    aggregateId: byOrganization,
    // Whether the person exists lives in another domain's stream; the handler asks before deciding.
    requires: (p) => [{ kind: 'exists', domain: 'person', aggregateId: p.personId }],
  }),
  RemoveMember: defineCommand({ schema: z.object({ organizationId, personId }), aggregateId: byOrganization }),
};

function mustExist(state: OrganizationState, organizationId: string): void {
  if (state.status === 'none') throw rejected(`organization ${organizationId} does not exist; create it first`);
}

const membership: ProjectionDefinition<EnvelopeOf<typeof events>> = {
  name: 'organization_membership',
  domains: ['organization'],
  tables: [
    'CREATE TABLE IF NOT EXISTS organizations (organization_id TEXT PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID',
    'CREATE TABLE IF NOT EXISTS memberships (organization_id TEXT NOT NULL, person_id TEXT NOT NULL, role TEXT NOT NULL, added_at TEXT NOT NULL, PRIMARY KEY (organization_id, person_id)) WITHOUT ROWID',
  ],
  apply(e) {
    switch (e.type) {
      case 'OrganizationCreated':
      case 'OrganizationRenamed':
        return [
          {
            op: 'upsert',
            table: 'organizations',
            key: { organization_id: e.payload.organizationId },
            values: { name: e.payload.name, updated_at: e.at },
          },
        ];
      case 'MemberAdded':
        return [
          {
            op: 'upsert',
            table: 'memberships',
            key: { organization_id: e.payload.organizationId, person_id: e.payload.personId },
            values: { role: e.payload.role, added_at: e.at },
          },
        ];
      case 'MemberRemoved':
        return [
          {
            op: 'delete',
            table: 'memberships',
            key: { organization_id: e.payload.organizationId, person_id: e.payload.personId },
          },
        ];
      default:
        return [];
    }
  },
  queries: {
    GetOrganization: {
      sql: 'SELECT o.organization_id AS organizationId, o.name, (SELECT count(*) FROM memberships m WHERE m.organization_id = o.organization_id) AS members FROM organizations o WHERE o.organization_id = :organizationId',
      schema: z.object({ organizationId }),
      one: true,
    },
    ListMembers: {
      sql: 'SELECT person_id AS personId, role, added_at AS addedAt FROM memberships WHERE organization_id = :organizationId ORDER BY added_at, person_id',
      schema: z.object({ organizationId }),
    },
  },
};

export const organization = defineDomain({
  name: 'organization',
  aggregate: 'Organization',
  commands,
  events,
  initialState: (): OrganizationState => ({ status: 'none', members: {} }),
  decide(command, state) {
    switch (command.type) {
      case 'CreateOrganization': {
        const p = command.payload;
        if (state.status !== 'none') throw rejected(`organization ${p.organizationId} already exists`);
        return [{ type: 'OrganizationCreated', payload: p }];
      }
      case 'RenameOrganization': {
        const p = command.payload;
        mustExist(state, p.organizationId);
        return state.name === p.name ? [] : [{ type: 'OrganizationRenamed', payload: p }];
      }
      case 'AddMember': {
        const p = command.payload;
        mustExist(state, p.organizationId);
        if (command.facts[factKey('person', p.personId)] !== true)
          throw notFound(
            `person ${p.personId} is not registered; register them before adding them to ${p.organizationId}`,
          );
        if (own(state.members, p.personId) !== undefined)
          throw rejected(`person ${p.personId} is already a member of ${p.organizationId}`);
        return [{ type: 'MemberAdded', payload: p }];
      }
      case 'RemoveMember': {
        const p = command.payload;
        mustExist(state, p.organizationId);
        if (own(state.members, p.personId) === undefined)
          throw rejected(`person ${p.personId} is not a member of ${p.organizationId}`);
        return [{ type: 'MemberRemoved', payload: p }];
      }
    }
  },
  evolve(state, e): OrganizationState {
    switch (e.type) {
      case 'OrganizationCreated':
        return { status: 'active', name: e.payload.name, members: {} };
      case 'OrganizationRenamed':
        return { ...state, name: e.payload.name };
      case 'MemberAdded':
        return { ...state, members: { ...state.members, [e.payload.personId]: e.payload.role } };
      case 'MemberRemoved': {
        const members = { ...state.members };
        delete members[e.payload.personId];
        return { ...state, members };
      }
      default:
        return state;
    }
  },
  projections: [membership],
});
