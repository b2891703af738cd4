// Verification on worker threads against the one pass on a real 3-node cluster (R3, read on the
// stream leader): a store tampered with in sealed and unsealed ranges, across chunk boundaries,
// gives the same result — the same findings, same texts, same order, the same counts — whether
// its events are checked in chunks by workers or one by one on the reading thread. Correctness
// only; how fast each is, is the benchmark's business (cim bench --components).
import { headers, type PubAck } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  domainStream,
  encodeEnvelope,
  provision,
  Sealer,
  Signer,
  Subjects,
  verifyDomain,
  type CID,
  type VerifyOptions,
} from '../../appliance/index.js';
import { workerScript } from '../../appliance/integrity/verify-pool.js';
import { seededRandom } from '../support/random.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const DOMAIN = 'parallel';
const EVENTS = 20_000;
const AGGREGATES = 150;
const signer = Signer.ephemeral();
const trusted = [signer.verifier()];
const subjects = new Subjects();
let t: TestCluster;

async function publish(subject: string, data: Uint8Array, cid?: string, msgID?: string): Promise<PubAck> {
  const h = headers();
  if (cid) h.set('Cim-Cid', cid);
  return t.nc.jetstream().publish(subject, data, { headers: h, ...(msgID ? { msgID } : {}) });
}

/** `count` events over the aggregates in a seeded order, published 256 at a time, as the store writes them. */
async function fill(count: number, seed: number): Promise<void> {
  const random = seededRandom(seed);
  const heads = Array.from({ length: AGGREGATES }, () => ({ seq: 0, cid: null as CID | null }));
  let inFlight: Promise<PubAck>[] = [];
  for (let i = 0; i < count; i++) {
    const a = random.int(0, AGGREGATES - 1);
    const head = heads[a]!;
    const event = encodeEnvelope({
      v: 1,
      id: `event-${seed}-${i}`,
      domain: DOMAIN,
      aggregate: 'Thing',
      aggregateId: `t${a}`,
      seq: head.seq + 1,
      type: 'Changed',
      typeVersion: 1,
      at: '2026-12-02T12:00:00.000Z',
      correlationId: 'corr',
      causationId: 'cause',
      actor: 'test',
      payload: { i, note: 'x'.repeat(random.int(0, 200)) },
      prev: head.cid,
    });
    heads[a] = { seq: head.seq + 1, cid: event.cid };
    inFlight.push(
      publish(subjects.event(DOMAIN, `t${a}`), event.bytes, event.cid.toString(), `${seed}:t${a}:${head.seq + 1}`),
    );
    if (inFlight.length >= 256) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
}

beforeAll(async () => {
  t = await startTestCluster('verify-parallel', 3);
  await provision(t.nc, { domains: [DOMAIN], replicas: 3, duplicateWindowMs: 60_000 });
  await fill(EVENTS, 1);
  // Seals of 6,000: their ends fall inside chunks, never on a chunk's edge.
  const sealer = await Sealer.open(t.nc, { domain: DOMAIN, signer, maxEventsPerSeal: 6_000 });
  while (await sealer.sealOnce());
  const jsm = await t.nc.jetstreamManager();
  const stream = domainStream(DOMAIN);
  // Deleted inside sealed ranges: a missing event, the chain it breaks (for some, in the next
  // chunk of 8,192), the seal it no longer matches; one on each side of the first chunk's edge.
  for (const seq of [100, 8_191, 8_194, 12_001, 17_999]) await jsm.streams.deleteMessage(stream, seq);
  // After the seals: a forged copy claiming an original's CID, an event on another aggregate's
  // subject, bytes that are no event, a message without a claimed CID.
  const original = await jsm.streams.getMessage(stream, { seq: 4_000 });
  const forged = new Uint8Array(original.data);
  forged[forged.length - 2] = forged[forged.length - 2]! ^ 0x01;
  await publish(original.subject, forged, original.header.get('Cim-Cid'));
  const other = await jsm.streams.getMessage(stream, { seq: 4_001 });
  await publish(subjects.event(DOMAIN, 'elsewhere'), other.data, other.header.get('Cim-Cid'));
  await publish(subjects.event(DOMAIN, 't1'), new Uint8Array([0xa1, 0x61, 0x76, 0x02]));
  await publish(subjects.event(DOMAIN, 't2'), (await jsm.streams.getMessage(stream, { seq: 4_002 })).data);
  await fill(3_000, 2); // new chains over the same aggregates: each first event breaks its chain
}, 300_000);

afterAll(async () => {
  await t?.stop();
});

const verify = (options: VerifyOptions) => verifyDomain(t.nc, DOMAIN, { trusted, ...options });

describe('verification on worker threads', () => {
  it('given the tests run from the sources, finds the built worker script to start', () => {
    expect(workerScript()?.pathname).toMatch(/\/dist\/appliance\/integrity\/verify-worker\.js$/);
  });

  it('given a tampered store, finds with workers exactly what the one pass finds, in the same order', async () => {
    const serial = await verify({ workers: 0 });
    const parallel = await verify({ workers: 2, parallelFrom: 0 });
    expect(new Set(serial.findings.map((f) => f.kind))).toEqual(
      new Set(['missing-event', 'chain-broken', 'seal-mismatch', 'cid-mismatch', 'wrong-subject', 'invalid-event']),
    );
    expect(serial.events).toBe(EVENTS - 5 + 4 + 3_000);
    expect(parallel).toEqual(serial);
  });

  it('given a cap on findings, keeps the same first findings and counts the same rest', async () => {
    const serial = await verify({ workers: 0, maxFindings: 7 });
    const parallel = await verify({ workers: 1, parallelFrom: 0, maxFindings: 7 });
    expect(serial.findings).toHaveLength(7);
    expect(serial.findingsOmitted).toBeGreaterThan(0);
    expect(parallel).toEqual(serial);
  });
});
