// The cross-domain flow on a real cluster: adding a member to an organization starts exactly one
// onboarding workflow, with correlation carried and causation = the MemberAdded event — also
// when the process manager crashes between sending a command and acknowledging its event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CimError,
  domainStream,
  EventStore,
  isCimError,
  onboarding,
  provision,
  referenceDomains,
  sendCommand,
  startCommandService,
  startProcessManager,
  type CommandServiceHandle,
} from '../../appliance/index.js';
import { streamEvents as readBack } from '../support/stream-events.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

let t: TestCluster;
const services: CommandServiceHandle[] = [];
const who = { actor: 'hr@example.org' };
const PEOPLE = Array.from({ length: 12 }, (_, i) => `p${i}`);

const streamEvents = (domain: string) => readBack(t.nc, domain);

beforeAll(async () => {
  t = await startTestCluster('onboarding', 3);
  await provision(t.nc, { domains: ['person', 'organization', 'workflow'], replicas: 3, duplicateWindowMs: 120_000 });
  const store = await EventStore.open(t.nc);
  for (const domain of referenceDomains) services.push(await startCommandService(t.nc, domain, { store }));
  for (const id of PEOPLE)
    await sendCommand(t.nc, 'person', 'RegisterPerson', {
      ...who,
      payload: { personId: id, name: `Person ${id}`, email: `${id}@example.org` },
    });
  await sendCommand(t.nc, 'organization', 'CreateOrganization', {
    ...who,
    payload: { organizationId: 'acme', name: 'ACME' },
  });
});

afterAll(async () => {
  for (const s of services) await s.stop().catch(() => {});
  await t?.stop();
});

describe('adding a member', () => {
  it('is refused for a person who is not registered (the fact is gathered from the person stream)', async () => {
    const error = await sendCommand(t.nc, 'organization', 'AddMember', {
      ...who,
      payload: { organizationId: 'acme', personId: 'ghost' },
    }).catch((e: unknown) => e);
    expect(isCimError(error, 'CIM-NOT-FOUND')).toBe(true);
    expect((error as CimError).message).toContain('ghost');
  });
});

describe('the onboarding process manager', () => {
  it('starts exactly one workflow per added member, even when it crashes between sending and acknowledging', async () => {
    let acked = 0;
    const first = await startProcessManager(t.nc, onboarding, {
      ackWaitMs: 1_500,
      beforeAck: () => {
        if (++acked === 5) throw new Error('injected crash after the 5th StartWorkflow was sent');
      },
    });
    for (const [i, id] of PEOPLE.entries()) {
      await sendCommand(t.nc, 'organization', 'AddMember', {
        ...who,
        payload: { organizationId: 'acme', personId: id },
        correlationId: `add-${i}`,
      });
    }
    await first.stopped; // crashed on the 5th event, which stays unacknowledged
    expect(first.stats.events).toBe(4);

    const second = await startProcessManager(t.nc, onboarding, { ackWaitMs: 1_500 });
    try {
      await waitFor(
        '12 onboarding workflows',
        async () => ((await streamEvents('workflow')).length >= 12 ? true : undefined),
        30_000,
      );
      const jsm = await t.nc.jetstreamManager();
      await waitFor(
        'the manager to catch up',
        async () => {
          const info = await jsm.consumers.info(domainStream('organization'), 'pm_onboarding_organization');
          return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
        },
        30_000,
      );
    } finally {
      await second.stop();
    }
    expect(second.stats.events).toBeGreaterThanOrEqual(8); // the 5th again (redelivered), and the rest

    const started = (await streamEvents('workflow')).filter((e) => e.type === 'WorkflowStarted');
    expect(started).toHaveLength(12); // the redelivered 5th event started nothing new
    expect(new Set(started.map((e) => e.aggregateId)).size).toBe(12);
    expect(started.map((e) => (e.payload.subject as { aggregateId: string }).aggregateId).sort()).toEqual(
      [...PEOPLE].sort(),
    );

    const added = (await streamEvents('organization')).filter((e) => e.type === 'MemberAdded');
    for (const w of started) {
      const cause = added.find((a) => a.id === w.causationId);
      expect(cause, `WorkflowStarted ${w.aggregateId} is caused by a MemberAdded`).toBeDefined();
      expect(w.correlationId).toBe(cause!.correlationId); // add-<i>: carried from the AddMember command
      expect(w.actor).toBe('process-manager:onboarding');
    }
  });
});
