// Given/when/then specs of the organization domain: every command, its rejections, and its read model.
import { describe, expect, it } from 'vitest';
import { organization, specFor, type EventOf } from '../../../appliance/index.js';

type OrganizationEvent = EventOf<typeof organization.events>;

const spec = specFor(organization);
const created: OrganizationEvent = {
  type: 'OrganizationCreated',
  payload: { organizationId: 'o1', name: 'Analytical Engines' },
};
const adaAdded: OrganizationEvent = {
  type: 'MemberAdded',
  payload: { organizationId: 'o1', personId: 'p1', role: 'member' },
};
const adaRemoved: OrganizationEvent = { type: 'MemberRemoved', payload: { organizationId: 'o1', personId: 'p1' } };

describe('CreateOrganization', () => {
  it('given no organization, creates one', () => {
    spec.given([]).when('CreateOrganization', { organizationId: 'o1', name: 'Analytical Engines' }).then([created]);
  });

  it('given the organization exists, rejects a second creation', () => {
    spec
      .given([created])
      .when('CreateOrganization', { organizationId: 'o1', name: 'Other' })
      .thenRejects('CIM-REJECTED', 'organization o1 already exists');
  });

  it('rejects an empty name or an id that cannot close a subject at the edge, naming the field', () => {
    spec
      .given([])
      .when('CreateOrganization', { organizationId: 'o1', name: ' ' })
      .thenRejects('CIM-INVALID-INPUT', 'CreateOrganization: name: Too small: expected string to have >=1 characters');
    spec
      .given([])
      .when('CreateOrganization', { organizationId: 'o.1', name: 'X' })
      .thenRejects(
        'CIM-INVALID-INPUT',
        'CreateOrganization: organizationId: expected 1–64 letters, digits, "_", "-" or "="',
      );
  });
});

describe('RenameOrganization', () => {
  it('given an organization, renames it', () => {
    spec
      .given([created])
      .when('RenameOrganization', { organizationId: 'o1', name: 'Difference Engines' })
      .then([{ type: 'OrganizationRenamed', payload: { organizationId: 'o1', name: 'Difference Engines' } }]);
  });

  it('given the same name, records nothing', () => {
    spec.given([created]).when('RenameOrganization', { organizationId: 'o1', name: 'Analytical Engines' }).then([]);
  });

  it('given no such organization, rejects', () => {
    spec
      .given([])
      .when('RenameOrganization', { organizationId: 'o1', name: 'X' })
      .thenRejects('CIM-REJECTED', 'organization o1 does not exist; create it first');
  });
});

describe('AddMember', () => {
  it('given an organization and a registered person, adds them as a member by default', () => {
    spec
      .given([created])
      .when('AddMember', { organizationId: 'o1', personId: 'p1' }, { exists: [['person', 'p1']] })
      .then([adaAdded]);
  });

  it('given an organization and a registered person, adds them with the role asked for', () => {
    spec
      .given([created])
      .when('AddMember', { organizationId: 'o1', personId: 'p1', role: 'admin' }, { exists: [['person', 'p1']] })
      .then([{ type: 'MemberAdded', payload: { organizationId: 'o1', personId: 'p1', role: 'admin' } }]);
  });

  it('requires the fact that the person exists', () => {
    expect(organization.validate('AddMember', { organizationId: 'o1', personId: 'p1' }).requirements).toEqual([
      { kind: 'exists', domain: 'person', aggregateId: 'p1' },
    ]);
  });

  it('given the person does not exist, rejects as not found', () => {
    spec
      .given([created])
      .when('AddMember', { organizationId: 'o1', personId: 'p1' })
      .thenRejects('CIM-NOT-FOUND', 'person p1 is not registered; register them before adding them to o1');
  });

  it('given the person is already a member, rejects', () => {
    spec
      .given([created, adaAdded])
      .when('AddMember', { organizationId: 'o1', personId: 'p1' }, { exists: [['person', 'p1']] })
      .thenRejects('CIM-REJECTED', 'person p1 is already a member of o1');
  });

  it('given the person was removed, adds them again', () => {
    spec
      .given([created, adaAdded, adaRemoved])
      .when('AddMember', { organizationId: 'o1', personId: 'p1' }, { exists: [['person', 'p1']] })
      .then([adaAdded]);
  });

  it('given no such organization, rejects', () => {
    spec
      .given([])
      .when('AddMember', { organizationId: 'o1', personId: 'p1' }, { exists: [['person', 'p1']] })
      .thenRejects('CIM-REJECTED', 'organization o1 does not exist; create it first');
  });

  it('rejects an unknown role at the edge', () => {
    spec
      .given([created])
      // @ts-expect-error an unknown role does not compile; a caller on the wire can still send one.
      .when('AddMember', { organizationId: 'o1', personId: 'p1', role: 'owner' })
      .thenRejects('CIM-INVALID-INPUT', 'AddMember: role: Invalid option: expected one of "member"|"admin"');
  });
});

