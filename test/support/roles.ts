// Connections as a NATS role to a cluster a `cim` process started in a state dir: the role's seed
// from that state dir's users dir (`<state>/nats-users`), as the CLI's own verbs connect.
import { join } from 'node:path';
import { NatsUsers, roleEndpoint, type NatsEndpoint, type NatsRole } from '../../appliance/index.js';

export function usersDirOf(stateDir: string): string {
  return join(stateDir, 'nats-users');
}

export function stateEndpoint(stateDir: string, role: NatsRole, servers: string[]): NatsEndpoint {
  return roleEndpoint(servers, role, { users: NatsUsers.find(usersDirOf(stateDir)) });
}
