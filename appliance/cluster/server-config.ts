// Renders one nats-server configuration from the appliance's view of a node. This is the single
// place server configs come from: the embedded cluster writes it, `cim nats-config` prints it, and
// the NixOS module must generate the same thing for the same inputs.
//
// Input (ServerConfigInput): the node and its peers as before, plus
//   authorization?: { users: [{ role, nkey }], route?: { user, password } }
//     users: one nkey user per role (role ∈ NATS_ROLES, nkey its public key "U…"), each given the
//       permissions of its role in nats-roles.json with `{prefix}` replaced by subjectPrefix;
//       without `authorization` nobody is asked for credentials (the config of old state dirs, tests).
//       No `no_auth_user` is written: a connection without credentials is refused.
//     route: the user and password cluster routes authenticate with: written as the cluster block's
//       `authorization` and into every route URL (`nats-route://user:password@host:port`), since
//       nats-server sends credentials on the routes it solicits only from the URL's user info (it
//       fills them in from `cluster.authorization` for gossiped routes alone). Required with peers.
//   subjectPrefix?: the leading subject token (default "cim").
//   monitorHost?: the interface the HTTP monitoring port listens on (default 127.0.0.1).
import rolesFile from './nats-roles.json' with { type: 'json' };
import { CimError } from '../errors.js';

/** Where one server listens and keeps its data. */
export interface ServerNode {
  name: string;
  host: string;
  clientPort: number;
  clusterPort: number;
  monitorPort: number;
  /** JetStream store directory (nats-server adds `jetstream/` below it). */
  storeDir: string;
  /** Interface of the monitoring port when it is not DEFAULT_MONITOR_HOST (a node in a network namespace: its own address). */
  monitorHost?: string;
  /** The network namespace the node runs in (a cluster that can be partitioned); absent: the root namespace. */
  netns?: string;
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
  /** Users per role and route credentials; omitted means no authentication at all. */
  authorization?: ServerAuthorization | undefined;
  /** The subject prefix `{prefix}` stands for in the role permissions (default "cim"). */
  subjectPrefix?: string | undefined;
  /** Interface of the HTTP monitoring port (default 127.0.0.1: /varz and /connz are nobody else's business). */
  monitorHost?: string | undefined;
}

/** The NATS roles (nats-roles.json); every connection the appliance opens is one of them. */
export const NATS_ROLES = ['service', 'gateway', 'loadgen', 'auditor', 'retention', 'operator'] as const;
export type NatsRole = (typeof NATS_ROLES)[number];

export interface ServerAuthorization {
  users: ReadonlyArray<{ role: NatsRole; nkey: string }>;
  route?: { user: string; password: string } | undefined;
}

export const DEFAULT_MONITOR_HOST = '127.0.0.1';
export const DEFAULT_SUBJECT_PREFIX = 'cim';

interface SubjectRules {
  allow: string[];
  deny: string[];
}

/** One role's entry in nats-roles.json. */
export interface NatsRoleDefinition {
  publish: SubjectRules;
  subscribe: SubjectRules;
  allowResponses: boolean;
  inboxPrefix: string;
}

const ROLES = (rolesFile as unknown as { roles: Record<NatsRole, NatsRoleDefinition> }).roles;

export function roleDefinition(role: NatsRole): NatsRoleDefinition {
  const definition = ROLES[role];
  if (!definition) throw new CimError('CIM-INVALID-INPUT', `no NATS role named "${role}"`);
  return definition;
}

/** The inbox prefix a role's connections use: its permissions allow replies there only. */
export function roleInboxPrefix(role: NatsRole): string {
  return roleDefinition(role).inboxPrefix;
}

export interface NatsPermissions {
  publish: { allow?: string[]; deny?: string[] };
  subscribe: { allow?: string[]; deny?: string[] };
  allow_responses?: boolean;
}

/** A role's permissions in nats-server's syntax, `{prefix}` replaced; empty lists left out. */
export function rolePermissions(role: NatsRole, subjectPrefix: string = DEFAULT_SUBJECT_PREFIX): NatsPermissions {
  const definition = roleDefinition(role);
  const rules = (r: SubjectRules): { allow?: string[]; deny?: string[] } => {
    const out: { allow?: string[]; deny?: string[] } = {};
    if (r.allow.length > 0) out.allow = r.allow.map((s) => s.replaceAll('{prefix}', subjectPrefix));
    if (r.deny.length > 0) out.deny = r.deny.map((s) => s.replaceAll('{prefix}', subjectPrefix));
    return out;
  };
  return {
    publish: rules(definition.publish),
    subscribe: rules(definition.subscribe),
    ...(definition.allowResponses ? { allow_responses: true } : {}),
  };
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
  authorization?: { users: Array<{ nkey: string; permissions: NatsPermissions }> };
  cluster?: {
    name: string;
    host: string;
    port: number;
    authorization?: { user: string; password: string };
    routes: string[];
    tls?: NatsTlsBlock;
  };
}

export function renderServerConfig(input: ServerConfigInput): NatsServerConfig {
  const { node } = input;
  const config: NatsServerConfig = {
    server_name: node.name,
    host: node.host,
    port: node.clientPort,
    http: hostPort(input.monitorHost ?? node.monitorHost ?? DEFAULT_MONITOR_HOST, node.monitorPort),
    jetstream: { store_dir: node.storeDir },
  };
  if (input.syncInterval !== undefined) config.jetstream.sync_interval = input.syncInterval;
  if (input.tls) config.tls = tlsBlock(input.tls, false);
  const auth = input.authorization;
  if (auth) {
    const prefix = input.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
    config.authorization = {
      users: auth.users.map(({ role, nkey }) => ({ nkey, permissions: rolePermissions(role, prefix) })),
    };
  }
  if (input.peers.length > 0) {
    const route = auth?.route;
    if (auth && !route) {
      throw new CimError(
        'CIM-INVALID-CONFIG',
        'authorization without route credentials: cluster routes must authenticate',
      );
    }
    const userInfo = route ? `${encodeURIComponent(route.user)}:${encodeURIComponent(route.password)}@` : '';
    config.cluster = {
      name: input.clusterName,
      host: node.host,
      port: node.clusterPort,
      ...(route ? { authorization: { user: route.user, password: route.password } } : {}),
      routes: input.peers.map((peer) => `nats-route://${userInfo}${hostPort(peer.host, peer.clusterPort)}`),
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
