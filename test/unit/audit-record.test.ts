// The audit record codec and the per-writer chain check, without NATS: a record round-trips as
// canonical dag-cbor named by its CID; anything else is refused; a sound log passes, and each
// break is one finding naming the stream sequence, the writer and the CIDs.
import * as dagCbor from '@ipld/dag-cbor';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_VERSION,
  AuditChainChecker,
  cidOfBlock,
  commandOutcome,
  decodeAuditRecord,
  encodeAuditRecord,
  FindingList,
  namedAuditRecord,
  Subjects,
  type AuditRecord,
  type CID,
} from '../../appliance/index.js';

const subjects = new Subjects();

function record(writer: string, seq: number, prev: CID | null, extra: Partial<AuditRecord> = {}): AuditRecord {
  return {
    v: AUDIT_VERSION,
    id: `${writer}-${seq}`,
    writer,
    seq,
    actor: 'crm',
    role: 'writer',
    source: 'http',
    action: 'command.person.RegisterPerson',
    target: 'person/p-1',
    outcome: 'accepted',
    correlationId: `corr-${seq}`,
    at: '2026-12-01T10:00:00.000Z',
    prev,
    ...extra,
  };
}

function chain(writer: string, length: number) {
  const out: ReturnType<typeof namedAuditRecord>[] = [];
  for (let seq = 1; seq <= length; seq++) out.push(namedAuditRecord(record(writer, seq, out.at(-1)?.cid ?? null)));
  return out;
}

function check(messages: { subject: string; data: Uint8Array; claimedCid?: string }[]) {
  const findings = new FindingList();
  const checker = new AuditChainChecker(subjects, findings);
  messages.forEach((m, i) => checker.check({ streamSeq: i + 1, ...m }));
  return { findings: findings.list, writers: checker.aggregates };
}

const stored = (r: { bytes: Uint8Array; cid: CID; record: AuditRecord }) => ({
  subject: subjects.audit(r.record.writer),
  data: r.bytes,
  claimedCid: r.cid.toString(),
});

describe('audit record codec', () => {
  it('round-trips a record as canonical dag-cbor whose CID is CIDv1(dag-cbor, sha2-256) of its bytes', () => {
    const named = namedAuditRecord(record('w-1', 1, null, { outcome: 'rejected', code: 'CIM-REJECTED' }));
    expect(named.cid.toString()).toBe(cidOfBlock(named.bytes).toString());
    expect(named.cid.code).toBe(0x71);
    const back = decodeAuditRecord(named.bytes, named.cid.toString());
    expect(back.record).toEqual(named.record);
    expect(back.cid.equals(named.cid)).toBe(true);
    expect(Buffer.from(named.bytes).equals(Buffer.from(dagCbor.encode(named.record)))).toBe(true);
  });

  it('leaves an absent code out of the bytes rather than encoding undefined', () => {
    const bytes = encodeAuditRecord({ ...record('w-1', 1, null), code: undefined } as AuditRecord);
    expect(Object.keys(dagCbor.decode(bytes) as object)).not.toContain('code');
  });

  it('refuses bytes that are not a record: not dag-cbor, a wrong shape, an extra field, a bad prev, a claimed CID that differs', () => {
    expect(() => decodeAuditRecord(new Uint8Array([0xff, 0x00]))).toThrow(/CIM-INVALID-EVENT|not dag-cbor/);
    expect(() => decodeAuditRecord(dagCbor.encode({ v: 1 }))).toThrow(/not an audit record/);
    expect(() => decodeAuditRecord(dagCbor.encode({ ...record('w', 1, null), name: 'Ada' }))).toThrow(
      /not an audit record/,
    );
    const first = namedAuditRecord(record('w', 1, null));
    expect(() => decodeAuditRecord(dagCbor.encode(record('w', 2, null)))).toThrow(/prev must be null exactly/);
    expect(() => decodeAuditRecord(dagCbor.encode(record('w', 1, first.cid)))).toThrow(/prev must be null exactly/);
    expect(() =>
      decodeAuditRecord(first.bytes, namedAuditRecord(record('w', 1, null, { actor: 'x' })).cid.toString()),
    ).toThrow(/published as/);
  });

  it('names the outcome of a command by its code: accepted, rejected for the caller’s reasons, failed for ours', () => {
    expect(commandOutcome(undefined)).toBe('accepted');
    expect(commandOutcome('CIM-REJECTED')).toBe('rejected');
    expect(commandOutcome('CIM-INVALID-INPUT')).toBe('rejected');
    expect(commandOutcome('CIM-CONFLICT')).toBe('rejected');
    expect(commandOutcome('CIM-UNAVAILABLE')).toBe('failed');
    expect(commandOutcome('CIM-INTERNAL')).toBe('failed');
    expect(commandOutcome('no such code')).toBe('failed');
  });
});

