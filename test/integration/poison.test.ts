// Poison messages and forged snapshots on a real nats-server: a message that is not an event in a
// domain stream, or not a seal under a domain's seal subject, is recorded as a finding (stream
// and sequence) and skipped — the projector and the sealer carry on, `verify` names it; the seal
// stream takes only `<prefix>.seals.<domain>`; and a snapshot whose state was forged is not
// trusted on load.
import * as dagCbor from '@ipld/dag-cbor';
import { RetentionPolicy, StorageType, DiscardPolicy, nanos } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  CimError,
  domainStream,
  EMPTY_HEAD,
  EventStore,
  person,
  Projector,
  provision,
  ReadModel,
  replay,
  Sealer,
  SEALS_STREAM,
  Signer,
  SnapshotStore,
  startProcessManager,
  verifyDomain,
  verifySnapshots,
  type Finding,
  type AggregateHead,
  type Causation,
} from '../../appliance/index.js';
import { expectFindings } from '../support/findings.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { fileTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait.js';

const who: Causation = { correlationId: 'corr', causationId: 'cause', actor: 'test' };
const directory = person.definition.projections![0]!;
const signer = Signer.ephemeral();
const trusted = [signer.verifier()];
const files = fileTempDir('poison-models');
let t: TestCluster;
let store: EventStore;
const heads = new Map<string, AggregateHead>();

beforeAll(async () => {
  t = await startTestCluster('poison', 1);
  store = await EventStore.open(t.nc);
});

afterAll(async () => {
  await t?.stop();
  files.remove();
});

async function register(personId: string, name = `Person ${personId}`): Promise<AggregateHead> {
  const [e] = await store.append(
    { domain: 'person', aggregate: 'Person', aggregateId: personId },
    heads.get(personId) ?? EMPTY_HEAD,
    [{ type: 'PersonRegistered', payload: { personId, name, email: `${personId}@example.com` } }],
    who,
  );
  const head = { seq: e!.seq, cid: e!.cid, streamSeq: e!.streamSeq };
  heads.set(personId, head);
  return head;
}

async function rename(personId: string, name: string): Promise<AggregateHead> {
  const [e] = await store.append(
    { domain: 'person', aggregate: 'Person', aggregateId: personId },
    heads.get(personId)!,
    [{ type: 'PersonRenamed', payload: { personId, name } }],
    who,
  );
  const head = { seq: e!.seq, cid: e!.cid, streamSeq: e!.streamSeq };
  heads.set(personId, head);
  return head;
}

describe('the seal stream', () => {
  it('an existing seal stream with the old subjects (`cim.seals.>`) is narrowed by provision to `cim.seals.*`', async () => {
    const jsm = await t.nc.jetstreamManager();
    await jsm.streams.add({
      name: SEALS_STREAM,
      subjects: ['cim.seals.>'],
      num_replicas: 1,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(60_000),
      deny_delete: true,
      deny_purge: true,
    });
    const report = await provision(t.nc, { domains: ['person'], replicas: 1, duplicateWindowMs: 60_000 });
    expect(report.updated).toEqual([SEALS_STREAM]);
    expect((await jsm.streams.info(SEALS_STREAM)).config.subjects).toEqual(['cim.seals.*']);
    const again = await provision(t.nc, { domains: ['person'], replicas: 1, duplicateWindowMs: 60_000 });
    expect(again.updated).toEqual([]);
    expect(again.unchanged).toContain(SEALS_STREAM);
  });

  it('does not store a command request sent under the seal subjects', async () => {
    const jsm = await t.nc.jetstreamManager();
    const before = (await jsm.streams.info(SEALS_STREAM)).state.messages;
    await expect(
      t.nc.request('cim.seals.commands.X', new TextEncoder().encode('{}'), { timeout: 500 }),
    ).rejects.toThrow();
    expect((await jsm.streams.info(SEALS_STREAM)).state.messages).toBe(before);
  });
});

