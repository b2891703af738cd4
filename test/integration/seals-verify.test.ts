// Seals and verification on a real nats-server: a clean store verifies, the background sealer
// seals every N events, and every kind of tampering is detected and named — an altered event,
// a deleted one, a reordered chain, a truncated stream, an altered seal, a seal from another key.
import * as dagCbor from '@ipld/dag-cbor';
import { headers } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeEnvelope,
  decodeSeal,
  domainStream,
  EMPTY_HEAD,
  encodeEnvelope,
  encodeSeal,
  EventStore,
  provision,
  SEALS_STREAM,
  sealCid,
  Sealer,
  Signer,
  verifyDomain,
  type AggregateHead,
  type Causation,
  type DomainVerification,
  type EventEnvelope,
  type FindingKind,
  type NamedSeal,
} from '../../appliance/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

const DOMAINS = ['clean', 'background', 'altered', 'deleted', 'reordered', 'truncated', 'sealalt', 'otherkey'];
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
async function fill(domain: string, aggregates: string[], count: number, heads = new Map<string, AggregateHead>()): Promise<Map<string, AggregateHead>> {
  for (let i = 0; i < count; i++) {
    for (const id of aggregates) {
      const [e] = await store.append({ domain, aggregate: 'Thing', aggregateId: id }, heads.get(id) ?? EMPTY_HEAD, [{ type: 'Changed', payload: { i, id } }], who);
      heads.set(id, { seq: e!.seq, cid: e!.cid, streamSeq: e!.streamSeq });
    }
  }
  return heads;
}

async function seal(domain: string, by: Signer = signer): Promise<NamedSeal> {
  const sealed = await (await Sealer.open(t.nc, { domain, signer: by })).sealOnce();
  expect(sealed).toBeDefined();
  return sealed!;
}

const kinds = (v: DomainVerification) => v.findings.map((f) => f.kind).sort();
const findingOf = (v: DomainVerification, kind: FindingKind) => v.findings.find((f) => f.kind === kind);

async function publishRaw(subject: string, data: Uint8Array, cid?: string) {
  const h = headers();
  if (cid) h.set('Cim-Cid', cid);
  return t.nc.jetstream().publish(subject, data, { headers: h });
}

describe('a store nobody tampered with', () => {
  it('verifies with no findings, counting sealed and unsealed events', async () => {
    await fill('clean', ['a', 'b', 'c'], 5);
    const sealed = await seal('clean');
    expect(sealed.seal).toMatchObject({ domain: 'clean', fromSeq: 1, toSeq: 15, count: 15, prevSeal: null, signer: signer.keyId });
    await fill('clean', ['d'], 4);

    const v = await verifyDomain(t.nc, 'clean', { trusted });
    expect(v.findings).toEqual([]);
    expect(v).toMatchObject({ events: 19, aggregates: 4, seals: 1, sealedEvents: 15, unsealedEvents: 4, signaturesChecked: true });
  });

  it('chains the next seal to the previous one and starts it where the last ended', async () => {
    const sealer = await Sealer.open(t.nc, { domain: 'clean', signer });
    const first = (await sealer.lastSeal())!.named;
    const second = (await sealer.sealOnce())!;
    expect(second.seal.prevSeal?.equals(first.cid)).toBe(true);
    expect(second.seal).toMatchObject({ fromSeq: 16, toSeq: 19, count: 4 });
    expect(await sealer.sealOnce()).toBeUndefined(); // nothing new to seal
    const v = await verifyDomain(t.nc, 'clean', { trusted });
    expect(v).toMatchObject({ seals: 2, sealedEvents: 19, unsealedEvents: 0, findings: [] });
  });
});

