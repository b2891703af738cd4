// Runs one scenario end to end: a cluster of its shape (embedded, or the one attached), the raw
// JetStream baseline on it, the appliance's services, the phases on schedule (load, fault,
// replay; overlapping where they say `at`), then the checker: heal the cluster, seal and verify
// the streams, read back everything the run wrote and hold it against what was acknowledged.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import {
  AuditWriter,
  CimError,
  connectNats,
  natsUsersDir,
  NatsUsers,
  roleEndpoint,
  createApiKey,
  domainStream,
  EmbeddedCluster,
  findProjection,
  loadOrCreateSigner,
  KeyRing,
  AUDIT_STREAM,
  readReplicas,
  SEALS_STREAM,
  referenceDomains,
  Sealer,
  servedDomains,
  sleep,
  startAppliance,
  startGateway,
  toCimError,
  verifyDomain,
  type ApplianceConfig,
  type ApplianceHandle,
  type GatewayHandle,
  type NatsEndpoint,
  type NatsRole,
  type ReplicaComparison,
  type StartOptions,
  type Verifier,
} from '../appliance/index.js';
import {
  checkHistory,
  CommandMix,
  commandIssuer,
  gatewayClient,
  httpIssuer,
  MixWorld,
  PhaseRecorder,
  rawIssuer,
  readBackCopy,
  readBackDomain,
  readBackRaw,
  runRawBaseline,
  runReplayBenchmark,
  runSchedule,
  sampleServerStats,
  scenarioClock,
  seededRandom,
  type GatewayClient,
  type OperationRecord,
  type Random,
  type ReadItem,
} from '../bench/index.js';
import { scenarioVerdict } from '../reports/index.js';
import { runFault, startFailureCause } from './faults.js';
import { evaluate, scenarioMetrics } from './metrics.js';
import { measureRecovery } from './recovery.js';
import type {
  ClusterDescription,
  FaultPhaseResult,
  LoadPhaseResult,
  PhaseResult,
  ReplayPhaseResult,
  ScenarioResult,
} from './results.js';
import type { FaultPhase, LoadPhase, Phase, ReplayPhase, Scenario } from './types.js';

export interface RunOptions {
  /** The appliance config: state dir, `nats.urls` (attach), cluster host and start timeout. */
  config: ApplianceConfig;
  /** With `cim bench --repeat`: which repetition of the scenario this run is (from 1). */
  repetition?: number;
  /** Where this run's per-scenario data goes (cluster data, read models, keys). */
  runDir: string;
  /** Messages of the raw baseline (publish, then read back). */
  baselineMessages: number;
  log?: (line: string) => void;
  /** Called about once a second while phases run. */
  onProgress?: (progress: ScenarioProgress) => void;
  signal?: AbortSignal;
  /** Keep each scenario's cluster data and read models after the run (default: removed). */
  keepData?: boolean;
  /**
   * Public keys whose seals verification accepts besides the run's own: on an attached cluster,
   * the appliances already serving it seal the same streams with their key.
   */
  trusted?: readonly Verifier[];
  /**
   * Called once the phases have ended, the cluster is healed and the services are stopped, right
   * before the checker seals, verifies and reads back: whatever happens to the streams here is
   * what the checker must judge (a test deletes or damages acknowledged events to prove it notices).
   */
  beforeCheck?: (context: BeforeCheckContext) => Promise<void>;
  /** How a scenario with partitions gets its namespaces (tests inject the host's uid); default: this host. */
  networkNamespaces?: StartOptions['networkNamespaces'];
}

/** What a run hands its `beforeCheck` hook. */
export interface BeforeCheckContext {
  nc: NatsConnection;
  /** The embedded cluster the scenario ran on; undefined on an attached cluster. */
  cluster: EmbeddedCluster | undefined;
  /** Every operation the drivers recorded, with what each acknowledgement promised. */
  operations: readonly OperationRecord[];
  /** The domains whose streams the checker reads back. */
  domains: readonly string[];
}

export interface ScenarioProgress {
  scenario: string;
  /** Phases running now. */
  phases: string[];
  elapsedMs: number;
  /** Acknowledged operations in the last whole second, over the running load phases. */
  opsPerSec: number;
  p99Ms: number;
  /** Failed or unanswered operations so far. */
  errors: number;
}

