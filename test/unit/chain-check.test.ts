// The per-event verification kernel, without NATS: a sound stream passes; each break is one
// finding naming stream sequence, aggregate and the expected and actual CIDs.
import { describe, expect, it } from 'vitest';
import {
  ChainChecker,
  encodeEnvelope,
  FindingList,
  Subjects,
  type EventEnvelope,
  type StoredMessage,
} from '../../appliance/index.js';

const subjects = new Subjects();

function chain(aggregateId: string, length: number, domain = 'person') {
  const events: ReturnType<typeof encodeEnvelope>[] = [];
  for (let seq = 1; seq <= length; seq++) {
    const envelope: EventEnvelope = {
      v: 1,
      id: `${aggregateId}-${seq}`,
      domain,
      aggregate: 'Person',
      aggregateId,
      seq,
      type: 'Changed',
      typeVersion: 1,
      at: '2026-11-25T10:00:00Z',
      correlationId: 'c',
      causationId: 'c',
      actor: 'a',
      payload: { seq },
      prev: events.at(-1)?.cid ?? null,
    };
    events.push(encodeEnvelope(envelope));
  }
  return events;
}

function run(messages: Omit<StoredMessage, 'streamSeq'>[], lateStart = false) {
  const findings = new FindingList();
  const checker = new ChainChecker('person', 'CIM_PERSON', subjects, findings, lateStart);
  messages.forEach((m, i) => checker.check({ ...m, streamSeq: i + 1 }));
  return { findings: findings.list, aggregates: checker.aggregates };
}

const stored = (e: ReturnType<typeof encodeEnvelope>, subject = subjects.event('person', e.envelope.aggregateId)) => ({
  subject,
  data: e.bytes,
  claimedCid: e.cid.toString(),
});

describe('ChainChecker', () => {
  it('given interleaved sound chains, finds nothing and counts the aggregates', () => {
    const [a, b] = [chain('a', 4), chain('b', 3)];
    const result = run([a[0]!, b[0]!, a[1]!, b[1]!, b[2]!, a[2]!, a[3]!].map((e) => stored(e)));
    expect(result).toEqual({ findings: [], aggregates: 2 });
  });

  it('given a skipped event, names where the chain breaks with both CIDs', () => {
    const a = chain('a', 3);
    const { findings } = run([stored(a[0]!), stored(a[2]!)]);
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'chain-broken',
        streamSeq: 2,
        aggregateId: 'a',
        expected: `seq 2 after ${a[0]!.cid}`,
        actual: `seq 3 after ${a[1]!.cid}`,
      }),
    ]);
  });

  it('given bytes that do not match the claimed CID, reports the mismatch', () => {
    const [a, b] = [chain('a', 1), chain('b', 1)];
    const { findings } = run([{ ...stored(a[0]!), claimedCid: b[0]!.cid.toString() }]);
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'cid-mismatch',
        streamSeq: 1,
        expected: b[0]!.cid.toString(),
        actual: a[0]!.cid.toString(),
      }),
    ]);
  });

  it("given an event on another aggregate's subject, reports the subject", () => {
    const a = chain('a', 1);
    const { findings } = run([stored(a[0]!, subjects.event('person', 'zz'))]);
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'wrong-subject',
        expected: 'cim.person.events.a',
        actual: 'cim.person.events.zz',
      }),
    ]);
  });

  it('given an event of another domain, or bytes that are no envelope, reports them', () => {
    const other = chain('a', 1, 'organization');
    const { findings } = run([stored(other[0]!), { subject: 'cim.person.events.a', data: new Uint8Array([1, 2, 3]) }]);
    expect(findings.map((f) => f.kind)).toEqual(['wrong-subject', 'invalid-event']);
    expect(findings[1]!.message).toMatch(/seq 2: not valid dag-cbor|not a valid event envelope/);
  });

  it('accepts a chain starting past seq 1 only where retention removed the head', () => {
    const a = chain('a', 3);
    expect(run([stored(a[1]!), stored(a[2]!)]).findings.map((f) => f.kind)).toEqual(['chain-broken']);
    expect(run([stored(a[1]!), stored(a[2]!)], true).findings).toEqual([]);
  });
});
