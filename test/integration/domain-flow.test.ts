// The reference domains end to end on a real 3-node cluster, as `cim serve` runs them: 1,000
// mixed commands from four concurrent clients (seeded); then the streams must hold exactly the
// events the replies named, the SQLite read models must equal rows the test folds itself from the
// commands it had accepted (not through the projections' own mapping), every added member must
// have exactly one onboarding workflow, and every chain and seal must verify.
import Database from 'better-sqlite3';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectNats,
  decodeEnvelope,
  FieldEncryption,
  personalDataOf,
  SubjectKeyStore,
  domainStream,
  isCimError,
  loadStateVerifier,
  readStream,
  referenceDomains,
  sendCommand,
  verifyDomain,
  type AppendedEventInfo,
  type EventEnvelope,
} from '../../appliance/index.js';
import { startAppliance, type ApplianceHandle } from '../../appliance/serve.js';
import { seededRandom } from '../support/random.js';
import { streamEvents as readBack } from '../support/stream-events.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

let t: TestCluster;
let appliance: ApplianceHandle | undefined;
const clients: NatsConnection[] = [];
const outcome = { accepted: 0, rejected: 0, byCode: new Map<string, number>() };

/** A command the services accepted: what the test sent, and the events its reply named. */
interface Accepted {
  domain: string;
  type: string;
  payload: Record<string, string>;
  events: AppendedEventInfo[];
}
const accepted: Accepted[] = [];

const streamEvents = (domain: string) => readBack(t.nc, domain);

/** A domain stream read back whole, each event under the CID its bytes hash to (what a reply names). */
async function storedEvents(domain: string): Promise<Map<string, EventEnvelope>> {
  const { last_seq: last } = (await (await t.nc.jetstreamManager()).streams.info(domainStream(domain))).state;
  const events = new Map<string, EventEnvelope>();
  // Personal data is stored encrypted: decrypted with the appliance's key store to compare it.
  const keys = SubjectKeyStore.open(t.stateDir);
  const protection = new FieldEncryption(personalDataOf(referenceDomains), keys);
  for await (const m of readStream(t.nc.jetstream(), { stream: domainStream(domain), fromSeq: 1, toSeq: last })) {
    const { envelope, cid } = decodeEnvelope(m.data);
    events.set(cid.toString(), protection.reveal(envelope));
  }
  keys.close();
  return events;
}

type Row = Record<string, string | number | null>;

/** The event each accepted command must have produced, written out here rather than taken from the domains. */
function expectedEvent(c: Accepted): { type: string; payload: Record<string, string> } {
  const types: Record<string, string> = {
    RegisterPerson: 'PersonRegistered',
    RenamePerson: 'PersonRenamed',
    ChangePersonEmail: 'PersonEmailChanged',
    ArchivePerson: 'PersonArchived',
    CreateOrganization: 'OrganizationCreated',
    AddMember: 'MemberAdded',
    RemoveMember: 'MemberRemoved',
  };
  // AddMember without a role adds a plain member.
  return { type: types[c.type]!, payload: c.type === 'AddMember' ? { ...c.payload, role: 'member' } : c.payload };
}

/**
 * The rows person_directory, organizations and memberships must hold: the accepted commands folded
 * in each aggregate's chain order (the sequence each reply named), with the time each event
 * carries. It also holds the services to the business rules: a command accepted in a state that
 * should have refused it fails here.
 */
