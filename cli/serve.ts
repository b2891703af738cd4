// `cim serve`: the appliance itself — the reference domains' services, projections and sealers —
// until Ctrl-C or SIGTERM.
import type { Command } from 'commander';
import { onShutdown, startAppliance, startTracing } from '../appliance/index.js';
import { withCluster } from './with-cluster.js';
import { action, configFrom, log } from './wiring.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      "run the appliance: the reference domains' command and query services, the onboarding process manager,\n" +
        'the projections into the SQLite read models (state dir) and a sealer per domain, until Ctrl-C or SIGTERM;\n' +
        'then it stops taking commands, answers those in flight, flushes the projections and drains NATS',
    )
    .action(
      action(async (_options: object, command: Command) => {
        const config = configFrom(command);
        // Traces go out over OTLP only when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; flushed last on shutdown.
        onShutdown(await startTracing({ serviceName: 'cim-appliance' }));
        // The cluster is released only if the appliance fails to start: afterwards this runs until a
        // signal, and the closers run newest first, so the appliance stops before a cluster it started.
        await withCluster(config, async (target) => {
          const appliance = await startAppliance({
            endpoint: target.endpoint,
            stateDir: config.stateDir,
            replicas: Math.min(3, target.nodeCount),
            plugins: config.domains.plugins,
            log,
          });
          onShutdown(() => appliance.stop());
          await new Promise<never>(() => {});
        });
      }),
    );
}
