// Tampering below the NATS API, on the disks of a real 3-node cluster: with every node stopped,
// an event and a seal are rewritten in place at their own stream sequences in every replica's
// block files (checksums recomputed, so the servers serve the new bytes), a seal is erased from
// CIM_SEALS (which refuses deletes through the API), and a record is damaged without a new
// checksum. Restarted, the cluster serves what was written; verification names exactly that.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cidOfBlock,
  decodeEnvelope,
  decodeSeal,
  domainStream,
  encodeEnvelope,
  EventStore,
  MerkleAccumulator,
  provision,
  SEALS_STREAM,
  Sealer,
  Signer,
  verifyDomain,
  type AggregateHead,
  type Causation,
  type NamedSeal,
} from '../../appliance/index.js';
import { eraseStoredMessage, rewriteStoredMessage } from '../support/filestore.js';
import { expectFindings } from '../support/findings.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { fillAggregates } from '../support/stream-events.js';
import { waitFor } from '../support/wait.js';

const DOMAINS = ['evtinplace', 'sealinplace', 'sealgone', 'badsum'];
const who: Causation = { correlationId: 'corr', causationId: 'cause', actor: 'test' };
const signer = Signer.ephemeral();
const trusted = [signer.verifier()];
const S = (domain: string) => domainStream(domain);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

let t: TestCluster;
let store: EventStore;

/** What beforeAll did on disk, for the tests to check against. */
const seeded = {} as {
  event: { seq: number; original: ReturnType<typeof decodeEnvelope>; altered: Uint8Array; seal: NamedSeal };
  seal: { first: NamedSeal; firstSeq: number; altered: Uint8Array; second: NamedSeal; secondSeq: number };
  erased: { first: NamedSeal; second: NamedSeal; secondSeq: number; third: NamedSeal; thirdSeq: number };
  badsum: { seq: number; before: Uint8Array; seal: NamedSeal };
};

/** Appends `count` events to each aggregate, interleaved across aggregates as real traffic is. */
const fill = (domain: string, aggregates: string[], count: number, heads?: Map<string, AggregateHead>) =>
  fillAggregates(store, who, domain, aggregates, count, heads);

async function seal(domain: string): Promise<{ named: NamedSeal; streamSeq: number }> {
  const sealer = await Sealer.open(t.nc, { domain, signer });
  expect(await sealer.sealOnce()).toBeDefined();
  return (await sealer.lastSeal())!;
}

async function rootOf(domain: string, fromSeq: number, toSeq: number): Promise<Uint8Array> {
  const jsm = await t.nc.jetstreamManager();
  const tree = new MerkleAccumulator();
  for (let seq = fromSeq; seq <= toSeq; seq++)
    tree.push(cidOfBlock((await jsm.streams.getMessage(S(domain), { seq })).data).bytes);
  return tree.root();
}

/** The same bytes with one byte flipped where `part` first occurs in them. */
function flipWithin(bytes: Uint8Array, part: Uint8Array): Uint8Array {
  const at = Buffer.from(bytes).indexOf(Buffer.from(part));
  expect(at).toBeGreaterThanOrEqual(0);
  const out = Uint8Array.from(bytes);
  out[at]! ^= 0x01;
  return out;
}

