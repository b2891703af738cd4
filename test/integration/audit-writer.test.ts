// The audit writer against a real nats-server: records handed in one after another and all at
// once form one contiguous chain, a batch stored as one message (within its byte bound); a record written into its chain by someone else does not become
// its head (the writer's next record forks from it, for verification to name); and a record that
// could not be stored is thrown to its caller, after which the chain goes on from what is stored.
import { headers } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_STREAM,
  AUDIT_VERSION,
  AuditChainChecker,
  AuditWriter,
  decodeAuditMessage,
  FindingList,
  namedAuditRecord,
  provision,
  readStream,
  Subjects,
  type AuditEntry,
} from '../../appliance/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let t: TestCluster;
const entry = (correlationId: string): AuditEntry => ({
  actor: 'tester',
  role: 'nats',
  source: 'nats',
  action: 'command.person.RegisterPerson',
  target: 'person/p-1',
  outcome: 'accepted',
  correlationId,
});
const provisionAudit = () => provision(t.nc, { domains: ['person'], replicas: 1, duplicateWindowMs: 120_000 });

/** Every record of the audit stream, checked as verification checks them. */
async function check() {
  const jsm = await t.nc.jetstreamManager();
  const last = (await jsm.streams.info(AUDIT_STREAM)).state.last_seq;
  const findings = new FindingList();
  const checker = new AuditChainChecker(new Subjects(), findings);
  const records = [];
  const messages: { seq: number; bytes: number; records: number; writer: string }[] = [];
  for await (const m of readStream(t.nc.jetstream(), { stream: AUDIT_STREAM, fromSeq: 1, toSeq: last })) {
    checker.check({ streamSeq: m.seq, subject: m.subject, data: m.data, claimedCid: m.headers?.get('Cim-Cid') });
    const held = decodeAuditMessage(m.data).records.map((r) => r.record);
    records.push(...held);
    messages.push({ seq: m.seq, bytes: m.data.length, records: held.length, writer: held[0]!.writer });
  }
  return { findings: findings.list, records, messages };
}