describe('RemoveMember', () => {
  it('given a member, removes them', () => {
    spec.given([created, adaAdded]).when('RemoveMember', { organizationId: 'o1', personId: 'p1' }).then([adaRemoved]);
  });

  it('given the person is not a member, rejects', () => {
    spec
      .given([created])
      .when('RemoveMember', { organizationId: 'o1', personId: 'p1' })
      .thenRejects('CIM-REJECTED', 'person p1 is not a member of o1');
  });

  it('given the member was already removed, rejects', () => {
    spec
      .given([created, adaAdded, adaRemoved])
      .when('RemoveMember', { organizationId: 'o1', personId: 'p1' })
      .thenRejects('CIM-REJECTED', 'person p1 is not a member of o1');
  });

  it('given no such organization, rejects', () => {
    spec
      .given([])
      .when('RemoveMember', { organizationId: 'o1', personId: 'p1' })
      .thenRejects('CIM-REJECTED', 'organization o1 does not exist; create it first');
  });
});

describe('organization_membership projection', () => {
  const projection = organization.definition.projections![0]!;
  const envelope = (type: string, payload: Record<string, unknown>) => ({
    v: 1,
    id: 'e',
    domain: 'organization',
    aggregate: 'Organization',
    aggregateId: 'o1',
    seq: 1,
    type,
    typeVersion: 1,
    at: '2026-01-01T00:00:00Z',
    correlationId: 'c',
    causationId: 'c',
    actor: 'a',
    payload,
    prev: null,
  });

  it('declares its tables and queries', () => {
    expect(projection.name).toBe('organization_membership');
    expect(projection.tables.join('\n')).toMatch(
      /CREATE TABLE IF NOT EXISTS organizations[\s\S]*CREATE TABLE IF NOT EXISTS memberships/,
    );
    expect(projection.queries!.GetOrganization!.one).toBe(true);
    expect(projection.queries!.ListMembers!.one).toBeUndefined();
  });

  it('maps creation and renaming to the organization row', () => {
    expect(projection.apply(envelope('OrganizationCreated', created.payload))).toEqual([
      {
        op: 'upsert',
        table: 'organizations',
        key: { organization_id: 'o1' },
        values: { name: 'Analytical Engines', updated_at: '2026-01-01T00:00:00Z' },
      },
    ]);
    expect(
      projection.apply(envelope('OrganizationRenamed', { organizationId: 'o1', name: 'Difference Engines' })),
    ).toEqual([
      {
        op: 'upsert',
        table: 'organizations',
        key: { organization_id: 'o1' },
        values: { name: 'Difference Engines', updated_at: '2026-01-01T00:00:00Z' },
      },
    ]);
  });

  it('maps an added member to a membership row and a removed one to its deletion', () => {
    expect(projection.apply(envelope('MemberAdded', adaAdded.payload))).toEqual([
      {
        op: 'upsert',
        table: 'memberships',
        key: { organization_id: 'o1', person_id: 'p1' },
        values: { role: 'member', added_at: '2026-01-01T00:00:00Z' },
      },
    ]);
    expect(projection.apply(envelope('MemberRemoved', adaRemoved.payload))).toEqual([
      { op: 'delete', table: 'memberships', key: { organization_id: 'o1', person_id: 'p1' } },
    ]);
    expect(projection.apply(envelope('SomethingElse', {}))).toEqual([]);
  });
});
