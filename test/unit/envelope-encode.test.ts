// The direct envelope encoder writes byte for byte what the generic dag-cbor encoder writes.
import * as dagCbor from '@ipld/dag-cbor';
import { describe, expect, it } from 'vitest';
import { cidOfBlock, encodeEnvelopeBytes, type EventEnvelope } from '../../appliance/index.js';
import { HEAD_ARGUMENT_EDGES, seededRandom } from '../support/random.js';

const random = seededRandom(7);
const big = (n: number) => 'é'.repeat(n);

function randomEnvelope(): EventEnvelope {
  const seq = random.pick([...HEAD_ARGUMENT_EDGES, random.int(1, 1e9)]);
  const text = () =>
    random.pick([random.text(30), '', big(random.int(10, 200)), big(40_000), 'x'.repeat(23), 'x'.repeat(24)]);
  return {
    v: 1,
    id: text(),
    domain: text(),
    aggregate: text(),
    aggregateId: text(),
    seq,
    type: text(),
    typeVersion: random.pick([1, 24, 300, 70_000, 2 ** 40]),
    at: text(),
    correlationId: text(),
    causationId: text(),
    actor: text(),
    payload: {
      n: random.int(-1e9, 1e9),
      s: text(),
      f: random.next(),
      nested: { list: [1, 'two', null, true] },
      bytes: new Uint8Array([1, 2, 3]),
    },
    prev: seq === 1 ? null : cidOfBlock(new Uint8Array([random.int(0, 255)])),
  };
}

describe('encodeEnvelopeBytes', () => {
  it('equals dagCbor.encode for 1,000 random envelopes, edge lengths and numbers included', () => {
    for (let i = 0; i < 1_000; i++) {
      const envelope = randomEnvelope();
      expect(Buffer.from(encodeEnvelopeBytes(envelope)).equals(Buffer.from(dagCbor.encode(envelope)))).toBe(true);
    }
  });

  it('leaves unusual input to the generic encoder, which refuses what dag-cbor cannot hold', () => {
    const envelope = randomEnvelope();
    const odd = { ...envelope, seq: 1.5 } as EventEnvelope; // a float: dag-cbor's own encoding
    expect(Buffer.from(encodeEnvelopeBytes(odd)).equals(Buffer.from(dagCbor.encode(odd)))).toBe(true);
    expect(() => encodeEnvelopeBytes({ ...envelope, payload: { when: undefined } })).toThrow();
    expect(() => encodeEnvelopeBytes({ ...envelope, extra: undefined } as unknown as EventEnvelope)).toThrow();
  });
});
