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
  Subjects,
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
  second = await connectNats(t.cluster.endpointFor('service'));
  // Two instances of the person service, on two connections: the queue group shares the load.
  for (const nc of [t.nc, second])
    services.push(await startCommandService(nc, person, { store: await EventStore.open(nc) }));
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
    expect(events[0]!.envelope).toMatchObject({
      actor: 'alice@example.org',
      correlationId: 'corr-42',
      causationId: 'ui-click-7',
      payload: { name: 'Ada Lovelace' },
    });
  });

  it('rejects a second registration with CIM-REJECTED and an invalid payload with CIM-INVALID-INPUT', async () => {
    const again = await sendCommand(t.nc, 'person', 'RegisterPerson', {
      ...who,
      payload: { personId: 'ada', name: 'Ada', email: 'ada@example.org' },
    }).catch((e: unknown) => e);
    expect(isCimError(again, 'CIM-REJECTED')).toBe(true);
    expect((again as CimError).message).toContain('already registered');
    const invalid = await sendCommand(t.nc, 'person', 'RegisterPerson', {
      ...who,
      payload: { personId: 'bob', name: 'Bob', email: 'nope' },
    }).catch((e: unknown) => e);
    expect(isCimError(invalid, 'CIM-INVALID-INPUT')).toBe(true);
    expect((invalid as CimError).message).toMatch(/email/);
  });

  it('answers a request that is not JSON, or has no actor, with CIM-INVALID-INPUT and the micro error headers', async () => {
    const reply = await t.nc.request('cim.person.commands.RenamePerson', new TextEncoder().encode('{nope'));
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('400');
    expect(JSON.parse(new TextDecoder().decode(reply.data))).toMatchObject({
      ok: false,
      error: { code: 'CIM-INVALID-INPUT' },
    });
    const noActor = await sendCommand(t.nc, 'person', 'RenamePerson', {
      payload: { personId: 'ada', name: 'X' },
    } as never).catch((e: unknown) => e);
    expect((noActor as CimError).message).toMatch(/actor/);
  });

  it('given 20 concurrent renames of one person through both instances, all land, each once, in one chain', async () => {
    await sendCommand(t.nc, 'person', 'RegisterPerson', {
      ...who,
      payload: { personId: 'busy', name: 'Busy 0', email: 'busy@example.org' },
    });
    const renames = Array.from({ length: 20 }, (_, i) =>
      sendCommand(
        i % 2 ? second : t.nc,
        'person',
        'RenamePerson',
        { ...who, payload: { personId: 'busy', name: `Busy ${i + 1}` } },
        { timeoutMs: 30_000 },
      ),
    );
    const results = await Promise.all(renames);
    expect(results.flatMap((r) => r.events.map((e) => e.seq)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 2),
    );
    const store = await EventStore.open(t.nc);
    const { state, head } = await store.load(
      { domain: 'person', aggregate: 'Person', aggregateId: 'busy' },
      person.reducer,
      { useSnapshot: false },
    );
    expect(head.seq).toBe(21);
    expect(state.status).toBe('active');
    const stats = await Promise.all(services.map((s) => s.service.stats()));
    const handled = stats.map((s) => s.endpoints!.find((e) => e.name === 'RenamePerson')!.num_requests);
    expect(handled.every((n) => n > 0)).toBe(true); // the queue group spread the load
  });

  it('stops cleanly: the commands in flight when stop is called are all answered, then nothing is served', async () => {
    // An instance of its own, on command subjects of its own (so the queue group above takes none
    // of its requests) and one connection for it and its clients, so every request is published
    // before stop's unsubscribe reaches the server.
    const subjects = new Subjects('cimstop');
    // (As operator: the service role may serve and write only the configured prefix's subjects.)
    const own = await connectNats(t.cluster.endpointFor('operator', [t.cluster.clientUrls[0]!]));
    try {
      const extra = await startCommandService(own, person, { store: await EventStore.open(own), subjects });
      await sendCommand(
        own,
        'person',
        'RegisterPerson',
        { ...who, payload: { personId: 'stopper', name: 'Stopper 0', email: 'stopper@example.org' } },
        { subjects },
      );
      // Renames of one person are handled one after another: when the first is answered, the rest are queued in the instance.
      const count = 100;
      const replies = Array.from({ length: count }, (_, i) =>
        sendCommand(
          own,
          'person',
          'RenamePerson',
          { ...who, payload: { personId: 'stopper', name: `Stopper ${i + 1}` } },
          { subjects, timeoutMs: 30_000 },
        ),
      );
      let answered = 0;
      for (const r of replies)
        void r.then(
          () => answered++,
          () => answered++,
        );
      await Promise.race(replies.map((r) => r.catch(() => undefined)));
      const inFlightAtStop = extra.inFlight;
      const answeredAtStop = answered;
      await extra.stop();

      expect(inFlightAtStop, 'commands in flight when stop was called').toBeGreaterThan(0);
      expect(answeredAtStop).toBeLessThan(count);
      expect(extra.inFlight, 'in flight once stop resolved').toBe(0);
      const outcomes = await Promise.allSettled(replies);
      expect(
        outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason)),
      ).toEqual([]);
      const seqs = outcomes.flatMap((o) =>
        (o as PromiseFulfilledResult<Awaited<(typeof replies)[number]>>).value.events.map((e) => e.seq),
      );
      expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i + 2)); // each landed once, none lost
      const { head } = await (
        await EventStore.open(own)
      ).load({ domain: 'person', aggregate: 'Person', aggregateId: 'stopper' }, person.reducer, { useSnapshot: false });
      expect(head.seq).toBe(count + 1);

      expect(extra.service.isStopped).toBe(true);
      const after = await sendCommand(
        own,
        'person',
        'RenamePerson',
        { ...who, payload: { personId: 'stopper', name: 'Too late' } },
        { subjects, timeoutMs: 5_000 },
      ).catch((e: unknown) => e);
      expect(isCimError(after, 'CIM-UNAVAILABLE')).toBe(true);
    } finally {
      await own.close();
    }
  }, 90_000);
});
