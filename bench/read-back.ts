// Reading the streams back after a run, for the checker: every event of a domain stream that the
// run's actor wrote (decoded, its CID recomputed from the stored bytes — not taken from a header),
// and every message of a raw stream. Something that no longer decodes is reported too, as an item
// no operation caused, so corruption shows up as "unexpected" and, for what was acknowledged, "lost".
import type { NatsConnection } from 'nats';
import { cidOfBlock, decodeEvent, domainStream, readStream } from '../appliance/index.js';
import type { ReadItem } from './checker.js';
import { rawBodyId } from './issuers.js';

export interface ReadBackResult {
  items: ReadItem[];
  /** Messages in the stream range read (the run's and everyone else's). */
  scanned: number;
  /** Messages that did not decode as events. */
  undecodable: number;
  /** Bytes of the run's own items (their stored bodies), for the mean event size. */
  bytes: number;
}

async function streamRange(nc: NatsConnection, stream: string): Promise<{ first: number; last: number } | undefined> {
  const jsm = await nc.jetstreamManager();
  try {
    const { state } = await jsm.streams.info(stream);
    return state.messages === 0 ? undefined : { first: state.first_seq, last: state.last_seq };
  } catch {
    return undefined;
  }
}

/** A stored message as read back: from the NATS API, or from one replica's block files. */
export interface BackMessage {
  seq: number;
  data: Uint8Array;
}

/** Adds one message of a domain stream to `result`, if the run's actor wrote it (or it no longer decodes). */
function addDomainMessage(result: ReadBackResult, stream: string, m: BackMessage, actor: string): void {
  result.scanned++;
  const key = cidOfBlock(m.data).toString();
  let envelope;
  try {
    envelope = decodeEvent(m.data);
  } catch {
    result.undecodable++;
    result.items.push({
      key,
      attemptId: undefined,
      origin: `undecodable@${stream}#${m.seq}`,
      where: `${stream}#${m.seq} (does not decode)`,
    });
    return;
  }
  if (envelope.actor !== actor) return;
  result.bytes += m.data.length;
  result.items.push({
    key,
    attemptId: envelope.causationId,
    origin: `${envelope.causationId}#${envelope.type}`,
    where: `${stream}#${m.seq} ${envelope.aggregateId} seq ${envelope.seq}`,
  });
}

function addRawMessage(result: ReadBackResult, stream: string, m: BackMessage): void {
  result.scanned++;
  const id = rawBodyId(m.data);
  result.bytes += m.data.length;
  result.items.push({ key: `${stream}:${m.seq}`, attemptId: id, origin: id, where: `${stream}#${m.seq}` });
}

/** The events of `domain` whose actor is `actor`, as the stream leader holds them: what the run's commands caused. */
export async function readBackDomain(nc: NatsConnection, domain: string, actor: string): Promise<ReadBackResult> {
  const stream = domainStream(domain);
  const result: ReadBackResult = { items: [], scanned: 0, undecodable: 0, bytes: 0 };
  const range = await streamRange(nc, stream);
  if (!range) return result;
  for await (const m of readStream(nc.jetstream(), { stream, fromSeq: range.first, toSeq: range.last, onLeader: true }))
    addDomainMessage(result, stream, m, actor);
  return result;
}

/**
 * What one copy of a stream gives back, read some other way than through NATS (one replica's
 * block files): the items of a domain stream's copy (`actor` given) or of a raw stream's.
 */
export function readBackCopy(stream: string, messages: Iterable<BackMessage>, actor?: string): ReadBackResult {
  const result: ReadBackResult = { items: [], scanned: 0, undecodable: 0, bytes: 0 };
  for (const m of messages) {
    if (actor === undefined) addRawMessage(result, stream, m);
    else addDomainMessage(result, stream, m, actor);
  }
  return result;
}

/** Every message of a raw stream (the leader's copy), attributed by the id its body starts with. */
export async function readBackRaw(nc: NatsConnection, stream: string): Promise<ReadBackResult> {
  const result: ReadBackResult = { items: [], scanned: 0, undecodable: 0, bytes: 0 };
  const range = await streamRange(nc, stream);
  if (!range) return result;
  for await (const m of readStream(nc.jetstream(), { stream, fromSeq: range.first, toSeq: range.last, onLeader: true }))
    addRawMessage(result, stream, m);
  return result;
}
