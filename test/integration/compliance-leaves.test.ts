// The compliance reports' inputs on a real nats-server: the checkpoint leaves are the event CIDs in
// the order CIM_SEALS sealed them (seals of several domains and of the audit log interleaved;
// events after a domain's last seal not covered), append-only as seals are, so the next reports'
// trees extend the previous ones; an event deleted from a sealed range ends the leaves before its
// seal unless retention's lookup supplies its CID; and the audit report counts a period's records
// by actor, action and outcome, gives each writer chain's head, and names a chain break as a gap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_LOG,
  AUDIT_STREAM,
  AuditWriter,
  cidOfBlock,
  decodeAuditMessage,
  domainStream,
  EventStore,
  merkleRoot,
  namedAuditRecord,
  provision,
  Sealer,
  Signer,
  type AggregateHead,
  type AuditEntry,
  type Causation,
} from '../../appliance/index.js';
import { buildAuditReport, sealedEventLeaves, writeComplianceReports } from '../../compliance/index.js';
import { leavesExtend } from '../../reports/index.js';
import { complianceInput } from '../fixtures/compliance-reports.js';
import { fillAggregates } from '../support/stream-events.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { tempDir } from '../support/temp-dir.js';

const who: Causation = { correlationId: 'corr', causationId: 'cause', actor: 'test' };
const signer = Signer.ephemeral();
let t: TestCluster;
let store: EventStore;
const reportsDir = tempDir('compliance-leaves-reports');

beforeAll(async () => {
  t = await startTestCluster('compliance-leaves', 1);
  await provision(t.nc, { domains: ['alpha', 'beta'], replicas: 1, duplicateWindowMs: 60_000 });
  store = await EventStore.open(t.nc);
}, 60_000);

afterAll(async () => {
  await t?.stop();
  reportsDir.remove();
});

const seal = async (domain: string) => {
  const sealed = await (await Sealer.open(t.nc, { domain, signer })).sealOnce();
  expect(sealed).toBeDefined();
  return sealed!;
};
/** The CIDs of the stored bytes of a stream's messages fromSeq..toSeq: what a sealer takes as leaves. */
async function cidsOf(stream: string, fromSeq: number, toSeq: number): Promise<Uint8Array[]> {
  const jsm = await t.nc.jetstreamManager();
  const out: Uint8Array[] = [];
  for (let seq = fromSeq; seq <= toSeq; seq++)
    out.push(cidOfBlock((await jsm.streams.getMessage(stream, { seq })).data).bytes);
  return out;
}
const entry = (actor: string, outcome: AuditEntry['outcome'], action = 'command.alpha.Change'): AuditEntry => ({
  actor,
  role: 'nats',
  source: 'nats',
  action,
  target: 'alpha/a1',
  outcome,
  correlationId: `c-${actor}-${outcome}`,
});

let expected: Uint8Array[] = [];
const heads = { alpha: new Map<string, AggregateHead>(), beta: new Map<string, AggregateHead>() };
let writerId = '';

