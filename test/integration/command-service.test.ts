// Commands as NATS services on a real cluster: discoverable through the micro protocol, shared by
// instances in a queue group, validated, decided, appended with causation flowing into events,
// and retried on conflicts until every concurrent command of one aggregate has landed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CimError,
  connectNats,
  EventStore,
  isCimError,
  person,
  provision,
  sendCommand,
  startCommandService,
  type CommandServiceHandle,
} from '../../appliance/index.js';
import type { NatsConnection } from 'nats';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let t: TestCluster;
let second: NatsConnection;
const services: CommandServiceHandle[] = [];
const who = { actor: 'alice@example.org' };

beforeAll(async () => {
  t = await startTestCluster('commands', 3);
  await provision(t.nc, { domains: ['person'], replicas: 3, duplicateWindowMs: 120_000 });
  second = await connectNats({ servers: t.cluster.clientUrls });
  // Two instances of the person service, on two connections: the queue group shares the load.
  for (const nc of [t.nc, second]) services.push(await startCommandService(nc, person, { store: await EventStore.open(nc) }));
});

afterAll(async () => {
  for (const s of services) await s.stop().catch(() => {});
  await second?.close().catch(() => {});
  await t?.stop();
});

describe('the person service', () => {
  it('is discoverable through $SRV.PING and $SRV.INFO, with an endpoint per command', async () => {
    const client = t.nc.services.client();
    const pings = [];
    for await (const p of await client.ping('cim-person')) pings.push(p);
    expect(pings).toHaveLength(2);
    const infos = [];
    for await (const i of await client.info('cim-person')) infos.push(i);
    expect(infos[0]!.endpoints.map((e) => e.subject).sort()).toEqual([
      'cim.person.commands.ArchivePerson',
      'cim.person.commands.ChangePersonEmail',
      'cim.person.commands.RegisterPerson',
      'cim.person.commands.RenamePerson',
    ]);
  });

  it('registers a person: the reply names the event, and causation flows into it', async () => {
    const result = await sendCommand(t.nc, 'person', 'RegisterPerson', {
      ...who,
      payload: { personId: 'ada', name: 'Ada Lovelace', email: 'ada@example.org' },
      correlationId: 'corr-42',
      causationId: 'ui-click-7',
    });
    expect(result.aggregateId).toBe('ada');
    expect(result.events).toEqual([expect.objectContaining({ type: 'PersonRegistered', seq: 1 })]);
    const store = await EventStore.open(t.nc);
    const events = [];
    for await (const e of store.readAggregate({ domain: 'person', aggregateId: 'ada' })) events.push(e);
    expect(events[0]!.cid.toString()).toBe(result.events[0]!.cid);
    expect(events[0]!.envelope).toMatchObject({ actor: 'alice@example.org', correlationId: 'corr-42', causationId: 'ui-click-7', payload: { name: 'Ada Lovelace' } });
  });

  it('rejects a second registration with CIM-REJECTED and an invalid payload with CIM-INVALID-INPUT', async () => {
    const again = await sendCommand(t.nc, 'person', 'RegisterPerson', { ...who, payload: { personId: 'ada', name: 'Ada', email: 'ada@example.org' } }).catch((e: unknown) => e);
    expect(isCimError(again, 'CIM-REJECTED')).toBe(true);
    expect((again as CimError).message).toContain('already registered');
    const invalid = await sendCommand(t.nc, 'person', 'RegisterPerson', { ...who, payload: { personId: 'bob', name: 'Bob', email: 'nope' } }).catch((e: unknown) => e);
    expect(isCimError(invalid, 'CIM-INVALID-INPUT')).toBe(true);
    expect((invalid as CimError).message).toMatch(/email/);
  });

  it('answers a request that is not JSON, or has no actor, with CIM-INVALID-INPUT and the micro error headers', async () => {
    const reply = await t.nc.request('cim.person.commands.RenamePerson', new TextEncoder().encode('{nope'));
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('400');
    expect(JSON.parse(new TextDecoder().decode(reply.data))).toMatchObject({ ok: false, error: { code: 'CIM-INVALID-INPUT' } });
    const noActor = await sendCommand(t.nc, 'person', 'RenamePerson', { payload: { personId: 'ada', name: 'X' } } as never).catch((e: unknown) => e);
    expect((noActor as CimError).message).toMatch(/actor/);
  });

  it('given 20 concurrent renames of one person through both instances, all land, each once, in one chain', async () => {
    await sendCommand(t.nc, 'person', 'RegisterPerson', { ...who, payload: { personId: 'busy', name: 'Busy 0', email: 'busy@example.org' } });
    const renames = Array.from({ length: 20 }, (_, i) =>
      sendCommand(i % 2 ? second : t.nc, 'person', 'RenamePerson', { ...who, payload: { personId: 'busy', name: `Busy ${i + 1}` } }, { timeoutMs: 30_000 }),
    );
    const results = await Promise.all(renames);
    expect(results.flatMap((r) => r.events.map((e) => e.seq)).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    const store = await EventStore.open(t.nc);
    const { state, head } = await store.load({ domain: 'person', aggregate: 'Person', aggregateId: 'busy' }, person.reducer, { useSnapshot: false });
    expect(head.seq).toBe(21);
    expect(state.status).toBe('active');
    const stats = await Promise.all(services.map((s) => s.service.stats()));
    const handled = stats.map((s) => s.endpoints!.find((e) => e.name === 'RenamePerson')!.num_requests);
    expect(handled.every((n) => n > 0)).toBe(true); // the queue group spread the load
  });

  it('stops cleanly: in-flight commands are answered, then nothing is served', async () => {
    const extra = await startCommandService(t.nc, person, { store: await EventStore.open(t.nc) });
    await extra.stop();
    expect(extra.inFlight).toBe(0);
    expect(extra.service.isStopped).toBe(true);
  });
});