beforeAll(async () => {
  t = await startTestCluster('audit-writer', 1);
  await provisionAudit();
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

describe('AuditWriter', () => {
  it('chains records handed in one after another and 300 at once into one contiguous chain', async () => {
    const writer = await AuditWriter.open(t.nc, { name: 'test', chains: 1 });
    const [id] = writer.writers;
    await writer.record(entry('one'));
    await writer.record(entry('two'));
    await Promise.all(Array.from({ length: 300 }, (_, i) => writer.record(entry(`many-${i}`))));
    const { findings, records, messages } = await check();
    expect(findings).toEqual([]);
    const mine = records.filter((r) => r.writer === id);
    expect(mine.map((r) => r.seq)).toEqual(Array.from({ length: 302 }, (_, i) => i + 1));
    expect(mine.slice(0, 2).map((r) => r.correlationId)).toEqual(['one', 'two']);
    expect(mine.slice(2).map((r) => r.correlationId)).toEqual(Array.from({ length: 300 }, (_, i) => `many-${i}`));
    // One message each for the two awaited one by one; the 300 handed in at once go as one batch
    // (or two, when the first went out alone before the others were queued).
    const ours = messages.filter((m) => m.writer === id);
    expect(ours.slice(0, 2).map((m) => m.records)).toEqual([1, 1]);
    expect(ours.length).toBeLessThanOrEqual(4);
    expect(Math.max(...ours.map((m) => m.records))).toBeGreaterThanOrEqual(299);
  });

  it('spreads records over its chains when they come faster than one chain stores them; each chain stays contiguous', async () => {
    const writer = await AuditWriter.open(t.nc, { name: 'pool', chains: 3 });
    // One at a time, every record goes to the first chain: it is idle each time.
    for (const i of [0, 1, 2]) await writer.record(entry(`calm-${i}`));
    // Handed in while batches are out: the other chains take the queue as they are free.
    await Promise.all(
      Array.from({ length: 50 }, async (_, round) => {
        await new Promise((resolve) => setTimeout(resolve, round % 10));
        await writer.record(entry(`busy-${round}`));
      }),
    );
    const { findings, records } = await check();
    expect(findings).toEqual([]);
    const ids = writer.writers;
    expect(ids).toHaveLength(3);
    const ours = records.filter((r) => ids.includes(r.writer));
    expect(ours.filter((r) => r.correlationId.startsWith('calm-')).map((r) => r.writer)).toEqual([
      ids[0],
      ids[0],
      ids[0],
    ]);
    expect(new Set(ours.map((r) => r.correlationId)).size).toBe(53);
    expect(new Set(ours.map((r) => r.writer)).size).toBeGreaterThan(1);
    for (const id of new Set(ours.map((r) => r.writer))) {
      const chain = ours.filter((r) => r.writer === id).map((r) => r.seq);
      expect(chain).toEqual(Array.from({ length: chain.length }, (_, i) => i + 1));
    }
  });

  it('splits a batch at its byte bound: every message within it, the chain unbroken across messages', async () => {
    const writer = await AuditWriter.open(t.nc, { name: 'bytes', chains: 1, maxBatchBytes: 2_000 });
    const [id] = writer.writers;
    await Promise.all(Array.from({ length: 41 }, (_, i) => writer.record(entry(`sized-${i}`))));
    const { findings, records, messages } = await check();
    expect(findings).toEqual([]);
    expect(records.filter((r) => r.writer === id).map((r) => r.seq)).toEqual(
      Array.from({ length: 41 }, (_, i) => i + 1),
    );
    const ours = messages.filter((m) => m.writer === id);
    expect(ours.length).toBeGreaterThan(2);
    expect(ours.slice(1).every((m) => m.records > 1)).toBe(true);
    for (const m of ours) expect(m.bytes).toBeLessThanOrEqual(2_000);
  });

  it('does not link to a record someone else wrote into its chain: its next record forks from it', async () => {
    const tampered: string[] = [];
    const writer = await AuditWriter.open(t.nc, { name: 'test', onTamper: (m) => tampered.push(m) });
    await writer.record(entry('before'));
    // At this rate every record goes to the first chain.
    const id = writer.writers[0]!;
    const subject = new Subjects().audit(id);
    const jsm = await t.nc.jetstreamManager();
    const head = decodeAuditMessage((await jsm.streams.getMessage(AUDIT_STREAM, { last_by_subj: subject })).data)
      .records[0]!;
    const forged = namedAuditRecord({
      ...head.record,
      v: AUDIT_VERSION,
      id: 'x',
      seq: 2,
      actor: 'mallory',
      prev: head.cid,
    });
    const h = headers();
    h.set('Cim-Cid', forged.cid.toString());
    const ack = await t.nc.jetstream().publish(subject, forged.bytes, { headers: h });
    await writer.record(entry('after'));
    expect(tampered).toEqual([expect.stringContaining("something else wrote into this writer's chain")]);
    const { findings } = await check();
    expect(findings).toEqual([
      expect.objectContaining({ kind: 'chain-broken', aggregateId: id, streamSeq: ack.seq + 1 }),
    ]);
    expect(findings[0]!.message).toContain(`forks at seq 2: CIM_AUDIT seq ${ack.seq} and seq ${ack.seq + 1}`);
  });

  it('throws a record it could not store to its caller, and goes on from what is stored', async () => {
    const writer = await AuditWriter.open(t.nc, {
      name: 'test',
      retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 10, timeoutMs: 500, maxTimeoutMs: 500 },
    });
    await writer.record(entry('stored'));
    const jsm = await t.nc.jetstreamManager();
    await jsm.streams.delete(AUDIT_STREAM);
    await expect(writer.record(entry('lost'))).rejects.toMatchObject({ code: 'CIM-UNAVAILABLE' });
    await provisionAudit();
    await writer.record(entry('again'));
    const { findings, records } = await check();
    expect(findings).toEqual([]);
    expect(records.map((r) => [r.correlationId, r.seq])).toEqual([['again', 1]]);
  });
});
