// `cim nats-config`: the nats-server config of one node of a cluster that spans machines, rendered
// by the same renderServerConfig the embedded cluster uses, with a user per role and authenticated
// routes from the users dir (created there when missing). The NixOS module (modules/appliance.nix)
// generates the same config for the same inputs, and a test holds the two equal.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import {
  CimError,
  findNatsServer,
  natsUsersDir,
  NatsUsers,
  renderServerConfig,
  serializeServerConfig,
  validateServerConfigFile,
  type ApplianceConfig,
  type ServerConfigInput,
} from '../appliance/index.js';
import { action, configFrom, print } from './wiring.js';

/** NATS' well-known ports; the NixOS module's defaults are the same. */
export const NATS_DEFAULT_PORTS = { client: 4222, cluster: 6222, monitor: 8222 } as const;

export interface NatsConfigFlags {
  serverName?: string;
  host?: string;
  port?: number;
  clusterPort?: number;
  monitorPort?: number;
  storeDir?: string;
  peer?: string[];
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  monitorHost?: string;
}

/** `host:port`, `host` (the default cluster port) or `[v6addr]:port`. */
export function parsePeer(text: string): { host: string; clusterPort: number } {
  const match = /^(?:\[([^\]]+)\]|([^:\s[\]]+))(?::(\d+))?$/.exec(text.trim());
  const port = match?.[3] === undefined ? NATS_DEFAULT_PORTS.cluster : Number(match[3]);
  if (!match || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CimError('CIM-INVALID-INPUT', `--peer: expected host:port (the peer's cluster port), got "${text}"`);
  }
  return { host: (match[1] ?? match[2])!, clusterPort: port };
}

/**
 * The renderer's input for one node, from the appliance config (cluster name, sync interval), the
 * node's flags and the users (public keys and route secret of the users dir; none: no authorization).
 */
export function natsConfigInput(config: ApplianceConfig, flags: NatsConfigFlags, users?: NatsUsers): ServerConfigInput {
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new CimError('CIM-INVALID-INPUT', '--tls-cert and --tls-key go together: give both or neither');
  }
  if (flags.tlsCa !== undefined && flags.tlsCert === undefined) {
    throw new CimError('CIM-INVALID-INPUT', '--tls-ca needs --tls-cert and --tls-key');
  }
  const storeDir = flags.storeDir ?? join(config.stateDir, 'nats');
  const peers = (flags.peer ?? [])
    .flatMap((p) => p.split(','))
    .filter((p) => p.trim() !== '')
    .map(parsePeer);
  return {
    clusterName: config.cluster.name,
    node: {
      name: flags.serverName ?? hostname(),
      host: flags.host ?? config.cluster.host,
      clientPort: flags.port ?? NATS_DEFAULT_PORTS.client,
      clusterPort: flags.clusterPort ?? NATS_DEFAULT_PORTS.cluster,
      monitorPort: flags.monitorPort ?? NATS_DEFAULT_PORTS.monitor,
      // nats-server resolves a relative store dir against its working directory, not ours.
      storeDir: isAbsolute(storeDir) ? storeDir : resolve(storeDir),
    },
    peers,
    syncInterval: config.cluster.syncInterval,
    ...(users ? { authorization: users.authorization() } : {}),
    ...(flags.monitorHost !== undefined ? { monitorHost: flags.monitorHost } : {}),
    ...(flags.tlsCert !== undefined && flags.tlsKey !== undefined
      ? {
          tls: {
            certFile: flags.tlsCert,
            keyFile: flags.tlsKey,
            ...(flags.tlsCa !== undefined ? { caFile: flags.tlsCa } : {}),
          },
        }
      : {}),
  };
}

function port(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < 1 || n > 65535) {
      throw new CimError('CIM-INVALID-INPUT', `${name}: expected a port 1-65535, got "${value}"`);
    }
    return n;
  };
}

export function registerNatsConfigCommand(program: Command): void {
  program
    .command('nats-config')
    .description(
      'print the nats-server config (JSON) of one node of a cluster across machines: the config the NixOS\n' +
        'module generates for the same inputs, rendered as the embedded cluster renders its own. It holds a\n' +
        'NATS user per role (service, gateway, loadgen, auditor, operator) and authenticated routes, from the\n' +
        'users dir (nats.usersDir, default <state>/nats-users; created there when missing): copy that whole\n' +
        'directory (the <role>.nk seeds and route.secret, mode 0600) to the other machines before rendering\n' +
        'theirs, so every server knows the same users and route secret. The output holds the route secret:\n' +
        'keep the file mode 0600.',
    )
    .option('--server-name <name>', 'unique server name (default: this host name)')
    .option('--host <addr>', 'interface for clients, routes and monitoring (default: cluster.host, 127.0.0.1)')
    .addOption(new Option('--port <n>', `client port (default ${NATS_DEFAULT_PORTS.client})`).argParser(port('--port')))
    .addOption(
      new Option('--cluster-port <n>', `route port (default ${NATS_DEFAULT_PORTS.cluster})`).argParser(
        port('--cluster-port'),
      ),
    )
    .addOption(
      new Option('--monitor-port <n>', `HTTP monitoring port (default ${NATS_DEFAULT_PORTS.monitor})`).argParser(
        port('--monitor-port'),
      ),
    )
    .option('--store-dir <dir>', 'JetStream store directory (default: <state>/nats)')
    .option(
      '--peer <host:port...>',
      "another member's route address (repeat, or comma-separated); none: a single server",
    )
    .option('--cluster-name <name>', 'cluster name (default: cluster.name, cim)')
    .option('--sync-interval <duration>', 'JetStream fsync interval, e.g. 2m or always (nats-server ≥ 2.10)')
    .option('--tls-cert <file>', 'PEM certificate for clients and routes')
    .option('--tls-key <file>', 'PEM key of --tls-cert')
    .option('--tls-ca <file>', 'PEM CA to check peers against (routes then use mutual TLS)')
    .option('--monitor-host <addr>', 'interface of the HTTP monitoring port (default 127.0.0.1)')
    .option('--check', 'also ask nats-server to validate the config (nats-server -t)')
    .action(
      action(
        async (
          options: NatsConfigFlags & { clusterName?: string; syncInterval?: string; check?: boolean },
          command: Command,
        ) => {
          const config = configFrom(command, {
            'cluster.name': options.clusterName,
            'cluster.syncInterval': options.syncInterval,
          });
          const users = NatsUsers.ensure(natsUsersDir(config));
          const text = serializeServerConfig(renderServerConfig(natsConfigInput(config, options, users)));
          if (options.check) {
            const binary = await findNatsServer();
            const dir = mkdtempSync(join(tmpdir(), 'cim-nats-config-'));
            try {
              writeFileSync(join(dir, 'server.json'), text);
              await validateServerConfigFile(binary, join(dir, 'server.json'));
            } finally {
              rmSync(dir, { recursive: true, force: true });
            }
          }
          print(text);
        },
      ),
    );
}
