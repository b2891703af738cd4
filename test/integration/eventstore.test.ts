// The event store on a real 3-node cluster: round trip, optimistic concurrency, retried publishes,
// appends across a stream-leader kill, snapshots, upcasting and idempotent provisioning.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nanos } from 'nats';
import {
  CimError,
  COMMAND_WINDOW_MS,
  connectNats,
  decodeEnvelope,
  domainStream,
  EMPTY_HEAD,
  EventStore,
  isCimError,
  provision,
  Signer,
  SnapshotStore,
  UpcasterRegistry,
  waitForStreamLeader,
  type AggregateRef,
  type Causation,
  type EventEnvelope,
  type Reducer,
} from '../../appliance/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

const DOMAINS = ['person', 'ledger'];
const who: Causation = { correlationId: 'corr-1', causationId: 'cmd-1', actor: 'test' };
let t: TestCluster;
let store: EventStore;
const signer = Signer.ephemeral();

const person = (id: string): AggregateRef => ({ domain: 'person', aggregate: 'Person', aggregateId: id });

/** A reducer that records what it saw, so replays can be compared exactly. */
const history: Reducer<{ names: string[]; seqs: number[] }> = {
  initial: () => ({ names: [], seqs: [] }),
  evolve: (state, event: EventEnvelope) => ({
    names: [...state.names, String(event.payload.name)],
    seqs: [...state.seqs, event.seq],
  }),
};

beforeAll(async () => {
  t = await startTestCluster('eventstore');
  await provision(t.nc, { domains: DOMAINS, replicas: 3, duplicateWindowMs: 120_000 });
  store = await EventStore.open(t.nc, { snapshotEvery: 5, snapshotKeys: { signer, trusted: [signer.verifier()] } });
});

afterAll(async () => {
  await t?.stop();
});

describe('append and read', () => {
  it('round-trips events: CIDs chain, seqs count up, causation flows in', async () => {
    const ref = person('alice');
    const appended = await store.append(
      ref,
      EMPTY_HEAD,
      [
        { type: 'PersonRegistered', payload: { name: 'Alice' } },
        { type: 'NameChanged', payload: { name: 'Alicia' } },
      ],
      who,
    );
    expect(appended.map((a) => a.seq)).toEqual([1, 2]);
    expect(appended[1]!.streamSeq).toBeGreaterThan(appended[0]!.streamSeq);

    const read = [];
    for await (const e of store.readAggregate(ref)) read.push(e);
    expect(read.map((e) => e.cid.toString())).toEqual(appended.map((a) => a.cid.toString()));
    expect(read[0]!.envelope.prev).toBeNull();
    expect(read[1]!.envelope.prev?.equals(read[0]!.cid)).toBe(true);
    expect(read[1]!.envelope).toMatchObject({
      domain: 'person',
      aggregate: 'Person',
      aggregateId: 'alice',
      type: 'NameChanged',
      ...who,
    });

    const head = await store.head(ref);
    expect(head).toEqual({ seq: 2, cid: appended[1]!.cid, streamSeq: appended[1]!.streamSeq });
  });

  it('rejects an aggregate id that cannot close a subject', async () => {
    const error = await store
      .append(person('a.b'), EMPTY_HEAD, [{ type: 'X', payload: {} }], who)
      .catch((e: unknown) => e);
    expect(isCimError(error, 'CIM-INVALID-INPUT')).toBe(true);
  });

  it('rejects a payload dag-cbor cannot encode, writing nothing', async () => {
    const ref = person('bad-payload');
    const error = await store
      .append(ref, EMPTY_HEAD, [{ type: 'X', payload: { when: undefined } }], who)
      .catch((e: unknown) => e);
    expect(isCimError(error, 'CIM-INVALID-EVENT')).toBe(true);
    expect(await store.head(ref)).toEqual(EMPTY_HEAD);
  });
});

