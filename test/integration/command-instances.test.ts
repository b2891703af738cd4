// Commands handled by several instances of one service, driven directly (one CommandHandler per
// instance, each on its own connection) so a test picks which instance handles what: a no-op is
// never acknowledged on a cached state another instance has moved past, and a command id is an
// idempotency key per aggregate: a retry returns the original reply and appends nothing, on any
// instance, also when two instances receive the same retry at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import {
  CommandHandler,
  CommandLog,
  connectNats,
  EventStore,
  firstUnread,
  person,
  provision,
  type CommandReply,
  type EventEnvelope,
} from '../../appliance/index.js';
import { streamEvents } from '../support/stream-events.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let t: TestCluster;
const connections: NatsConnection[] = [];
const instances: Pick<CommandHandler<unknown>, 'handle'>[] = [];
const encoder = new TextEncoder();

function request(payload: Record<string, unknown>, commandId?: string): Uint8Array {
  return encoder.encode(JSON.stringify({ actor: 'tester', payload, ...(commandId ? { commandId } : {}) }));
}

async function rename(instance: number, personId: string, name: string, commandId?: string): Promise<CommandReply> {
  return instances[instance]!.handle('RenamePerson', request({ personId, name }, commandId));
}

async function eventsOf(personId: string): Promise<EventEnvelope[]> {
  return (await streamEvents(t.nc, 'person')).filter((e) => e.aggregateId === personId);
}

beforeAll(async () => {
  t = await startTestCluster('command-instances', 3);
  await provision(t.nc, { domains: ['person'], replicas: 3, duplicateWindowMs: 120_000 });
  for (let i = 0; i < 3; i++) {
    const nc = await connectNats(t.cluster.endpointFor('service'));
    connections.push(nc);
    instances.push(new CommandHandler(person, await EventStore.open(nc), 20, 10_000, new CommandLog(nc)));
  }
});

afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => {});
  await t?.stop();
});

describe('several instances of a command service', () => {
  it('does not acknowledge a no-op decided on a cached state another instance has moved past', async () => {
    const register = await instances[0]!.handle(
      'RegisterPerson',
      request({ personId: 'noop', name: 'A', email: 'noop@example.org' }),
    );
    expect(register.ok).toBe(true);
    expect((await rename(0, 'noop', 'A')).ok).toBe(true); // instance 0 caches the state: name A
    expect(await rename(1, 'noop', 'B')).toMatchObject({ ok: true, events: [{ type: 'PersonRenamed' }] });
    // Instance 0's cache still says A; the stream says B. Renaming to A must change something.
    const reply = await rename(0, 'noop', 'A');
    expect(reply).toMatchObject({ ok: true, events: [{ type: 'PersonRenamed' }] });
    const events = await eventsOf('noop');
    expect(events.at(-1)!.payload).toMatchObject({ name: 'A' });
  });

  it('answers a retried command id with the original reply and appends nothing, on any instance', async () => {
    await instances[0]!.handle('RegisterPerson', request({ personId: 'retry', name: 'A', email: 'r@example.org' }));
    const first = await rename(0, 'retry', 'B', 'cmd-rename-1');
    expect(first).toMatchObject({ ok: true, commandId: 'cmd-rename-1', events: [{ type: 'PersonRenamed' }] });
    expect((await rename(1, 'retry', 'C', 'cmd-rename-2')).ok).toBe(true);
    const before = (await eventsOf('retry')).length;
    // The retry of the first rename, on the instance that handled it, on another, and on a new one.
    expect(await rename(0, 'retry', 'B', 'cmd-rename-1')).toEqual(first);
    expect(await rename(2, 'retry', 'B', 'cmd-rename-1')).toEqual(first);
    const nc = await connectNats(t.cluster.endpointFor('service'));
    connections.push(nc);
    const restarted = new CommandHandler(person, await EventStore.open(nc), 20, 10_000, new CommandLog(nc));
    expect(await restarted.handle('RenamePerson', request({ personId: 'retry', name: 'B' }, 'cmd-rename-1'))).toEqual(
      first,
    );
    expect(await eventsOf('retry')).toHaveLength(before);
    expect((await eventsOf('retry')).at(-1)!.payload).toMatchObject({ name: 'C' });
    // What completing a recorded command reads: the aggregate's next event, skipping the others'.
    const store = await EventStore.open(nc);
    const firstOfRetry = await store.eventAfter({ domain: 'person', aggregateId: 'retry' }, 0);
    expect(firstOfRetry).toMatchObject({ seq: 1 });
    expect(firstOfRetry!.streamSeq).toBeGreaterThan(1); // stream seq 1 is another person's
    expect(
      await store.eventAfter({ domain: 'person', aggregateId: 'retry' }, first.ok ? first.events[0]!.streamSeq : 0),
    ).toMatchObject({ seq: 3 });
    expect(await store.eventAfter({ domain: 'person', aggregateId: 'nobody' }, 0)).toBeUndefined();
  });

  it('finds a stalled read unfinished while the aggregate grows past the end of the range', async () => {
    // A load reads up to the head it read first; if its consumer stalls, the reader asks the stream
    // whether anything of the range is left. Another instance appending meanwhile must not make
    // the answer "no" (a load would then end short, e.g. with a person not registered).
    const events = (await streamEvents(t.nc, 'person'))
      .map((e, i) => ({ e, streamSeq: i + 1 }))
      .filter(({ e }) => e.aggregateId === 'retry');
    expect(events.length).toBeGreaterThanOrEqual(3);
    const range = { stream: 'CIM_PERSON', filterSubject: 'cim.person.events.retry', toSeq: events[1]!.streamSeq };
    expect(await firstUnread(t.nc.jetstream(), range, events[0]!.streamSeq)).toBe(events[1]!.streamSeq);
    expect(await firstUnread(t.nc.jetstream(), range, events[1]!.streamSeq)).toBeUndefined();
  });

  it('remembers a no-op reply too: its retry after another change appends nothing', async () => {
    await instances[0]!.handle('RegisterPerson', request({ personId: 'same', name: 'A', email: 's@example.org' }));
    const noop = await rename(0, 'same', 'A', 'cmd-same-1');
    expect(noop).toMatchObject({ ok: true, events: [] });
    expect((await rename(1, 'same', 'B', 'cmd-same-2')).ok).toBe(true);
    const before = (await eventsOf('same')).length;
    expect(await rename(2, 'same', 'A', 'cmd-same-1')).toEqual(noop);
    expect(await eventsOf('same')).toHaveLength(before);
  });

  it('appends once when several instances receive the same command at once, and all give its reply', async () => {
    await instances[0]!.handle('RegisterPerson', request({ personId: 'race', name: 'A', email: 'x@example.org' }));
    for (const [i, name] of ['B', 'C', 'D', 'E', 'F'].entries()) {
      const commandId = `cmd-race-${i}`;
      const replies = await Promise.all(instances.map((_, n) => rename(n, 'race', name, commandId)));
      for (const reply of replies) expect(reply).toMatchObject({ ok: true, events: [{ type: 'PersonRenamed' }] });
      expect(replies[1]).toEqual(replies[0]);
      expect(replies[2]).toEqual(replies[0]);
    }
    const renames = (await eventsOf('race')).filter((e) => e.type === 'PersonRenamed');
    expect(renames.map((e) => e.payload['name'])).toEqual(['B', 'C', 'D', 'E', 'F']);
  });
});
