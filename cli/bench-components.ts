// `cim bench --components`: the component benchmarks on one cluster (raw JetStream, event store,
// command service, the HTTP gateway against NATS, `nats bench` as the peer, client-side micro-benchmarks), each figure also a
// ratio to the peer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { NatsConnection } from 'nats';
import {
  attachedClusterStatus,
  ExitCode,
  installNatscli,
  loadOrCreateSigner,
  NATSCLI_VERSION,
  onShutdown,
  renderClusterStatus,
  toCimError,
  type NatsEndpoint,
  type Signer,
} from '../appliance/index.js';
import {
  renderAppendBenchmark,
  renderAuditBenchmark,
  renderCommandBenchmark,
  renderGrowthBenchmark,
  renderHttpCommandBenchmark,
  renderMicroBenchmarks,
  renderTracingBenchmark,
  runAppendBenchmark,
  runAuditBenchmark,
  runCommandBenchmark,
  runGrowthBenchmark,
  runHttpCommandBenchmark,
  runMicroBenchmarks,
  runNatsBench,
  runRawBaseline,
  runTracingBenchmark,
  type AppendBenchmarkResult,
  type AuditBenchmarkResult,
  type CommandBenchmarkResult,
  type GrowthBenchmarkResult,
  type HttpCommandBenchmarkResult,
  type MicroBenchmarkResult,
  type NatsBenchResult,
  type RawBaselineResult,
  type TracingBenchmarkResult,
} from '../bench/index.js';
import { withCluster, type OpenCluster } from './with-cluster.js';
import { configFrom, log, print } from './wiring.js';

export interface ComponentBenchOptions {
  messages: number;
  payloadBytes: number;
  subjects: number;
  inFlight: number;
  latencySeconds: number;
  latencyRate?: number;
  eventstore: boolean;
  commands: boolean;
  /** The HTTP gateway against NATS, same commands (autocannon). */
  http: boolean;
  peer: boolean;
  micro?: boolean;
  tracing?: boolean;
  /** Command throughput with the audit log on, and with it and field encryption on, vs both off. */
  audit?: boolean;
  /** One more command on aggregates with 10, 1,000 and 100,000 events (snapshots on and off), and a rebuild at N and 10·N. */
  growth?: boolean;
  json?: boolean;
  components?: boolean;
}

/**
 * `nats bench` on the same cluster, with natscli from the cache (built with Go when missing); a
 * reason instead when it cannot run, so the output says why the peer is absent.
 */
async function peerBenchmark(
  endpoint: NatsEndpoint,
  nc: NatsConnection,
  shape: { messages: number; payloadBytes: number; subjects: number; window: number; replicas: number },
): Promise<{ result?: NatsBenchResult; skipped?: string }> {
  let natscli: string;
  try {
    natscli = (await installNatscli(process.env, log)).path;
  } catch (error) {
    return { skipped: `natscli ${NATSCLI_VERSION} is not available: ${toCimError(error).message}` };
  }
  log(
    `nats bench: JetStream async publish, ${shape.messages} messages of ${shape.payloadBytes} B, window ${shape.window}, R${shape.replicas}`,
  );
  try {
    return {
      result: await runNatsBench({
        natscli,
        natscliVersion: NATSCLI_VERSION,
        servers: endpoint.servers,
        credsFile: endpoint.credsFile,
        nkeySeedFile: endpoint.nkeySeedFile,
        inboxPrefix: endpoint.inboxPrefix,
        nc,
        ...shape,
      }),
    };
  } catch (error) {
    // The peer is a reference, not the measurement: without it the run says why and goes on.
    return { skipped: toCimError(error).message };
  }
}

/** Each throughput the appliance measured, as a share of what `nats bench` published on the same cluster. */
function peerRatios(
  peer: NatsBenchResult | undefined,
  raw: RawBaselineResult,
  eventStore?: AppendBenchmarkResult,
  commands?: CommandBenchmarkResult,
): Record<string, number> {
  if (!peer) return {};
  const ratios: Record<string, number> = { rawPublish: raw.publish.perSecond / peer.perSecond };
  if (eventStore) {
    ratios.rawWithContract = eventStore.throughput.rawWithContract.perSecond / peer.perSecond;
    ratios.append = eventStore.throughput.append.perSecond / peer.perSecond;
  }
  if (commands) ratios.command = commands.throughput.command.perSecond / peer.perSecond;
  return ratios;
}

function renderPeer(peer: { result?: NatsBenchResult; skipped?: string }, ratios: Record<string, number>): string {
  if (!peer.result) return `nats bench (the peer): skipped — ${peer.skipped}`;
  const r = peer.result;
  const names: Record<string, string> = {
    rawPublish: 'raw publish (Node)',
    rawWithContract: 'raw + contract headers',
    append: 'event store append',
    command: 'command',
  };
  return [
    `nats bench (${r.tool}, Go client) JetStream async publish: ${Math.round(r.perSecond)} msgs/s (${r.messages} in ${r.seconds.toFixed(2)} s; p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms)`,
    `  ${r.command}`,
    ...Object.entries(ratios).map(
      ([key, value]) => `  ${(names[key] ?? key).padEnd(24)} ${value.toFixed(2)}× nats bench`,
    ),
  ].join('\n');
}