function foldAccepted(
  log: Accepted[],
  atOf: (cid: string) => string,
): { people: Row[]; organizations: Row[]; memberships: Row[] } {
  const people = new Map<string, Row>();
  const organizations = new Map<string, Row>();
  const memberships = new Map<string, Row>();
  const aggregateOf = (c: Accepted) =>
    c.domain === 'person' ? `person/${c.payload.personId}` : `organization/${c.payload.organizationId}`;
  const ordered = log
    .filter((c) => c.events.length > 0)
    .sort((x, y) =>
      aggregateOf(x) === aggregateOf(y)
        ? x.events[0]!.seq - y.events[0]!.seq
        : aggregateOf(x) < aggregateOf(y)
          ? -1
          : 1,
    );
  const active = (personId: string, what: string): Row => {
    const row = people.get(personId);
    if (row?.status !== 'active')
      throw new Error(
        `${what} was accepted for person ${personId}, who is ${row ? String(row.status) : 'not registered'}`,
      );
    return row;
  };
  for (const c of ordered) {
    const at = atOf(c.events[0]!.cid);
    const p = c.payload;
    const membership = `${p.organizationId}/${p.personId}`;
    switch (c.type) {
      case 'RegisterPerson':
        if (people.has(p.personId!)) throw new Error(`person ${p.personId} was registered twice`);
        people.set(p.personId!, {
          person_id: p.personId!,
          name: p.name!,
          email: p.email!,
          status: 'active',
          updated_at: at,
        });
        break;
      case 'RenamePerson':
        Object.assign(active(p.personId!, c.type), { name: p.name!, updated_at: at });
        break;
      case 'ChangePersonEmail':
        Object.assign(active(p.personId!, c.type), { email: p.email!, updated_at: at });
        break;
      case 'ArchivePerson':
        Object.assign(active(p.personId!, c.type), { status: 'archived', updated_at: at });
        break;
      case 'CreateOrganization':
        if (organizations.has(p.organizationId!)) throw new Error(`organization ${p.organizationId} was created twice`);
        organizations.set(p.organizationId!, { organization_id: p.organizationId!, name: p.name!, updated_at: at });
        break;
      case 'AddMember':
        if (!organizations.has(p.organizationId!))
          throw new Error(`AddMember was accepted for organization ${p.organizationId}, which does not exist`);
        if (memberships.has(membership))
          throw new Error(`${p.personId} was added to ${p.organizationId} while a member`);
        memberships.set(membership, {
          organization_id: p.organizationId!,
          person_id: p.personId!,
          role: 'member',
          added_at: at,
        });
        break;
      case 'RemoveMember':
        if (!memberships.delete(membership))
          throw new Error(`${p.personId} was removed from ${p.organizationId} while not a member`);
        break;
      default:
        throw new Error(`the flow sends no ${c.type}`);
    }
  }
  return { people: sorted(people), organizations: sorted(organizations), memberships: sorted(memberships) };
}

/** Rows in key order, the order the test reads the tables in. */
function sorted(rows: Map<string, Row>): Row[] {
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
}

beforeAll(async () => {
  t = await startTestCluster('domain-flow', 3);
  appliance = await startAppliance({
    endpointFor: (role) => t.cluster.endpointFor(role),
    stateDir: t.stateDir,
    replicas: 3,
    sealEveryEvents: 200,
    sealEveryMs: 60_000,
  });
  for (let i = 0; i < 4; i++) clients.push(await connectNats(t.cluster.endpointFor('loadgen')));

  const random = seededRandom(5);
  const people: string[] = [];
  const orgs: string[] = [];
  let next = 0;
  const plan = Array.from({ length: 1_000 }, () => random.next());
  const send = async (client: NatsConnection, domain: string, type: string, payload: Record<string, string>) => {
    try {
      const result = await sendCommand(client, domain, type, { actor: 'flow-test', payload }, { timeoutMs: 30_000 });
      accepted.push({ domain, type, payload: payload as Record<string, string>, events: result.events });
      outcome.accepted++;
    } catch (error) {
      if (!isCimError(error)) throw error;
      outcome.rejected++;
      outcome.byCode.set(error.code, (outcome.byCode.get(error.code) ?? 0) + 1);
    }
  };
  await Promise.all(
    clients.map(async (client) => {
      while (next < plan.length) {
        const roll = plan[next++]!;
        const somePerson = () => people[Math.floor(roll * 7919) % Math.max(1, people.length)] ?? 'nobody';
        const someOrg = () => orgs[Math.floor(roll * 104729) % Math.max(1, orgs.length)] ?? 'none';
        if (roll < 0.3 || people.length < 5) {
          const id = `p${people.length}`;
          people.push(id);
          await send(client, 'person', 'RegisterPerson', {
            personId: id,
            name: `Person ${id}`,
            email: `${id}@example.org`,
          });
        } else if (roll < 0.45)
          await send(client, 'person', 'RenamePerson', { personId: somePerson(), name: `Renamed ${next}` });
        else if (roll < 0.55)
          await send(client, 'person', 'ChangePersonEmail', { personId: somePerson(), email: `m${next}@example.org` });
        else if (roll < 0.58) await send(client, 'person', 'ArchivePerson', { personId: somePerson() });
        else if (roll < 0.63 || orgs.length === 0) {
          const id = `o${orgs.length}`;
          orgs.push(id);
          await send(client, 'organization', 'CreateOrganization', { organizationId: id, name: `Org ${id}` });
        } else if (roll < 0.9)
          await send(client, 'organization', 'AddMember', { organizationId: someOrg(), personId: somePerson() });
        else await send(client, 'organization', 'RemoveMember', { organizationId: someOrg(), personId: somePerson() });
      }
    }),
  );
}, 300_000);

afterAll(async () => {
  await appliance?.stop().catch(() => {});
  for (const c of clients) await c.close().catch(() => {});
  await t?.stop();
});

