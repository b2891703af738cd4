// `cim serve`: the appliance itself — the reference domains' services, projections and sealers —
// until Ctrl-C or SIGTERM, logging structured records and, with --metrics, serving /metrics.
import type { Command } from 'commander';
import {
  ApplianceMetrics,
  CimError,
  createLogger,
  durationMs,
  KeyRing,
  onShutdown,
  otelTraceContext,
  resolveLogFormat,
  startAppliance,
  startMetricsServer,
  startTracing,
  type ApplianceConfig,
  type HttpOptions,
} from '../appliance/index.js';
import { apiKeysFile } from './keys.js';
import { withCluster } from './with-cluster.js';
import { action, configFrom } from './wiring.js';

interface ServeOptions {
  http?: string;
  metrics?: string;
  logFormat?: string;
  logLevel?: string;
}

/** The gateway's settings, its key file read before anything starts: a missing or unsafe file fails fast. */
function httpOptions(config: ApplianceConfig, warn: (line: string) => void): HttpOptions | undefined {
  const listen = config.http.listen;
  if (!listen) return undefined;
  const path = apiKeysFile(config);
  const keys = KeyRing.fromFile(path, {
    onReloadError: (error) => warn(`API key file: ${error.code}: ${error.message}; the keys read before stay in force`),
  });
  if (keys.size === 0)
    throw new CimError('CIM-INVALID-CONFIG', `the API key file ${path} holds no keys: no request could be authorised`, {
      hint: 'Add one: cim keys add --role writer --actor NAME',
    });
  const { max, windowMs } = config.http.rateLimit;
  return {
    listen,
    keys,
    bodyLimit: config.http.bodyLimitBytes,
    ...(max > 0 ? { rateLimit: { max, windowMs } } : {}),
  };
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      "run the appliance: the reference domains' command and query services, the onboarding process manager,\n" +
        'the projections into the SQLite read models (state dir), a sealer per domain and, with --http, the HTTP API\n' +
        '(API keys from `cim keys add`), until Ctrl-C or SIGTERM;\n' +
        'then it stops taking commands, answers those in flight, flushes the projections and drains NATS',
    )
    .option(
      '--http <host:port>',
      'also serve the HTTP API there, and /metrics with it (config http.listen, env CIM_HTTP_LISTEN; off unless set)',
    )
    .option('--metrics <HOST:PORT>', 'serve Prometheus metrics on http://HOST:PORT/metrics (no authentication)')
    .option(
      '--log-format <FORMAT>',
      'json (one object per line on stderr), text, or auto: json unless stderr is a terminal',
    )
    .option('--log-level <LEVEL>', 'debug (every command), info (default), warn or error')
    .action(
      action(async (options: ServeOptions, command: Command) => {
        const config = configFrom(command, {
          'http.listen': options.http,
          'metrics.listen': options.metrics,
          'log.format': options.logFormat,
          'log.level': options.logLevel,
        });
        // Traces go out over OTLP only when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; flushed last on shutdown.
        onShutdown(await startTracing({ serviceName: 'cim-appliance' }));
        const traceContext = await otelTraceContext();
        const logger = createLogger({
          format: resolveLogFormat(config.log.format),
          level: config.log.level,
          ...(traceContext ? { traceContext } : {}),
        });
        const http = httpOptions(config, (line) => logger.warn(line));
        const metrics = new ApplianceMetrics();
        // Bound before anything starts: a port in use fails here, with nothing to undo.
        const metricsServer = config.metrics.listen
          ? await startMetricsServer(metrics, config.metrics.listen)
          : undefined;
        try {
          // The cluster is released only if the appliance fails to start: afterwards this runs until a
          // signal, and the closers run newest first, so the appliance stops before a cluster it started.
          await withCluster(
            config,
            async (target) => {
              const appliance = await startAppliance({
                endpointFor: target.endpointFor,
                stateDir: config.stateDir,
                replicas: Math.min(3, target.nodeCount),
                plugins: config.domains.plugins,
                ...(config.privacy.keyStoreDir ? { keyStoreDir: config.privacy.keyStoreDir } : {}),
                retention: {
                  policies: config.retention.policies,
                  everyMs: durationMs(config.retention.applyEvery)!,
                },
                logger,
                metrics,
                ...(http ? { http } : {}),
              });
              onShutdown(() => appliance.stop());
              if (metricsServer) {
                onShutdown(() => metricsServer.stop());
                logger.info({ metrics: metricsServer.url }, `metrics on ${metricsServer.url}`);
              }
              await new Promise<never>(() => {});
            },
            { log: (line) => logger.info(line) },
          );
        } catch (error) {
          await metricsServer?.stop();
          throw error;
        }
      }),
    );
}
