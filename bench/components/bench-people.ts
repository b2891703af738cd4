// The people the command benchmarks rename: registered once before the measured phases, with ids
// that follow from their index, so each benchmark's lanes can own their aggregates.
import type { NatsConnection } from 'nats';
import { sendCommand } from '../../appliance/index.js';
import { runLanes } from '../schedule.js';

/** The actor of every benchmark command. */
export const BENCH_ACTOR = { actor: 'bench' } as const;

export const benchPersonId = (i: number) => `p-${String(i).padStart(7, '0')}`;

/** Registers people 0 … count−1 in `domain` (a domain with the person decider), `lanes` at a time. */
export async function registerBenchPeople(
  nc: NatsConnection,
  domain: string,
  count: number,
  lanes: number,
  onProgress: (done: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  await runLanes(
    lanes,
    count,
    async (i) => {
      await sendCommand(nc, domain, 'RegisterPerson', {
        ...BENCH_ACTOR,
        payload: { personId: benchPersonId(i), name: 'Ada Lovelace', email: `p${i}@example.org` },
      });
      return true;
    },
    onProgress,
    signal,
  );
}
