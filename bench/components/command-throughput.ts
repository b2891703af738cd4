// Commands over NATS (request → service: validate, decide on the cached aggregate, append →
// reply) against raw JetStream publishes and direct event-store appends, in one run on one
// cluster with the same window: throughput, then request→reply latency at half the command
// maximum against raw publish→ack at the same rate. The person decider runs as a bench domain
// of its own, so a benchmark never touches real streams.
import { RetentionPolicy, StorageType, type NatsConnection } from 'nats';
import {
  CimError,
  defineDomain,
  domainStream,
  EMPTY_HEAD,
  encodeEnvelope,
  EventStore,
  person,
  provision,
  sendCommand,
  startCommandService,
  type AggregateHead,
  type CommandServiceHandle,
  type PayloadProtection,
  type AuditSink,
} from '../../appliance/index.js';
import { latencyAtRate, runLanes, throughputFigure, type LatencyFigure, type ThroughputFigure } from '../schedule.js';
import { runReplayBenchmark, type ReplayBenchmarkResult } from './replay-throughput.js';
import { BENCH_ACTOR, benchPersonId, registerBenchPeople } from './bench-people.js';

export type CommandBenchmarkPhase =
  'setup' | 'raw' | 'append' | 'command' | 'raw-latency' | 'command-latency' | 'replay';

export interface CommandBenchmarkOptions {
  /** Operations of each throughput phase. */
  messages: number;
  /** People the commands rename (and aggregates the direct appends go to). */
  aggregates: number;
  inFlight: number;
  replicas: number;
  /** The bench domain (its stream is deleted before and after): must start with `bench`. */
  domain?: string;
  /** Where the command service runs; default the driver's own connection. */
  serviceConnection?: NatsConnection;
  /** Where the commands are sent from (the `loadgen` role); default the driver's own connection. */
  loadConnection?: NatsConnection;
  latencySeconds?: number;
  /** Default: half the measured command throughput. */
  latencyRate?: number;
  /**
   * Encrypts the people's personal data (the name of every rename) in the service's and the direct
   * appends' stores, as `cim serve` does: to measure what field encryption costs.
   */
  protection?: PayloadProtection;
  /** Where the service records each command before replying, as `cim serve` does: to measure what the audit log costs. */
  audit?: AuditSink;
  /** Rebuild the person directory from the bench domain's stream against the best raw read of it (default true). */
  replay?: boolean;

