// The reference domains end to end on a real 3-node cluster, as `cim serve` runs them: 1,000
// mixed commands from four concurrent clients (seeded), then the read models must equal a fold of
// the streams through the projections' own row mapping, every added member must have exactly one
// onboarding workflow, and every chain and seal must verify.
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectNats,
  domainStream,
  isCimError,
  loadStateVerifier,
  ReadModel,
  referenceDomains,
  sendCommand,
  verifyDomain,
  type RowChange,
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

const streamEvents = (domain: string) => readBack(t.nc, domain);

/** The rows a projection should hold: its own apply() folded over the streams, in memory. */
function fold(changes: RowChange[]): Map<string, Map<string, Record<string, unknown>>> {
  const tables = new Map<string, Map<string, Record<string, unknown>>>();
  for (const c of changes) {
    const table = tables.get(c.table) ?? new Map<string, Record<string, unknown>>();
    tables.set(c.table, table);
    const id = JSON.stringify(Object.entries(c.key).sort());
    if (c.op === 'delete') table.delete(id);
    else table.set(id, { ...table.get(id), ...c.key, ...c.values });
  }
  return tables;
}

beforeAll(async () => {
  t = await startTestCluster('domain-flow', 3);
  appliance = await startAppliance({ endpoint: { servers: t.cluster.clientUrls }, stateDir: t.stateDir, replicas: 3, sealEveryEvents: 200, sealEveryMs: 60_000 });
  for (let i = 0; i < 4; i++) clients.push(await connectNats({ servers: t.cluster.clientUrls }));

  const random = seededRandom(5);
  const people: string[] = [];
  const orgs: string[] = [];
  let next = 0;
  const plan = Array.from({ length: 1_000 }, () => random.next());
  const send = async (client: NatsConnection, domain: string, type: string, payload: Record<string, unknown>) => {
    try {
      await sendCommand(client, domain, type, { actor: 'flow-test', payload }, { timeoutMs: 30_000 });
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
          await send(client, 'person', 'RegisterPerson', { personId: id, name: `Person ${id}`, email: `${id}@example.org` });
        } else if (roll < 0.45) await send(client, 'person', 'RenamePerson', { personId: somePerson(), name: `Renamed ${next}` });
        else if (roll < 0.55) await send(client, 'person', 'ChangePersonEmail', { personId: somePerson(), email: `m${next}@example.org` });
        else if (roll < 0.58) await send(client, 'person', 'ArchivePerson', { personId: somePerson() });
        else if (roll < 0.63 || orgs.length === 0) {
          const id = `o${orgs.length}`;
          orgs.push(id);
          await send(client, 'organization', 'CreateOrganization', { organizationId: id, name: `Org ${id}` });
        } else if (roll < 0.9) await send(client, 'organization', 'AddMember', { organizationId: someOrg(), personId: somePerson() });
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

  it('start exactly one onboarding workflow per member added', async () => {
    const added = (await streamEvents('organization')).filter((e) => e.type === 'MemberAdded');
    expect(added.length).toBeGreaterThan(50);
    const started = await waitFor('a workflow for every member added', async () => {
      const s = (await streamEvents('workflow')).filter((e) => e.type === 'WorkflowStarted');
      return s.length >= added.length ? s : undefined;
    }, 60_000);
    expect(started).toHaveLength(added.length);
    expect(new Set(started.map((w) => w.causationId))).toEqual(new Set(added.map((a) => a.id)));
  });

  it('leave read models equal to a fold of the streams, once caught up and flushed', async () => {
    const lastSeqs = Object.fromEntries(await Promise.all(referenceDomains.map(async (d) => [d.name, (await (await t.nc.jetstreamManager()).streams.info(domainStream(d.name))).state.last_seq] as const)));
    await waitFor('the projections to catch up', () => {
      const progress = appliance!.projections();
      return Object.values(progress).every((p) => Object.entries(p.domains).every(([domain, d]) => d.checkpoint >= lastSeqs[domain]!)) || undefined;
    }, 60_000);
    const path = appliance!.readModelPath;
    await appliance!.stop();
    appliance = undefined;

    const projections = referenceDomains.flatMap((d) => d.definition.projections ?? []);
    const model = ReadModel.open({ path, projections });
    try {
      for (const projection of projections) {
        const events = (await Promise.all(projection.domains.map(streamEvents))).flat();
        const expected = fold(events.flatMap((e) => projection.apply(e)));
        for (const [table, rows] of expected) {
          const actual = model.rows(table).map((r) => JSON.stringify(Object.entries(r).filter(([, v]) => v !== null).sort()));
          const wanted = [...rows.values()].map((r) => JSON.stringify(Object.entries(r).filter(([, v]) => v !== null).sort()));
          expect(actual.sort(), `${projection.name}.${table}`).toEqual(wanted.sort());
        }
      }
    } finally {
      model.close();
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
