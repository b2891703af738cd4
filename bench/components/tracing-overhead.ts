// What tracing costs a command: command throughput (request → service: validate, decide, append →
// reply) with the OpenTelemetry SDK registered (every span sampled, batched and handed to an
// exporter that drops it, so no collector's cost is counted) against no SDK at all, in one run on
// one cluster. Off, on and on with a tenth of the traces sampled alternate in rounds on the same
// people, so drift (a growing stream, a warming JIT) falls on all alike; the figures are the
// ratios to off.
import type { NatsConnection } from 'nats';
import {
  ApplianceMetrics,
  CimError,
  defineDomain,
  discardingExporter,
  domainStream,
  EventStore,
  person,
  provision,
  sleep,
  sendCommand,
  startCommandService,
  startTracing,
  type CommandServiceHandle,
} from '../../appliance/index.js';
import { combinedThroughput, runLanes, type ThroughputFigure } from '../schedule.js';

export interface TracingBenchmarkOptions {
  /** Commands per mode (off and on each), split over the rounds. */
  messages: number;
  /** People the commands rename. */
  aggregates: number;
  inFlight: number;
  replicas: number;
  /** Rounds of each mode, alternating off, on, off, on, … (default 4). */
  rounds?: number;
  /** The bench domain (its stream is deleted before and after): must start with `bench`. */
  domain?: string;
  /** Where the command service runs; default the driver's own connection. */
  serviceConnection?: NatsConnection;
  /** Where the commands are sent from (the `loadgen` role); default the driver's own connection. */
  loadConnection?: NatsConnection;
  onProgress?: (phase: 'setup' | 'off' | 'on' | 'tenth', done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface TracingBenchmarkResult {
  domain: string;
  rounds: number;
  lanes: number;
  /** Commands per second without an SDK, all rounds together. */
  off: ThroughputFigure;
  /** With the SDK, always-on sampling, a batch processor and a dropping exporter. */
  on: ThroughputFigure;
  /** on / off: 1 is free; the goal is at least 0.95. */
  ratio: number;
  /** With the SDK sampling a tenth of the traces (parent-based, trace id ratio 0.1), what an operator may well run. */
  tenth: ThroughputFigure;
  /** tenth / off. */
  tenthRatio: number;
  /** Spans handed to the exporter per traced command (client and service in this process). */
  spansPerCommand: number;
  interrupted: boolean;
}

const WHO = { actor: 'bench' };
const personId = (i: number) => `t-${String(i).padStart(7, '0')}`;

export async function runTracingBenchmark(
  nc: NatsConnection,
  options: TracingBenchmarkOptions,
): Promise<TracingBenchmarkResult> {
  const name = options.domain ?? 'benchtrace';
  if (!name.startsWith('bench'))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `domain "${name}": the tracing benchmark deletes its stream, so it must start with "bench"`,
    );
  const domain = defineDomain({ ...person.definition, name, projections: [] });
  const { signal } = options;
  const rounds = options.rounds ?? 4;
  const lanes = Math.min(options.inFlight, options.aggregates);
  const perRound = Math.max(lanes, Math.floor(options.messages / rounds));
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(domainStream(name)).catch(() => false);
  await provision(nc, { domains: [name], replicas: options.replicas, duplicateWindowMs: 120_000 });
  const serviceNc = options.serviceConnection ?? nc;
  const loadNc = options.loadConnection ?? nc;
  let service: CommandServiceHandle | undefined;
  const metrics = new ApplianceMetrics();
  let observing = false;
  try {
    service = await startCommandService(serviceNc, domain, {
      store: await EventStore.open(serviceNc),
      // Metrics are on with tracing: "on" is the telemetry `cim serve` runs with, "off" none of it.
      onCommand: (observation) => {
        if (observing) metrics.observeCommand(name, observation);
      },
    });
    await runLanes(
      lanes,
      options.aggregates,
      async (i) => {
        // The service's interest may take a moment to reach the server the driver is on.
        for (let attempt = 0; ; attempt++) {
          try {
            await sendCommand(loadNc, name, 'RegisterPerson', {
              ...WHO,
              commandId: `setup-${i}`,
              payload: { personId: personId(i), name: 'Ada Lovelace', email: `t${i}@example.org` },
            });
            return true;
          } catch (error) {
            if (attempt >= 50 || !(error instanceof CimError && error.code === 'CIM-UNAVAILABLE')) throw error;
            await sleep(100);
          }
        }
      },
      (done) => options.onProgress?.('setup', done, options.aggregates),
      signal,
    );

    // Each lane owns its people (lane, lane + lanes, …), so one person never has two renames in flight.
    const perLane = Math.max(1, Math.floor(options.aggregates / lanes));
    const counters = new Array<number>(lanes).fill(0);
    let next = 0;
    let renames = 0;
    const rename = async (): Promise<boolean> => {
      const lane = next++ % lanes;
      const i = lane + lanes * (counters[lane]!++ % perLane);
      try {
        await sendCommand(
          loadNc,
          name,
          'RenamePerson',
          { ...WHO, payload: { personId: personId(i), name: `Renamed ${++renames}` } },
          { timeoutMs: 30_000 },
        );
        return true;
      } catch {
        return false;
      }
    };

    const off: { ok: number; failed: number; seconds: number }[] = [];
    const on: { ok: number; failed: number; seconds: number }[] = [];
    const tenth: { ok: number; failed: number; seconds: number }[] = [];
    let exported = 0;
    const exporter = discardingExporter((n) => (exported += n));
    for (let round = 0; round < rounds && !signal?.aborted; round++) {
      off.push(await runLanes(lanes, perRound, rename, (d) => options.onProgress?.('off', d, perRound), signal));
      if (signal?.aborted) break;
      for (const [mode, runs, sample] of [
        ['on', on, 1],
        ['tenth', tenth, 0.1],
      ] as const) {
        if (signal?.aborted) break;
        const before = exported;
        const stop = await startTracing({ serviceName: 'cim-bench', exporter, sample });
        observing = true;
        try {
          runs.push(await runLanes(lanes, perRound, rename, (d) => options.onProgress?.(mode, d, perRound), signal));
        } finally {
          observing = false;
          await stop(); // flushes and unregisters, so the next round runs with no SDK at all
        }
        if (mode === 'tenth') exported = before; // spans per command counts the fully sampled rounds
      }
    }
    const offFigure = combinedThroughput(off);
    const onFigure = combinedThroughput(on);
    const tenthFigure = combinedThroughput(tenth);
    return {
      domain: name,
      rounds,
      lanes,
      off: offFigure,
      on: onFigure,
      ratio: offFigure.perSecond > 0 ? onFigure.perSecond / offFigure.perSecond : 0,
      tenth: tenthFigure,
      tenthRatio: offFigure.perSecond > 0 ? tenthFigure.perSecond / offFigure.perSecond : 0,
      spansPerCommand: onFigure.messages > 0 ? exported / onFigure.messages : 0,
      interrupted: signal?.aborted ?? false,
    };
  } finally {
    await service?.stop();
    await jsm.streams.delete(domainStream(name)).catch(() => false);
  }
}
