// Group commit on a real 3-node cluster: appends in flight together leave as one atomic batch, and
// each keeps the event store's contract inside it — its optimistic lock, its position id (a retried
// append lands once), nothing acknowledged before it is stored. On servers before 2.12 (the version
// matrix runs this file on each) the domain streams take no atomic batches and every append goes
// alone; the batch cases are skipped there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CimError,
  domainStream,
  EMPTY_HEAD,
  EventStore,
  hasFeature,
  isCimError,
  provision,
  type AggregateHead,
  type AggregateRef,
  type AppendedEvent,
  type Causation,
} from '../../appliance/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const who: Causation = { correlationId: 'corr-gc', causationId: 'cmd-gc', actor: 'test' };
let t: TestCluster;
let atomic = false;

const ref = (domain: string, id: string): AggregateRef => ({ domain, aggregate: 'Account', aggregateId: id });
const headOf = (e: AppendedEvent): AggregateHead => ({ seq: e.seq, cid: e.cid, streamSeq: e.streamSeq });

beforeAll(async () => {
  t = await startTestCluster('group-commit');
  atomic = hasFeature(t.cluster.server.version, 'atomicBatch');
  await provision(t.nc, { domains: ['gca', 'gcb', 'gcc', 'gcd', 'gce'], replicas: 3, duplicateWindowMs: 120_000 });
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

/** A case that needs atomic batches: skipped on a server without them (the version is known only once the cluster runs). */
function batchIt(name: string, body: () => Promise<void>, timeoutMs?: number): void {
  it(
    name,
    async (ctx) => {
      if (!atomic) ctx.skip();
      await body();
    },
    timeoutMs,
  );
}

/** Every ack names the event stored at its sequence, and the stream holds nothing else. */
async function expectStoredAsAcked(domain: string, appended: AppendedEvent[]): Promise<void> {
  const jsm = await t.nc.jetstreamManager();
  const stream = domainStream(domain);
  const info = await jsm.streams.info(stream);
  expect(info.state.messages).toBe(new Set(appended.map((e) => e.streamSeq)).size);
  for (const e of appended) {
    const stored = await jsm.streams.getMessage(stream, { seq: e.streamSeq });
    expect(stored.header.get('Cim-Cid')).toBe(e.cid.toString());
  }
}

describe('group commit', () => {
  it('provision lets the domain streams take atomic batches where the server has them', async () => {
    const jsm = await t.nc.jetstreamManager();
    const info = await jsm.streams.info(domainStream('gca'));
    expect((info.config as { allow_atomic?: boolean }).allow_atomic === true).toBe(atomic);
  });

  batchIt('gathers appends in flight together into batches; every ack names the stored event', async () => {
    const store = await EventStore.open(t.nc, { groupCommit: { batchesInFlight: 1 } });
    const appended = (
      await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          store.append(ref('gca', `a-${i}`), EMPTY_HEAD, [{ type: 'Opened', payload: { i } }], who),
        ),
      )
    ).flat();
    const stats = (await store.groupCommitStats())[domainStream('gca')]!;
    // The first append leaves alone (nothing else was waiting); the rest gathered behind it.
    expect(stats.batches).toBeGreaterThan(0);
    expect(stats.batchedEvents).toBeGreaterThanOrEqual(200);
    expect(stats.splits).toBe(0);
    expect(appended.every((e) => !e.duplicate)).toBe(true);
    await expectStoredAsAcked('gca', appended);
  });

  batchIt('a stale head in a batch fails only its own append; the others commit', async () => {
    const store = await EventStore.open(t.nc, { groupCommit: { batchesInFlight: 1 } });
    const [first] = await store.append(ref('gcb', 'stale'), EMPTY_HEAD, [{ type: 'Opened', payload: {} }], who);
    const outcomes = await Promise.allSettled([
      store.append(ref('gcb', 'lead'), EMPTY_HEAD, [{ type: 'Opened', payload: {} }], who),
      ...Array.from({ length: 40 }, (_, i) =>
        store.append(ref('gcb', `b-${i}`), EMPTY_HEAD, [{ type: 'Opened', payload: { i } }], who),
      ),
      // Decided on the state before `first`: the aggregate moved on.
      store.append(ref('gcb', 'stale'), EMPTY_HEAD, [{ type: 'Opened', payload: { again: true } }], who),
    ]);
    const rejected = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    expect(rejected).toHaveLength(1);
    expect(isCimError(rejected[0]) && (rejected[0] as CimError).code).toBe('CIM-CONFLICT');
    expect((outcomes.at(-1) as PromiseSettledResult<unknown>).status).toBe('rejected');
    const committed = outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value : []));
    expect(committed).toHaveLength(41);
    const stats = (await store.groupCommitStats())[domainStream('gcb')]!;
    expect(stats.splits).toBeGreaterThanOrEqual(1);
    await expectStoredAsAcked('gcb', [...committed, first!]);
  });

  batchIt("an append's events commit together and chain, next to other appends", async () => {
    const store = await EventStore.open(t.nc, { groupCommit: { batchesInFlight: 1 } });
    const appended = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        store.append(
          ref('gcc', `c-${i}`),
          EMPTY_HEAD,
          [0, 1, 2].map((k) => ({ type: 'Moved', payload: { i, k } })),
          who,
        ),
      ),
    );
    expect((await store.groupCommitStats())[domainStream('gcc')]!.batchedEvents).toBeGreaterThanOrEqual(60);
    for (const [i, events] of appended.entries()) {
      // One chain, contiguous in the stream: an atomic batch is stored as one run of sequences.
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(events[1]!.streamSeq - events[0]!.streamSeq).toBe(1);
      const read = [];
      for await (const e of store.readAggregate(ref('gcc', `c-${i}`))) read.push(e);
      expect(read.map((e) => e.cid.toString())).toEqual(events.map((e) => e.cid.toString()));
    }
    await expectStoredAsAcked('gcc', appended.flat());
  });

  batchIt('the same append published twice at once lands once', async () => {
    const store = await EventStore.open(t.nc, { groupCommit: { batchesInFlight: 2 } });
    const r = ref('gcd', 'twice');
    const encoded = store.prepare(r, EMPTY_HEAD, [{ type: 'Opened', payload: {} }], who);
    const [a, b, ...others] = await Promise.all([
      store.publishPrepared(r, EMPTY_HEAD, encoded),
      store.publishPrepared(r, EMPTY_HEAD, encoded),
      ...Array.from({ length: 20 }, (_, i) =>
        store.append(ref('gcd', `d-${i}`), EMPTY_HEAD, [{ type: 'Opened', payload: { i } }], who),
      ),
    ]);
    expect(a![0]!.streamSeq).toBe(b![0]!.streamSeq);
    expect([a![0]!.duplicate, b![0]!.duplicate].sort()).toEqual([false, true]);
    await expectStoredAsAcked('gcd', [...a!, ...others.flat()]);
  });

  batchIt(
    'batches left unanswered are settled event by event: each append lands exactly once',
    async () => {
      // An ack timeout of a few milliseconds: the commit requests time out while the cluster may
      // still store the batch, so the single-message path must find our own events already there.
      const store = await EventStore.open(t.nc, {
        groupCommit: { batchesInFlight: 2 },
        retry: { attempts: 12, backoffMs: 20, maxBackoffMs: 500, timeoutMs: 1, maxTimeoutMs: 4_000 },
      });
      const heads = new Map<string, AggregateHead>();
      const appended: AppendedEvent[] = [];
      for (let round = 0; round < 3; round++) {
        const outcomes = await Promise.allSettled(
          Array.from({ length: 60 }, (_, i) => {
            const id = `e-${i}`;
            return store.append(
              ref('gce', id),
              heads.get(id) ?? EMPTY_HEAD,
              [{ type: 'Moved', payload: { round } }],
              who,
            );
          }),
        );
        for (const [i, o] of outcomes.entries()) {
          // An unavailable cluster is an allowed answer; a conflict would mean our own write was taken for another's.
          if (o.status === 'rejected') expect((o.reason as CimError).code).toBe('CIM-UNAVAILABLE');
          else {
            appended.push(...o.value);
            heads.set(`e-${i}`, headOf(o.value.at(-1)!));
          }
        }
        // An append whose outcome is unknown is reloaded before the next round.
        for (const [i, o] of outcomes.entries())
          if (o.status === 'rejected') heads.set(`e-${i}`, await store.head(ref('gce', `e-${i}`)));
      }
      expect(appended.length).toBeGreaterThan(0);
      const stats = (await store.groupCommitStats())[domainStream('gce')]!;
      expect(stats.splits + stats.batches).toBeGreaterThan(0);
      // Nothing twice: each aggregate's chain is contiguous, and every ack names what is stored.
      const jsm = await t.nc.jetstreamManager();
      const info = await jsm.streams.info(domainStream('gce'));
      let chained = 0;
      for (let i = 0; i < 60; i++) {
        let seq = 0;
        for await (const e of store.readAggregate(ref('gce', `e-${i}`))) {
          expect(e.envelope.seq).toBe(++seq);
          chained++;
        }
      }
      expect(info.state.messages).toBe(chained);
      for (const e of appended) {
        const stored = await jsm.streams.getMessage(domainStream('gce'), { seq: e.streamSeq });
        expect(stored.header.get('Cim-Cid')).toBe(e.cid.toString());
      }
    },
    120_000,
  );

  it('a stream that takes no atomic batches keeps every append on the single-message path', async () => {
    await provision(t.nc, { domains: ['gcf'], replicas: 3, duplicateWindowMs: 120_000, atomicBatches: false });
    const store = await EventStore.open(t.nc);
    const appended = (
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.append(ref('gcf', `f-${i}`), EMPTY_HEAD, [{ type: 'Opened', payload: { i } }], who),
        ),
      )
    ).flat();
    expect(await store.groupCommitStats()).toEqual({});
    await expectStoredAsAcked('gcf', appended);
  });

  batchIt('provision turns atomic batches on for a domain stream made without them', async () => {
    const report = await provision(t.nc, { domains: ['gcf'], replicas: 3, duplicateWindowMs: 120_000 });
    expect(report.updated).toContain(domainStream('gcf'));
    const info = await (await t.nc.jetstreamManager()).streams.info(domainStream('gcf'));
    expect((info.config as { allow_atomic?: boolean }).allow_atomic).toBe(true);
    const again = await provision(t.nc, { domains: ['gcf'], replicas: 3, duplicateWindowMs: 120_000 });
    expect(again.unchanged).toContain(domainStream('gcf'));
  });
});