beforeAll(async () => {
  t = await startTestCluster('tamper-disk', 3);
  await provision(t.nc, { domains: DOMAINS, replicas: 3, duplicateWindowMs: 60_000 });
  store = await EventStore.open(t.nc);
  const jsm = await t.nc.jetstreamManager();

  // An event inside a sealed range, and the bytes it will have: the same envelope with another payload value, as long.
  await fill('evtinplace', ['a', 'b'], 4); // a at seqs 1, 3, 5, 7
  const eventSeal = await seal('evtinplace');
  const original = decodeEnvelope((await jsm.streams.getMessage(S('evtinplace'), { seq: 3 })).data); // a's seq 2
  const altered = encodeEnvelope({ ...original.envelope, payload: { ...original.envelope.payload, i: 7 } }).bytes;
  expect(altered.length).toBe(original.bytes.length);

  // Two chained seals; the first one's Merkle root will be altered in its stored record.
  const sealHeads = await fill('sealinplace', ['a'], 3);
  const first = await seal('sealinplace'); // 1..3
  await fill('sealinplace', ['a'], 2, sealHeads);
  const second = await seal('sealinplace'); // 4..5
  const firstStored = (await jsm.streams.getMessage(SEALS_STREAM, { seq: first.streamSeq })).data;
  const alteredSeal = flipWithin(firstStored, first.named.seal.merkleRoot);

  // Three chained seals; the middle one will be erased.
  const goneHeads = await fill('sealgone', ['a'], 2);
  const g1 = await seal('sealgone');
  await fill('sealgone', ['a'], 2, goneHeads);
  const g2 = await seal('sealgone');
  await fill('sealgone', ['a'], 2, goneHeads);
  const g3 = await seal('sealgone');

  // A sealed record damaged without a new checksum: what does the server make of it?
  await fill('badsum', ['a'], 6);
  const badsumSeal = await seal('badsum');

  const names = t.cluster.nodeNames;
  await Promise.all(names.map((n) => t.cluster.stopNode(n)));
  let badsumBefore: Uint8Array | undefined;
  for (const node of names) {
    const dir = t.cluster.storeDir(node);
    const e = rewriteStoredMessage(dir, S('evtinplace'), 3, (body) => {
      expect(Buffer.from(body).equals(Buffer.from(original.bytes))).toBe(true);
      return altered;
    });
    expect(e.subject).toBe(store.subjects.event('evtinplace', 'a'));
    rewriteStoredMessage(dir, SEALS_STREAM, first.streamSeq, () => alteredSeal);
    eraseStoredMessage(dir, SEALS_STREAM, g2.streamSeq);
    badsumBefore = rewriteStoredMessage(
      dir,
      S('badsum'),
      3,
      (body) => flipWithin(body, new TextEncoder().encode('Changed')),
      { keepChecksum: true },
    ).before;
  }
  await Promise.all(names.map((n) => t.cluster.restart(n, 60_000)));
  for (const stream of [...DOMAINS.map(S), SEALS_STREAM]) {
    await waitFor(
      `a leader of ${stream} after the restart`,
      async () => (await jsm.streams.info(stream)).cluster?.leader,
      60_000,
    );
  }

  seeded.event = { seq: 3, original, altered, seal: eventSeal.named };
  seeded.seal = {
    first: first.named,
    firstSeq: first.streamSeq,
    altered: alteredSeal,
    second: second.named,
    secondSeq: second.streamSeq,
  };
  seeded.erased = {
    first: g1.named,
    second: g2.named,
    secondSeq: g2.streamSeq,
    third: g3.named,
    thirdSeq: g3.streamSeq,
  };
  seeded.badsum = { seq: 3, before: badsumBefore!, seal: badsumSeal.named };
}, 240_000);

afterAll(async () => {
  await t?.stop();
});

