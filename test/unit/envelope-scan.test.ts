// The verification fast path reads exactly what a full decode reads, for any envelope, and
// refuses whatever the full decode refuses.
import * as dagCbor from '@ipld/dag-cbor';
import { describe, expect, it } from 'vitest';
import { cidBytesOf, decodeEnvelope, encodeEnvelope, scanEnvelope, type EventEnvelope } from '../../appliance/index.js';
import { seededRandom } from '../support/random.js';

const random = seededRandom(20261125);

function randomPayload(depth = 0): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  for (let i = random.int(0, 6); i > 0; i--) {
    const kind = random.int(0, depth < 2 ? 8 : 5);
    const key = random.text(12) || 'k';
    payload[key] = [
      () => random.int(-1e12, 1e12),
      () => random.text(300),
      () => random.next() * 1e6,
      () => null,
      () => random.next() > 0.5,
      () => new Uint8Array(random.int(0, 70)).map(() => random.int(0, 255)),
      () => randomPayload(depth + 1),
      () => [random.int(0, 2 ** 40), random.text(5), randomPayload(depth + 1)],
      () => ({ nested: [[random.int(0, 300)]] }),
    ][kind]!();
  }
  return payload;
}

function randomChain(length: number): ReturnType<typeof encodeEnvelope>[] {
  const chain: ReturnType<typeof encodeEnvelope>[] = [];
  const aggregateId = `agg-${random.int(0, 1e9)}`;
  for (let seq = 1; seq <= length; seq++) {
    const envelope: EventEnvelope = {
      v: 1,
      id: random.text(36) || 'id',
      domain: random.pick(['person', 'organization', 'workflow', 'x']),
      aggregate: random.text(20) || 'A',
      aggregateId,
      seq,
      type: random.text(30) || 'T',
      typeVersion: random.int(1, 2 ** 33),
      at: '2026-11-25T10:00:00.123Z',
      correlationId: random.text(40),
      causationId: random.text(40),
      actor: random.text(20),
      payload: randomPayload(),
      prev: chain.at(-1)?.cid ?? null,
    };
    chain.push(encodeEnvelope(envelope));
  }
  return chain;
}

describe('scanEnvelope', () => {
  it('reads the chain fields a full decode reads, for 500 random envelopes', () => {
    for (let i = 0; i < 100; i++) {
      for (const event of randomChain(5)) {
        const full = decodeEnvelope(event.bytes).envelope;
        const fields = scanEnvelope(event.bytes);
        expect(fields).toBeDefined();
        expect(fields!.domain).toBe(full.domain);
        expect(fields!.aggregateId).toBe(full.aggregateId);
        expect(fields!.seq).toBe(full.seq);
        expect(fields!.prev === null ? null : Buffer.from(fields!.prev).toString('hex')).toBe(
          full.prev === null ? null : Buffer.from(full.prev.bytes).toString('hex'),
        );
      }
    }
  });

  it('gives the CID bytes the envelope codec gives', () => {
    for (const event of randomChain(20))
      expect(Buffer.from(cidBytesOf(event.bytes)).equals(Buffer.from(event.cid.bytes))).toBe(true);
  });

  it('refuses every truncation of an envelope', () => {
    const [event] = randomChain(1);
    for (let length = 0; length < event!.bytes.length; length++)
      expect(scanEnvelope(event!.bytes.subarray(0, length))).toBeUndefined();
  });

  it('refuses envelopes a full decode refuses: missing, extra or mistyped fields, seq 1 with a prev', () => {
    const [first, second] = randomChain(2).map((e) => e.envelope);
    const variants: unknown[] = [
      (({ actor: _a, ...rest }) => rest)(first!),
      { ...first, extra: 1 },
      { ...first, seq: '1' },
      { ...first, seq: 0 },
      { ...first, v: 2 },
      { ...first, payload: [1, 2] },
      { ...first, prev: second!.prev },
      { ...second, prev: null },
      { ...second, prev: 'not a cid' },
      { ...first, domain: 7 },
      [first],
      'text',
    ];
    for (const variant of variants) {
      const bytes = dagCbor.encode(variant);
      expect(() => decodeEnvelope(bytes)).toThrow();
      expect(scanEnvelope(bytes)).toBeUndefined();
    }
  });

  it('survives 2,000 random byte flips without throwing; where both accept, both read the same', () => {
    const events = randomChain(10);
    let agreed = 0;
    for (let i = 0; i < 2_000; i++) {
      const event = random.pick(events);
      const bytes = new Uint8Array(event.bytes);
      bytes[random.int(0, bytes.length - 1)]! ^= 1 << random.int(0, 7);
      const fields = scanEnvelope(bytes);
      let full: EventEnvelope | undefined;
      try {
        full = decodeEnvelope(bytes).envelope;
      } catch {
        full = undefined; // a payload the scan skips may still be refused in full: its CID changed all the same
      }
      if (fields && full) {
        expect([fields.seq, fields.aggregateId, fields.domain]).toEqual([full.seq, full.aggregateId, full.domain]);
        agreed++;
      }
      expect(Buffer.from(cidBytesOf(bytes)).equals(Buffer.from(event.cid.bytes))).toBe(false);
    }
    expect(agreed).toBeGreaterThan(0);
  });
});