describe('1,000 mixed commands from four clients', () => {
  it('were each answered: accepted, or rejected for a business reason', () => {
    expect(outcome.accepted + outcome.rejected).toBe(1_000);
    expect(outcome.accepted).toBeGreaterThan(500);
    // Duplicates, missing people and members, archived people: never an infrastructure failure.
    expect([...outcome.byCode.keys()].every((code) => code === 'CIM-REJECTED' || code === 'CIM-NOT-FOUND')).toBe(true);
  });

  it("stored the events their replies named, each with the command's payload, and no other", async () => {
    for (const domain of ['person', 'organization']) {
      const stored = await storedEvents(domain);
      const replies = accepted.filter((c) => c.domain === domain);
      expect(
        replies.every((c) => c.events.length === 1),
        `every accepted ${domain} command named one event`,
      ).toBe(true);
      for (const c of replies) {
        const event = stored.get(c.events[0]!.cid);
        const aggregateId = domain === 'person' ? c.payload.personId : c.payload.organizationId;
        expect(
          { type: event?.type, aggregateId: event?.aggregateId, seq: event?.seq, payload: event?.payload },
          `${c.type} ${JSON.stringify(c.payload)}`,
        ).toEqual({ ...expectedEvent(c), aggregateId, seq: c.events[0]!.seq });
      }
      expect(stored.size, `${domain}: events in the stream that no reply named`).toBe(replies.length);
    }
  });

  it('start exactly one onboarding workflow per member added', async () => {
    const added = accepted.filter((c) => c.type === 'AddMember');
    expect(added.length).toBeGreaterThan(50);
    const started = await waitFor(
      'a workflow for every member added',
      async () => {
        const s = (await streamEvents('workflow')).filter((e) => e.type === 'WorkflowStarted');
        return s.length >= added.length ? s : undefined;
      },
      60_000,
    );
    expect(started).toHaveLength(added.length);
    const organization = await storedEvents('organization');
    expect(new Set(started.map((w) => w.causationId))).toEqual(
      new Set(added.map((a) => organization.get(a.events[0]!.cid)!.id)),
    );
  });

  it('leave read models equal to the rows folded from the accepted commands, once caught up and flushed', async () => {
    const lastSeqs = Object.fromEntries(
      await Promise.all(
        referenceDomains.map(
          async (d) =>
            [
              d.name,
              (await (await t.nc.jetstreamManager()).streams.info(domainStream(d.name))).state.last_seq,
            ] as const,
        ),
      ),
    );
    await waitFor(
      'the projections to catch up',
      () => {
        const progress = appliance!.projections();
        return (
          Object.values(progress).every((p) =>
            Object.entries(p.domains).every(([domain, d]) => d.checkpoint >= lastSeqs[domain]!),
          ) || undefined
        );
      },
      60_000,
    );
    const path = appliance!.readModelPath;
    await appliance!.stop();
    appliance = undefined;

    // When each event happened is the one thing the commands do not say: it is read from the streams.
    const events = new Map([...(await storedEvents('person')), ...(await storedEvents('organization'))]);
    const expected = foldAccepted(accepted, (cid) => events.get(cid)!.at);
    const starts = [...(await storedEvents('workflow')).values()].filter((e) => e.type === 'WorkflowStarted');
    // Every member added started one onboarding workflow about that person, still at its first step.
    const workflows = accepted
      .filter((c) => c.type === 'AddMember')
      .map((c) => {
        const started = starts.find((e) => e.causationId === events.get(c.events[0]!.cid)!.id)!;
        const workflowId = (started.payload as { workflowId: string }).workflowId;
        return [
          workflowId,
          {
            workflow_id: workflowId,
            definition: 'onboarding',
            subject_domain: 'person',
            subject_id: c.payload.personId!,
            status: 'running',
            current_step: 'account',
            steps_done: 0,
            updated_at: started.at,
          },
        ] as const;
      });

    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const table = (sql: string) => db.prepare(sql).all() as Row[];
      expect(table('SELECT * FROM person_directory ORDER BY person_id'), 'person_directory').toEqual(expected.people);
      expect(table('SELECT * FROM organizations ORDER BY organization_id'), 'organizations').toEqual(
        expected.organizations,
      );
      expect(table("SELECT * FROM memberships ORDER BY organization_id || '/' || person_id"), 'memberships').toEqual(
        expected.memberships,
      );
      expect(table('SELECT * FROM workflow_status ORDER BY workflow_id'), 'workflow_status').toEqual(
        sorted(new Map(workflows)),
      );
      // The flow reached the rows it is meant to test: archived people, removed members.
      expect(expected.people.some((r) => r.status === 'archived')).toBe(true);
      expect(expected.memberships.length).toBeLessThan(workflows.length);
    } finally {
      db.close();
    }
  });

  it('verify: every chain and seal holds', async () => {
    const trusted = [loadStateVerifier(t.stateDir)!];
    for (const domain of referenceDomains) {
      const result = await verifyDomain(t.nc, domain.name, { trusted });
      expect(result.findings, domain.name).toEqual([]);
    }
  });
});
