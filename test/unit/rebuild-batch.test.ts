// A rebuild's batch on a real better-sqlite3 file: messages that are no events are skipped and the
// checkpoint moves past them in the same transaction as the rows; a time bound inside a batch stops
// it at the last event at or before the bound; a batch of nothing but skipped messages still moves
// the checkpoint, and an empty one changes nothing.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { encodeEnvelope, person, ReadModel, type CID } from '../../appliance/index.js';
import { applyMessages } from '../../appliance/projections/rebuild-batch.js';
import { fileTempDir } from '../support/temp-dir.js';

const dir = fileTempDir('rebuild-batch');
afterAll(() => dir.remove());

const directory = person.definition.projections![0]!;
const setup = { projection: directory };
const START = Date.UTC(2025, 0, 1);
let model: ReadModel;
let fileNo = 0;

beforeEach(() => {
  model = ReadModel.open({ path: join(dir.path, `m-${++fileNo}.sqlite`), projections: [directory], rebuild: true });
});
afterEach(() => model.close());

/** A registration, then renames, of one person: the bytes as stored, `at` one second apart. */
function chain(count: number): Uint8Array[] {
  let prev: CID | null = null;
  return Array.from({ length: count }, (_, i) => {
    const encoded = encodeEnvelope({
      v: 1,
      id: `0190000${i}-0000-7000-8000-000000000000`,
      domain: 'person',
      aggregate: 'Person',
      aggregateId: 'ada',
      seq: i + 1,
      type: i === 0 ? 'PersonRegistered' : 'PersonRenamed',
      typeVersion: 1,
      at: new Date(START + i * 1_000).toISOString(),
      correlationId: 'c',
      causationId: 'c',
      actor: 'test',
      payload:
        i === 0 ? { personId: 'ada', name: 'Ada 0', email: 'ada@example.org' } : { personId: 'ada', name: `Ada ${i}` },
      prev,
    });
    prev = encoded.cid;
    return encoded.bytes;
  });
}

const batch = (bodies: Uint8Array[], firstSeq = 1) => ({
  domain: 'person',
  stream: 'CIM_PERSON',
  seqs: bodies.map((_, i) => firstSeq + i),
  bodies,
});
const junk = new TextEncoder().encode('not an event');
const row = () => model.rows('person_directory')[0];

describe('applyMessages', () => {
  it('given a message that is no event among events, when applied, then it is a finding and the checkpoint passes it with the rows', () => {
    const [a, b] = chain(2);
    const result = applyMessages(model, setup, batch([a!, junk, b!, junk]), 0, undefined);
    expect(result).toMatchObject({ applied: 2, lastSeq: 4, ended: false });
    expect(result.invalid.map((f) => [f.kind, f.streamSeq])).toEqual([
      ['invalid-event', 2],
      ['invalid-event', 4],
    ]);
    expect(model.checkpoint(directory.name, 'person')).toBe(4);
    expect(row()).toMatchObject({ name: 'Ada 1' });
  });

  it('given a time bound inside the batch, when applied, then it stops at the last event at or before it, and says it ended', () => {
    const result = applyMessages(model, setup, batch(chain(5)), 0, START + 2_500);
    expect(result).toMatchObject({ applied: 3, lastSeq: 3, ended: true, invalid: [] });
    expect(model.checkpoint(directory.name, 'person')).toBe(3);
    expect(row()).toMatchObject({ name: 'Ada 2', updated_at: new Date(START + 2_000).toISOString() });
  });

  it('given a batch of nothing but messages that are no events, when applied after a checkpoint, then the checkpoint still moves', () => {
    applyMessages(model, setup, batch(chain(1)), 0, undefined);
    const result = applyMessages(model, setup, batch([junk, junk], 2), 1, undefined);
    expect(result).toMatchObject({ applied: 0, lastSeq: 3 });
    expect(model.checkpoint(directory.name, 'person')).toBe(3);
  });

  it('given an empty batch, when applied, then nothing changes', () => {
    const result = applyMessages(model, setup, batch([]), 7, undefined);
    expect(result).toEqual({ applied: 0, lastSeq: 7, invalid: [], ended: false });
    expect(model.checkpoint(directory.name, 'person')).toBe(0);
  });
});
