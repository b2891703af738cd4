// Reads a domain stream back in full, decoded: what integration tests compare read models and
// flows against; and fills aggregates with events for the tests that tamper with them.
import type { NatsConnection } from 'nats';
import {
  decodeEnvelope,
  domainStream,
  EMPTY_HEAD,
  readStream,
  type AggregateHead,
  type Causation,
  type EventEnvelope,
  type EventStore,
} from '../../appliance/index.js';

export async function streamEvents(nc: NatsConnection, domain: string): Promise<EventEnvelope[]> {
  const jsm = await nc.jetstreamManager();
  const { last_seq: last } = (await jsm.streams.info(domainStream(domain))).state;
  const events: EventEnvelope[] = [];
  for await (const m of readStream(nc.jetstream(), { stream: domainStream(domain), fromSeq: 1, toSeq: last }))
    events.push(decodeEnvelope(m.data).envelope);
  return events;
}

/** Appends `count` events to each aggregate through `store`, interleaved across aggregates as real traffic is. */
export async function fillAggregates(
  store: EventStore,
  who: Causation,
  domain: string,
  aggregates: string[],
  count: number,
  heads = new Map<string, AggregateHead>(),
): Promise<Map<string, AggregateHead>> {
  for (let i = 0; i < count; i++) {
    for (const id of aggregates) {
      const [e] = await store.append(
        { domain, aggregate: 'Thing', aggregateId: id },
        heads.get(id) ?? EMPTY_HEAD,
        [{ type: 'Changed', payload: { i, id } }],
        who,
      );
      heads.set(id, { seq: e!.seq, cid: e!.cid, streamSeq: e!.streamSeq });
    }
  }
  return heads;
}
