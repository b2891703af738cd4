// How costs grow with history, in one run on one cluster: the cost of one more command (load +
// decide + append) on aggregates with short and very long histories, with signed snapshots on
// (flat) and off (growing with the history), and a projection rebuild at N and 10·N events
// (events/s about flat when it is linear). The histories are written by pipelined raw publishes
// of properly chained events (chain-fill.ts), not through commands, so 100,000 events on one
// aggregate take seconds.
import type { NatsConnection } from 'nats';
import {
  CimError,
  defineDomain,
  domainStream,
  EventStore,
  person,
  provision,
  Signer,
  SnapshotStore,
  type AggregateRef,
} from '../../appliance/index.js';
import { median, quantile } from '../statistics.js';
import { fillChains } from './chain-fill.js';
import { runReplayBenchmark, type ReplayBenchmarkResult } from './replay-throughput.js';

export type GrowthBenchmarkPhase = 'fill' | 'append' | 'rebuild';

export interface GrowthBenchmarkOptions {
  /** Events of the smaller rebuild; the larger one has ten times as many (default 20,000). */
  rebuildEvents?: number;
  /** Aggregates the rebuild's events are spread over (default 1,000). */
  aggregates?: number;
  /** History lengths of the aggregates one more command is measured on (default 10, 1,000, 100,000). */
  histories?: readonly number[];
  /** Commands measured per aggregate with snapshots on (default 20); with them off, fewer on long histories. */
  appends?: number;
  replicas: number;
  /** Base of the two bench domains (their streams are deleted before and after): must start with `bench`. */
  domain?: string;
  onProgress?: (phase: GrowthBenchmarkPhase, done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface AppendCostFigure {
  /** Commands measured. */
  samples: number;
  p50Ms: number;
  p90Ms: number;
  /** Events the last load replayed (after its snapshot, if it used one). */
  replayed: number;
  fromSnapshot: boolean;
}

export interface HistoryFigure {
  /** Events the aggregate had before the measured commands. */
  history: number;
  snapshots: AppendCostFigure;
  noSnapshots: AppendCostFigure;
}

export interface RebuildSize {
  events: number;
  seconds: number;
  perSecond: number;
  bestRawPerSecond: number;
  replayToRaw: number;
}

export interface GrowthBenchmarkResult {
  domain: string;
  append: {
    histories: HistoryFigure[];
    /** p50 on the longest history / p50 on the shortest, snapshots on: about 1 when the cost is flat. */
    snapshotsGrowth: number;
    /** The same with snapshots off. */
    noSnapshotsGrowth: number;
  };
  rebuild: {
    small: RebuildSize;
    large: RebuildSize;
    /** events/s at 10·N / events/s at N: about 1 when a rebuild is linear in the events (fixed costs weigh on the smaller). */
    rateGrowth: number;
    /** The line through the two: seconds = fixedSeconds + events × microsPerEvent / 10⁶. */
    fixedSeconds: number;
    microsPerEvent: number;
    /** The larger rebuild again, applied on a worker thread (ReplayOptions.worker). */
    worker: RebuildSize;
  };
  interrupted: boolean;
}

const DEFAULT_HISTORIES = [10, 1_000, 100_000];

/** Events read by the loads of one aggregate with snapshots off, at most: long histories get fewer samples. */
const NO_SNAPSHOT_READ_BUDGET = 300_000;

export async function runGrowthBenchmark(
  nc: NatsConnection,
  options: GrowthBenchmarkOptions,
): Promise<GrowthBenchmarkResult> {
  const base = options.domain ?? 'benchgrowth';
  if (!base.startsWith('bench'))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `domain "${base}": the growth benchmark deletes its streams, so it must start with "bench"`,
    );
  const historyDomain = `${base}h`;
  const rebuildDomain = `${base}r`;
  const small = options.rebuildEvents ?? 20_000;
  const histories = options.histories ?? DEFAULT_HISTORIES;
  const { signal } = options;
  const jsm = await nc.jetstreamManager();
  const ids = histories.map((h) => `g-${h}`);
  const clean = async () => {
    for (const d of [historyDomain, rebuildDomain]) await jsm.streams.delete(domainStream(d)).catch(() => false);
  };
  await clean();
  await provision(nc, {
    domains: [historyDomain, rebuildDomain],
    replicas: options.replicas,
    duplicateWindowMs: 120_000,
  });
  const snapshots = new SnapshotStore(nc);
  try {
    const fillTotal = histories.reduce((n, h) => n + h, 0) + 10 * small;
    let filled = 0;
    const fillProgress = (done: number) => options.onProgress?.('fill', filled + done, fillTotal);
    await fillChains(nc, {
      domain: historyDomain,
      aggregates: histories.map((events, i) => ({ id: ids[i]!, events })),
      onProgress: fillProgress,
    });
    filled += fillTotal - 10 * small;
    const aggregates = options.aggregates ?? 1_000;
    const perAggregate = Math.ceil((10 * small) / aggregates);
    await fillChains(nc, {
      domain: rebuildDomain,
      aggregates: Array.from({ length: aggregates }, (_, i) => ({
        id: `p-${String(i).padStart(7, '0')}`,
        // Spread 10·N exactly: the first ones take one more.
        events: Math.min(perAggregate, Math.max(0, 10 * small - i * perAggregate)),
      })).filter((a) => a.events > 0),
      onProgress: fillProgress,
    });

    const figures: HistoryFigure[] = [];
    const signer = Signer.ephemeral();
    const withSnapshots = await EventStore.open(nc, { snapshotKeys: { signer, trusted: [signer.verifier()] } });
    const without = await EventStore.open(nc);
    const domain = defineDomain({ ...person.definition, name: historyDomain, projections: [] });
    const appends = options.appends ?? 20;
    let measured = 0;
    const totalAppends = histories.length * appends * 2;
    let round = 0;
    /** One more command on the aggregate: load, decide a rename, append it; in ms. */
    const command = async (store: EventStore, ref: AggregateRef) => {
      const started = performance.now();
      const loaded = await store.load(ref, domain.reducer);
      const validated = domain.validate('RenamePerson', { personId: ref.aggregateId, name: `Renamed ${++round}` });
      const at = new Date().toISOString();
      const causation = { correlationId: `growth-${round}`, causationId: `growth-${round}`, actor: 'bench' };
      const events = domain.decide(validated, loaded.state, { ...causation, at });
      await store.append(
        ref,
        loaded.head,
        events.map((e) => ({ type: e.type, typeVersion: e.typeVersion ?? 1, payload: e.payload, at })),
        causation,
      );
      options.onProgress?.('append', ++measured, totalAppends);
      return { ms: performance.now() - started, loaded };
    };
    const measure = async (store: EventStore, ref: AggregateRef, samples: number): Promise<AppendCostFigure> => {
      const ms: number[] = [];
      let last = { replayed: 0, fromSnapshot: false };
      for (let i = 0; i < samples && !signal?.aborted; i++) {
        const r = await command(store, ref);
        ms.push(r.ms);
        last = r.loaded;
      }
      return {
        samples: ms.length,
        p50Ms: median(ms),
        p90Ms: quantile(ms, 0.9),
        replayed: last.replayed,
        fromSnapshot: last.fromSnapshot,
      };
    };
    for (let i = 0; i < histories.length && !signal?.aborted; i++) {
      const ref = { domain: historyDomain, aggregate: 'Person', aggregateId: ids[i]! };
      // Snapshots off first, so each load reads the whole chain; then a first load with them on
      // (it replays everything and writes the snapshot, as the first command after a restart would).
      const offSamples = Math.max(1, Math.min(appends, Math.floor(NO_SNAPSHOT_READ_BUDGET / histories[i]!)));
      const noSnapshots = await measure(without, ref, offSamples);
      measured += appends - offSamples;
      await withSnapshots.load(ref, domain.reducer);
      const withSnapshot = await measure(withSnapshots, ref, appends);
      figures.push({ history: histories[i]!, snapshots: withSnapshot, noSnapshots });
    }

    const projection = { ...person.definition.projections![0]!, domains: [rebuildDomain] };
    const size = (r: ReplayBenchmarkResult): RebuildSize => ({
      events: r.replay.events,
      seconds: r.replay.seconds,
      perSecond: r.replay.perSecond,
      bestRawPerSecond: r.bestRaw.perSecond,
      replayToRaw: r.replayToRaw,
    });
    const rebuildProgress = (done: number, total: number) => options.onProgress?.('rebuild', done, total);
    const smallRebuild = size(
      await runReplayBenchmark(nc, { projection, to: { seq: small }, onProgress: rebuildProgress }),
    );
    const largeRebuild = size(await runReplayBenchmark(nc, { projection, onProgress: rebuildProgress }));
    const workerRebuild = size(await runReplayBenchmark(nc, { projection, worker: {}, onProgress: rebuildProgress }));

    const perEvent =
      largeRebuild.events > smallRebuild.events
        ? (largeRebuild.seconds - smallRebuild.seconds) / (largeRebuild.events - smallRebuild.events)
        : 0;
    const first = figures[0];
    const last = figures.at(-1);
    const growth = (key: 'snapshots' | 'noSnapshots') =>
      first && last && first[key].p50Ms > 0 ? last[key].p50Ms / first[key].p50Ms : 0;
    return {
      domain: base,
      append: { histories: figures, snapshotsGrowth: growth('snapshots'), noSnapshotsGrowth: growth('noSnapshots') },
      rebuild: {
        small: smallRebuild,
        large: largeRebuild,
        rateGrowth: smallRebuild.perSecond > 0 ? largeRebuild.perSecond / smallRebuild.perSecond : 0,
        fixedSeconds: smallRebuild.seconds - perEvent * smallRebuild.events,
        microsPerEvent: perEvent * 1e6,
        worker: workerRebuild,
      },
      interrupted: signal?.aborted ?? false,
    };
  } finally {
    for (const id of ids) await snapshots.remove(historyDomain, id).catch(() => false);
    await clean();
  }
}
