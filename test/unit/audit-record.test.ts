// The audit record codec and the per-writer chain check, without NATS: a record round-trips as
// canonical dag-cbor named by its CID, and a writer's batch as one message listing its records,
// each still named by its own CID; anything else is refused; a sound log passes, and each break is
// one finding naming the stream sequence, the writer and the CIDs.
import * as dagCbor from '@ipld/dag-cbor';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_VERSION,
  AuditChainChecker,
  cidOfBlock,
  CimError,
  commandOutcome,
  decodeAuditMessage,
  decodeAuditRecord,
  encodeAuditBatch,
  encodeAuditRecord,
  MAX_RECORDS_PER_MESSAGE,
  FindingList,
  namedAuditRecord,
  Subjects,
  type AuditRecord,
  type CID,
} from '../../appliance/index.js';
import { HEAD_ARGUMENT_EDGES, seededRandom } from '../support/random.js';

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
  return { findings: findings.list, writers: checker.aggregates, records: checker.records };
}

/** A message holding a batch of records, as the writer stores it. */
const batch = (records: { record: AuditRecord; cid: CID }[]) => {
  const data = encodeAuditBatch(records);
  return { subject: subjects.audit(records[0]!.record.writer), data, claimedCid: cidOfBlock(data).toString() };
};

/** The CIM code and message a call throws with. */
function codeOf(call: () => unknown): string | undefined {
  try {
    call();
  } catch (error) {
    return error instanceof CimError ? `${error.code}: ${error.message}` : `not a CimError: ${String(error)}`;
  }
  return undefined;
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

describe('audit record bytes (written directly for the record’s one shape)', () => {
  it('are byte for byte what @ipld/dag-cbor encodes, for 2,000 random records', () => {
    const random = seededRandom(160);
    const text = (max: number) => random.text(max) || 'x';
    let prev: CID | null = null;
    for (let i = 0; i < 2_000; i++) {
      const seq = random.pick([...HEAD_ARGUMENT_EDGES, random.int(1, 1e9)]);
      const r: AuditRecord = {
        v: AUDIT_VERSION,
        id: text(40),
        writer: 'w-' + String(i),
        seq,
        actor: text(random.pick([5, 30, 400])),
        role: text(8),
        source: random.pick(['http', 'nats', 'cli'] as const),
        action: text(60),
        target: text(random.pick([10, 300])),
        outcome: random.pick(['accepted', 'rejected', 'denied', 'ok', 'failed'] as const),
        ...(random.next() < 0.5 ? { code: text(20) } : {}),
        correlationId: text(random.pick([36, 400])),
        at: new Date(1_700_000_000_000 + i).toISOString(),
        prev: seq === 1 ? null : prev,
      };
      const expected = dagCbor.encode(r);
      const actual = encodeAuditRecord(r);
      expect(Buffer.from(actual).equals(Buffer.from(expected)), `record ${i}`).toBe(true);
      prev = cidOfBlock(expected);
    }
  });

  it('refuses a seq that is no unsigned integer rather than writing something else', () => {
    expect(codeOf(() => encodeAuditRecord(record('w', 1.5, null)))).toMatch(/^CIM-INTERNAL: /);
  });
});

describe('audit message codec (a writer’s batch in one message)', () => {
  it('says what a batch’s records share once; each record is rebuilt in full, named by its own CID', () => {
    const a = chain('w-a', 3);
    const bytes = encodeAuditBatch(a);
    const message = decodeAuditMessage(bytes, cidOfBlock(bytes).toString());
    expect(message.cid.toString()).toBe(cidOfBlock(bytes).toString());
    expect(message.records.map((r) => r.cid.toString())).toEqual(a.map((r) => r.cid.toString()));
    expect(message.records.map((r) => Buffer.from(encodeAuditRecord(r.record)))).toEqual(
      a.map((r) => Buffer.from(r.bytes)),
    );
    const value = dagCbor.decode(bytes) as Record<string, unknown>;
    expect(Object.keys(value).sort()).toEqual(['at', 'prev', 'records', 'seq', 'v', 'writer']);
    expect(value).toMatchObject({ v: 1, writer: 'w-a', seq: 1, prev: null, at: a[0]!.record.at });
    expect((value.records as unknown[][])[1]).toEqual([
      'w-a-2',
      'crm',
      'writer',
      'http',
      'command.person.RegisterPerson',
      'person/p-1',
      'accepted',
      null,
      'corr-2',
    ]);
    expect(bytes.length).toBeLessThan(a.reduce((n, r) => n + r.bytes.length, 0) * 0.6);
  });

  it('is byte for byte what @ipld/dag-cbor encodes for the same batch, for 300 random batches', () => {
    const random = seededRandom(1600);
    for (let b = 0; b < 300; b++) {
      const length = random.int(1, 40);
      const start = random.pick([1, 2, 300, 70_000]);
      const records: ReturnType<typeof namedAuditRecord>[] = [];
      let prev: CID | null = start === 1 ? null : chain('w-x', 1)[0]!.cid;
      for (let i = 0; i < length; i++) {
        const code = random.next() < 0.3 ? { code: `CIM-${'X'.repeat(random.int(1, 30))}` } : {};
        const named = namedAuditRecord(
          record(`w-${b}`, start + i, prev, { actor: 'é'.repeat(random.int(1, 200)), ...code }),
        );
        records.push(named);
        prev = named.cid;
      }
      const { writer, seq, prev: first, at } = records[0]!.record;
      const expected = dagCbor.encode({
        v: 1,
        at,
        seq,
        prev: first,
        writer,
        records: records.map(({ record: r }) => [
          r.id,
          r.actor,
          r.role,
          r.source,
          r.action,
          r.target,
          r.outcome,
          r.code ?? null,
          r.correlationId,
        ]),
      });
      expect(Buffer.from(encodeAuditBatch(records)).equals(Buffer.from(expected)), `batch ${b}`).toBe(true);
      expect(decodeAuditMessage(expected).records.map((r) => r.cid.toString())).toEqual(
        records.map((r) => r.cid.toString()),
      );
    }
  });

  it('refuses to write records that are not one chain as a batch, rather than drop what they differ in', () => {
    const a = chain('w-a', 3);
    expect(codeOf(() => encodeAuditBatch([]))).toMatch(/^CIM-INTERNAL: /);
    expect(codeOf(() => encodeAuditBatch([a[0]!, a[2]!]))).toMatch(/^CIM-INTERNAL: .*record 2 does not follow/);
    const later = namedAuditRecord({ ...a[1]!.record, at: '2026-12-01T10:00:01.000Z' });
    expect(codeOf(() => encodeAuditBatch([a[0]!, later]))).toMatch(/^CIM-INTERNAL: /);
  });

  it('reads a message holding one record on its own as that record, named by the message’s CID', () => {
    const [only] = chain('w-a', 1);
    const message = decodeAuditMessage(only!.bytes);
    expect(message.records).toHaveLength(1);
    expect(message.records[0]!.cid.equals(only!.cid)).toBe(true);
    expect(message.cid.equals(only!.cid)).toBe(true);
  });

  it('refuses an empty batch, one too long, a bad record (naming which), an extra key, non-canonical bytes and a claimed CID that differs', () => {
    const a = chain('w-a', 3);
    const value = dagCbor.decode(encodeAuditBatch(a)) as Record<string, unknown> & { records: unknown[][] };
    const reencoded = (v: object) => () => decodeAuditMessage(dagCbor.encode(v));
    expect(codeOf(reencoded({ ...value, records: [] }))).toMatch(/^CIM-INVALID-EVENT: not a batch of audit records/);
    const many = Array.from({ length: MAX_RECORDS_PER_MESSAGE + 1 }, () => value.records[0]!);
    expect(codeOf(reencoded({ ...value, records: many }))).toMatch(/^CIM-INVALID-EVENT: not a batch of audit records/);
    const bad = value.records.map((r, i) => (i === 1 ? [r[0], 42, ...r.slice(2)] : r));
    expect(codeOf(reencoded({ ...value, records: bad }))).toMatch(
      /^CIM-INVALID-EVENT: record 2 of 3: not an audit record/,
    );
    expect(codeOf(reencoded({ ...value, name: 'Ada' }))).toMatch(/^CIM-INVALID-EVENT: not a batch of audit records/);
    expect(codeOf(reencoded({ ...value, seq: 2 }))).toMatch(/^CIM-INVALID-EVENT: record 1 of 3: .*prev must be null/);
    // The same map with its size written in two bytes instead of one: the same records, other bytes.
    const canonical = encodeAuditBatch(a);
    expect(canonical[0]).toBe(0xa6);
    const loose = new Uint8Array([0xb8, 0x06, ...canonical.subarray(1)]);
    expect(codeOf(() => decodeAuditMessage(loose))).toMatch(/^CIM-INVALID-EVENT: /);
    expect(codeOf(() => decodeAuditMessage(canonical, a[0]!.cid.toString()))).toMatch(
      /^CIM-INVALID-EVENT: published as/,
    );
  });
});

describe('AuditChainChecker', () => {
  it('passes chains stored in batches, counting every record, and names a break inside a batch by its message', () => {
    const a = chain('w-a', 5);
    const b = chain('w-b', 2);
    const sound = check([batch(a.slice(0, 3)), batch(b), batch(a.slice(3))]);
    expect(sound.findings).toEqual([]);
    expect(sound).toMatchObject({ writers: 2, records: 7 });
    const gap = check([batch(a.slice(0, 2)), batch([a[3]!, a[4]!])]);
    expect(gap.findings.map((f) => [f.kind, f.streamSeq, f.actual])).toEqual([
      ['chain-broken', 2, `seq 4 after ${a[2]!.cid}`],
    ]);
    const misplaced = check([{ ...batch(a.slice(0, 2)), subject: subjects.audit('w-b') }]).findings;
    expect(misplaced.map((f) => [f.kind, f.streamSeq])).toEqual([
      ['wrong-subject', 1],
      ['wrong-subject', 1],
    ]);
  });

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
