// The long-running appliance (`cim serve`, what the NixOS module runs): the reference domains'
// command and query services, the onboarding process manager, the projections into the SQLite
// read models and a sealer per domain, on one cluster. Shutdown: stop reacting (the process
// managers), stop taking commands and answer those in flight, flush the projections, stop
// sealing, then drain the connections.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection, Service } from 'nats';
import { connectNats, type NatsEndpoint, type NatsRole } from './cluster/index.js';
import type { Domain, ProcessManagerDefinition } from './decider/index.js';
import { Projector, ReadModel } from './projections/index.js';
import {
  startCommandService,
  startProcessManager,
  startQueryService,
  type CommandObservation,
  type CommandServiceHandle,
  type ProcessManagerHandle,
} from './services/index.js';
import { onboarding, servedDomains } from './domains/index.js';
import { CimError, toCimError } from './errors.js';
import { AUDIT_LOG, EventStore, provision } from './eventstore/index.js';
import { AuditWriter } from './audit/index.js';
import { loadOrCreateSigner, Sealer, type SealerHandle, type Signer } from './integrity/index.js';
import { applyRetention, erasureHoldOf } from './retention/index.js';
import type { RetentionPolicy } from './config.js';
import {
  errorFields,
  isClientError,
  projectionLag,
  type ApplianceLogger,
  type ApplianceMetrics,
} from './telemetry/index.js';
import { startGateway, type GatewayHandle, type KeyRing, type RateLimit } from './api/index.js';
import {
  eraseSubject,
  FieldEncryption,
  personalDataOf,
  SubjectKeyStore,
  type ErasureRequest,
  type ErasureResult,
} from './privacy/index.js';

/** The HTTP gateway `cim serve --http` runs in front of the services. */
export interface HttpOptions {
  /** `HOST:PORT`. */
  listen: string;
  keys: KeyRing;
  rateLimit?: RateLimit;
  bodyLimit?: number;
}

export interface ApplianceOptions {
  /** How each part connects: services as `service`, the gateway as `gateway`, provisioning as `operator`. */
  endpointFor: (role: NatsRole) => NatsEndpoint;
  stateDir: string;
  /** Stream replicas: 3 on a cluster, 1 on a single node. */
  replicas: number;
  domains?: readonly Domain<unknown>[];
  /** Module paths of users' domain plugins, served beside `domains`. */
  plugins?: readonly string[];
  processManagers?: readonly ProcessManagerDefinition[];
  sealEveryEvents?: number;
  sealEveryMs?: number;
  /** The key seals are signed with (default: the state dir's, created on first use). */
  signer?: Signer;
  /** Serve HTTP too (off unless given). */
  http?: HttpOptions;
  log?: (line: string) => void;
  /** Structured logs (appliance/telemetry/logger.ts); when given, `log` is not used. */
  logger?: ApplianceLogger;
  /** Where the services, projections, sealers and connections report their metrics. */
  metrics?: ApplianceMetrics;
  /**
   * Encrypt the personal data domains declare, with a key per data subject in the state dir's key
   * store (default true). Off: stored in plain text, as before; only for comparing the cost.
   */
  encryptPersonalData?: boolean;
  /** The subject key store's directory (default `<stateDir>/privacy`); instances of one cluster share one. */
  keyStoreDir?: string;
  /**
   * How often the key store is asked for subjects erased by any instance (default 1 s): their rows
   * in this instance's read model are deleted too.
   */
  erasureSweepMs?: number;
  /**
   * Retention (config `retention`): the policies per domain, applied every `everyMs` as the
   * `retention` role (nothing runs without policies). A policy for a domain not served is refused.
   */
  retention?: { policies: Readonly<Record<string, RetentionPolicy>>; everyMs: number };
}

export interface ApplianceHandle {
  readonly domains: string[];
  readonly readModelPath: string;
  /** Where the HTTP gateway listens, when there is one. */
  readonly httpAddress: string | undefined;
  /** Projections' progress, for status and tests. */
  projections(): Record<string, ReturnType<Projector['progress']>>;
  /** Erases a data subject here, where the read model is owned (what `POST /v1/erasures/:subjectId` calls). */
  erase(request: ErasureRequest): Promise<ErasureResult>;
  stop(): Promise<void>;
}