describe('sealedEventLeaves', () => {
  it('gives the event CIDs in the order CIM_SEALS sealed them, across domains and the audit log, and no unsealed event', async () => {
    await fillAggregates(store, who, 'alpha', ['a1', 'a2'], 3, heads.alpha);
    await seal('alpha');
    await fillAggregates(store, who, 'beta', ['b1'], 4, heads.beta);
    await seal('beta');
    const audit = await AuditWriter.open(t.nc, { name: 'test', chains: 1 });
    writerId = audit.writers[0]!;
    await audit.record(entry('alice', 'accepted'));
    await audit.record(entry('alice', 'rejected'));
    await audit.record(entry('bob', 'denied', 'query.alpha.Get'));
    await seal(AUDIT_LOG);
    await fillAggregates(store, who, 'alpha', ['a1'], 3, heads.alpha);
    await seal('alpha');
    await fillAggregates(store, who, 'beta', ['b1'], 2, heads.beta); // not sealed: not covered

    const sealed = await sealedEventLeaves(t.nc, { trusted: [signer.verifier()] });
    expected = [
      ...(await cidsOf(domainStream('alpha'), 1, 6)),
      ...(await cidsOf(domainStream('beta'), 1, 4)),
      ...(await cidsOf(AUDIT_STREAM, 1, 3)),
      ...(await cidsOf(domainStream('alpha'), 7, 9)),
    ];
    expect(sealed.stoppedAt).toBeUndefined();
    expect(sealed.skipped).toEqual([]);
    expect(sealed.seals).toBe(4);
    expect(sealed.leaves.map((l) => Buffer.from(l).toString('hex'))).toEqual(
      expected.map((l) => Buffer.from(l).toString('hex')),
    );
    expect(sealed.domains).toEqual({
      alpha: { seals: 2, events: 9, removed: 0, lastSealedSeq: 9 },
      beta: { seals: 1, events: 4, removed: 0, lastSealedSeq: 4 },
      audit: { seals: 1, events: 3, removed: 0, lastSealedSeq: 3 },
    });
  });

  it('passes over seals no trusted key signed', async () => {
    await fillAggregates(store, who, 'beta', ['b2'], 1, heads.beta);
    await (await Sealer.open(t.nc, { domain: 'beta', signer: Signer.ephemeral() })).sealOnce();
    const sealed = await sealedEventLeaves(t.nc, { trusted: [signer.verifier()] });
    expect(sealed.seals).toBe(4);
    expect(sealed.skipped).toEqual([{ sealsSeq: 5, reason: expect.stringMatching(/not signed by a trusted key/) }]);
    // Without trusted keys every seal counts: the leaves grow, and still extend the ones before.
    const all = await sealedEventLeaves(t.nc);
    expect(all.seals).toBe(5);
    expect(leavesExtend(all.leaves, { treeSize: expected.length, root: merkleRoot(expected) })).toBe(true);
    expected = all.leaves;
  });

  it('grows append-only: the next reports extend the previous checkpoint with a proof that verifies', async () => {
    const first = writeComplianceReports(complianceInput({ over: { leaves: await sealedEventLeaves(t.nc) } }), {
      stateDir: reportsDir.path,
      signer,
    });
    expect(first.treeSize).toBe(expected.length);
    await fillAggregates(store, who, 'beta', ['b3'], 2, heads.beta);
    await seal('beta');
    const leaves = await sealedEventLeaves(t.nc);
    const second = writeComplianceReports(complianceInput({ over: { leaves } }), { stateDir: reportsDir.path, signer });
    expect(second.treeSize).toBe(expected.length + 2); // beta seq 8..9
    expect(second.compliance.named.report.findings.map((f) => f.id)).not.toContain('checkpoint:not-extended');
    expect(second.compliance.named.report.checkpoint?.previous?.treeSize).toBe(expected.length);
    expected = leaves.leaves;
  });

  it('ends before the seal of a range an event was deleted from, unless retention supplies its CID', async () => {
    const jsm = await t.nc.jetstreamManager();
    const [gone] = await cidsOf(domainStream('alpha'), 2, 2);
    await jsm.streams.deleteMessage(domainStream('alpha'), 2);
    const cut = await sealedEventLeaves(t.nc);
    expect(cut.stoppedAt).toMatchObject({ domain: 'alpha', sealsSeq: 1, fromSeq: 1, toSeq: 6 });
    expect(cut.stoppedAt!.reason).toMatch(/gives 5 events \(1 gone with no CID known\), the seal counts 6/);
    expect(cut.leaves).toEqual([]);
    const kept = writeComplianceReports(complianceInput({ over: { leaves: cut } }), {
      stateDir: reportsDir.path,
      signer,
    });
    const findings = kept.compliance.named.report.findings.map((f) => f.id);
    expect(findings).toContain('checkpoint:not-extended');
    expect(findings).toContain('checkpoint:seal-not-reproduced:alpha:1');
    expect(kept.treeSize).toBe(expected.length);

    const asked: [string, number][] = [];
    const supplied = await sealedEventLeaves(t.nc, {
      removedEventCid: (domain, seq) => {
        asked.push([domain, seq]);
        return domain === 'alpha' && seq === 2 ? gone : undefined;
      },
    });
    expect(asked).toEqual([['alpha', 2]]);
    expect(supplied.stoppedAt).toBeUndefined();
    expect(supplied.domains.alpha).toMatchObject({ events: 9, removed: 1 });
    expect(supplied.leaves.map((l) => Buffer.from(l).toString('hex'))).toEqual(
      expected.map((l) => Buffer.from(l).toString('hex')),
    );
  });
});

describe('buildAuditReport', () => {
  it("counts the period's records by actor, action and outcome, and gives each writer chain's head", async () => {
    const all = await buildAuditReport(t.nc);
    expect(all.gaps).toEqual([]);
    expect(all.period).toMatchObject({ afterSeq: 0, toSeq: 3, previousReport: null });
    expect(all.records).toBe(3);
    expect(all.byActor).toEqual([
      { actor: 'alice', count: 2 },
      { actor: 'bob', count: 1 },
    ]);
    expect(all.byOutcome).toEqual([
      { outcome: 'accepted', count: 1 },
      { outcome: 'denied', count: 1 },
      { outcome: 'rejected', count: 1 },
    ]);
    expect(all.byAction).toEqual([
      { action: 'command.alpha.Change', count: 2 },
      { action: 'query.alpha.Get', count: 1 },
    ]);
    const jsm = await t.nc.jetstreamManager();
    const [head] = decodeAuditMessage((await jsm.streams.getMessage(AUDIT_STREAM, { seq: 3 })).data).records;
    expect(all.writers).toEqual([{ writer: writerId, head: head!.cid.toString(), seq: 3, streamSeq: 3, records: 3 }]);

    const audit = await AuditWriter.open(t.nc, { name: 'test2', chains: 1 });
    await audit.record(entry('carol', 'ok', 'admin.seal'));
    const next = await buildAuditReport(t.nc, { afterSeq: all.period.toSeq, previousReport: 'bafyprevious' });
    expect(next).toMatchObject({ records: 1, messages: 1, totals: { records: 4, messages: 4, writers: 2 } });
    expect(next.byActor).toEqual([{ actor: 'carol', count: 1 }]);
    expect(next.period).toMatchObject({ afterSeq: 3, toSeq: 4, previousReport: 'bafyprevious' });
  });

  it('names a record written into a chain out of order as a gap', async () => {
    const jsm = await t.nc.jetstreamManager();
    const [head] = decodeAuditMessage((await jsm.streams.getMessage(AUDIT_STREAM, { seq: 3 })).data).records;
    const forged = namedAuditRecord({ ...head!.record, seq: 7, prev: head!.cid });
    const ack = await t.nc.jetstream().publish(`cim.audit.${writerId}`, forged.bytes);
    const report = await buildAuditReport(t.nc);
    expect(report.gaps).toEqual([
      expect.objectContaining({ kind: 'chain-broken', streamSeq: ack.seq, writer: writerId }),
    ]);
    expect(report.gaps[0]!.message).toMatch(/chain breaks: expected seq 4/);
  });
});
