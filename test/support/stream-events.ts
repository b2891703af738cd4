// Reads a domain stream back in full, decoded: what integration tests compare read models and
// flows against.
import type { NatsConnection } from 'nats';
import { decodeEnvelope, domainStream, readStream, type EventEnvelope } from '../../appliance/index.js';

export async function streamEvents(nc: NatsConnection, domain: string): Promise<EventEnvelope[]> {
  const jsm = await nc.jetstreamManager();
  const { last_seq: last } = (await jsm.streams.info(domainStream(domain))).state;
  const events: EventEnvelope[] = [];
  for await (const m of readStream(nc.jetstream(), { stream: domainStream(domain), fromSeq: 1, toSeq: last })) events.push(decodeEnvelope(m.data).envelope);
  return events;
}
