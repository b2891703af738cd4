// How far each projection is behind its streams, for the cim_projection_lag_* gauges: the
// projector's committed checkpoints against each domain stream's last sequence, and the age of the
// first event after the checkpoint. One stream info per domain and one message read per lagging
// domain: cheap enough for a scrape, and the metrics cache it (metrics.ts).
import type { JetStreamManager } from 'nats';
import { domainStream } from '../eventstore/index.js';
import type { ProjectionLag } from './metrics.js';

export async function projectionLag(
  jsm: JetStreamManager,
  /** Per projection, its committed checkpoint per domain (what Projector.progress() gives). */
  progress: Record<string, { domains: Record<string, { checkpoint: number }> }>,
  now = Date.now(),
): Promise<ProjectionLag[]> {
  const streams = new Map<
    string,
    Promise<{ first_seq: number; first_ts: string; last_seq: number; last_ts: string }>
  >();
  const state = (domain: string) => {
    let s = streams.get(domain);
    if (!s) {
      s = jsm.streams.info(domainStream(domain)).then((info) => info.state);
      streams.set(domain, s);
    }
    return s;
  };
  return Promise.all(
    Object.entries(progress).map(async ([projection, p]) => {
      let events = 0;
      let oldest = now;
      for (const [domain, { checkpoint }] of Object.entries(p.domains)) {
        const s = await state(domain);
        if (s.last_seq <= checkpoint) continue;
        events += s.last_seq - Math.max(checkpoint, s.first_seq - 1);
        oldest = Math.min(oldest, await firstUnapplied(jsm, domain, checkpoint + 1, s));
      }
      return { projection, events, seconds: events === 0 ? 0 : Math.max(0, (now - oldest) / 1000) };
    }),
  );
}

/** When the first event not applied yet was stored; the stream's first message if retention removed it. */
async function firstUnapplied(
  jsm: JetStreamManager,
  domain: string,
  seq: number,
  s: { first_seq: number; first_ts: string; last_ts: string },
): Promise<number> {
  if (seq <= s.first_seq) return Date.parse(s.first_ts);
  try {
    return (await jsm.streams.getMessage(domainStream(domain), { seq })).time.getTime();
  } catch {
    return Date.parse(s.last_ts); // deleted on its own: the newest time is a lower bound of the lag
  }
}
