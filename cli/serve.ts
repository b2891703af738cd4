// `cim serve`: the appliance itself — the reference domains' services, projections and sealers —
// until Ctrl-C or SIGTERM.
import type { Command } from 'commander';
import {
  CimError,
  KeyRing,
  onShutdown,
  startAppliance,
  type ApplianceConfig,
  type HttpOptions,
} from '../appliance/index.js';
import { apiKeysFile } from './keys.js';
import { withCluster } from './with-cluster.js';
import { action, configFrom, log } from './wiring.js';

/** The gateway's settings, its key file read before anything starts: a missing or unsafe file fails fast. */
function httpOptions(config: ApplianceConfig): HttpOptions | undefined {
  const listen = config.http.listen;
  if (!listen) return undefined;
  const path = apiKeysFile(config);
  const keys = KeyRing.fromFile(path, {
    onReloadError: (error) => log(`API key file: ${error.code}: ${error.message}; the keys read before stay in force`),
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
      'also serve the HTTP API there (config http.listen, env CIM_HTTP_LISTEN; off unless set)',
    )
    .action(
      action(async (options: { http?: string }, command: Command) => {
        const config = configFrom(command, { 'http.listen': options.http });
        const http = httpOptions(config);
        // The cluster is released only if the appliance fails to start: afterwards this runs until a
        // signal, and the closers run newest first, so the appliance stops before a cluster it started.
        await withCluster(config, async (target) => {
          const appliance = await startAppliance({
            endpoint: target.endpoint,
            stateDir: config.stateDir,
            replicas: Math.min(3, target.nodeCount),
            plugins: config.domains.plugins,
            ...(http ? { http } : {}),
            log,
          });
          onShutdown(() => appliance.stop());
          await new Promise<never>(() => {});
        });
      }),
    );
}