export async function componentBench(options: ComponentBenchOptions, command: Command): Promise<void> {
  const config = configFrom(command);
  const signer = options.eventstore ? loadOrCreateSigner(config.stateDir) : undefined;
  await withCluster(config, async (target) => {
    const abort = new AbortController();
    const unregister = onShutdown(() => abort.abort());
    try {
      await benchComponents(options, target, abort.signal, signer);
    } finally {
      unregister();
    }
  });
}

/** The measurements on an open cluster, their text or JSON, and exit 1 when a check found a loss. */
async function benchComponents(
  options: ComponentBenchOptions,
  target: OpenCluster,
  signal: AbortSignal,
  signer: Signer | undefined,
): Promise<void> {
  // The driver: raw baselines, stream provisioning and clean-up need `operator`.
  const nc = await target.connect('operator', 'cim-bench');
  const replicas = Math.min(3, target.nodeCount);
  let eventStore: AppendBenchmarkResult | undefined;
  let commands: CommandBenchmarkResult | undefined;
  let httpCommands: HttpCommandBenchmarkResult | undefined;
  let micro: MicroBenchmarkResult[] | undefined;
  let tracing: TracingBenchmarkResult | undefined;
  let audit: AuditBenchmarkResult | undefined;
  let growth: GrowthBenchmarkResult | undefined;
  let peer: { result?: NatsBenchResult; skipped?: string } | undefined;
  const raw = await runRawBaseline(nc, {
    stream: 'CIM_BENCH_RAW',
    subjectPrefix: 'cim.bench.raw',
    messages: options.messages,
    payloadBytes: options.payloadBytes,
    subjects: options.subjects,
    inFlight: options.inFlight,
    replicas,
    signal,
    onProgress: (phase, done, total) => log(`raw ${phase}: ${done}/${total}`),
  });
  if (options.peer && !signal.aborted) {
    peer = await peerBenchmark(target.endpointFor('operator'), nc, {
      messages: options.messages,
      payloadBytes: options.payloadBytes,
      subjects: options.subjects,
      window: options.inFlight,
      replicas,
    });
  }
  if (signer && !signal.aborted) {
    eventStore = await runAppendBenchmark(nc, {
      // Seals of a run stay in CIM_SEALS (it refuses deletes), so each run has its own domain.
      domain: `bench${Date.now().toString(36)}`,
      messages: options.messages,
      payloadBytes: options.payloadBytes,
      aggregates: options.subjects,
      inFlight: options.inFlight,
      replicas,
      latencySeconds: options.latencySeconds,
      ...(options.latencyRate ? { latencyRate: options.latencyRate } : {}),
      verifyWith: signer,
      signal,
      onProgress: (phase, done, total) => log(`event store ${phase}: ${done}/${total}`),
    });
  }
  if (options.commands && !signal.aborted) {
    // The service gets a connection of its own, as a separate appliance instance would have.
    const serviceNc = await target.connect('service', 'cim-bench-service');
    const loadNc = await target.connect('loadgen', 'cim-bench-load');
    try {
      commands = await runCommandBenchmark(nc, {
        loadConnection: loadNc,
        messages: options.messages,
        aggregates: options.subjects,
        inFlight: options.inFlight,
        replicas,
        serviceConnection: serviceNc,
        latencySeconds: options.latencySeconds,
        signal,
        onProgress: (phase, done, total) => log(`commands ${phase}: ${done}/${total}`),
      });
    } finally {
      await loadNc.close();
      await serviceNc.close();
    }
  }
  if (options.http && !signal.aborted) {
    // The service and the gateway each get a connection of their own, as in a deployed appliance.
    const serviceNc = await target.connect('service', 'cim-bench-service');
    const gatewayNc = await target.connect('gateway', 'cim-bench-gateway');
    const loadNc = await target.connect('loadgen', 'cim-bench-load');
    try {
      httpCommands = await runHttpCommandBenchmark(nc, {
        loadConnection: loadNc,
        messages: options.messages,
        aggregates: options.subjects,
        inFlight: options.inFlight,
        replicas,
        serviceConnection: serviceNc,
        gatewayConnection: gatewayNc,
        signal,
        onProgress: (phase, done, total) => log(`http vs nats ${phase}: ${done}/${total}`),
      });
    } finally {
      await loadNc.close();
      await gatewayNc.close();
      await serviceNc.close();
    }
  }
  if (options.tracing && !signal.aborted) {
    const serviceNc = await target.connect('service', 'cim-bench-service');
    const loadNc = await target.connect('loadgen', 'cim-bench-load');
    try {
      tracing = await runTracingBenchmark(nc, {
        loadConnection: loadNc,
        messages: options.messages,
        aggregates: options.subjects,
        inFlight: options.inFlight,
        replicas,
        serviceConnection: serviceNc,
        signal,
        onProgress: (phase, done, total) => log(`tracing ${phase}: ${done}/${total}`),
      });
    } finally {
      await loadNc.close();
      await serviceNc.close();
    }
  }
  if (options.audit && !signal.aborted) {
    const serviceNc = await target.connect('service', 'cim-bench-service');
    const keyStoreDir = mkdtempSync(join(tmpdir(), 'cim-bench-keys-'));
    try {
      audit = await runAuditBenchmark(nc, {
        keyStoreDir,
        messages: options.messages,
        aggregates: options.subjects,
        inFlight: options.inFlight,
        replicas,
        serviceConnection: serviceNc,
        signal,
        onProgress: (phase, done, total) => log(`audit ${phase}: ${done}/${total}`),
      });
    } finally {
      await serviceNc.close();
      rmSync(keyStoreDir, { recursive: true, force: true });
    }
  }
  if (options.growth && !signal.aborted) {
    growth = await runGrowthBenchmark(nc, {
      // Seals and snapshots of a run stay behind it, so each run has its own domains.
      domain: `bench${Date.now().toString(36)}`,
      rebuildEvents: options.messages,
      aggregates: options.subjects,
      replicas,
      signal,
      onProgress: (phase, done, total) => log(`growth ${phase}: ${done}/${total}`),
    });
  }
  // The NATS phases are over: the micro-benchmarks run without a connection.
  await nc.close();
  if (options.micro && !signal.aborted) {
    micro = await runMicroBenchmarks({
      payloadBytes: options.payloadBytes,
      signal,
      onProgress: (name) => log(`micro-benchmark: ${name}`),
    });
  }
  const status = target.embedded
    ? await target.embedded.status()
    : await attachedClusterStatus(target.endpointFor('auditor'));
  if (options.json) {
    print(
      JSON.stringify(
        {
          cluster: status,
          rawBaseline: raw,
          peer: peer ? { ...peer, ratios: peerRatios(peer.result, raw, eventStore, commands) } : undefined,
          eventStore,
          commands,
          httpCommands,
          tracing,
          audit,
          growth,
          micro,
        },
        null,
        2,
      ),
    );
  } else {
    print(renderClusterStatus(status));
    print(
      `\nraw JetStream baseline (R${raw.replicas}, ${raw.payloadBytes}-byte payloads, ${raw.subjects} subjects, ${raw.inFlight} in flight)\n` +
        `  publish: ${raw.publish.messages} acked in ${raw.publish.seconds.toFixed(2)} s = ${Math.round(raw.publish.perSecond)} msgs/s\n` +
        `  read:    ${raw.read.messages} read back in ${raw.read.seconds.toFixed(2)} s = ${Math.round(raw.read.perSecond)} msgs/s (ordered consumer)\n` +
        `  check:   lost ${raw.lost}, corrupted ${raw.corrupted}${raw.interrupted ? ' (interrupted: partial figures)' : ''}`,
    );
    if (eventStore) print('\n' + renderAppendBenchmark(eventStore));
    if (commands) print('\n' + renderCommandBenchmark(commands));
    if (httpCommands) print('\n' + renderHttpCommandBenchmark(httpCommands));
    if (tracing) print('\n' + renderTracingBenchmark(tracing));
    if (audit) print('\n' + renderAuditBenchmark(audit));
    if (growth) print('\n' + renderGrowthBenchmark(growth));
    if (peer) print('\n' + renderPeer(peer, peerRatios(peer.result, raw, eventStore, commands)));
    if (micro) print('\n' + renderMicroBenchmarks(micro));
  }
  const storeFailed =
    eventStore !== undefined &&
    (eventStore.check.rawLost > 0 ||
      eventStore.check.contractLost > 0 ||
      eventStore.check.appendLost > 0 ||
      (eventStore.verify?.findings ?? 0) > 0);
  const commandsFailed =
    commands !== undefined &&
    (commands.check.commandsFailed > 0 || commands.check.renamesStored !== commands.check.commandsOk);
  const tracingFailed =
    (tracing !== undefined && tracing.off.failed + tracing.on.failed > 0) ||
    (audit !== undefined &&
      [audit.configured, audit.capacity].some((f) => f.off.failed + f.on.failed + f.both.failed > 0));
  const httpFailed =
    httpCommands !== undefined &&
    !httpCommands.interrupted &&
    (httpCommands.nats.failed > 0 ||
      httpCommands.http.failed > 0 ||
      httpCommands.check.renamesStored !== httpCommands.check.commandsOk);
  if (raw.lost > 0 || raw.corrupted > 0 || storeFailed || commandsFailed || httpFailed || tracingFailed)
    process.exitCode = ExitCode.checkFailed;
}
