// The embedded NATS cluster and connections to any cluster: the public surface of appliance/cluster.
export { readStoredStream, streamDir, type StoredRecord, type StoredStreamCopy } from './block-files.js';
export { connectNats, roleEndpoint, type NatsEndpoint } from './connection.js';
export { natsUsersDir, NatsUsers, ROUTE_USER } from './nats-users.js';
export { MonitorClient, type Jsz, type Varz } from './monitor.js';
export { openCluster, type ClusterTarget } from './open.js';
export { freePorts } from './ports.js';
export { currentHost, requireNetworkNamespaces, staleSets, type HostAccess, type IpCommand } from './netns.js';
export {
  compareVersions,
  findNatsServer,
  MIN_NATS_SERVER_VERSION,
  NATS_SERVER_INSTALL_HINT,
  oldServerNote,
  validateServerConfigFile,
  type NatsServerBinary,
  type ServerSource,
} from './server-binary.js';
export {
  DEFAULT_MONITOR_HOST,
  DEFAULT_SUBJECT_PREFIX,
  NATS_ROLES,
  renderServerConfig,
  roleDefinition,
  roleInboxPrefix,
  rolePermissions,
  serializeServerConfig,
  type NatsPermissions,
  type NatsRole,
  type NatsRoleDefinition,
  type NatsServerConfig,
  type ServerAuthorization,
  type NatsTlsBlock,
  type ServerConfigInput,
  type ServerNode,
  type ServerTls,
} from './server-config.js';
export { attachedClusterStatus, renderClusterStatus, type ClusterStatus, type ServerStatus } from './status.js';
export { FEATURE_SINCE, hasFeature, requireFeature, type ServerFeature } from './server-features.js';
export { EmbeddedCluster, type NodeState, type ServerBuild, type StartOptions } from './supervisor.js';
export {
  cachedNatscliPath,
  cachedServerPath,
  DEFAULT_SERVER_VERSION,
  findGo,
  installNatscli,
  installServer,
  listServers,
  NATSCLI_VERSION,
  printedVersion,
  resolveServerVersion,
  SUPPORTED_SERVERS,
  type CachedServer,
  type InstallResult,
  type SupportedServer,
} from './server-versions.js';