  onProgress?: (phase: CommandBenchmarkPhase, done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface CommandBenchmarkResult {
  domain: string;
  aggregates: number;
  lanes: number;
  messageBytes: number;
  throughput: {
    raw: ThroughputFigure;
    append: ThroughputFigure;
    command: ThroughputFigure;
    /** command / raw publish. */
    commandToRaw: number;
    /** command / direct append: what request, reply and the decision cost on top of the store. */
    commandToAppend: number;
  };
  latency?: { rate: number; seconds: number; raw: LatencyFigure; command: LatencyFigure; p99Ratio: number };
  /** The person directory rebuilt from everything the run stored, against the best raw ordered read of the same stream. */
  replay?: ReplayBenchmarkResult;
  /** Commands answered with events, and the events the stream holds for them. */
  check: { commandsOk: number; commandsFailed: number; renamesStored: number };
  interrupted: boolean;
}

const RAW_STREAM = 'CIM_BENCH_CMDRAW';
const RAW_PREFIX = 'cim.bench.cmdraw';

export async function runCommandBenchmark(
  nc: NatsConnection,
  options: CommandBenchmarkOptions,
): Promise<CommandBenchmarkResult> {
  const name = options.domain ?? 'benchcmd';
  if (!name.startsWith('bench'))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `domain "${name}": the command benchmark deletes its stream, so it must start with "bench"`,
    );
  const domain = defineDomain({ ...person.definition, name, projections: [] });
  const { signal } = options;
  const lanes = Math.min(options.inFlight, options.aggregates);
  const progress = (phase: CommandBenchmarkPhase, total: number) => (done: number) =>
    options.onProgress?.(phase, done, total);
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(domainStream(name)).catch(() => false);
  await jsm.streams.delete(RAW_STREAM).catch(() => false);
  await provision(nc, { domains: [name], replicas: options.replicas, duplicateWindowMs: 120_000 });
  await jsm.streams.add({
    name: RAW_STREAM,
    subjects: [`${RAW_PREFIX}.>`],
    num_replicas: options.replicas,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
  });
  const serviceNc = options.serviceConnection ?? nc;
  const loadNc = options.loadConnection ?? nc;
  let service: CommandServiceHandle | undefined;
  try {
    const storeOptions = options.protection ? { protection: options.protection } : {};
    service = await startCommandService(serviceNc, domain, {
      store: await EventStore.open(serviceNc, storeOptions),
      ...(options.audit ? { audit: options.audit } : {}),
    });
    const js = nc.jetstream();
    const store = await EventStore.open(nc, storeOptions);

    // Setup: the people the commands rename.
    await registerBenchPeople(loadNc, name, options.aggregates, lanes, progress('setup', options.aggregates), signal);

    // Each lane owns the aggregates lane, lane + lanes, lane + 2·lanes, … (below `aggregates`), so
    // one aggregate never has two operations in flight.
    const counters = new Array<number>(lanes).fill(0);
    const perLane = Math.floor(options.aggregates / lanes);
    const target = (lane: number) => lane + lanes * (counters[lane]!++ % perLane);
    let seqNo = 0;
    const renamePayload = (i: number) => ({ personId: benchPersonId(i), name: `Renamed ${++seqNo}` });
    const sample = domain.validate('RenamePerson', renamePayload(0));
    // Raw messages are as large as the event a rename stores.
    const body = new Uint8Array(
      encodeEnvelope({
        v: 1,
        id: '01900000-0000-7000-8000-000000000000',
        domain: name,
        aggregate: 'Person',
        aggregateId: sample.aggregateId,
        seq: 2,
        type: 'PersonRenamed',
        typeVersion: 1,
        at: new Date().toISOString(),
        correlationId: '01900000-0000-7000-8000-000000000001',
        causationId: '01900000-0000-7000-8000-000000000001',
        actor: BENCH_ACTOR.actor,
        payload: sample.payload as Record<string, unknown>,
        prev: null,
      }).bytes.length,
    ).fill(0x61);

    const byLane = <T>(operation: (lane: number) => Promise<T>) => {
      let next = 0;
      return () => operation(next++ % lanes);
    };
    const raw = await runLanes(
      lanes,
      options.messages,
      async (i) => {
        try {
          await js.publish(`${RAW_PREFIX}.${benchPersonId(i % options.aggregates)}`, body);
          return true;
        } catch {
          return false;
        }
      },
      progress('raw', options.messages),
      signal,
    );

    // Direct appends go to aggregates of their own (a-…), so the service's cached people stay valid.
    const heads = new Map<number, AggregateHead>();
    const appendOne = byLane(async (lane) => {
      const i = target(lane);
      const ref = { domain: name, aggregate: 'Person', aggregateId: `a-${String(i).padStart(7, '0')}` };
      try {
        const [e] = await store.append(
          ref,
          heads.get(i) ?? EMPTY_HEAD,
          [{ type: 'PersonRenamed', payload: renamePayload(i) }],
          { ...BENCH_ACTOR, correlationId: 'bench', causationId: 'bench' },
        );
        heads.set(i, { seq: e!.seq, cid: e!.cid, streamSeq: e!.streamSeq });
        return true;
      } catch {
        heads.set(i, await store.head(ref));
        return false;
      }
    });
    const append = await runLanes(
      lanes,
      options.messages,
      () => appendOne(),
      progress('append', options.messages),
      signal,
    );

    let commandsOk = 0;
    let commandsFailed = 0;
    const commandOne = byLane(async (lane) => {
      try {
        await sendCommand(
          loadNc,
          name,
          'RenamePerson',
          { ...BENCH_ACTOR, payload: renamePayload(target(lane)) },
          { timeoutMs: 30_000 },
        );
        commandsOk++;
        return true;
      } catch {
        commandsFailed++;
        return false;
      }
    });
    const command = await runLanes(
      lanes,
      options.messages,
      () => commandOne(),
      progress('command', options.messages),
      signal,
    );
    const [rawFigure, appendFigure, commandFigure] = [
      throughputFigure(raw),
      throughputFigure(append),
      throughputFigure(command),
    ];

    let latency: CommandBenchmarkResult['latency'];
    const seconds = options.latencySeconds ?? 5;
    const latencyRate = options.latencyRate ?? Math.round(commandFigure.perSecond / 2);
    if (seconds > 0 && latencyRate > 0 && !signal?.aborted) {
      const total = Math.max(1, Math.round(latencyRate * seconds));
      const rawLatency = await latencyAtRate(
        latencyRate,
        total,
        async (i) => {
          try {
            await js.publish(`${RAW_PREFIX}.${benchPersonId(i % options.aggregates)}`, body);
            return true;
          } catch {
            return false;
          }
        },
        progress('raw-latency', total),
        signal,
      );
      // Open loop: commands to one person may overlap; the service queues them per aggregate.
      const commandLatency = await latencyAtRate(
        latencyRate,
        total,
        async (i) => {
          try {
            await sendCommand(
              loadNc,
              name,
              'RenamePerson',
              { ...BENCH_ACTOR, payload: renamePayload(i % options.aggregates) },
              { timeoutMs: 30_000 },
            );
            commandsOk++;
            return true;
          } catch {
            commandsFailed++;
            return false;
          }
        },
        progress('command-latency', total),
        signal,
      );
      latency = {
        rate: latencyRate,
        seconds,
        raw: rawLatency,
        command: commandLatency,
        p99Ratio: rawLatency.p99Ms > 0 ? commandLatency.p99Ms / rawLatency.p99Ms : 0,
      };
    }

    let replay: ReplayBenchmarkResult | undefined;
    if (options.replay !== false && !signal?.aborted) {
      const [directory] = person.definition.projections ?? [];
      replay = await runReplayBenchmark(nc, {
        projection: { ...directory!, domains: [name] },
        onProgress: (done, total) => options.onProgress?.('replay', done, total),
      });
    }

    const info = await jsm.streams.info(domainStream(name), { subjects_filter: `>` });
    let renamesStored = 0;
    for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
      // People's subjects hold their registration and then one event per accepted rename.
      if (subject.includes('.events.p-')) renamesStored += count - 1;
    }
    return {
      domain: name,
      aggregates: options.aggregates,
      lanes,
      messageBytes: body.length,
      throughput: {
        raw: rawFigure,
        append: appendFigure,
        command: commandFigure,
        commandToRaw: rawFigure.perSecond > 0 ? commandFigure.perSecond / rawFigure.perSecond : 0,
        commandToAppend: appendFigure.perSecond > 0 ? commandFigure.perSecond / appendFigure.perSecond : 0,
      },
      ...(latency ? { latency } : {}),
      ...(replay ? { replay } : {}),
      check: { commandsOk, commandsFailed, renamesStored },
      interrupted: signal?.aborted ?? false,
    };
  } finally {
    await service?.stop();
    await jsm.streams.delete(RAW_STREAM).catch(() => false);
    await jsm.streams.delete(domainStream(name)).catch(() => false);
  }
}
