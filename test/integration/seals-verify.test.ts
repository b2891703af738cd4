// Seals and verification on a real nats-server: a clean store verifies, the background sealer
// seals every N events, and every kind of tampering the NATS API allows is detected and named,
// each test asserting the exact set of findings — a forged copy of an event, a deleted one, a
// reordered chain, a truncated stream, events removed from the head, a forged seal, a seal from
// another key, seals whose ranges gap or overlap, records that are no seal. (Tampering below the
// API, on the servers' disks, is in tamper-on-disk.test.ts.)
import * as dagCbor from '@ipld/dag-cbor';
import { headers } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cidOfBlock,
  decodeEnvelope,
  decodeSeal,
  domainStream,
  encodeEnvelope,
  encodeSeal,
  EventStore,
  MerkleAccumulator,
  provision,
  SEALS_STREAM,
  sealCid,
  Sealer,
  Signer,
  signSeal,
  verifyDomain,
  type AggregateHead,
  type Causation,
  type EventEnvelope,
  type NamedSeal,
  type SealBody,
} from '../../appliance/index.js';
import { expectFindings } from '../support/findings.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { fillAggregates } from '../support/stream-events.js';
import { waitFor } from '../support/wait.js';
import { sleep } from '../../appliance/sleep.js';

const DOMAINS = [
  'clean',
  'background',
  'altered',
  'deleted',
  'reordered',
  'misfiled',
  'truncated',
  'headgone',
  'sealalt',
  'otherkey',
  'sealgap',
  'sealoverlap',
  'overlapwrong',
  'sealbad',
];
const who: Causation = { correlationId: 'corr', causationId: 'cause', actor: 'test' };
const signer = Signer.ephemeral();
const trusted = [signer.verifier()];
let t: TestCluster;
let store: EventStore;

beforeAll(async () => {
  t = await startTestCluster('seals', 1);
  await provision(t.nc, { domains: DOMAINS, replicas: 1, duplicateWindowMs: 60_000 });
  store = await EventStore.open(t.nc);
});

afterAll(async () => {
  await t?.stop();
});

/** Appends `count` events to each aggregate, interleaved across aggregates as real traffic is. */
const fill = (domain: string, aggregates: string[], count: number, heads?: Map<string, AggregateHead>) =>
  fillAggregates(store, who, domain, aggregates, count, heads);

async function seal(domain: string, by: Signer = signer): Promise<NamedSeal> {
  const sealed = await (await Sealer.open(t.nc, { domain, signer: by })).sealOnce();
  expect(sealed).toBeDefined();
  return sealed!;
}

/** The domain's last seal and its sequence in CIM_SEALS. */
async function lastSeal(domain: string): Promise<{ named: NamedSeal; streamSeq: number }> {
  const head = await (await Sealer.open(t.nc, { domain, signer })).lastSeal();
  expect(head).toBeDefined();
  return head!;
}

/** The Merkle root over a domain stream's range, leaves as a sealer takes them: the CIDs of the stored bytes. */
async function rootOf(domain: string, fromSeq: number, toSeq: number): Promise<{ root: Uint8Array; count: number }> {
  const jsm = await t.nc.jetstreamManager();
  const tree = new MerkleAccumulator();
  for (let seq = fromSeq; seq <= toSeq; seq++)
    tree.push(cidOfBlock((await jsm.streams.getMessage(domainStream(domain), { seq })).data).bytes);
  return { root: tree.root(), count: tree.size };
}

