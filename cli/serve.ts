// `cim serve`: the appliance itself — the reference domains' services, projections and sealers —
// until Ctrl-C or SIGTERM, logging structured records and, with --metrics, serving /metrics.
import type { Command } from 'commander';
import {
  ApplianceMetrics,
  createLogger,
  onShutdown,
  otelTraceContext,
  resolveLogFormat,
  startAppliance,
  startMetricsServer,
} from '../appliance/index.js';
import { withCluster } from './with-cluster.js';
import { action, configFrom } from './wiring.js';

interface ServeOptions {
  metrics?: string;
  logFormat?: string;
  logLevel?: string;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      "run the appliance: the reference domains' command and query services, the onboarding process manager,\n" +
        'the projections into the SQLite read models (state dir) and a sealer per domain, until Ctrl-C or SIGTERM;\n' +
        'then it stops taking commands, answers those in flight, flushes the projections and drains NATS',
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
          'metrics.listen': options.metrics,
          'log.format': options.logFormat,
          'log.level': options.logLevel,
        });
        const traceContext = await otelTraceContext();
        const logger = createLogger({
          format: resolveLogFormat(config.log.format),
          level: config.log.level,
          ...(traceContext ? { traceContext } : {}),
        });
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
                endpoint: target.endpoint,
                stateDir: config.stateDir,
                replicas: Math.min(3, target.nodeCount),
                plugins: config.domains.plugins,
                logger,
                metrics,
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
