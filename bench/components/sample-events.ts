// Sample events for the benchmarks: a domain payload of a chosen encoded size, and envelopes and
// interleaved chains built from it, so micro-benchmarks and load drivers measure the same bytes.
import * as dagCbor from '@ipld/dag-cbor';
import {
  encodeEnvelope,
  ENVELOPE_VERSION,
  uuidv7,
  type CID,
  type EncodedEvent,
  type EventEnvelope,
  type Payload,
} from '../../appliance/index.js';

export const SAMPLE_DOMAIN = 'benchmark';
export const SAMPLE_AGGREGATE = 'Sample';
export const SAMPLE_EVENT_TYPE = 'SampleRecorded';

const TEXT = 'The quick brown fox jumps over the lazy dog. ';

function filler(length: number): string {
  return TEXT.repeat(Math.ceil(length / TEXT.length)).slice(0, length);
}

/**
 * A person-like payload whose dag-cbor encoding is `bytes` long (or the nearest size above: a
 * CBOR string header grows by a byte at 24 and 256 characters; and never below the ~90 bytes of
 * its fixed fields). Small field values keep the encoder's per-field work realistic; a note
 * field makes up the size.
 */
export function samplePayload(bytes: number): Payload {
  const base = {
    name: 'Ada Lovelace',
    email: 'ada@example.org',
    locale: 'en-GB',
    born: 1815,
    tags: ['analyst', 'engine'],
    note: '',
  };
  let length = Math.max(0, bytes - dagCbor.encode(base).length);
  for (let attempt = 0; attempt < 4; attempt++) {
    const size = dagCbor.encode({ ...base, note: filler(length) }).length;
    if (size === bytes) break;
    length = Math.max(0, length + bytes - size);
  }
  return { ...base, note: filler(length) };
}

/** Zero-padded, so every aggregate id, and so every event, encodes to the same length. */
export function sampleAggregateId(index: number): string {
  return `agg-${String(index).padStart(7, '0')}`;
}

/** An envelope as the event store builds it; `overrides` name another domain, type or causation. */
export function sampleEnvelope(
  aggregateId: string,
  seq: number,
  prev: CID | null,
  payload: Payload,
  overrides: Partial<EventEnvelope> = {},
): EventEnvelope {
  return {
    v: ENVELOPE_VERSION,
    id: uuidv7(),
    domain: SAMPLE_DOMAIN,
    aggregate: SAMPLE_AGGREGATE,
    aggregateId,
    seq,
    type: SAMPLE_EVENT_TYPE,
    typeVersion: 1,
    at: new Date().toISOString(),
    correlationId: uuidv7(),
    causationId: uuidv7(),
    actor: 'bench',
    payload,
    prev,
    ...overrides,
  };
}

/** An encoded event as a stream holds it: its bytes plus the CID its header claims. */
export interface StreamedEvent {
  event: EncodedEvent;
  cid: string;
}

/**
 * `count` events of `aggregates` chains, interleaved round robin as a domain stream holds them,
 * so a verifier has to keep a head per aggregate.
 */
export function sampleStream(count: number, aggregates: number, payload: Payload): StreamedEvent[] {
  const heads: { seq: number; cid: CID | null }[] = Array.from({ length: aggregates }, () => ({ seq: 0, cid: null }));
  const out: StreamedEvent[] = [];
  for (let i = 0; i < count; i++) {
    const a = i % aggregates;
    const head = heads[a]!;
    const event = encodeEnvelope(sampleEnvelope(sampleAggregateId(a), head.seq + 1, head.cid, payload));
    heads[a] = { seq: head.seq + 1, cid: event.cid };
    out.push({ event, cid: event.cid.toString() });
  }
  return out;
}
