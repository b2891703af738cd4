// Decides which NATS cluster a command talks to: `--nats` attaches; else the
// embedded cluster `cim cluster up` left running in the state dir; else an embedded cluster
// started for this command alone and stopped when it is released.
import type { ApplianceConfig } from '../config.js';
import { onShutdown } from '../shutdown.js';
import { roleEndpoint, type NatsEndpoint } from './connection.js';
import { natsUsersDir, NatsUsers } from './nats-users.js';
import type { NatsRole } from './server-config.js';
import { EmbeddedCluster } from './supervisor.js';

export interface ClusterTarget {
  mode: 'attached' | 'embedded-running' | 'embedded-own';
  /** The servers' client URLs. */
  servers: string[];
  /** How a connection in `role` reaches the cluster (credentials and inbox prefix; see connection.ts). */
  endpointFor(role: NatsRole): NatsEndpoint;
  /** Present for embedded clusters: the handle faults are injected through. */
  embedded: EmbeddedCluster | undefined;
  /** Nodes in the cluster (attached: as many URLs as were given). */
  nodeCount: number;
  /** Stops a cluster started for this command; leaves every other cluster alone. */
  release(): Promise<void>;
}

export async function openCluster(
  config: ApplianceConfig,
  options: { log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<ClusterTarget> {
  const log = options.log ?? (() => {});
  if (config.nats.urls.length > 0) {
    // --creds: every role uses that file; else the role seeds of the users dir, if there is one.
    const auth = config.nats.credsFile
      ? { credsFile: config.nats.credsFile }
      : { users: NatsUsers.find(natsUsersDir(config)) };
    return {
      mode: 'attached',
      servers: config.nats.urls,
      endpointFor: (role) => roleEndpoint(config.nats.urls, role, auth),
      embedded: undefined,
      nodeCount: config.nats.urls.length,
      release: async () => {},
    };
  }
  const running = EmbeddedCluster.findRunning(config.stateDir, log);
  if (running) {
    log(`using the embedded cluster left running in ${config.stateDir} (cim cluster up)`);
    return {
      mode: 'embedded-running',
      servers: running.clientUrls,
      endpointFor: (role) => running.endpointFor(role),
      embedded: running,
      nodeCount: running.nodeNames.length,
      release: async () => {},
    };
  }
  const own = await EmbeddedCluster.start(config, { persistent: false, log, env: options.env });
  const unregister = onShutdown(() => own.stop());
  return {
    mode: 'embedded-own',
    servers: own.clientUrls,
    endpointFor: (role) => own.endpointFor(role),
    embedded: own,
    nodeCount: own.nodeNames.length,
    release: async () => {
      unregister();
      await own.stop();
    },
  };
}