describe('a message in a domain stream that is not an event', () => {
  it('is recorded with its stream and sequence and skipped by the projector, which carries on', async () => {
    await register('before');
    const poison = await t.nc.jetstream().publish('cim.person.events.x', new TextEncoder().encode('{"name":"secret"}'));
    await register('after');
    const model = ReadModel.open({ path: join(files.path, 'live.sqlite'), projections: [directory] });
    const errors: CimError[] = [];
    const logged: string[] = [];
    const projector = Projector.start({
      nc: t.nc,
      model,
      projection: directory,
      retryMs: 20,
      onError: (error) => errors.push(error),
      onInvalid: (finding) => logged.push(finding.message),
    });
    try {
      await waitFor('the projector to pass the poison message', () =>
        model.rows('person_directory').some((r) => (r as { person_id: string }).person_id === 'after'),
      );
      const progress = projector.progress();
      expect(progress.invalid).toEqual([
        expect.objectContaining({ kind: 'invalid-event', stream: domainStream('person'), streamSeq: poison.seq }),
      ]);
      expect(progress.domains.person!.checkpoint).toBe(heads.get('after')!.streamSeq);
      expect(errors).toEqual([]);
      expect(logged).toHaveLength(1);
      expect(logged[0]).not.toContain('secret'); // no payload in the log
    } finally {
      await projector.stop();
      model.close();
    }
  });

  it('is skipped by a replay, which rebuilds the rest', async () => {
    const result = await replay({ nc: t.nc, projection: directory, path: join(files.path, 'replayed.sqlite') });
    expect(result.invalid).toEqual([
      expect.objectContaining({ kind: 'invalid-event', stream: domainStream('person'), streamSeq: 2 }),
    ]);
    expect(result).toMatchObject({ events: 2, lastSeq: heads.get('after')!.streamSeq });
    const model = ReadModel.open({ path: join(files.path, 'replayed.sqlite'), projections: [directory] });
    try {
      expect(model.rows('person_directory').map((r) => (r as { person_id: string }).person_id)).toEqual([
        'after',
        'before',
      ]);
    } finally {
      model.close();
    }
  });

  it('is acknowledged and skipped by a process manager, which carries on', async () => {
    const seen: string[] = [];
    const invalid: Finding[] = [];
    const manager = await startProcessManager(
      t.nc,
      {
        name: 'poison_watch',
        reactsTo: [{ domain: 'person', type: 'PersonRegistered' }],
        react: (e) => {
          seen.push(e.aggregateId);
          return [];
        },
      },
      { onInvalid: (f) => invalid.push(f), onError: (e) => seen.push(`error ${e.message}`) },
    );
    try {
      await waitFor('the manager to pass the poison message', () => seen.includes('after'));
      await register('after-manager');
      await waitFor('the manager to react after it', () => seen.includes('after-manager'));
      expect(seen).toEqual(['before', 'after', 'after-manager']);
      expect(invalid).toEqual([
        expect.objectContaining({ kind: 'invalid-event', stream: domainStream('person'), domain: 'person' }),
      ]);
      expect(invalid[0]!.message).not.toContain('secret');
      expect(manager.stats.invalid).toBe(1);
    } finally {
      await manager.stop();
    }
  });

  it("does not stop the domain's sealer, and a junk record under its seal subject does not either", async () => {
    const sealer = await Sealer.open(t.nc, { domain: 'person', signer });
    const first = await sealer.sealOnce(); // covers the events so far, the poison message among them
    expect(first).toBeDefined();
    const junk = await t.nc.jetstream().publish('cim.seals.person', new TextEncoder().encode('{}'));
    await register('later');
    const invalid: unknown[] = [];
    const second = await (
      await Sealer.open(t.nc, { domain: 'person', signer, onInvalid: (f) => invalid.push(f) })
    ).sealOnce();
    expect(second).toBeDefined();
    expect(second!.seal.prevSeal?.equals(first!.cid)).toBe(true);
    expect(second!.seal.fromSeq).toBe(first!.seal.toSeq + 1);
    expect(invalid).toEqual([
      expect.objectContaining({ kind: 'seal-invalid', stream: SEALS_STREAM, streamSeq: junk.seq }),
    ]);
    // And once more, with the junk record now behind a valid seal.
    await register('latest');
    const third = await sealer.sealOnce();
    expect(third!.seal.prevSeal?.equals(second!.cid)).toBe(true);
  });

  it('verify names the poison event and the junk seal record, and checks everything around them', async () => {
    const jsm = await t.nc.jetstreamManager();
    const poisonSeq = (await jsm.streams.getMessage(domainStream('person'), { last_by_subj: 'cim.person.events.x' }))
      .seq;
    const junkSeq = await firstNonSeal(jsm);
    const v = await verifyDomain(t.nc, 'person', { trusted });
    expectFindings(v, [
      { kind: 'invalid-event', stream: domainStream('person'), streamSeq: poisonSeq, actual: expect.any(String) },
      { kind: 'seal-invalid', stream: SEALS_STREAM, streamSeq: junkSeq },
    ]);
    expect(v.seals).toBe(3);
    expect(v.unsealedEvents).toBe(0);
  });
});

async function firstNonSeal(jsm: Awaited<ReturnType<TestCluster['nc']['jetstreamManager']>>): Promise<number> {
  const { state } = await jsm.streams.info(SEALS_STREAM);
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(SEALS_STREAM, { seq });
    try {
      dagCbor.decode(m.data);
    } catch {
      return seq;
    }
  }
  throw new Error('no junk record');
}