describe('optimistic concurrency', () => {
  it('given two writers on one aggregate, exactly one wins each seq; the loser succeeds after reload', async () => {
    const other = await connectNats(t.cluster.endpointFor('service'));
    try {
      const storeB = await EventStore.open(other);
      const ref = person('contended');
      for (let round = 0; round < 5; round++) {
        const head = await store.head(ref);
        const results = await Promise.allSettled([
          store.append(ref, head, [{ type: 'NameChanged', payload: { name: `A${round}` } }], who),
          storeB.append(ref, head, [{ type: 'NameChanged', payload: { name: `B${round}` } }], who),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect((lost[0]!.reason as CimError).code).toBe('CIM-CONFLICT');

        const loser = results[0]!.status === 'rejected' ? store : storeB;
        const reloaded = await loser.head(ref);
        expect(reloaded.seq).toBe(head.seq + 1);
        await loser.append(ref, reloaded, [{ type: 'NameChanged', payload: { name: `retry${round}` } }], who);
      }
      const { state } = await store.load(ref, history, { useSnapshot: false });
      expect(state.seqs).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    } finally {
      await other.close();
    }
  });
});

describe('retries', () => {
  it('given acks that time out, publishes are retried and land exactly once', async () => {
    // With both followers of the R3 stream paused the leader stores the publish but cannot commit
    // it, so the first attempt's ack times out for sure; once a retry has been sent (the store's
    // own connection counts its publishes) the followers resume, and the retry must be recognised
    // as that event (a duplicate of its Nats-Msg-Id), not stored again.
    const stream = domainStream('person');
    const { leader, followers } = await t.cluster.streamPlacement(stream);
    expect(followers).toHaveLength(2);
    const own = await connectNats(t.cluster.endpointFor('service', [t.cluster.clientUrl(leader!)]));
    const ref = person('impatient');
    try {
      const impatient = await EventStore.open(own, {
        retry: { attempts: 40, backoffMs: 1, maxBackoffMs: 50, timeoutMs: 100, maxTimeoutMs: 1_000 },
      });
      await impatient.append(ref, EMPTY_HEAD, [{ type: 'NameChanged', payload: { name: 'n0' } }], who);
      const head = await store.head(ref);
      const sentBefore = own.stats().outMsgs;
      let appending: ReturnType<typeof impatient.append> | undefined;
      try {
        for (const f of followers) await t.cluster.pause(f);
        appending = impatient.append(ref, head, [{ type: 'NameChanged', payload: { name: 'n1' } }], who);
        await waitFor('a retry after the first ack timed out', () => own.stats().outMsgs - sentBefore >= 2, 20_000, 5);
      } finally {
        for (const f of followers) if (t.cluster.nodeState(f) === 'paused') await t.cluster.resume(f);
      }
      const [event] = await appending!;
      expect(event!.duplicate, 'acknowledged as the duplicate of the attempt that timed out').toBe(true);
      expect(event).toMatchObject({ seq: 2 });

      const jsm = await t.nc.jetstreamManager();
      const info = await jsm.streams.info(stream, { subjects_filter: 'cim.person.events.impatient' });
      expect(info.state.subjects?.['cim.person.events.impatient']).toBe(2);
      const msgIds = [];
      for await (const e of store.readAggregate({ domain: 'person', aggregateId: 'impatient' })) {
        msgIds.push((await jsm.streams.getMessage(stream, { seq: e.streamSeq })).header.get('Nats-Msg-Id'));
      }
      expect(msgIds).toEqual(['impatient:1', 'impatient:2']); // each position once
      const { state } = await store.load(ref, history, { useSnapshot: false });
      expect(state.names).toEqual(['n0', 'n1']);
    } finally {
      await own.close();
    }
  });
});

describe('appends across a stream-leader kill', () => {
  it('loses no acknowledged event', async () => {
    const domain = 'ledger';
    const ref = (i: number): AggregateRef => ({ domain, aggregate: 'Account', aggregateId: `acct-${i % 40}` });
    const acked = new Map<string, number>(); // cid → stream seq
    const heads = new Map<string, Awaited<ReturnType<EventStore['head']>>>();
    let killed = false;
    // Once a new leader is elected, the old one is restarted while the appends go on; its outcome
    // (an error, if any) is taken after them, so it is neither lost nor an unhandled rejection.
    let restarted: Promise<unknown> = Promise.resolve();
    const jsm = await t.nc.jetstreamManager();
    const appendOne = async (i: number) => {
      const r = ref(i);
      for (;;) {
        const head = heads.get(r.aggregateId) ?? (await store.head(r));
        // A failed append's outcome is unknown (the event may have landed before the ack was
        // lost), so a command handler decides again on the reloaded state: here, deposit n once.
        if (head.seq > 0 && !heads.has(r.aggregateId)) {
          const last = await jsm.streams.getMessage(domainStream(domain), { seq: head.streamSeq });
          if (decodeEnvelope(last.data).envelope.payload.n === i) {
            acked.set(head.cid!.toString(), head.streamSeq);
            heads.set(r.aggregateId, head);
            return;
          }
        }
        try {
          const [event] = await store.append(r, head, [{ type: 'Deposited', payload: { n: i } }], who);
          acked.set(event!.cid.toString(), event!.streamSeq);
          heads.set(r.aggregateId, { seq: event!.seq, cid: event!.cid, streamSeq: event!.streamSeq });
          return;
        } catch (error) {
          if (!isCimError(error)) throw error;
          heads.delete(r.aggregateId); // reload and decide again, as a command handler would
        }
      }
    };

    // 40 aggregates, each written serially, all of them concurrently.
    const lanes = Array.from({ length: 40 }, async (_, lane) => {
      for (let k = 0; k < 15; k++) {
        const i = lane + 40 * k;
        if (!killed && i >= 200) {
          killed = true;
          const leader = (await t.cluster.streamLeader(domainStream(domain)))!;
          await t.cluster.kill(leader);
          restarted = waitFor('a new leader of the stream', async () => {
            const now = await t.cluster.streamLeader(domainStream(domain));
            return now && now !== leader ? now : undefined;
          })
            .then(() => t.cluster.restart(leader))
            .then(
              () => undefined,
              (error: unknown) => error,
            );
        }
        await appendOne(i);
      }
    });
    await Promise.all(lanes);
    expect(killed).toBe(true);
    const restartError = await restarted;
    if (restartError) throw restartError;
    expect(acked.size).toBe(600);

    const info = await jsm.streams.info(domainStream(domain));
    const stored = new Set<string>();
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(domainStream(domain), { seq });
      stored.add(m.header.get('Cim-Cid'));
    }
    const lost = [...acked.keys()].filter((cid) => !stored.has(cid));
    expect(lost).toEqual([]);
    expect(info.state.messages).toBe(600); // and nothing twice
    await waitFor(
      'all nodes running again',
      () => t.cluster.nodeNames.every((n) => t.cluster.nodeState(n) === 'running') || undefined,
    );
    await t.cluster.waitReady();
  }, 180_000); // an election, a restart and the two waits at the end, 30 s each, and the appends
});

describe('snapshots', () => {
  it('load with and without a snapshot gives the same state', async () => {
    const ref = person('snappy');
    let head = EMPTY_HEAD;
    for (let i = 0; i < 12; i++) {
      const [e] = await store.append(ref, head, [{ type: 'NameChanged', payload: { name: `v${i}` } }], who);
      head = { seq: e!.seq, cid: e!.cid, streamSeq: e!.streamSeq };
    }
    const first = await store.load(ref, history); // replays 12 ≥ 5: writes a snapshot
    expect(first.fromSnapshot).toBe(false);
    await store.append(ref, first.head, [{ type: 'NameChanged', payload: { name: 'last' } }], who);

    const withSnapshot = await store.load(ref, history);
    const without = await store.load(ref, history, { useSnapshot: false });
    expect(withSnapshot.fromSnapshot).toBe(true);
    expect(withSnapshot.replayed).toBe(1);
    expect(without.replayed).toBe(13);
    expect(withSnapshot.state).toEqual(without.state);
    expect(withSnapshot.head).toEqual(without.head);
  });

  it('rejects a snapshot whose CID does not match the chain, even signed by a trusted key, and replays instead', async () => {
    const ref = person('forged-snapshot');
    let head = EMPTY_HEAD;
    for (let i = 0; i < 3; i++) {
      const [e] = await store.append(ref, head, [{ type: 'NameChanged', payload: { name: `real${i}` } }], who);
      head = { seq: e!.seq, cid: e!.cid, streamSeq: e!.streamSeq };
    }
    const other = await store.head(person('alice'));
    await new SnapshotStore(t.nc).put(
      {
        v: 1,
        domain: 'person',
        aggregateId: ref.aggregateId,
        seq: 2,
        cid: other.cid!, // a CID from another chain
        streamSeq: head.streamSeq - 1,
        at: new Date().toISOString(),
        state: { names: ['forged', 'forged'], seqs: [1, 2] },
      },
      signer,
    );
    const loaded = await store.load(ref, history);
    expect(loaded.fromSnapshot).toBe(false);
    expect(loaded.snapshotRejected).toMatch(/snapshot claims seq 2/);
    expect(loaded.state.names).toEqual(['real0', 'real1', 'real2']);
  });
});

describe('upcasting', () => {
  it('migrates old payload versions on read, step by step, without changing the stored CID', async () => {
    const ref = person('versioned');
    const [old] = await store.append(
      ref,
      EMPTY_HEAD,
      [{ type: 'PersonRegistered', typeVersion: 1, payload: { fullName: 'Ada Lovelace' } }],
      who,
    );
    const upcasters = new UpcasterRegistry()
      .register('PersonRegistered', 1, (p) => ({ name: p.fullName }))
      .register('PersonRegistered', 2, (p) => ({ ...p, email: null }));
    const reader = await EventStore.open(t.nc, { upcasters });
    const events = [];
    for await (const e of reader.readAggregate(ref)) events.push(e);
    expect(events[0]!.envelope.typeVersion).toBe(3);
    expect(events[0]!.envelope.payload).toEqual({ name: 'Ada Lovelace', email: null });
    expect(events[0]!.cid.equals(old!.cid)).toBe(true);
  });
});

describe('provisioning', () => {
  it('is idempotent: a second run creates nothing and changes nothing', async () => {
    const report = await provision(t.nc, { domains: DOMAINS, replicas: 3, duplicateWindowMs: 120_000 });
    expect(report.created).toEqual([]);
    expect(report.unchanged).toEqual([
      'CIM_PERSON',
      'CIM_LEDGER',
      'CIM_SEALS',
      'CIM_AUDIT',
      'CIM_RETENTION',
      'KV_cim_snapshots',
      'KV_cim_commands',
      'KV_cim_holds',
    ]);
    // Command ids are remembered for the idempotency window, then forgotten.
    const commands = await (await t.nc.jetstreamManager()).streams.info('KV_cim_commands');
    expect(commands.config.max_age).toBe(nanos(COMMAND_WINDOW_MS));
  });

  it('makes a new stream and returns once it has a leader: a publish right after it is answered', async () => {
    const report = await provision(t.nc, { domains: [...DOMAINS, 'newly'], replicas: 3, duplicateWindowMs: 120_000 });
    expect(report.created).toEqual(['CIM_NEWLY']);
    // No wait here: before the fix, an R3 stream just made had no leader yet, and this publish found no responders.
    const ack = await t.nc.jetstream().publish('cim.newly.events.a', new TextEncoder().encode('first'));
    expect(ack).toMatchObject({ stream: 'CIM_NEWLY', seq: 1 });
    expect((await (await t.nc.jetstreamManager()).streams.info('CIM_NEWLY')).cluster?.leader).toMatch(/^n\d$/);
    await waitForStreamLeader(await t.nc.jetstreamManager(), 'CIM_NEWLY');
    await (await t.nc.jetstreamManager()).streams.delete('CIM_NEWLY');
  });

  it('refuses a domain whose subjects would overlap the seals stream', async () => {
    const error = await provision(t.nc, { domains: ['seals'], replicas: 3, duplicateWindowMs: 120_000 }).catch(
      (e: unknown) => e,
    );
    expect(isCimError(error, 'CIM-INVALID-INPUT')).toBe(true);
    expect((error as CimError).message).toContain('reserved');
  });

  it('reports an existing stream with an incompatible config, and creates nothing', async () => {
    const error = await provision(t.nc, {
      domains: ['person', 'fresh'],
      replicas: 1,
      duplicateWindowMs: 120_000,
    }).catch((e: unknown) => e);
    expect(isCimError(error, 'CIM-STREAM-INCOMPATIBLE')).toBe(true);
    expect((error as CimError).message).toContain('CIM_PERSON: num_replicas: want 1, has 3');
    const jsm = await t.nc.jetstreamManager();
    await expect(jsm.streams.info('CIM_FRESH')).rejects.toThrow();
    expect((await jsm.streams.info('CIM_PERSON')).config.num_replicas).toBe(3);
  });
});