describe("tampering on every replica's disk", () => {
  it('an event rewritten in place at its own sequence: the cluster serves the new bytes there, and verify names its CID, the chain after it and its seal', async () => {
    const jsm = await t.nc.jetstreamManager();
    const stored = await jsm.streams.getMessage(S('evtinplace'), { seq: 3 });
    expect(Buffer.from(stored.data).equals(Buffer.from(seeded.event.altered))).toBe(true); // the same sequence, other bytes
    expect(stored.header.get('Cim-Cid')).toBe(seeded.event.original.cid.toString()); // still claims the original
    expect((await jsm.streams.info(S('evtinplace'))).state).toMatchObject({ first_seq: 1, last_seq: 8, messages: 8 }); // nothing added or lost

    const alteredCid = cidOfBlock(seeded.event.altered);
    const v = await verifyDomain(t.nc, 'evtinplace', { trusted });
    expectFindings(v, [
      {
        kind: 'cid-mismatch',
        stream: S('evtinplace'),
        streamSeq: 3,
        aggregateId: 'a',
        expected: seeded.event.original.cid.toString(),
        actual: alteredCid.toString(),
      },
      // a's seq 3 links to the original seq 2, not to what is stored now
      {
        kind: 'chain-broken',
        stream: S('evtinplace'),
        streamSeq: 5,
        aggregateId: 'a',
        expected: `seq 3 after ${alteredCid}`,
        actual: `seq 3 after ${seeded.event.original.cid}`,
      },
      {
        kind: 'seal-mismatch',
        stream: S('evtinplace'),
        streamSeq: 1,
        expected: `8 events, root ${hex(seeded.event.seal.seal.merkleRoot)}`,
        actual: `8 events, root ${hex(await rootOf('evtinplace', 1, 8))}`,
      },
    ]);
  });

  it('a seal rewritten in place (its Merkle root): verify names the record, its signature, the range it no longer matches and the seal chained to it', async () => {
    const jsm = await t.nc.jetstreamManager();
    const stored = await jsm.streams.getMessage(SEALS_STREAM, { seq: seeded.seal.firstSeq });
    expect(Buffer.from(stored.data).equals(Buffer.from(seeded.seal.altered))).toBe(true);
    const altered = decodeSeal(stored.data);

    const v = await verifyDomain(t.nc, 'sealinplace', { trusted });
    expectFindings(v, [
      {
        kind: 'seal-signature',
        stream: SEALS_STREAM,
        streamSeq: seeded.seal.firstSeq,
        expected: seeded.seal.first.cid.toString(),
        actual: altered.cid.toString(),
        message: expect.stringContaining('was altered'),
      },
      {
        kind: 'seal-signature',
        stream: SEALS_STREAM,
        streamSeq: seeded.seal.firstSeq,
        actual: altered.cid.toString(),
        message: expect.stringContaining('does not verify'),
      },
      {
        kind: 'seal-chain',
        stream: SEALS_STREAM,
        streamSeq: seeded.seal.secondSeq,
        expected: altered.cid.toString(),
        actual: seeded.seal.first.cid.toString(),
      },
      {
        kind: 'seal-mismatch',
        stream: S('sealinplace'),
        streamSeq: 1,
        expected: `3 events, root ${hex(altered.seal.merkleRoot)}`,
        actual: `3 events, root ${hex(seeded.seal.first.seal.merkleRoot)}`,
      },
    ]);
  });

  it('a seal erased from CIM_SEALS: verify names the seal that no longer links to the one before it, and its range counts as unsealed', async () => {
    const jsm = await t.nc.jetstreamManager();
    await expect(jsm.streams.getMessage(SEALS_STREAM, { seq: seeded.erased.secondSeq })).rejects.toMatchObject({
      code: '404',
    });

    const v = await verifyDomain(t.nc, 'sealgone', { trusted });
    expectFindings(v, [
      {
        kind: 'seal-chain',
        stream: SEALS_STREAM,
        streamSeq: seeded.erased.thirdSeq,
        expected: seeded.erased.first.cid.toString(),
        actual: seeded.erased.second.cid.toString(),
      },
    ]);
    expect(v).toMatchObject({ events: 6, seals: 2, sealedEvents: 4, unsealedEvents: 2 });
  });

  it('a record damaged without a new checksum: the servers still count it but serve nothing at its sequence, and verify names it missing from its seal', async () => {
    const jsm = await t.nc.jetstreamManager();
    // nats-server 2.9 checks a record's checksum when it reads it; a failing one is not served,
    // neither truncated nor dropped from the stream's counts.
    expect((await jsm.streams.info(S('badsum'))).state).toMatchObject({ first_seq: 1, last_seq: 6, messages: 6 });
    await expect(jsm.streams.getMessage(S('badsum'), { seq: 3 })).rejects.toMatchObject({ code: '404' });
    const left = new MerkleAccumulator();
    for (const seq of [1, 2, 4, 5, 6])
      left.push(cidOfBlock((await jsm.streams.getMessage(S('badsum'), { seq })).data).bytes);
    const gone = decodeEnvelope(seeded.badsum.before); // a's seq 3
    const after = decodeEnvelope((await jsm.streams.getMessage(S('badsum'), { seq: 4 })).data);

    const v = await verifyDomain(t.nc, 'badsum', { trusted });
    expectFindings(v, [
      { kind: 'missing-event', stream: S('badsum'), streamSeq: 3, expected: 'seq 3..3', actual: 'absent' },
      {
        kind: 'chain-broken',
        stream: S('badsum'),
        streamSeq: 4,
        aggregateId: 'a',
        expected: `seq 3 after ${gone.envelope.prev}`,
        actual: `seq 4 after ${after.envelope.prev}`,
      },
      {
        kind: 'seal-mismatch',
        stream: S('badsum'),
        streamSeq: 1,
        expected: `6 events, root ${hex(seeded.badsum.seal.seal.merkleRoot)}`,
        actual: `5 events, root ${hex(left.root())}`,
      },
    ]);
    expect(v.events).toBe(5);
  });
});
