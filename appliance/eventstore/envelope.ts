// The event envelope (docs/architecture.md#event-envelope), encoded as dag-cbor and named by its CID. Decoding is the
// edge where bytes from the stream become trusted events: the shape is validated and the CID is
// recomputed from exactly the bytes that were read.
import * as dagCbor from '@ipld/dag-cbor';
import { z } from 'zod';
import { CimError, firstIssue } from '../errors.js';
import { CID, cidOfBlock } from './cid.js';
import { encodeEnvelopeBytes } from './envelope-encode.js';

export const ENVELOPE_VERSION = 1;

export type Payload = { [key: string]: unknown };

export interface EventEnvelope<P extends Payload = Payload> {
  v: number;
  id: string;
  domain: string;
  aggregate: string;
  aggregateId: string;
  seq: number;
  type: string;
  typeVersion: number;
  at: string;
  correlationId: string;
  causationId: string;
  actor: string;
  payload: P;
  prev: CID | null;
}

/** An envelope together with its encoding and content address. */
export interface EncodedEvent<P extends Payload = Payload> {
  envelope: EventEnvelope<P>;
  bytes: Uint8Array;
  cid: CID;
}

/** An aggregate id: closes the event subject and names its snapshot key, so only characters both allow. */
export const subjectToken = /^[A-Za-z0-9_=-]+$/;
export const domainName = /^[a-z][a-z0-9_-]*$/;
export const rfc3339Utc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
/** An RFC 3339 time a user may give (any offset): a replay's or a scenario's point in time. */
export const rfc3339Time = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const cid = z.custom<CID>((value) => CID.asCID(value) !== null, { error: 'expected a CID' });

export const EnvelopeSchema = z
  .object({
    v: z.literal(ENVELOPE_VERSION),
    id: z.string().min(1),
    domain: z.string().regex(domainName),
    aggregate: z.string().min(1),
    aggregateId: z.string().regex(subjectToken),
    seq: z.number().int().min(1),
    type: z.string().min(1),
    typeVersion: z.number().int().min(1),
    at: z.string().regex(rfc3339Utc),
    correlationId: z.string(),
    causationId: z.string(),
    actor: z.string(),
    payload: z.record(z.string(), z.unknown()),
    prev: cid.nullable(),
  })
  .strict()
  .refine((e) => (e.seq === 1) === (e.prev === null), {
    error: 'prev must be null exactly when seq is 1',
    path: ['prev'],
  });

export function encodeEnvelope<P extends Payload>(envelope: EventEnvelope<P>): EncodedEvent<P> {
  const bytes = encodeEnvelopeBytes(envelope);
  return { envelope, bytes, cid: cidOfBlock(bytes) };
}

/**
 * Decodes and validates an event read from a stream. Throws CIM-INVALID-EVENT naming what is
 * wrong; `expectedCid`, when given (the Cim-Cid header), must equal the recomputed CID.
 */
export function decodeEnvelope(bytes: Uint8Array, expectedCid?: string): EncodedEvent {
  let decoded: unknown;
  try {
    decoded = dagCbor.decode(bytes);
  } catch (error) {
    throw new CimError('CIM-INVALID-EVENT', `not valid dag-cbor: ${(error as Error).message}`);
  }
  const parsed = EnvelopeSchema.safeParse(decoded);
  if (!parsed.success) {
    throw new CimError('CIM-INVALID-EVENT', `not a valid event envelope: ${firstIssue(parsed.error)}`);
  }
  const cid = cidOfBlock(bytes);
  if (expectedCid !== undefined && cid.toString() !== expectedCid) {
    throw new CimError(
      'CIM-INVALID-EVENT',
      `CID mismatch: the bytes hash to ${cid.toString()}, the message claims ${expectedCid}`,
    );
  }
  return { envelope: parsed.data as EventEnvelope, bytes, cid };
}

/** How an aggregate's state is folded from its events: what loading an aggregate replays. */
export interface Reducer<S> {
  initial(): S;
  evolve(state: S, event: EventEnvelope): S;
}