/** The baseline's shape: the size of a typical reference event, the window of the event store benchmarks. */
const BASELINE = { payloadBytes: 320, subjects: 1_000, inFlight: 256 };
const RAW_STREAM = 'CIM_BENCH_SCENARIO_RAW';
const RAW_PREFIX = 'cim.bench.scenario.raw';

interface Running {
  scenario: Scenario;
  options: RunOptions;
  log: (line: string) => void;
  clock: () => number;
  random: Random;
  runTag: string;
  actor: string;
  endpointFor: (role: NatsRole) => NatsEndpoint;
  cluster: EmbeddedCluster | undefined;
  /** `operator`: the raw baseline and raw stream, provisioning and clean-up. */
  nc: NatsConnection;
  /** `loadgen`: the command drivers. */
  loadNc: NatsConnection;
  /** `gateway`: the HTTP driver's gateway. */
  gatewayNc: NatsConnection;
  /** `service`: the checker's sealer. */
  serviceNc: NatsConnection;
  /** `auditor`: verification, read-back and replays. */
  auditNc: NatsConnection;
  scenarioDir: string;
  appliance: ApplianceHandle | undefined;
  /** The HTTP gateway of the `http` driver, with its API key; only when a phase uses that driver. */
  gateway: { handle: GatewayHandle; token: string } | undefined;
  world: MixWorld;
  recorders: PhaseRecorder[];
  rawBaselinePerSecond: number;
  operationCounter: number;
  usedRawStream: boolean;
  /** Names of the phases running now, for the progress display. */
  active: Set<string>;
}

