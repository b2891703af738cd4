// Opens NATS client connections the way every part of the appliance should: async stack traces
// off (nats.js builds two Error objects per request otherwise — ~35% of raw publish throughput,
// measured on these machines), reconnecting forever, and failures mapped to CIM-UNAVAILABLE.
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats';
import { CimError } from '../errors.js';
import './nats-request-patch.js';
import type { NatsUsers } from './nats-users.js';
import { roleInboxPrefix, type NatsRole } from './server-config.js';

/** Where to connect and as whom: a creds file (attached clusters), a role's nkey seed, or nobody. */
export interface NatsEndpoint {
  servers: string[];
  credsFile?: string | undefined;
  /** A file holding an nkey user seed (`<usersDir>/<role>.nk`). */
  nkeySeedFile?: string | undefined;
  /** Where replies come: a role's own inbox prefix, the only one its permissions let it subscribe to. */
  inboxPrefix?: string | undefined;
}

/**
 * The endpoint a role connects with: the creds file when one is given (it is all an attached
 * cluster's operator handed out), else the role's seed from the users dir, else no credentials.
 */
export function roleEndpoint(
  servers: string[],
  role: NatsRole,
  auth: { users?: NatsUsers | undefined; credsFile?: string | undefined },
): NatsEndpoint {
  if (auth.credsFile) return { servers, credsFile: auth.credsFile };
  if (auth.users) return { servers, nkeySeedFile: auth.users.seedFile(role), inboxPrefix: roleInboxPrefix(role) };
  return { servers };
}

function readCredential(setting: string, file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new CimError(
      'CIM-INVALID-CONFIG',
      `${setting}: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`,
    );
  }
}

export async function connectNats(
  endpoint: NatsEndpoint,
  options: { name?: string; timeoutMs?: number; extra?: Partial<ConnectionOptions> } = {},
): Promise<NatsConnection> {
  let authenticator: ConnectionOptions['authenticator'];
  if (endpoint.credsFile) {
    authenticator = credsAuthenticator(readCredential('nats.credsFile', endpoint.credsFile));
  } else if (endpoint.nkeySeedFile) {
    const seed = new TextDecoder().decode(readCredential('nats.usersDir', endpoint.nkeySeedFile)).trim();
    authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  try {
    return await connect({
      servers: endpoint.servers,
      name: options.name ?? 'cim-appliance',
      noAsyncTraces: true,
      timeout: options.timeoutMs ?? 5_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...(authenticator ? { authenticator } : {}),
      ...(endpoint.inboxPrefix ? { inboxPrefix: endpoint.inboxPrefix } : {}),
      ...options.extra,
    });
  } catch (error) {
    throw new CimError(
      'CIM-UNAVAILABLE',
      `cannot connect to NATS at ${endpoint.servers.join(',')}: ${(error as Error).message}`,
      {
        hint: 'Check the URLs (--nats / CIM_NATS_URLS) and credentials, or run `cim cluster up` for an embedded cluster.',
        cause: error,
      },
    );
  }
}