describe('AuditChainChecker', () => {
  it('passes interleaved sound chains of several writers, counting the writers', () => {
    const a = chain('w-a', 3);
    const b = chain('w-b', 2);
    const result = check([a[0]!, b[0]!, a[1]!, b[1]!, a[2]!].map(stored));
    expect(result.findings).toEqual([]);
    expect(result.writers).toBe(2);
  });

  it('a forged record that does not extend the chain breaks it: the finding names the stream seq, the writer and the CIDs', () => {
    const a = chain('w-a', 3);
    const forged = namedAuditRecord(record('w-a', 7, a[0]!.cid, { actor: 'mallory' }));
    const result = check([stored(a[0]!), stored(a[1]!), stored(forged), stored(a[2]!)]);
    expect(result.findings.map((f) => [f.kind, f.streamSeq, f.aggregateId])).toEqual([
      ['chain-broken', 3, 'w-a'],
      ['chain-broken', 4, 'w-a'],
    ]);
    const f = result.findings[0]!;
    expect(f).toMatchObject({ stream: 'CIM_AUDIT', domain: 'audit' });
    expect(f.expected).toBe(`seq 3 after ${a[1]!.cid}`);
    expect(f.actual).toBe(`seq 7 after ${a[0]!.cid}`);
    expect(f.message).toContain(forged.cid.toString());
  });

  it('a forged continuation followed by the writer’s own next record is a fork naming both stream seqs', () => {
    const a = chain('w-a', 3);
    // The forger appends a valid-looking record 2; the writer's own record 2 follows, linked to its record 1.
    const forged = namedAuditRecord(record('w-a', 2, a[0]!.cid, { actor: 'mallory' }));
    const result = check([stored(a[0]!), stored(forged), stored(a[1]!), stored(a[2]!)]);
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]).toMatchObject({ kind: 'chain-broken', streamSeq: 3, aggregateId: 'w-a' });
    expect(result.findings[0]!.message).toMatch(/forks at seq 2: CIM_AUDIT seq 2 and seq 3/);
    expect(result.findings[0]!.expected).toContain(forged.cid.toString());
  });

  it('a record gone from a chain, and a chain that starts past seq 1, are chain-broken', () => {
    const a = chain('w-a', 3);
    expect(check([a[0]!, a[2]!].map(stored)).findings.map((f) => [f.kind, f.streamSeq])).toEqual([['chain-broken', 2]]);
    expect(check([a[1]!, a[2]!].map(stored)).findings.map((f) => [f.kind, f.streamSeq])).toEqual([['chain-broken', 1]]);
  });

  it('names a record on another writer’s subject, a CID that differs from the one published, and bytes that are no record', () => {
    const a = chain('w-a', 1);
    const misplaced = check([{ ...stored(a[0]!), subject: subjects.audit('w-b') }]).findings;
    expect(misplaced.map((f) => f.kind)).toEqual(['wrong-subject']);
    const relabelled = check([{ ...stored(a[0]!), claimedCid: chain('w-z', 1)[0]!.cid.toString() }]).findings;
    expect(relabelled.map((f) => f.kind)).toEqual(['cid-mismatch']);
    const junk = check([{ subject: subjects.audit('w-a'), data: new TextEncoder().encode('{"actor":"x"}') }]).findings;
    expect(junk.map((f) => [f.kind, f.streamSeq])).toEqual([['invalid-event', 1]]);
  });
});
