// The HTTP gateway and its API keys: the public surface of appliance/api.
export {
  addApiKey,
  createApiKey,
  KeyRing,
  readKeyFile,
  removeApiKey,
  ROLES,
  writeKeyFile,
  type ApiKeyEntry,
  type ApiKeyIdentity,
  type KeyRingOptions,
  type Role,
} from './api-keys.js';
export {
  startGateway,
  type GatewayHandle,
  type GatewayMetrics,
  type GatewayOptions,
  type RateLimit,
} from './gateway.js';
export { formatAddress, parseListen } from './listen.js';
