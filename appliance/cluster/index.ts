// The embedded NATS cluster and connections to any cluster: the public surface of appliance/cluster.
export { connectNats, type NatsEndpoint } from './connection.js';
export { MonitorClient, type Jsz, type Varz } from './monitor.js';
export { openCluster, type ClusterTarget } from './open.js';
export { freePorts } from './ports.js';
export {
  findNatsServer,
  MIN_NATS_SERVER_VERSION,
  NATS_SERVER_INSTALL_HINT,
  validateServerConfigFile,
  type NatsServerBinary,
} from './server-binary.js';
export {
  renderServerConfig,
  serializeServerConfig,
  type NatsServerConfig,
  type NatsTlsBlock,
  type ServerConfigInput,
  type ServerNode,
  type ServerTls,
} from './server-config.js';
export { attachedClusterStatus, renderClusterStatus, type ClusterStatus, type ServerStatus } from './status.js';
export { EmbeddedCluster, type NodeState, type StartOptions } from './supervisor.js';