describe('snapshots', () => {
  const ref = { domain: 'person', aggregate: 'Person', aggregateId: 'snap' };

  async function forge(by?: Signer): Promise<void> {
    const head = heads.get('snap')!;
    await new SnapshotStore(t.nc).put(
      {
        v: 1,
        ...ref,
        seq: head.seq,
        cid: head.cid!,
        streamSeq: head.streamSeq,
        at: new Date().toISOString(),
        state: { status: 'archived' },
      },
      by,
    );
  }

  it('a snapshot with the right head but a forged state is not used: the chain is replayed', async () => {
    await register('snap');
    await rename('snap', 'Snap 2');
    const keyed = await EventStore.open(t.nc, { snapshotKeys: { signer, trusted } });
    for (const [forger, why] of [
      [undefined, /not signed/],
      [Signer.ephemeral(), /not a trusted key/],
    ] as const) {
      await forge(forger);
      const loaded = await keyed.load(ref, person.reducer);
      expect(loaded.fromSnapshot).toBe(false);
      expect(loaded.snapshotRejected).toMatch(why);
      expect(loaded.state).toMatchObject({ status: 'active', name: 'Snap 2' });
    }
  });

  it('a store without snapshot keys neither trusts nor writes snapshots', async () => {
    await forge();
    const plain = await EventStore.open(t.nc, { snapshotEvery: 1 });
    const loaded = await plain.load(ref, person.reducer);
    expect(loaded).toMatchObject({ fromSnapshot: false, state: { status: 'active' } });
  });

  it('a snapshot signed by a trusted key is used', async () => {
    const keyed = await EventStore.open(t.nc, { snapshotKeys: { signer, trusted }, snapshotEvery: 1 });
    await keyed.load(ref, person.reducer, { useSnapshot: false }); // replays 2 ≥ 1: writes a signed snapshot
    await rename('snap', 'Snap 3');
    const loaded = await keyed.load(ref, person.reducer);
    expect(loaded).toMatchObject({ fromSnapshot: true, replayed: 1, state: { status: 'active', name: 'Snap 3' } });
  });

  it('verify --snapshots names the forged, the unsigned and the untrusted ones, and passes the sound one', async () => {
    const keyed = await EventStore.open(t.nc, { snapshotKeys: { signer, trusted }, snapshotEvery: 1 });
    const snapshots = new SnapshotStore(t.nc);
    // snap: a sound snapshot, signed, written by the load in the test before.
    // signed-forged: signed by the trusted key, but a state the chain never had.
    await register('signed-forged');
    const forgedHead = heads.get('signed-forged')!;
    const at = new Date().toISOString();
    const bodyOf = (aggregateId: string, head: AggregateHead, state: unknown) => ({
      v: 1 as const,
      domain: 'person',
      aggregateId,
      seq: head.seq,
      cid: head.cid!,
      streamSeq: head.streamSeq,
      at,
      state,
    });
    await snapshots.put(bodyOf('signed-forged', forgedHead, { status: 'archived' }), signer);
    // unsigned and untrusted: right state, no or a foreign signature.
    await register('unsigned');
    await snapshots.put(
      bodyOf(
        'unsigned',
        heads.get('unsigned')!,
        (await keyed.load({ ...ref, aggregateId: 'unsigned' }, person.reducer)).state,
      ),
    );
    await register('untrusted');
    const untrustedState = (await keyed.load({ ...ref, aggregateId: 'untrusted' }, person.reducer)).state;
    await snapshots.put(bodyOf('untrusted', heads.get('untrusted')!, untrustedState), Signer.ephemeral());
    // wrong-head: signed, its head an event of another aggregate.
    await register('wrong-head');
    await snapshots.put(bodyOf('wrong-head', forgedHead, { status: 'active' }), signer);

    const v = await verifySnapshots(t.nc, [person], { trusted });
    expect(v.unchecked).toEqual([]);
    expect(v.checked).toBe(5);
    const stream = domainStream('person');
    expect(
      v.findings
        .map((f) => ({ kind: f.kind, stream: f.stream, aggregateId: f.aggregateId }))
        .sort((a, b) => (`${a.aggregateId}${a.kind}` < `${b.aggregateId}${b.kind}` ? -1 : 1)),
    ).toEqual([
      { kind: 'snapshot-mismatch', stream, aggregateId: 'signed-forged' },
      { kind: 'snapshot-signature', stream, aggregateId: 'unsigned' },
      { kind: 'snapshot-signature', stream, aggregateId: 'untrusted' },
      { kind: 'snapshot-mismatch', stream, aggregateId: 'wrong-head' },
    ]);
    for (const f of v.findings) expect(f.message).not.toMatch(/archived|Person /); // no state in findings
  });
});