describe('the background sealer', () => {
  it('seals once N events are unsealed, in contiguous ranges, and stops cleanly', async () => {
    const sealed: NamedSeal[] = [];
    const sealer = await Sealer.open(t.nc, { domain: 'background', signer, everyEvents: 10, everyMs: 60_000, onSeal: (s) => sealed.push(s) });
    const handle = sealer.start();
    const heads = new Map<string, AggregateHead>();
    try {
      await fill('background', ['x', 'y'], 6, heads); // 12 events: a seal is due
      await waitFor('the first seal', () => sealed.length >= 1 || undefined, 20_000);
      await fill('background', ['x', 'y'], 5, heads); // 10 more: another
      await waitFor('the second seal', () => sealed.length >= 2 || undefined, 20_000);
      await fill('background', ['x', 'y'], 2, heads); // 4 more: below N, and T is a minute away
      await new Promise((resolve) => setTimeout(resolve, 1_500));
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
    expect(v).toMatchObject({ findings: [], seals: sealed.length, sealedEvents: sealed.at(-1)!.seal.toSeq });
    expect(v.sealedEvents + v.unsealedEvents).toBe(26);
    expect(v.unsealedEvents).toBeLessThan(10);
  });
});

describe('tampering', () => {
  it('names an event altered and republished on its subject', async () => {
    await fill('altered', ['a', 'b'], 4);
    await seal('altered');
    const jsm = await t.nc.jetstreamManager();
    const original = await jsm.streams.getMessage(domainStream('altered'), { seq: 3 }); // a's seq 2
    const { envelope, cid } = decodeEnvelope(original.data);
    const forged = encodeEnvelope({ ...envelope, payload: { ...envelope.payload, i: 999 } });
    const ack = await publishRaw(original.subject, forged.bytes, cid.toString()); // claims to be the original

    const v = await verifyDomain(t.nc, 'altered', { trusted });
    expect(findingOf(v, 'cid-mismatch')).toMatchObject({ streamSeq: ack.seq, aggregateId: 'a', expected: cid.toString(), actual: forged.cid.toString() });
    expect(findingOf(v, 'chain-broken')).toMatchObject({ streamSeq: ack.seq, aggregateId: 'a' });
  });

  it('names an event deleted from a sealed range, and the chain it breaks', async () => {
    const heads = await fill('deleted', ['a', 'b'], 4);
    await seal('deleted');
    const jsm = await t.nc.jetstreamManager();
    const gone = decodeEnvelope((await jsm.streams.getMessage(domainStream('deleted'), { seq: 5 })).data); // a's seq 3
    const before = decodeEnvelope((await jsm.streams.getMessage(domainStream('deleted'), { seq: 3 })).data); // a's seq 2
    await jsm.streams.deleteMessage(domainStream('deleted'), 5);

    const v = await verifyDomain(t.nc, 'deleted', { trusted });
    expect(kinds(v)).toEqual(['chain-broken', 'missing-event', 'seal-mismatch']);
    expect(findingOf(v, 'missing-event')).toMatchObject({ streamSeq: 5 });
    expect(findingOf(v, 'chain-broken')).toMatchObject({
      streamSeq: heads.get('a')!.streamSeq, // a's seq 4 now follows seq 2
      aggregateId: 'a',
      expected: `seq 3 after ${before.cid}`,
      actual: `seq 4 after ${gone.cid}`,
    });
  });

  it('names the events of one aggregate stored out of order', async () => {
    const events: ReturnType<typeof encodeEnvelope>[] = [];
    for (let seq = 1; seq <= 3; seq++) {
      const envelope: EventEnvelope = {
        v: 1, id: `id-${seq}`, domain: 'reordered', aggregate: 'Thing', aggregateId: 'r', seq, type: 'Changed', typeVersion: 1,
        at: '2026-11-25T12:00:00.000Z', ...who, payload: { seq }, prev: events.at(-1)?.cid ?? null,
      };
      events.push(encodeEnvelope(envelope));
    }
    const subject = store.subjects.event('reordered', 'r');
    const acks = [];
    for (const e of [events[0]!, events[2]!, events[1]!]) acks.push(await publishRaw(subject, e.bytes, e.cid.toString()));

    const v = await verifyDomain(t.nc, 'reordered', { trusted });
    expect(kinds(v)).toEqual(['chain-broken', 'chain-broken']);
    expect(v.findings[0]).toMatchObject({ streamSeq: acks[1]!.seq, aggregateId: 'r', expected: `seq 2 after ${events[0]!.cid}`, actual: `seq 3 after ${events[1]!.cid}` });
    expect(v.findings[1]).toMatchObject({ streamSeq: acks[2]!.seq, aggregateId: 'r' });
  });

  it('names a stream truncated after a seal', async () => {
    await fill('truncated', ['a'], 6);
    const sealed = await seal('truncated');
    const jsm = await t.nc.jetstreamManager();
    const kept = [];
    for (let seq = 1; seq <= 4; seq++) kept.push(await jsm.streams.getMessage(domainStream('truncated'), { seq }));
    // Restore from an "old backup": the stream recreated with only its first four events.
    await jsm.streams.delete(domainStream('truncated'));
    await provision(t.nc, { domains: ['truncated'], replicas: 1, duplicateWindowMs: 60_000 });
    for (const m of kept) await publishRaw(m.subject, m.data, m.header.get('Cim-Cid'));

    const v = await verifyDomain(t.nc, 'truncated', { trusted });
    expect(findingOf(v, 'truncated')).toMatchObject({ streamSeq: 4, expected: '6', actual: '4' });
    expect(findingOf(v, 'truncated')!.message).toContain(sealed.cid.toString());
  });

  it('names a seal whose record was altered', async () => {
    await fill('sealalt', ['a'], 3);
    const sealed = await seal('sealalt');
    const forgedRoot = new Uint8Array(sealed.seal.merkleRoot);
    forgedRoot[0]! ^= 0x01;
    const forged = { ...sealed.seal, merkleRoot: forgedRoot, prevSeal: sealed.cid, fromSeq: 4, toSeq: 4, count: 1 };
    const forgedCid = sealCid(forged);
    const h = headers();
    h.set('Cim-Cid', forgedCid.toString());
    const ack = await t.nc.jetstream().publish(store.subjects.seal('sealalt'), encodeSeal(forged), { headers: h });
    expect(decodeSeal(encodeSeal(forged)).cid.equals(forgedCid)).toBe(true);

    const v = await verifyDomain(t.nc, 'sealalt', { trusted });
    expect(findingOf(v, 'seal-signature')).toMatchObject({ stream: SEALS_STREAM, streamSeq: ack.seq, actual: forgedCid.toString() });
  });

  it('names a seal signed by a key that is not trusted', async () => {
    await fill('otherkey', ['a'], 3);
    const intruder = Signer.ephemeral();
    const sealed = await seal('otherkey', intruder);
    const v = await verifyDomain(t.nc, 'otherkey', { trusted });
    expect(kinds(v)).toEqual(['seal-untrusted']);
    expect(v.findings[0]).toMatchObject({ stream: SEALS_STREAM, actual: intruder.keyId });
    expect(v.findings[0]!.message).toContain(sealed.cid.toString());
    // The same seal verifies for whoever trusts the intruder's key: the signature itself is sound.
    expect((await verifyDomain(t.nc, 'otherkey', { trusted: [intruder.verifier()] })).findings).toEqual([]);
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
