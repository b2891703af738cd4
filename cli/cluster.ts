// `cim cluster up | status | down`: the embedded NATS JetStream cluster, for development.
import type { Command } from 'commander';
import {
  attachedClusterStatus,
  natsUsersDir,
  NatsUsers,
  roleEndpoint,
  CimError,
  EmbeddedCluster,
  renderClusterStatus,
  type ClusterStatus,
} from '../appliance/index.js';
import { action, configFrom, log, print } from './wiring.js';

function printStatus(status: ClusterStatus, json: boolean | undefined): void {
  print(json ? JSON.stringify(status, null, 2) : renderClusterStatus(status));
}

export function registerClusterCommands(program: Command): void {
  const cluster = program
    .command('cluster')
    .description('the embedded NATS JetStream cluster, for development')
    .exitOverride();

  cluster
    .command('up')
    .description('start the embedded cluster and leave it running for later commands')
    .option('--nodes <n>', 'number of nats-server nodes (default 3; env CIM_CLUSTER_NODES)')
    .option('--sync-interval <duration>', 'JetStream fsync interval, e.g. 2m or always (nats-server ≥ 2.10)')
    .option('--json', 'print the status as JSON')
    .action(
      action(async (options: { nodes?: string; syncInterval?: string; json?: boolean }, command: Command) => {
        const config = configFrom(command, {
          'cluster.nodes': options.nodes,
          'cluster.syncInterval': options.syncInterval,
        });
        if (config.nats.urls.length > 0) {
          throw new CimError(
            'CIM-INVALID-INPUT',
            '`cim cluster up` manages the embedded cluster; --nats attaches to one that runs elsewhere',
          );
        }
        let running = EmbeddedCluster.findRunning(config.stateDir, log);
        if (running) {
          running.assertSize(config);
          log(`the embedded cluster in ${config.stateDir} is already running`);
        } else {
          running = await EmbeddedCluster.start(config, { persistent: true, log });
        }
        printStatus(await running.status(), options.json);
      }),
    );

  cluster
    .command('status')
    .description('show each server, its ports and version, the JetStream meta leader and the cluster size')
    .option('--json', 'print as JSON')
    .action(
      action(async (options: { json?: boolean }, command: Command) => {
        const config = configFrom(command);
        if (config.nats.urls.length > 0) {
          printStatus(
            await attachedClusterStatus(
              roleEndpoint(config.nats.urls, 'auditor', {
                credsFile: config.nats.credsFile,
                users: NatsUsers.find(natsUsersDir(config)),
              }),
            ),
            options.json,
          );
          return;
        }
        const running = EmbeddedCluster.findRunning(config.stateDir, log);
        if (!running) {
          throw new CimError('CIM-CLUSTER-NOT-RUNNING', `no embedded cluster is running in ${config.stateDir}`, {
            hint: 'Start one with `cim cluster up`, or attach to another with --nats URL,...',
          });
        }
        printStatus(await running.status(), options.json);
      }),
    );

  cluster
    .command('down')
    .description('stop the embedded cluster (its data stays in the state dir)')
    .action(
      action(async (_options: object, command: Command) => {
        const config = configFrom(command);
        const running = EmbeddedCluster.findRunning(config.stateDir, log);
        if (running) {
          await running.stop();
        } else {
          log(`no embedded cluster is running in ${config.stateDir}`);
          await EmbeddedCluster.reclaimOrphans(config.stateDir, log);
        }
      }),
    );
}
