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
  /** TLS for client connections and, with the same files, for routes; omitted means plain TCP. */
  tls?: ServerTls | undefined;
}

/** PEM files nats-server reads at start-up. */
export interface ServerTls {
  certFile: string;
  keyFile: string;
  /** CA that client and peer certificates are checked against; with it, routes use mutual TLS. */
  caFile?: string | undefined;
}

export interface NatsTlsBlock {
  cert_file: string;
  key_file: string;
  ca_file?: string;
  verify?: boolean;
}

/** The subset of nats-server's config format the appliance writes; JSON is a valid nats-server config. */
export interface NatsServerConfig {
  server_name: string;
  host: string;
  port: number;
  http: string;
  jetstream: { store_dir: string; sync_interval?: string };
  tls?: NatsTlsBlock;
  cluster?: { name: string; host: string; port: number; routes: string[]; tls?: NatsTlsBlock };
}

export function renderServerConfig(input: ServerConfigInput): NatsServerConfig {
  const { node } = input;
  const config: NatsServerConfig = {
    server_name: node.name,
    host: node.host,
    port: node.clientPort,
    http: hostPort(node.host, node.monitorPort),
    jetstream: { store_dir: node.storeDir },
  };
  if (input.syncInterval !== undefined) config.jetstream.sync_interval = input.syncInterval;
  if (input.tls) config.tls = tlsBlock(input.tls, false);
  if (input.peers.length > 0) {
    config.cluster = {
      name: input.clusterName,
      host: node.host,
      port: node.clusterPort,
      routes: input.peers.map((peer) => `nats-route://${hostPort(peer.host, peer.clusterPort)}`),
    };
    if (input.tls) config.cluster.tls = tlsBlock(input.tls, true);
  }
  return config;
}

/** `host:port`, with an IPv6 address in brackets. */
function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Clients are not asked for certificates; peers are, when a CA is given to check them against. */
function tlsBlock(tls: ServerTls, route: boolean): NatsTlsBlock {
  const block: NatsTlsBlock = { cert_file: tls.certFile, key_file: tls.keyFile };
  if (tls.caFile !== undefined) {
    block.ca_file = tls.caFile;
    if (route) block.verify = true;
  }
  return block;
}

export function serializeServerConfig(config: NatsServerConfig): string {
  return JSON.stringify(config, null, 2) + '\n';
}
