// Fills a domain stream fast with person events as the event store would have stored them —
// dag-cbor envelopes, CID-chained per aggregate, with the store's `Cim-Cid` and `Cim-Event-Type`
// headers — by pipelined raw publishes: long histories (100,000 events on one aggregate) in
// seconds rather than the minutes one command per event takes.
import { headers, type NatsConnection, type PubAck } from 'nats';
import {
  CimError,
  encodeEnvelope,
  ENVELOPE_VERSION,
  Subjects,
  uuidv7,
  type AggregateHead,
  type CID,
} from '../../appliance/index.js';

export interface ChainFillOptions {
  /** A domain with the person decider (its stream provisioned). */
  domain: string;
  /** Aggregate ids, and how many events to add to each: taken round robin, as a busy stream interleaves them. */
  aggregates: readonly { id: string; events: number }[];
  /** Where each aggregate's chain ends now (default: empty, so its first event registers the person). */
  heads?: ReadonlyMap<string, AggregateHead>;
  /** Publishes awaiting their ack (default 256). */
  inFlight?: number;
  /** The `at` of the first event; each next one a millisecond later (default now), so stream order is time order. */
  startAt?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Appends the events and returns each aggregate's new head. */
export async function fillChains(nc: NatsConnection, options: ChainFillOptions): Promise<Map<string, AggregateHead>> {
  const js = nc.jetstream({ timeout: 30_000 });
  const subjects = new Subjects();
  const heads = new Map<string, AggregateHead>();
  for (const a of options.aggregates) heads.set(a.id, options.heads?.get(a.id) ?? { seq: 0, cid: null, streamSeq: 0 });
  const left = options.aggregates.map((a) => ({ id: a.id, left: a.events }));
  const total = left.reduce((n, a) => n + a.left, 0);
  const inFlight = options.inFlight ?? 256;
  const startAt = options.startAt ?? Date.now();
  const causation = uuidv7();

  // One connection publishes in order and the stream leader stores in arrival order, so an
  // aggregate's events land in chain order although many are in flight.
  const pending = new Set<Promise<void>>();
  let failure: unknown;
  let done = 0;
  let turn = 0;
  for (let i = 0; i < total; i++) {
    while (left[turn % left.length]!.left === 0) turn++;
    const slot = left[turn++ % left.length]!;
    slot.left--;
    const head = heads.get(slot.id)!;
    const seq = head.seq + 1;
    const payload =
      seq === 1
        ? { personId: slot.id, name: `Person ${slot.id}`, email: `${slot.id}@example.org` }
        : { personId: slot.id, name: `Person ${slot.id} ${seq}` };
    const encoded = encodeEnvelope({
      v: ENVELOPE_VERSION,
      id: uuidv7(),
      domain: options.domain,
      aggregate: 'Person',
      aggregateId: slot.id,
      seq,
      type: seq === 1 ? 'PersonRegistered' : 'PersonRenamed',
      typeVersion: 1,
      at: new Date(startAt + i).toISOString(),
      correlationId: causation,
      causationId: causation,
      actor: 'bench',
      payload,
      prev: head.cid,
    });
    const next: AggregateHead = { seq, cid: encoded.cid as CID, streamSeq: head.streamSeq };
    heads.set(slot.id, next);
    const h = headers();
    h.set('Cim-Event-Type', encoded.envelope.type);
    h.set('Cim-Cid', encoded.cid.toString());
    const publish: Promise<void> = js
      .publish(subjects.event(options.domain, slot.id), encoded.bytes, { headers: h })
      .then(
        (ack: PubAck) => {
          // Each event's head object gets its own stream sequence; the map ends holding the last.
          next.streamSeq = ack.seq;
          options.onProgress?.(++done, total);
        },
        (error: unknown) => void (failure ??= error),
      )
      .finally(() => pending.delete(publish));
    pending.add(publish);
    if (pending.size >= inFlight) await Promise.race(pending);
    if (failure !== undefined) break;
  }
  await Promise.all(pending);
  if (failure !== undefined)
    throw new CimError(
      'CIM-UNAVAILABLE',
      `filling ${options.domain}: a publish failed: ${(failure as Error).message}`,
      {
        cause: failure,
      },
    );
  return heads;
}