/** Signs a seal of a range with the real signing code and publishes it as a sealer would; returns it and its CIM_SEALS sequence. */
async function publishSeal(
  domain: string,
  fromSeq: number,
  toSeq: number,
  prevSeal: NamedSeal | null,
  forge: (body: SealBody) => SealBody = (b) => b,
): Promise<{ named: NamedSeal; streamSeq: number }> {
  const { root, count } = await rootOf(domain, fromSeq, toSeq);
  const body: SealBody = {
    v: 1,
    domain,
    fromSeq,
    toSeq,
    count,
    merkleRoot: root,
    prevSeal: prevSeal?.cid ?? null,
    at: new Date().toISOString(),
    signer: signer.keyId,
  };
  const named = signSeal(forge(body), signer);
  const ack = await publishRaw(store.subjects.seal(domain), encodeSeal(named.seal), named.cid.toString());
  return { named, streamSeq: ack.seq };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const S = (domain: string) => domainStream(domain);

async function publishRaw(subject: string, data: Uint8Array, cid?: string) {
  const h = headers();
  if (cid) h.set('Cim-Cid', cid);
  return t.nc.jetstream().publish(subject, data, { headers: h });
}

describe('a store nobody tampered with', () => {
  it('verifies with no findings, counting sealed and unsealed events', async () => {
    await fill('clean', ['a', 'b', 'c'], 5);
    const sealed = await seal('clean');
    expect(sealed.seal).toMatchObject({
      domain: 'clean',
      fromSeq: 1,
      toSeq: 15,
      count: 15,
      prevSeal: null,
      signer: signer.keyId,
    });
    await fill('clean', ['d'], 4);

    const v = await verifyDomain(t.nc, 'clean', { trusted });
    expectFindings(v, []);
    expect(v).toMatchObject({
      events: 19,
      aggregates: 4,
      seals: 1,
      sealedEvents: 15,
      unsealedEvents: 4,
      signaturesChecked: true,
    });
  });

  it('chains the next seal to the previous one and starts it where the last ended', async () => {
    const sealer = await Sealer.open(t.nc, { domain: 'clean', signer });
    const first = (await sealer.lastSeal())!.named;
    const second = (await sealer.sealOnce())!;
    expect(second.seal.prevSeal?.equals(first.cid)).toBe(true);
    expect(second.seal).toMatchObject({ fromSeq: 16, toSeq: 19, count: 4 });
    expect(await sealer.sealOnce()).toBeUndefined(); // nothing new to seal
    const v = await verifyDomain(t.nc, 'clean', { trusted });
    expectFindings(v, []);
    expect(v).toMatchObject({ seals: 2, sealedEvents: 19, unsealedEvents: 0 });
  });
});

describe('the background sealer', () => {
  it('seals once N events are unsealed, in contiguous ranges, and stops cleanly', async () => {
    const sealed: NamedSeal[] = [];
    const sealer = await Sealer.open(t.nc, {
      domain: 'background',
      signer,
      everyEvents: 10,
      everyMs: 60_000,
      onSeal: (s) => sealed.push(s),
    });
    const handle = sealer.start();
    const heads = new Map<string, AggregateHead>();
    try {
      await fill('background', ['x', 'y'], 6, heads); // 12 events: a seal is due
      await waitFor('the first seal', () => sealed.length >= 1 || undefined, 20_000);
      await fill('background', ['x', 'y'], 5, heads); // 10 more: another
      await waitFor('the second seal', () => sealed.length >= 2 || undefined, 20_000);
      await fill('background', ['x', 'y'], 2, heads); // 4 more: below N, and T is a minute away
      await sleep(1_500);
    } finally {
      await handle.stop();
    }
    // A tick may fall in the middle of a fill, so ranges vary; their rules do not.
    expect(sealed[0]!.seal.fromSeq).toBe(1);
    for (const [i, s] of sealed.entries()) {
      expect(s.seal.count).toBeGreaterThanOrEqual(10);
      if (i > 0) {
        expect(s.seal.fromSeq).toBe(sealed[i - 1]!.seal.toSeq + 1);
        expect(s.seal.prevSeal?.equals(sealed[i - 1]!.cid)).toBe(true);
      }
    }
    const v = await verifyDomain(t.nc, 'background', { trusted });
    expectFindings(v, []);
    expect(v).toMatchObject({ seals: sealed.length, sealedEvents: sealed.at(-1)!.seal.toSeq });
    expect(v.sealedEvents + v.unsealedEvents).toBe(26);
    expect(v.unsealedEvents).toBeLessThan(10);
  });
});

describe('tampering through the NATS API', () => {
  it('names a forged copy of an event republished on its subject under the original CID', async () => {
    const heads = await fill('altered', ['a', 'b'], 4);
    await seal('altered');
    const jsm = await t.nc.jetstreamManager();
    const original = await jsm.streams.getMessage(S('altered'), { seq: 3 }); // a's seq 2
    const { envelope, cid } = decodeEnvelope(original.data);
    const forged = encodeEnvelope({ ...envelope, payload: { ...envelope.payload, i: 999 } });
    const ack = await publishRaw(original.subject, forged.bytes, cid.toString()); // claims to be the original

    const v = await verifyDomain(t.nc, 'altered', { trusted });
    expectFindings(v, [
      {
        kind: 'cid-mismatch',
        stream: S('altered'),
        streamSeq: ack.seq,
        aggregateId: 'a',
        expected: cid.toString(),
        actual: forged.cid.toString(),
      },
      {
        kind: 'chain-broken',
        stream: S('altered'),
        streamSeq: ack.seq,
        aggregateId: 'a',
        expected: `seq 5 after ${heads.get('a')!.cid}`,
        actual: `seq 2 after ${envelope.prev}`,
      },
    ]);
  });

  it('names an event deleted from a sealed range, the chain it breaks and the seal it no longer matches', async () => {
    const heads = await fill('deleted', ['a', 'b'], 4);
    const sealed = await seal('deleted');
    const jsm = await t.nc.jetstreamManager();
    const gone = decodeEnvelope((await jsm.streams.getMessage(S('deleted'), { seq: 5 })).data); // a's seq 3
    const before = decodeEnvelope((await jsm.streams.getMessage(S('deleted'), { seq: 3 })).data); // a's seq 2
    await jsm.streams.deleteMessage(S('deleted'), 5);
    const left = new MerkleAccumulator();
    for (const seq of [1, 2, 3, 4, 6, 7, 8])
      left.push(cidOfBlock((await jsm.streams.getMessage(S('deleted'), { seq })).data).bytes);

    const v = await verifyDomain(t.nc, 'deleted', { trusted });
    expectFindings(v, [
      { kind: 'missing-event', stream: S('deleted'), streamSeq: 5, expected: 'seq 5..5', actual: 'absent' },
      // a's seq 4 now follows its seq 2
      {
        kind: 'chain-broken',
        stream: S('deleted'),
        streamSeq: heads.get('a')!.streamSeq,
        aggregateId: 'a',
        expected: `seq 3 after ${before.cid}`,
        actual: `seq 4 after ${gone.cid}`,
      },
      {
        kind: 'seal-mismatch',
        stream: S('deleted'),
        streamSeq: 1,
        expected: `8 events, root ${hex(sealed.seal.merkleRoot)}`,
        actual: `7 events, root ${hex(left.root())}`,
      },
    ]);
  });

  it('names the events of one aggregate stored out of order', async () => {
    const events: ReturnType<typeof encodeEnvelope>[] = [];
    for (let seq = 1; seq <= 3; seq++) {
      const envelope: EventEnvelope = {
        v: 1,
        id: `id-${seq}`,
        domain: 'reordered',
        aggregate: 'Thing',
        aggregateId: 'r',
        seq,
        type: 'Changed',
        typeVersion: 1,
        at: '2026-11-25T12:00:00.000Z',
        ...who,
        payload: { seq },
        prev: events.at(-1)?.cid ?? null,
      };
      events.push(encodeEnvelope(envelope));
    }
    const subject = store.subjects.event('reordered', 'r');
    const acks = [];
    for (const e of [events[0]!, events[2]!, events[1]!])
      acks.push(await publishRaw(subject, e.bytes, e.cid.toString()));

    const v = await verifyDomain(t.nc, 'reordered', { trusted });
    expectFindings(v, [
      {
        kind: 'chain-broken',
        stream: S('reordered'),
        streamSeq: acks[1]!.seq,
        aggregateId: 'r',
        expected: `seq 2 after ${events[0]!.cid}`,
        actual: `seq 3 after ${events[1]!.cid}`,
      },
      // the chain resynchronised on seq 3: one break, one finding, then the late seq 2
      {
        kind: 'chain-broken',
        stream: S('reordered'),
        streamSeq: acks[2]!.seq,
        aggregateId: 'r',
        expected: `seq 4 after ${events[2]!.cid}`,
        actual: `seq 2 after ${events[0]!.cid}`,
      },
    ]);
  });

  it("names an event stored on another aggregate's subject, one of another domain, and bytes that are no envelope", async () => {
    await fill('misfiled', ['a'], 2); // seqs 1, 2
    const base = {
      v: 1,
      id: 'id-x',
      aggregate: 'Thing',
      seq: 1,
      type: 'Changed',
      typeVersion: 1,
      at: '2026-11-25T12:00:00.000Z',
      ...who,
      payload: {},
      prev: null,
    } as const;
    const x = encodeEnvelope<Record<string, never>>({ ...base, domain: 'misfiled', aggregateId: 'x' });
    const onY = await publishRaw(store.subjects.event('misfiled', 'y'), x.bytes, x.cid.toString());
    const foreign = encodeEnvelope<Record<string, never>>({ ...base, domain: 'elsewhere', aggregateId: 'z' });
    const ofElsewhere = await publishRaw(store.subjects.event('misfiled', 'z'), foreign.bytes, foreign.cid.toString());
    const garbage = new Uint8Array([0xa1, 0x61, 0x76, 0x02]); // {"v": 2}: dag-cbor, no envelope
    const noEnvelope = await publishRaw(store.subjects.event('misfiled', 'a'), garbage);

    const v = await verifyDomain(t.nc, 'misfiled', { trusted });
    expectFindings(v, [
      {
        kind: 'wrong-subject',
        stream: S('misfiled'),
        streamSeq: onY.seq,
        aggregateId: 'x',
        expected: store.subjects.event('misfiled', 'x'),
        actual: store.subjects.event('misfiled', 'y'),
      },
      {
        kind: 'wrong-subject',
        stream: S('misfiled'),
        streamSeq: ofElsewhere.seq,
        actual: foreign.cid.toString(),
        message: expect.stringContaining('an event of domain elsewhere'),
      },
      {
        kind: 'invalid-event',
        stream: S('misfiled'),
        streamSeq: noEnvelope.seq,
        actual: cidOfBlock(garbage).toString(),
      },
    ]);
  });

  it('names a stream truncated after a seal', async () => {
    await fill('truncated', ['a'], 6);
    const sealed = await seal('truncated');
    const jsm = await t.nc.jetstreamManager();
    const kept = [];
    for (let seq = 1; seq <= 4; seq++) kept.push(await jsm.streams.getMessage(S('truncated'), { seq }));
    // Restore from an "old backup": the stream recreated with only its first four events.
    await jsm.streams.delete(S('truncated'));
    await provision(t.nc, { domains: ['truncated'], replicas: 1, duplicateWindowMs: 60_000 });
    for (const m of kept) await publishRaw(m.subject, m.data, m.header.get('Cim-Cid'));

    const v = await verifyDomain(t.nc, 'truncated', { trusted });
    expectFindings(v, [
      {
        kind: 'truncated',
        stream: S('truncated'),
        streamSeq: 4,
        expected: '6',
        actual: '4',
        message: expect.stringContaining(sealed.cid.toString()),
      },
    ]);
  });

  it('names events removed from the head of a stream that has no retention policy, and the chains that now start late', async () => {
    await fill('headgone', ['a', 'b'], 4); // a at seqs 1, 3, 5, 7; b at 2, 4, 6, 8
    const jsm = await t.nc.jetstreamManager();
    expect((await jsm.streams.info(S('headgone'))).config).toMatchObject({
      max_age: 0,
      max_msgs: -1,
      max_bytes: -1,
      max_msgs_per_subject: -1,
    });
    const a2 = decodeEnvelope((await jsm.streams.getMessage(S('headgone'), { seq: 3 })).data);
    const b2 = decodeEnvelope((await jsm.streams.getMessage(S('headgone'), { seq: 4 })).data);
    expect((await jsm.streams.purge(S('headgone'), { seq: 5 })).purged).toBe(4); // seqs 1..4 gone

    const v = await verifyDomain(t.nc, 'headgone', { trusted });
    expectFindings(v, [
      {
        kind: 'events-removed',
        stream: S('headgone'),
        streamSeq: 5,
        expected: '1',
        actual: '5',
        message: expect.stringContaining('events 1..4 were removed'),
      },
      {
        kind: 'chain-broken',
        stream: S('headgone'),
        streamSeq: 5,
        aggregateId: 'a',
        expected: 'seq 1',
        actual: `seq 3 after ${a2.cid}`,
      },
      {
        kind: 'chain-broken',
        stream: S('headgone'),
        streamSeq: 6,
        aggregateId: 'b',
        expected: 'seq 1',
        actual: `seq 3 after ${b2.cid}`,
      },
    ]);
  });

  it("names a forged seal appended under the sealer's subject: its signature fails, and it covers more than the stream holds", async () => {
    await fill('sealalt', ['a'], 3);
    const sealed = await seal('sealalt');
    const forgedRoot = new Uint8Array(sealed.seal.merkleRoot);
    forgedRoot[0]! ^= 0x01;
    const forged = { ...sealed.seal, merkleRoot: forgedRoot, prevSeal: sealed.cid, fromSeq: 4, toSeq: 4, count: 1 };
    const forgedCid = sealCid(forged);
    const ack = await publishRaw(store.subjects.seal('sealalt'), encodeSeal(forged), forgedCid.toString());
    expect(decodeSeal(encodeSeal(forged)).cid.equals(forgedCid)).toBe(true);

    const v = await verifyDomain(t.nc, 'sealalt', { trusted });
    expectFindings(v, [
      { kind: 'seal-signature', stream: SEALS_STREAM, streamSeq: ack.seq, actual: forgedCid.toString() },
      {
        kind: 'truncated',
        stream: S('sealalt'),
        streamSeq: 3,
        expected: '4',
        actual: '3',
        message: expect.stringContaining(forgedCid.toString()),
      },
    ]);
  });

  it('names a seal signed by a key that is not trusted', async () => {
    await fill('otherkey', ['a'], 3);
    const intruder = Signer.ephemeral();
    const sealed = await seal('otherkey', intruder);
    const { streamSeq } = await lastSeal('otherkey');
    const v = await verifyDomain(t.nc, 'otherkey', { trusted });
    expectFindings(v, [
      {
        kind: 'seal-untrusted',
        stream: SEALS_STREAM,
        streamSeq,
        actual: intruder.keyId,
        message: expect.stringContaining(sealed.cid.toString()),
      },
    ]);
    // The same seal verifies for whoever trusts the intruder's key: the signature itself is sound.
    expectFindings(await verifyDomain(t.nc, 'otherkey', { trusted: [intruder.verifier()] }), []);
  });

  it('names a validly signed seal that leaves a gap after the seal before it, and counts the gap as unsealed', async () => {
    const heads = await fill('sealgap', ['a'], 4);
    const first = await seal('sealgap'); // 1..4
    await fill('sealgap', ['a'], 4, heads); // 5..8
    const gapped = await publishSeal('sealgap', 6, 8, first); // 5 is in no seal

    const v = await verifyDomain(t.nc, 'sealgap', { trusted });
    expectFindings(v, [
      {
        kind: 'seal-chain',
        stream: SEALS_STREAM,
        streamSeq: gapped.streamSeq,
        expected: '5',
        actual: '6',
        message: expect.stringContaining(gapped.named.cid.toString()),
      },
    ]);
    expect(v).toMatchObject({ seals: 2, sealedEvents: 7, unsealedEvents: 1 });
  });

  it('names a validly signed seal whose range overlaps the seal before it, and still recomputes both ranges', async () => {
    const heads = await fill('sealoverlap', ['a'], 4);
    const first = await seal('sealoverlap'); // 1..4
    await fill('sealoverlap', ['a'], 4, heads); // 5..8
    const overlapping = await publishSeal('sealoverlap', 3, 8, first); // 3..4 sealed twice

    const v = await verifyDomain(t.nc, 'sealoverlap', { trusted });
    expectFindings(v, [
      {
        kind: 'seal-chain',
        stream: SEALS_STREAM,
        streamSeq: overlapping.streamSeq,
        expected: '5',
        actual: '3',
        message: expect.stringContaining(overlapping.named.cid.toString()),
      },
    ]);
    expect(v).toMatchObject({ seals: 2, sealedEvents: 8, unsealedEvents: 0 });
  });

  it('names an overlapping seal whose root does not recompute as well as the overlap', async () => {
    const heads = await fill('overlapwrong', ['a'], 4);
    const first = await seal('overlapwrong'); // 1..4
    await fill('overlapwrong', ['a'], 4, heads); // 5..8
    const { root: rootTo7 } = await rootOf('overlapwrong', 3, 7);
    const { root: rootTo8 } = await rootOf('overlapwrong', 3, 8);
    const wrong = await publishSeal('overlapwrong', 3, 8, first, (b) => ({ ...b, merkleRoot: rootTo7 })); // signed, but over the wrong leaves

    const v = await verifyDomain(t.nc, 'overlapwrong', { trusted });
    expectFindings(v, [
      { kind: 'seal-chain', stream: SEALS_STREAM, streamSeq: wrong.streamSeq, expected: '5', actual: '3' },
      {
        kind: 'seal-mismatch',
        stream: S('overlapwrong'),
        streamSeq: 3,
        expected: `6 events, root ${hex(rootTo7)}`,
        actual: `6 events, root ${hex(rootTo8)}`,
      },
    ]);
  });

  it("names the records under a domain's seal subject that are not seals, and checks the seals around them", async () => {
    const heads = await fill('sealbad', ['a'], 3);
    const first = await seal('sealbad'); // 1..3
    const notCbor = await publishRaw(store.subjects.seal('sealbad'), new Uint8Array([0xff, 0x00, 0x13]));
    const notASeal = await publishRaw(
      store.subjects.seal('sealbad'),
      dagCbor.encode({ v: 1, domain: 'sealbad', fromSeq: 4 }),
    );
    await fill('sealbad', ['a'], 2, heads); // 4..5
    await publishSeal('sealbad', 4, 5, first); // chained to the last valid seal: sound

    const v = await verifyDomain(t.nc, 'sealbad', { trusted });
    expectFindings(v, [
      {
        kind: 'seal-invalid',
        stream: SEALS_STREAM,
        streamSeq: notCbor.seq,
        message: expect.stringContaining('seal is not valid dag-cbor'),
      },
      {
        kind: 'seal-invalid',
        stream: SEALS_STREAM,
        streamSeq: notASeal.seq,
        message: expect.stringContaining('not a valid seal'),
      },
    ]);
    expect(v).toMatchObject({ seals: 2, sealedEvents: 5 });
  });
});

describe('the seal record', () => {
  it('round-trips through dag-cbor with its CID and signature intact', async () => {
    const sealer = await Sealer.open(t.nc, { domain: 'clean', signer });
    const last = (await sealer.lastSeal())!;
    const again = decodeSeal(encodeSeal(last.named.seal));
    expect(again.cid.equals(last.named.cid)).toBe(true);
    expect(dagCbor.decode(encodeSeal(again.seal))).toEqual(dagCbor.decode(encodeSeal(last.named.seal)));
  });
});
