// The pure parts of retention: removal manifests (their codec, CID and the audit target that names
// them), legal-hold targets and which events a set of holds covers, and the chain check's
// acceptance of an aggregate whose first remaining event follows a removed one.
import { describe, expect, it } from 'vitest';
import * as dagCbor from '@ipld/dag-cbor';
import {
  aggregateTarget,
  cidOfBlock,
  decodeManifest,
  encodeManifest,
  holdName,
  HoldSet,
  manifestCid,
  parseRemovalTarget,
  removalTarget,
  subjectTarget,
  CimError,
  Subjects,
  type Hold,
  type RemovalManifest,
} from '../../appliance/index.js';
import { ChainChecker } from '../../appliance/integrity/chain-check.js';
import { FindingList } from '../../appliance/integrity/findings.js';
import { encodeEnvelope } from '../../appliance/eventstore/envelope.js';

const sealCid = cidOfBlock(new TextEncoder().encode('a seal'));
const eventCid = cidOfBlock(new TextEncoder().encode('an event'));
const manifest: RemovalManifest = {
  v: 1,
  domain: 'person',
  seal: sealCid,
  removed: [
    [3, eventCid],
    [7, eventCid],
  ],
  policy: { maxAge: '30d' },
  at: '2026-12-02T00:00:00.000Z',
};

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as CimError).code + ': ' + (error as Error).message;
  }
  return 'no error';
}

describe('removal manifests', () => {
  it('round-trip through dag-cbor, named by the CID of their bytes', () => {
    const bytes = encodeManifest(manifest);
    const decoded = decodeManifest(bytes);
    expect(decoded.cid.equals(manifestCid(manifest))).toBe(true);
    expect(decoded.manifest.removed.map(([seq, cid]) => [seq, cid.toString()])).toEqual([
      [3, eventCid.toString()],
      [7, eventCid.toString()],
    ]);
    expect(decoded.manifest.seal.equals(sealCid)).toBe(true);
    // An absent policy field is left out, not encoded as undefined.
    const countOnly = { ...manifest, policy: { maxEventsPerAggregate: 5 } };
    expect(decodeManifest(encodeManifest(countOnly)).manifest.policy).toEqual({ maxEventsPerAggregate: 5 });
  });

  it('refuses bytes that are no manifest, saying why', () => {
    expect(codeOf(() => decodeManifest(new Uint8Array([0xff])))).toMatch(
      /^CIM-INVALID-EVENT: removal manifest is not valid dag-cbor/,
    );
    expect(codeOf(() => decodeManifest(dagCbor.encode({ ...manifest, removed: [] })))).toMatch(
      /^CIM-INVALID-EVENT: not a valid removal manifest/,
    );
    expect(codeOf(() => decodeManifest(dagCbor.encode({ ...manifest, v: 2 })))).toMatch(/not a valid removal manifest/);
  });

  it('name their manifest and seal in the audit target, and nothing else parses as one', () => {
    const target = removalTarget('person', manifestCid(manifest), sealCid);
    expect(target).toBe(`person/manifest/${manifestCid(manifest).toString()}/seal/${sealCid.toString()}`);
    expect(parseRemovalTarget(target)).toEqual({
      domain: 'person',
      manifest: manifestCid(manifest).toString(),
      seal: sealCid.toString(),
    });
    expect(parseRemovalTarget('person/P1')).toBeUndefined();
    expect(parseRemovalTarget('subject/x')).toBeUndefined();
  });
});

describe('legal holds', () => {
  const hold = (target: Hold['target']): Hold => ({
    target,
    reason: 'r',
    placedBy: 'legal',
    at: '2026-12-01T00:00:00Z',
  });

  it('targets: DOMAIN/ID or a subject id, anything else refused', () => {
    expect(aggregateTarget('person/P-1=')).toEqual({ kind: 'aggregate', domain: 'person', aggregateId: 'P-1=' });
    expect(subjectTarget('ada')).toEqual({ kind: 'subject', subjectId: 'ada' });
    expect(holdName(aggregateTarget('person/P1'))).toBe('person/P1');
    expect(holdName(subjectTarget('P1'))).toBe('subject/P1');
    expect(codeOf(() => aggregateTarget('person'))).toMatch(
      /^CIM-INVALID-INPUT: aggregate "person": expected DOMAIN\/AGGREGATE_ID/,
    );
    expect(codeOf(() => aggregateTarget('Person/P1'))).toMatch(/^CIM-INVALID-INPUT: domain "Person"/);
    expect(codeOf(() => aggregateTarget('person/a.b'))).toMatch(/^CIM-INVALID-INPUT: aggregate id "a.b"/);
    expect(codeOf(() => subjectTarget('a b'))).toMatch(/^CIM-INVALID-INPUT: subject "a b"/);
  });

  it('an aggregate hold covers that aggregate; a subject hold that id in every domain; erasure is refused for either', () => {
    const set = new HoldSet([
      hold({ kind: 'aggregate', domain: 'person', aggregateId: 'P1' }),
      hold({ kind: 'subject', subjectId: 'S1' }),
    ]);
    expect(set.covering('person', 'P1')).toBeDefined();
    expect(set.covering('workflow', 'P1')).toBeUndefined();
    expect(set.covering('person', 'S1')).toBeDefined();
    expect(set.covering('organization', 'S1')).toBeDefined();
    expect(set.covering('person', 'P2')).toBeUndefined();
    expect(holdName(set.erasure('S1')!.target)).toBe('subject/S1');
    expect(holdName(set.erasure('P1')!.target)).toBe('person/P1');
    expect(set.erasure('P2')).toBeUndefined();
  });
});

describe('the chain check after retention', () => {
  const subjects = new Subjects();
  const event = (seq: number, prev: ReturnType<typeof cidOfBlock> | null) =>
    encodeEnvelope({
      v: 1,
      id: `0190d5a0-0000-7000-8000-00000000000${seq}`,
      domain: 'person',
      aggregate: 'Person',
      aggregateId: 'P1',
      seq,
      type: 'PersonRenamed',
      typeVersion: 1,
      at: '2026-12-01T00:00:00.000Z',
      correlationId: 'c',
      causationId: 'c',
      actor: 'test',
      payload: { n: seq },
      prev,
    });

  it('accepts a first remaining event whose prev is a removed event, and only that', () => {
    const first = event(1, null);
    const second = event(2, first.cid);
    const third = event(3, second.cid);
    const removed = new Set([Buffer.from(second.cid.bytes).toString('hex')]);
    const findings = new FindingList();
    const checker = new ChainChecker('person', 'CIM_PERSON', subjects, findings, false, removed);
    checker.check({ streamSeq: 3, subject: subjects.event('person', 'P1'), data: third.bytes });
    expect(findings.list).toEqual([]);

    const strict = new FindingList();
    new ChainChecker(
      'person',
      'CIM_PERSON',
      subjects,
      strict,
      false,
      new Set([Buffer.from(first.cid.bytes).toString('hex')]),
    ).check({ streamSeq: 3, subject: subjects.event('person', 'P1'), data: third.bytes });
    expect(strict.list.map((f) => f.kind)).toEqual(['chain-broken']);
  });
});
