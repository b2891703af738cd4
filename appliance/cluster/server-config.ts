// Renders one nats-server configuration from the appliance's view of a node. This is the single
// place server configs come from: the embedded cluster writes it, `cim nats-config` prints it, and
// the NixOS module must generate the same thing for the same inputs.

/** Where one server listens and keeps its data. */
export interface ServerNode {
  name: string;
  host: string;
  clientPort: number;
  clusterPort: number;
  monitorPort: number;
  /** JetStream store directory (nats-server adds `jetstream/` below it). */
  storeDir: string;
}

export interface ServerConfigInput {
  clusterName: string;
  node: ServerNode;
  /** The other members' route addresses; empty for a single server (no cluster block). */
  peers: ReadonlyArray<Pick<ServerNode, 'host' | 'clusterPort'>>;
  /** JetStream fsync interval, e.g. "2m" or "always"; omitted keeps the server default. */
  syncInterval?: string | undefined;
}

/** The subset of nats-server's config format the appliance writes; JSON is a valid nats-server config. */
export interface NatsServerConfig {
  server_name: string;
  host: string;
  port: number;
  http: string;
  jetstream: { store_dir: string; sync_interval?: string };
  cluster?: { name: string; host: string; port: number; routes: string[] };
}

export function renderServerConfig(input: ServerConfigInput): NatsServerConfig {
  const { node } = input;
  const config: NatsServerConfig = {
    server_name: node.name,
    host: node.host,
    port: node.clientPort,
    http: `${node.host}:${node.monitorPort}`,
    jetstream: { store_dir: node.storeDir },
  };
  if (input.syncInterval !== undefined) config.jetstream.sync_interval = input.syncInterval;
  if (input.peers.length > 0) {
    config.cluster = {
      name: input.clusterName,
      host: node.host,
      port: node.clusterPort,
      routes: input.peers.map((peer) => `nats-route://${peer.host}:${peer.clusterPort}`),
    };
  }
  return config;
}

export function serializeServerConfig(config: NatsServerConfig): string {
  return JSON.stringify(config, null, 2) + '\n';
}