export async function startAppliance(options: ApplianceOptions): Promise<ApplianceHandle> {
  const { logger, metrics } = options;
  const log = logger ? (line: string) => logger.info(line) : (options.log ?? (() => {}));
  const domains = await servedDomains(options.plugins, options.domains);
  const managers = options.processManagers ?? [onboarding];
  const report = (what: string) => (error: CimError) =>
    logger
      ? logger.error({ component: what, ...errorFields(error) }, `${what}: ${error.code}`)
      : log(`${what}: ${error.code}: ${error.message}`);
  /** Per command: the metrics, and a log record with the correlation id (never the payload or the message). */
  const observer = (domain: string) =>
    metrics || logger
      ? (o: CommandObservation) => {
          metrics?.observeCommand(domain, o);
          if (!logger) return;
          const fields = {
            domain,
            command: o.command,
            outcome: o.outcome,
            correlationId: o.correlationId,
            ...(o.traceId ? { traceId: o.traceId } : {}),
            seconds: o.seconds,
          };
          if (o.outcome === 'ok') logger.debug(fields, 'command handled');
          else if (isClientError(o.outcome)) logger.info(fields, 'command refused');
          else logger.error(fields, 'command failed');
        }
      : undefined;

  const connections: NatsConnection[] = [];
  const commandServices: CommandServiceHandle[] = [];
  const queryServices: Service[] = [];
  const runningManagers: ProcessManagerHandle[] = [];
  const projectors: { name: string; projector: Projector }[] = [];
  const sealers: SealerHandle[] = [];
  const writers: AuditWriter[] = [];
  const sealSeen: { domain: string; sealer: Sealer }[] = [];
  let model: ReadModel | undefined;
  const readModelPath = join(options.stateDir, 'read-models.sqlite');
  let signer: Signer | undefined;
  let gateway: GatewayHandle | undefined;
  const encrypt = options.encryptPersonalData ?? true;
  let keys: SubjectKeyStore | undefined;
  let erase: ((request: ErasureRequest) => Promise<ErasureResult>) | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let retentionTimer: NodeJS.Timeout | undefined;
  let retentionRun: Promise<void> = Promise.resolve();

  const stop = async () => {
    // The gateway first: it answers the HTTP requests in flight while the services still run.
    await gateway?.stop();
    gateway = undefined;
    // Managers first: a manager still reacting would send commands to services already gone.
    for (const m of runningManagers.splice(0)) await m.stop();
    for (const s of commandServices.splice(0)) await s.stop();
    for (const s of queryServices.splice(0)) await s.stop();
    for (const p of projectors.splice(0)) await p.projector.stop();
    // Every record is awaited before its answer; this only waits for any left over.
    for (const w of writers.splice(0)) await w.flush();
    clearInterval(retentionTimer);
    await retentionRun;
    for (const s of sealers.splice(0)) await s.stop();
    clearInterval(sweeper);
    model?.close();
    model = undefined;
    keys?.close();
    keys = undefined;
    for (const nc of connections.splice(0)) await nc.drain().catch(() => nc.close());
  };

  try {
    // A state dir named for the first time is made here, private to its owner (keys live in it).
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    // Commands and the manager on one connection, projections reading streams on another.
    // Streams and buckets are created or updated as `operator`, on a connection for that step alone.
    const admin = await connectNats(options.endpointFor('operator'), { name: 'cim-serve-provision' });
    let provisioned: Awaited<ReturnType<typeof provision>>;
    try {
      provisioned = await provision(admin, {
        domains: domains.map((d) => d.name),
        replicas: options.replicas,
        duplicateWindowMs: 120_000,
      });
    } finally {
      await admin.close();
    }
    const nc = await connectNats(options.endpointFor('service'), { name: 'cim-serve' });
    connections.push(nc);
    const reader = await connectNats(options.endpointFor('service'), { name: 'cim-serve-projections' });
    connections.push(reader);
    metrics?.watchNats(nc, 'cim-serve');
    metrics?.watchNats(reader, 'cim-serve-projections');

    if (provisioned.created.length > 0) log(`created ${provisioned.created.join(', ')}`);
    if (provisioned.updated.length > 0)
      log(
        `updated ${provisioned.updated.join(', ')} (the seal stream takes only <prefix>.seals.<domain> now; domain streams allow atomic batches for group commit)`,
      );

    const personalData = personalDataOf(domains);
    keys = encrypt
      ? SubjectKeyStore.open(options.stateDir, options.keyStoreDir ? { dir: options.keyStoreDir } : {})
      : undefined;
    const protection = keys ? new FieldEncryption(personalData, keys) : undefined;
    const projections = domains.flatMap((d) => d.definition.projections ?? []);
    model = ReadModel.open({ path: readModelPath, projections });
    for (const projection of projections) {
      const domain = domains.find((d) => d.definition.projections?.includes(projection));
      const projector = Projector.start({
        nc: reader,
        model,
        projection,
        ...(domain ? { upcasters: domain.upcasters } : {}),
        ...(protection ? { protection } : {}),
        onError: report(`projection ${projection.name}`),
        // Stream and sequence only: what the message holds may be personal data.
        onInvalid: (finding) => log(`projection ${projection.name}: ${finding.kind}: ${finding.message}`),
      });
      projectors.push({ name: projection.name, projector });
    }
    if (metrics) {
      const jsm = await reader.jetstreamManager({ timeout: 2_000 });
      const progress = () => Object.fromEntries(projectors.map((p) => [p.name, p.projector.progress()]));
      metrics.projectionLagFrom(() => projectionLag(jsm, progress()));
      metrics.sealsFrom(() => sealSeen.map((s) => ({ domain: s.domain, at: s.sealer.lastSealSeen() })));
    }

    signer = options.signer ?? loadOrCreateSigner(options.stateDir);
    // The audit log is sealed as a domain stream is: its seals go to <prefix>.seals.audit.
    for (const domain of [...domains.map((d) => d.name), AUDIT_LOG]) {
      const sealer = await Sealer.open(nc, {
        domain,
        signer,
        everyEvents: options.sealEveryEvents ?? 1_000,
        everyMs: options.sealEveryMs ?? 10_000,
        onError: report(`sealer ${domain}`),
        onInvalid: (finding) => log(`sealer ${domain}: ${finding.kind}: ${finding.message}`),
      });
      sealers.push(sealer.start());
      sealSeen.push({ domain, sealer });
    }

    // One audit chain for the services of this process, one for its gateway (docs/architecture.md#audit-log).
    const tampered = (line: string) => (logger ? logger.error({ component: 'audit' }, line) : log(`audit: ${line}`));
    const audit = await AuditWriter.open(nc, { name: 'serve', onTamper: tampered });
    writers.push(audit);
    for (const domain of domains) {
      // Snapshots signed with the state dir's key, and only those trusted on load.
      const store = await EventStore.open(nc, {
        upcasters: domain.upcasters,
        snapshotKeys: { signer, trusted: [signer.verifier()] },
        ...(protection ? { protection } : {}),
      });
      const onCommand = observer(domain.name);
      commandServices.push(
        await startCommandService(nc, domain, { store, audit, ...(onCommand ? { onCommand } : {}) }),
      );
      const queries = await startQueryService(nc, domain, model, { audit });
      if (queries) queryServices.push(queries);
    }
    for (const manager of managers)
      runningManagers.push(
        await startProcessManager(nc, manager, {
          onError: (error, eventId) =>
            logger
              ? logger.error(
                  { component: `process manager ${manager.name}`, eventId, ...errorFields(error) },
                  'reaction failed',
                )
              : log(`process manager ${manager.name}, event ${eventId}: ${error.code}: ${error.message}`),
          onInvalid: (finding) => log(`process manager ${manager.name}: ${finding.kind}: ${finding.message}`),
        }),
      );
    if (keys) {
      const eraser = {
        keys,
        domains: [...personalData.keys()],
        nc,
        readModel: model,
        // Erasures served here (the gateway's endpoint) are recorded in the services' audit chain.
        audit,
        // A held subject is refused before anything is destroyed.
        legalHold: erasureHoldOf(nc),
      };
      erase = (request) => eraseSubject(eraser, request);
      // Another instance (or `cim erase`) may have erased a subject whose rows this read model holds.
      const store = keys;
      const ownModel = model;
      let since = '';
      let sweeping = false;
      sweeper = setInterval(() => {
        if (sweeping) return;
        sweeping = true;
        void (async () => {
          for (const { subjectId, erasedAt } of store.erasedSince(since)) {
            if (!ownModel.erasedHere(subjectId)) await ownModel.eraseSubject(subjectId);
            // A minute back: erasures on machines whose clocks are a little behind are not missed.
            since = new Date(Date.parse(erasedAt) - 60_000).toISOString();
          }
        })()
          .catch((error: unknown) => report('erasure sweep')(toCimError(error)))
          .finally(() => (sweeping = false));
      }, options.erasureSweepMs ?? 1_000);
      sweeper.unref();
    }
    const policies = options.retention?.policies ?? {};
    if (Object.keys(policies).length > 0) {
      const unknown = Object.keys(policies).filter((d) => !domains.some((served) => served.name === d));
      if (unknown.length > 0)
        throw new CimError(
          'CIM-INVALID-CONFIG',
          `retention.policies: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not served here (${domains.map((d) => d.name).join(', ')})`,
          { hint: 'A policy names a served domain: a reference domain or one of domains.plugins.' },
        );
      // Its own connection and audit chain, as the one role that may delete messages of domain streams.
      const retentionNc = await connectNats(options.endpointFor('retention'), { name: 'cim-retention' });
      connections.push(retentionNc);
      const retentionAudit = await AuditWriter.open(retentionNc, { name: 'retention', onTamper: tampered });
      writers.push(retentionAudit);
      let applying = false;
      const apply = async () => {
        const applied = await applyRetention(retentionNc, {
          policies,
          audit: retentionAudit,
          actor: 'cim-serve',
          source: 'nats',
          trusted: [signer!.verifier()],
        });
        for (const d of applied.domains)
          if (d.removed > 0 || d.completed > 0)
            log(
              `retention ${d.domain}: removed ${d.removed + d.completed} events (${d.held} held, ${d.unsealed} not sealed yet)`,
            );
      };
      retentionTimer = setInterval(() => {
        if (applying) return; // a long run skips ticks rather than queueing them
        applying = true;
        retentionRun = apply()
          .catch((error: unknown) => report('retention')(toCimError(error)))
          .finally(() => (applying = false));
      }, options.retention!.everyMs);
      retentionTimer.unref();
    }
    if (options.http) {
      const gatewayNc = await connectNats(options.endpointFor('gateway'), { name: 'cim-gateway' });
      connections.push(gatewayNc);
      metrics?.watchNats(gatewayNc, 'cim-gateway');
      const gatewayAudit = await AuditWriter.open(gatewayNc, { name: 'gateway', onTamper: tampered });
      writers.push(gatewayAudit);
      gateway = await startGateway({
        audit: gatewayAudit,
        ...(metrics ? { metrics } : {}),
        nc: gatewayNc,
        listen: options.http.listen,
        domains,
        keys: options.http.keys,
        ...(erase ? { erase } : {}),
        ...(options.http.rateLimit ? { rateLimit: options.http.rateLimit } : {}),
        ...(options.http.bodyLimit ? { bodyLimit: options.http.bodyLimit } : {}),
      });
      log(`HTTP gateway on ${gateway.url} (${options.http.keys.size} API keys)`);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  log(
    `serving ${domains.map((d) => d.name).join(', ')}: commands on cim.<domain>.commands.*, queries on cim.<domain>.queries.*; sealing with ${signer!.keyId}`,
  );
  return {
    domains: domains.map((d) => d.name),
    readModelPath,
    httpAddress: gateway?.address,
    projections: () => Object.fromEntries(projectors.map((p) => [p.name, p.projector.progress()])),
    erase: async (request) => {
      if (!erase)
        throw new CimError(
          'CIM-INVALID-CONFIG',
          'personal data is not encrypted here: there is nothing to erase by key',
        );
      return erase(request);
    },
    stop,
  };
}