export async function runScenario(scenario: Scenario, options: RunOptions): Promise<ScenarioResult> {
  const log = options.log ?? (() => {});
  const startedAt = new Date();
  // Phase times (`at`, fault markers, per-second samples) count from when the phases start.
  let clock = scenarioClock();
  const result: ScenarioResult = {
    scenario: scenario.name,
    description: scenario.description,
    seed: scenario.seed,
    ...(scenario.file ? { file: scenario.file } : {}),
    ...(options.repetition !== undefined ? { repetition: options.repetition } : {}),
    status: 'passed',
    startedAt: startedAt.toISOString(),
    seconds: 0,
    cluster: {
      mode: 'embedded',
      ...scenario.cluster,
      servers: [],
      syncIntervalInEffect: scenario.cluster.syncInterval ?? 'server default',
    },
    phases: [],
    metrics: {},
    checks: [],
    serverStats: [],
  };
  // Repetitions of one scenario share its name, not its directory.
  const scenarioDir = join(
    options.runDir,
    options.repetition === undefined ? scenario.name : `${scenario.name}~${options.repetition}`,
  );
  mkdirSync(scenarioDir, { recursive: true });
  let opened: Awaited<ReturnType<typeof openScenarioCluster>>;
  try {
    opened = await openScenarioCluster(scenario, options, scenarioDir, log);
  } catch (error) {
    const cim = annotate(error, `scenario ${scenario.name}: the cluster did not start`);
    // A cluster that did not come up is this scenario's error, not the run's: the other scenarios
    // (and the other versions of a matrix, the other seeds of a durability run) still run and keep
    // their results. What no scenario could get past (bad input, no root, no server binary) ends the run.
    if (!SCENARIO_START_FAILURES.has(cim.code)) throw cim;
    if (!options.keepData) rmSync(scenarioDir, { recursive: true, force: true });
    result.status = 'error';
    result.errorCode = cim.code;
    result.reason = `${cim.code}: ${cim.message.split('\n')[0]}`;
    log(`${scenario.name}: ${result.reason}`);
    result.metrics = scenarioMetrics(result);
    result.seconds = (Date.now() - startedAt.getTime()) / 1_000;
    return result;
  }
  result.cluster = { ...result.cluster, ...opened.description };
  const nodeFault = scenario.phases.find((p) => p.type === 'fault' && p.action !== 'restart-appliance');
  if (!opened.cluster && nodeFault) {
    // Killing the nodes of a cluster the appliance was only given access to is not its call.
    result.status = 'skipped';
    result.reason = `phase ${nodeFault.name} acts on cluster nodes, which needs the embedded cluster (run without --nats)`;
    await opened.release();
    return result;
  }
  const runTag = `r${randomBytes(3).toString('hex')}`;
  let nc: NatsConnection | undefined;
  const others: NatsConnection[] = [];
  let run: Running | undefined;
  let sampler: ReturnType<typeof sampleServerStats> | undefined;
  /** Set once the phases ran cleanly after a fault fired: what fails from here on is the system's reading back. */
  let checkingAfterFault = false;
  try {
    nc = await connectNats(opened.endpointFor('operator'), { name: `cim-bench-${scenario.name}` });
    const as = async (role: NatsRole) => {
      const c = await connectNats(opened.endpointFor(role), { name: `cim-bench-${scenario.name}-${role}` });
      others.push(c);
      return c;
    };
    const [loadNc, gatewayNc, serviceNc, auditNc] = [
      await as('loadgen'),
      await as('gateway'),
      await as('service'),
      await as('auditor'),
    ];
    result.cluster.servers = await serverVersions(opened.cluster, opened.servers);
    if (opened.cluster) result.cluster.serverBuild = opened.cluster.server;
    run = {
      scenario,
      options,
      log,
      clock: () => clock(),
      random: seededRandom(scenario.seed),
      runTag,
      actor: `cim-bench:${runTag}`,
      endpointFor: opened.endpointFor,
      cluster: opened.cluster,
      nc,
      loadNc,
      gatewayNc,
      serviceNc,
      auditNc,
      scenarioDir,
      appliance: undefined,
      gateway: undefined,
      world: new MixWorld(),
      recorders: [],
      rawBaselinePerSecond: 0,
      operationCounter: 0,
      usedRawStream: false,
      active: new Set(),
    };

    log(
      `${scenario.name}: raw JetStream baseline (${options.baselineMessages} messages of ${BASELINE.payloadBytes} B, ${BASELINE.inFlight} in flight, R${scenario.cluster.replicas})`,
    );
    result.baseline = await runRawBaseline(nc, {
      stream: 'CIM_BENCH_SCENARIO_BASELINE',
      subjectPrefix: 'cim.bench.scenario.baseline',
      messages: options.baselineMessages,
      ...BASELINE,
      replicas: scenario.cluster.replicas,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    run.rawBaselinePerSecond = result.baseline.publish.perSecond;

    run.appliance = await startScenarioAppliance(run);
    if (scenario.phases.some((p) => p.type === 'load' && p.driver === 'http'))
      run.gateway = await startScenarioGateway(run);
    clock = scenarioClock();
    if (opened.cluster)
      sampler = sampleServerStats(
        opened.cluster.nodeNames.map((name) => ({ name, monitor: opened.cluster!.monitor(name) })),
        run.clock,
      );
    result.phases = await runPhases(run);
    // Recovery is read off the delivered rate until the load ended, so it is measured once all load has.
    for (const phase of result.phases) {
      if (phase.type === 'fault' && phase.fault)
        Object.assign(phase, recoveryOf(run, result.phases, phase.fault.firedAtMs));
    }
    if (options.signal?.aborted) result.status = 'interrupted';
    const phaseError = result.phases.find((p) => p.error);
    if (phaseError) {
      result.status = 'error';
      result.errorCode = phaseError.error!.code;
      result.reason = `phase ${phaseError.name}: ${phaseError.error!.code}: ${phaseError.error!.message}`;
    }

    // The checker: heal, stop the services, seal and verify, read back, compare.
    checkingAfterFault = !phaseError && result.phases.some((p) => p.type === 'fault' && p.fault);
    await heal(run, result.phases);
    await run.gateway?.handle.stop();
    run.gateway = undefined;
    await run.appliance?.stop();
    run.appliance = undefined;
    const domains = touchedDomains(scenario);
    await options.beforeCheck?.({
      nc,
      cluster: run.cluster,
      operations: run.recorders.flatMap((r) => r.operations),
      domains,
    });
    result.verification = await sealAndVerify(run, domains);
    const read: ReadItem[] = [];
    const streams: NonNullable<ScenarioResult['checker']>['streams'] = [];
    const described = (
      stream: string,
      back: { items: unknown[]; scanned: number; undecodable: number; bytes: number },
    ) =>
      streams.push({
        stream,
        scanned: back.scanned,
        undecodable: back.undecodable,
        meanBytes: back.items.length > 0 ? Math.round(back.bytes / back.items.length) : 0,
      });
    for (const domain of domains) {
      const back = await readBackDomain(auditNc, domain, run.actor);
      read.push(...back.items);
      described(domainStream(domain), back);
    }
    if (run.usedRawStream) {
      const back = await readBackRaw(auditNc, RAW_STREAM);
      read.push(...back.items);
      described(RAW_STREAM, back);
    }
    const operations = run.recorders.flatMap((r) => r.operations);
    result.checker = { ...checkHistory(operations, read), streams };
    if (!options.signal?.aborted) {
      const compared = await compareScenarioReplicas(run, domains, operations, read);
      result.replicas = compared.replicas;
      if (compared.perReplica) result.checker.perReplica = compared.perReplica;
    }
    if (run.usedRawStream) await (await nc.jetstreamManager()).streams.delete(RAW_STREAM).catch(() => false);
  } catch (error) {
    const cim = toCimError(error);
    if (checkingAfterFault && !options.signal?.aborted && cim.code === 'CIM-UNAVAILABLE') {
      // The run worked; after the fault the system under test would not give its data back (a
      // stream that says it holds events no consumer delivers, JetStream unavailable): a finding.
      result.unserved = { code: cim.code, reason: `${cim.code}: ${cim.message.split('\n')[0]}` };
      log(`${scenario.name}: after the fault, the system did not serve its data: ${result.unserved.reason}`);
    } else {
      result.status = options.signal?.aborted ? 'interrupted' : 'error';
      result.errorCode = cim.code;
      result.reason = `${cim.code}: ${cim.message}`;
      log(`${scenario.name}: ${result.reason}`);
    }
  } finally {
    result.serverStats = (await sampler?.stop()) ?? [];
    await run?.gateway?.handle.stop().catch(() => {});
    await run?.appliance?.stop().catch(() => {});
    for (const recorder of run?.recorders ?? []) recorder.destroy();
    for (const c of others) await c.close().catch(() => {});
    await nc?.close().catch(() => {});
    await opened.release();
    if (!options.keepData) rmSync(scenarioDir, { recursive: true, force: true });
  }

  result.metrics = scenarioMetrics(result);
  for (const phase of scenario.phases) {
    if (phase.type === 'check') result.checks.push(...phase.expect.map((a) => evaluate(a, result.metrics)));
  }
  // The one verdict model decides (reports/verdict.ts): failed checks, then findings, over what was recorded.
  const verdict = scenarioVerdict(result);
  result.status = verdict.status;
  if (verdict.findings.length > 0) result.findings = verdict.findings;
  result.seconds = (Date.now() - startedAt.getTime()) / 1_000;
  return result;
}

interface OpenedCluster {
  servers: string[];
  endpointFor: (role: NatsRole) => NatsEndpoint;
  cluster: EmbeddedCluster | undefined;
  description: Pick<ClusterDescription, 'mode' | 'nodes'>;
  release(): Promise<void>;
}

/**
 * The cluster a scenario runs on (docs/architecture.md#configuration): `--nats` attaches; else the cluster `cim cluster
 * up` left running; else a fresh embedded cluster of the scenario's shape, stopped afterwards —
 * fresh, because faults such as corruption leave a cluster that later scenarios must not inherit.
 */
async function openScenarioCluster(
  scenario: Scenario,
  options: RunOptions,
  scenarioDir: string,
  log: (line: string) => void,
): Promise<OpenedCluster> {
  const { config } = options;
  if (config.nats.urls.length > 0) {
    const auth = config.nats.credsFile
      ? { credsFile: config.nats.credsFile }
      : { users: NatsUsers.find(natsUsersDir(config)) };
    return {
      servers: config.nats.urls,
      endpointFor: (role) => roleEndpoint(config.nats.urls, role, auth),
      cluster: undefined,
      description: { mode: 'attached', nodes: config.nats.urls.length },
      release: async () => {},
    };
  }
  // Partitions need nodes in network namespaces, which a cluster of `cim cluster up` does not have.
  const partitions = scenario.phases.some((p) => p.type === 'fault' && p.action === 'partition');
  const running = partitions ? undefined : EmbeddedCluster.findRunning(config.stateDir, log);
  if (running) {
    return {
      servers: running.clientUrls,
      endpointFor: (role) => running.endpointFor(role),
      cluster: running,
      description: { mode: 'embedded-running', nodes: running.nodeNames.length },
      release: async () => {},
    };
  }
  const own = await EmbeddedCluster.start(
    {
      ...config,
      stateDir: scenarioDir,
      cluster: { ...config.cluster, nodes: scenario.cluster.nodes, syncInterval: scenario.cluster.syncInterval },
    },
    { persistent: false, log, ...(partitions ? { networkNamespaces: options.networkNamespaces ?? true } : {}) },
  );
  return {
    servers: own.clientUrls,
    endpointFor: (role) => own.endpointFor(role),
    cluster: own,
    description: { mode: 'embedded', nodes: scenario.cluster.nodes },
    release: () => own.stop(),
  };
}

async function serverVersions(
  cluster: EmbeddedCluster | undefined,
  servers: string[],
): Promise<{ name: string; version?: string }[]> {
  if (cluster) {
    return Promise.all(
      cluster.nodeNames.map(async (name) => {
        const varz = await cluster
          .monitor(name)
          .varz()
          .catch(() => undefined);
        return varz ? { name, version: varz.version } : { name };
      }),
    );
  }
  return servers.map((name) => ({ name }));
}

async function startScenarioAppliance(run: Running): Promise<ApplianceHandle> {
  return startAppliance({
    endpointFor: run.endpointFor,
    stateDir: run.scenarioDir,
    replicas: run.scenario.cluster.replicas,
    plugins: run.options.config.domains.plugins,
    // One key for every scenario of a run (the state dir's, which also signs its report): on an
    // attached cluster a scenario's streams hold the seals of the scenarios before it.
    signer: loadOrCreateSigner(run.options.config.stateDir),
    log: (line) => run.log(`appliance: ${line}`),
  });
}

/**
 * The gateway the `http` driver sends through: on the run's own connection (so it outlives an
 * appliance restart, as a gateway in front of restarting services does), on a free loopback port,
 * in front of the domains the appliance serves, with one in-memory `writer` key for the run's actor.
 */
async function startScenarioGateway(run: Running): Promise<{ handle: GatewayHandle; token: string }> {
  const { token, entry } = await createApiKey('writer', run.actor);
  const handle = await startGateway({
    nc: run.gatewayNc,
    // Its own denials and the requests no service answered are audited, as `cim serve --http`'s are.
    audit: await AuditWriter.open(run.gatewayNc, { name: 'gateway' }),
    listen: '127.0.0.1:0',
    domains: await servedDomains(run.options.config.domains.plugins),
    keys: new KeyRing([entry]),
  });
  run.log(`${run.scenario.name}: HTTP gateway on ${handle.url}`);
  return { handle, token };
}

/** Starts each phase when it is due: at its `at`, or when every earlier phase has ended. */
async function runPhases(run: Running): Promise<PhaseResult[]> {
  const started: Promise<PhaseResult>[] = [];
  const ticker = startProgress(run);
  try {
    for (const phase of run.scenario.phases) {
      if (run.options.signal?.aborted) break;
      if (phase.at === undefined) await Promise.all(started);
      started.push(
        (async () => {
          if (phase.at !== undefined) await sleepUntil(run.clock, phase.at, run.options.signal);
          return runPhase(run, phase);
        })(),
      );
    }
    return await Promise.all(started);
  } finally {
    clearInterval(ticker);
  }
}

async function runPhase(run: Running, phase: Phase): Promise<PhaseResult> {
  const startedAtMs = run.clock();
  const base = { name: phase.name, startedAtMs, endedAtMs: startedAtMs };
  run.active.add(phase.name);
  try {
    switch (phase.type) {
      case 'load':
        return await runLoad(run, phase, base);
      case 'fault':
        return await runFaultPhase(run, phase, base);
      case 'replay':
        return await runReplay(run, phase, base);
      case 'check':
        return { ...base, type: 'check' };
    }
  } catch (error) {
    const cim = toCimError(error);
    run.log(`${run.scenario.name}: phase ${phase.name}: ${cim.code}: ${cim.message}`);
    const failed = { ...base, endedAtMs: run.clock(), error: { code: cim.code, message: cim.message } };
    switch (phase.type) {
      case 'load':
        return {
          ...failed,
          type: 'load',
          driver: phase.driver,
          ...mixOf(phase),
          rate: phase.rate,
          concurrency: phase.concurrency,
          ok: 0,
          failed: 0,
          unknown: 0,
          opsPerSec: 0,
          ratioToRaw: 0,
          latency: emptyLatency(),
          perSecond: [],
          errorsByCode: {},
        };
      case 'replay':
        return { ...failed, type: 'replay', projection: phase.projection };
      default:
        return { ...failed, type: phase.type };
    }
  } finally {
    run.active.delete(phase.name);
  }
}

async function runLoad(
  run: Running,
  phase: LoadPhase,
  base: { name: string; startedAtMs: number },
): Promise<LoadPhaseResult> {
  const recorder = new PhaseRecorder(phase.name);
  run.recorders.push(recorder);
  let issue;
  let client: GatewayClient | undefined;
  if (phase.driver === 'http') {
    if (!run.gateway) throw new CimError('CIM-INTERNAL', 'driver http without a gateway');
    client = gatewayClient({ url: run.gateway.handle.url, token: run.gateway.token, connections: phase.concurrency });
    issue = httpIssuer({
      client,
      mix: new CommandMix(phase.mix, run.random, run.runTag, phase.aggregates, run.world),
      recorder,
      clock: run.clock,
      correlationId: run.runTag,
      commandId: () => `${run.runTag}-c-${run.operationCounter++}`,
    });
  } else if (phase.driver === 'raw') {
    await ensureRawStream(run);
    issue = rawIssuer({
      js: run.nc.jetstream(),
      stream: RAW_STREAM,
      subjectPrefix: RAW_PREFIX,
      subjects: phase.aggregates,
      payloadBytes: phase.payloadBytes ?? 256,
      recorder,
      clock: run.clock,
      messageId: () => `${run.runTag}-m-${run.operationCounter++}`,
    });
  } else {
    const mix = new CommandMix(phase.mix, run.random, run.runTag, phase.aggregates, run.world);
    issue = commandIssuer({
      nc: run.loadNc,
      mix,
      recorder,
      clock: run.clock,
      actor: run.actor,
      correlationId: run.runTag,
      commandId: () => `${run.runTag}-c-${run.operationCounter++}`,
    });
  }
  try {
    await runSchedule(
      { rate: phase.rate, concurrency: phase.concurrency, durationMs: phase.duration, count: phase.count },
      issue,
      { clock: run.clock, signal: run.options.signal },
    );
  } finally {
    client?.close();
  }
  const endedAtMs = run.clock();
  const seconds = (endedAtMs - base.startedAtMs) / 1_000;
  const opsPerSec = seconds > 0 ? recorder.ok / seconds : 0;
  return {
    ...base,
    endedAtMs,
    type: 'load',
    driver: phase.driver,
    ...mixOf(phase),
    rate: phase.rate,
    concurrency: phase.concurrency,
    ok: recorder.ok,
    failed: recorder.failed,
    unknown: recorder.unknown,
    opsPerSec,
    ratioToRaw: run.rawBaselinePerSecond > 0 ? opsPerSec / run.rawBaselinePerSecond : 0,
    latency: recorder.latency(),
    perSecond: recorder.seconds(),
    errorsByCode: recorder.errorsByCode(),
  };
}

async function ensureRawStream(run: Running): Promise<void> {
  if (run.usedRawStream) return;
  const jsm = await run.nc.jetstreamManager();
  await jsm.streams.delete(RAW_STREAM).catch(() => false);
  await jsm.streams.add({
    name: RAW_STREAM,
    subjects: [`${RAW_PREFIX}.>`],
    num_replicas: run.scenario.cluster.replicas,
  });
  run.usedRawStream = true;
}

async function runFaultPhase(
  run: Running,
  phase: FaultPhase,
  base: { name: string; startedAtMs: number },
): Promise<FaultPhaseResult> {
  const fault = await runFault(phase, {
    cluster: run.cluster,
    clock: run.clock,
    random: run.random,
    signal: run.options.signal,
    log: run.log,
    restartAppliance: async () => {
      await run.appliance?.stop();
      run.appliance = await startScenarioAppliance(run);
    },
  });
  return { ...base, endedAtMs: run.clock(), type: 'fault', fault };
}

/**
 * Recovery (scenarios/recovery.ts) from the acknowledgements of the load phases running when the
 * fault fired, against their offered rate; nothing when no load ran then.
 */
function recoveryOf(
  run: Running,
  phases: readonly PhaseResult[],
  firedAtMs: number,
): Pick<FaultPhaseResult, 'recoveryMs' | 'recovered' | 'recoveryReference' | 'dip' | 'recoveryNote' | 'stallMs'> {
  const loads = phases.filter(
    (p): p is LoadPhaseResult => p.type === 'load' && !p.error && p.startedAtMs <= firedAtMs && p.endedAtMs > firedAtMs,
  );
  if (loads.length === 0) return {};
  const names = new Set(loads.map((p) => p.name));
  const acks = run.recorders
    .filter((r) => names.has(r.phase))
    .flatMap((r) => r.operations.filter((o) => o.outcome === 'ok').map((o) => o.endMs));
  const fixed = loads.every((p) => p.rate !== 'max');
  const r = measureRecovery({
    firedAtMs,
    acks,
    offeredPerSec: fixed ? loads.reduce((n, p) => n + (p.rate as number), 0) : undefined,
    loadStartMs: Math.min(...loads.map((p) => p.startedAtMs)),
    loadEndMs: Math.max(...loads.map((p) => p.endedAtMs)),
  });
  return {
    recovered: r.recovered,
    dip: r.dip,
    stallMs: r.stallMs,
    ...(r.recoveryMs !== undefined ? { recoveryMs: r.recoveryMs } : {}),
    ...(r.referencePerSec !== undefined ? { recoveryReference: { perSec: r.referencePerSec, kind: r.reference } } : {}),
    ...(r.note ? { recoveryNote: r.note } : {}),
  };
}

async function runReplay(
  run: Running,
  phase: ReplayPhase,
  base: { name: string; startedAtMs: number },
): Promise<ReplayPhaseResult> {
  const projection = findProjection(referenceDomains, phase.projection);
  const dir = join(run.scenarioDir, 'replays');
  mkdirSync(dir, { recursive: true });
  const replay = await runReplayBenchmark(run.auditNc, {
    projection,
    ...(phase.to ? { to: phase.to } : {}),
    path: join(dir, `${phase.name}.sqlite`),
  });
  return { ...base, endedAtMs: run.clock(), type: 'replay', projection: phase.projection, replay };
}

/**
 * Whatever a fault left down or paused (an interrupted run, a kill without `for`) is brought back
 * before the read-back; a node that will not start again is marked on the fault that took it down.
 */
async function heal(run: Running, phases: readonly PhaseResult[]): Promise<void> {
  const cluster = run.cluster;
  if (!cluster) return;
  await cluster.heal();
  for (const node of cluster.nodeNames) {
    const state = cluster.nodeState(node);
    try {
      if (state === 'paused') await cluster.resume(node);
      else if (state === 'stopped') await cluster.restart(node);
    } catch (error) {
      // A node that will not come back (its data damaged) is what the scenario found; the
      // others still hold a quorum to read back from. One that runs but never becomes ready is
      // stopped, so that waiting for the cluster waits for the others only.
      await cluster.stopNode(node).catch(() => {});
      const cause = startFailureCause(toCimError(error).message);
      run.log(`${run.scenario.name}: ${node} stays down: ${cause}`);
      const fault = [...phases]
        .reverse()
        .find((p): p is FaultPhaseResult => p.type === 'fault' && p.fault?.nodes.includes(node) === true)?.fault;
      if (fault && !fault.stayedDown) {
        fault.stayedDown = true;
        fault.detail += `; it did not start again when the run healed the cluster: ${cause}`;
      }
    }
  }
  await cluster.waitReady();
}

/**
 * Every replica of the streams the run wrote, each read from its own server's block files and
 * compared (docs/architecture.md, "Replica comparison"), and the checker against each replica's
 * copy. An attached cluster's files are not here: its replicas are unreadable, and say why.
 */
async function compareScenarioReplicas(
  run: Running,
  domains: readonly string[],
  operations: readonly OperationRecord[],
  leaderRead: readonly ReadItem[],
): Promise<{ replicas: ReplicaComparison; perReplica?: NonNullable<ScenarioResult['checker']>['perReplica'] }> {
  const streams = [
    ...domains.map(domainStream),
    SEALS_STREAM,
    AUDIT_STREAM,
    ...(run.usedRawStream ? [RAW_STREAM] : []),
  ];
  const cluster = run.cluster;
  if (!cluster) {
    const reason =
      "an attached cluster's block files are not on this machine; replicas are read only on the embedded cluster";
    return { replicas: { streams: [], divergences: [], unreadable: [{ server: '*', stream: '*', reason }] } };
  }
  let replicaRead;
  try {
    replicaRead = await readReplicas(cluster, streams, { log: (line) => run.log(`${run.scenario.name}: ${line}`) });
  } catch (error) {
    const reason = `${toCimError(error).code}: ${toCimError(error).message}`;
    run.log(`${run.scenario.name}: the replicas could not be read: ${reason}`);
    return { replicas: { streams: [], divergences: [], unreadable: [{ server: '*', stream: '*', reason }] } };
  }
  const { comparison, copies, stayedDown } = replicaRead;
  for (const { server, reason } of stayedDown)
    comparison.unreadable.push({
      server,
      stream: '*',
      reason: `did not start again after its replicas were read: ${reason}`,
    });
  // The checker per replica: the streams a server holds, as its copy has them; any it does not hold, as the leader gave them.
  const checked = new Set([...domains.map(domainStream), ...(run.usedRawStream ? [RAW_STREAM] : [])]);
  const servers = [...new Set(copies.map((c) => c.server))].sort();
  const perReplica = servers.map((server) => {
    const own = copies.filter((c) => c.server === server && checked.has(c.stream));
    const held = new Set(own.map((c) => c.stream));
    const items = own.flatMap(
      (c) => readBackCopy(c.stream, c.messages, c.stream === RAW_STREAM ? undefined : run.actor).items,
    );
    items.push(...leaderRead.filter((item) => !held.has(item.where.split('#')[0]!)));
    const verdict = checkHistory(operations, items, { sampleSize: 0 });
    return { server, lost: verdict.lost, unexpected: verdict.unexpected, duplicates: verdict.duplicates };
  });
  return { replicas: comparison, perReplica };
}

async function sealAndVerify(
  run: Running,
  domains: readonly string[],
): Promise<NonNullable<ScenarioResult['verification']>> {
  const signer = loadOrCreateSigner(run.options.config.stateDir);
  const own = signer.verifier();
  const result: NonNullable<ScenarioResult['verification']> = { domains: [], findings: 0, samples: [] };
  for (const domain of domains) {
    const sealer = await Sealer.open(run.serviceNc, { domain, signer });
    while (await sealer.sealOnce()) {
      // Seal everything written, a bounded range at a time.
    }
    const verification = await verifyDomain(run.auditNc, domain, { trusted: [own, ...(run.options.trusted ?? [])] });
    const findings = verification.findings.length + verification.findingsOmitted;
    result.domains.push({ domain, events: verification.events, seals: verification.seals, findings });
    result.findings += findings;
    for (const f of verification.findings.slice(0, 10 - result.samples.length))
      result.samples.push(`${domain}: ${f.kind}: ${f.message}`);
  }
  return result;
}

/** Domains a scenario's commands and replays write or read. */
function touchedDomains(scenario: Scenario): string[] {
  const domains = new Set<string>();
  for (const phase of scenario.phases) {
    if (phase.type === 'load' && phase.driver !== 'raw')
      for (const m of phase.mix) domains.add(m.command.split('.')[0]!);
  }
  // AddMember makes the onboarding process manager start workflows.
  if (domains.has('organization')) domains.add('workflow');
  return [...domains].sort();
}

function startProgress(run: Running): NodeJS.Timeout {
  return setInterval(() => {
    if (!run.options.onProgress) return;
    const now = run.clock();
    let ok = 0;
    let p99Ms = 0;
    let errors = 0;
    for (const recorder of run.recorders) {
      const last = recorder.lastSecond(now);
      ok += last.ok;
      p99Ms = Math.max(p99Ms, last.p99Ms);
      errors += recorder.failed + recorder.unknown;
    }
    run.options.onProgress({
      scenario: run.scenario.name,
      phases: [...run.active],
      elapsedMs: now,
      opsPerSec: ok,
      p99Ms,
      errors,
    });
  }, 1_000);
}

function sleepUntil(clock: () => number, atMs: number, signal?: AbortSignal): Promise<void> {
  return sleep(atMs - clock(), signal);
}

/** The mix as one canonical string, so the report can set phases of the same mix side by side. */
function mixOf(phase: LoadPhase): { mix?: string } {
  return phase.driver === 'raw' ? {} : { mix: phase.mix.map((m) => `${m.command}×${m.weight}`).join(', ') };
}

function emptyLatency() {
  return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, histogram: '' };
}

/** Failures of one cluster's start that a later scenario's fresh cluster may not have. */
const SCENARIO_START_FAILURES: ReadonlySet<string> = new Set(['CIM-CLUSTER-START', 'CIM-UNAVAILABLE', 'CIM-TIMEOUT']);

function annotate(error: unknown, context: string): CimError {
  const cim = toCimError(error);
  return new CimError(cim.code, `${context}: ${cim.message}`, {
    ...(cim.hint ? { hint: cim.hint } : {}),
    cause: error,
  });
}
