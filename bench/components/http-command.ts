// Commands through the HTTP gateway against the same commands over NATS, in one run on one
// cluster with the same window: the HTTP side is autocannon (closed loop, one keep-alive connection
// per lane, a fixed number of requests, each body the next rename of the same round-robin the NATS
// side uses), the NATS side the scheduler's closed loop of command requests. Both latencies go into
// the same kind of histogram (µs), from autocannon's per-response time and the request→reply time.
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { NatsConnection } from 'nats';
import {
  CimError,
  createApiKey,
  defineDomain,
  domainStream,
  EventStore,
  KeyRing,
  person,
  provision,
  sendCommand,
  startCommandService,
  startGateway,
  type CommandServiceHandle,
  type GatewayHandle,
} from '../../appliance/index.js';
import { latencyHistogram, summarizeLatency, type LatencySummary } from '../latency.js';
import { runSchedule, throughputFigure, type ThroughputFigure } from '../schedule.js';
import { BENCH_ACTOR, benchPersonId, registerBenchPeople } from './bench-people.js';

export type HttpCommandBenchmarkPhase = 'setup' | 'nats' | 'http';

export interface HttpCommandBenchmarkOptions {
  /** Commands of each side. */
  messages: number;
  /** People the commands rename. */
  aggregates: number;
  /** Lanes of the NATS loop and connections of autocannon. */
  inFlight: number;
  replicas: number;
  /** The bench domain (its stream is deleted before and after): must start with `bench`. */
  domain?: string;
  /** Where the command service runs; default the driver's own connection. */
  serviceConnection?: NatsConnection;
  /** Where the commands are sent from (the `loadgen` role); default the driver's own connection. */
  loadConnection?: NatsConnection;
  /** The gateway's connection; default the driver's own. */
  gatewayConnection?: NatsConnection;
  onProgress?: (phase: HttpCommandBenchmarkPhase, done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface HttpCommandSide extends ThroughputFigure {
  latency: LatencySummary;
}

export interface HttpCommandBenchmarkResult {
  domain: string;
  aggregates: number;
  connections: number;
  nats: HttpCommandSide;
  http: HttpCommandSide & { non2xx: number; errors: number; timeouts: number; tool: string };
  /** http ÷ nats: throughput (goal ≥ 0.7), and each latency percentile (above 1: HTTP slower). */
  ratio: { throughput: number; p50: number; p99: number; p999: number };
  /** Renames answered with success on either side, and the rename events the stream holds. */
  check: { commandsOk: number; renamesStored: number };
  interrupted: boolean;
}

const quotient = (a: number, b: number) => (b > 0 ? a / b : 0);

export async function runHttpCommandBenchmark(
  nc: NatsConnection,
  options: HttpCommandBenchmarkOptions,
): Promise<HttpCommandBenchmarkResult> {
  const name = options.domain ?? 'benchhttp';
  if (!name.startsWith('bench'))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `domain "${name}": the HTTP command benchmark deletes its stream, so it must start with "bench"`,
    );
  const domain = defineDomain({ ...person.definition, name, projections: [] });
  const { signal } = options;
  const lanes = Math.max(1, Math.min(options.inFlight, options.aggregates));
  const progress = (phase: HttpCommandBenchmarkPhase, total: number) => (done: number) =>
    options.onProgress?.(phase, done, total);
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(domainStream(name)).catch(() => false);
  await provision(nc, { domains: [name], replicas: options.replicas, duplicateWindowMs: 120_000 });
  const serviceNc = options.serviceConnection ?? nc;
  const loadNc = options.loadConnection ?? nc;
  let service: CommandServiceHandle | undefined;
  let gateway: GatewayHandle | undefined;
  try {
    service = await startCommandService(serviceNc, domain, { store: await EventStore.open(serviceNc) });
    const { token, entry } = await createApiKey('writer', BENCH_ACTOR.actor);
    gateway = await startGateway({
      nc: options.gatewayConnection ?? nc,
      listen: '127.0.0.1:0',
      domains: [domain],
      keys: new KeyRing([entry]),
    });

    await registerBenchPeople(loadNc, name, options.aggregates, lanes, progress('setup', options.aggregates), signal);

    // Both sides rename people round-robin, so the same commands go over each.
    let renamed = 0;
    const nextRename = () => {
      const n = renamed++;
      return { personId: benchPersonId(n % options.aggregates), name: `Renamed ${n}` };
    };

    const natsHistogram = latencyHistogram();
    const httpHistogram = latencyHistogram();
    try {
      let natsOk = 0;
      let natsFailed = 0;
      const every = Math.max(1, Math.floor(options.messages / 20));
      const natsRun = await runSchedule(
        { rate: 'max', concurrency: lanes, count: options.messages },
        async () => {
          const started = performance.now();
          try {
            await sendCommand(
              loadNc,
              name,
              'RenamePerson',
              { ...BENCH_ACTOR, payload: nextRename() },
              { timeoutMs: 30_000 },
            );
            natsHistogram.recordValue(Math.max(1, Math.round((performance.now() - started) * 1_000)));
            natsOk++;
          } catch {
            natsFailed++;
          }
          if ((natsOk + natsFailed) % every === 0) progress('nats', options.messages)(natsOk + natsFailed);
        },
        { signal },
      );
      const nats: HttpCommandSide = {
        ...throughputFigure({ ok: natsOk, failed: natsFailed, seconds: natsRun.seconds }),
        latency: summarizeLatency(natsHistogram),
      };

      const http = await autocannonSide(gateway.url, token, {
        connections: lanes,
        amount: options.messages,
        body: () => JSON.stringify(nextRename()),
        path: `/v1/commands/${name}/RenamePerson`,
        histogram: httpHistogram,
        onProgress: progress('http', options.messages),
        signal,
      });

      const info = await jsm.streams.info(domainStream(name), { subjects_filter: '>' });
      let renamesStored = 0;
      for (const [, count] of Object.entries(info.state.subjects ?? {})) renamesStored += count - 1;
      return {
        domain: name,
        aggregates: options.aggregates,
        connections: lanes,
        nats,
        http,
        ratio: {
          throughput: quotient(http.perSecond, nats.perSecond),
          p50: quotient(http.latency.p50Ms, nats.latency.p50Ms),
          p99: quotient(http.latency.p99Ms, nats.latency.p99Ms),
          p999: quotient(http.latency.p999Ms, nats.latency.p999Ms),
        },
        check: { commandsOk: nats.messages + http.messages, renamesStored },
        interrupted: signal?.aborted ?? false,
      };
    } finally {
      natsHistogram.destroy();
      httpHistogram.destroy();
    }
  } finally {
    await gateway?.stop();
    await service?.stop();
    await jsm.streams.delete(domainStream(name)).catch(() => false);
  }
}

interface AutocannonSide {
  connections: number;
  amount: number;
  path: string;
  body: () => string;
  histogram: ReturnType<typeof latencyHistogram>;
  onProgress: (done: number) => void;
  signal?: AbortSignal | undefined;
}

/** autocannon against the gateway: a closed loop of `connections` keep-alive connections, `amount` requests. */
async function autocannonSide(
  url: string,
  token: string,
  side: AutocannonSide,
): Promise<HttpCommandBenchmarkResult['http']> {
  let done = 0;
  const every = Math.max(1, Math.floor(side.amount / 20));
  // autocannon notices the last response only at its next sampling tick (once a second by default)
  // and reports that as its duration: the time here is from the start to the last response instead.
  const startedAt = performance.now();
  let lastResponseAt = startedAt;
  let instance: autocannon.Instance | undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url,
        connections: side.connections,
        pipelining: 1,
        amount: side.amount,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            path: side.path,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            setupRequest: (request) => ({ ...request, body: side.body() }),
          },
        ],
      },
      (error, result) => (error ? reject(toError(error)) : resolve(result)),
    );
  });
  instance!.on('response', (_client, statusCode, _bytes, responseTime) => {
    lastResponseAt = performance.now();
    if (statusCode >= 200 && statusCode < 300)
      side.histogram.recordValue(Math.max(1, Math.round(responseTime * 1_000)));
    if (++done % every === 0) side.onProgress(done);
  });
  const stop = () => instance!.stop();
  side.signal?.addEventListener('abort', stop, { once: true });
  try {
    const result = await finished;
    const ok = result['2xx'];
    const seconds = (lastResponseAt - startedAt) / 1_000;
    return {
      ...throughputFigure({ ok, failed: result.non2xx + result.errors, seconds }),
      latency: summarizeLatency(side.histogram),
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      tool: 'autocannon',
    };
  } finally {
    side.signal?.removeEventListener('abort', stop);
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
