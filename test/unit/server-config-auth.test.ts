// renderServerConfig's access control: a user per role with that role's permissions from
// nats-roles.json, routes that authenticate, monitoring on loopback, and configs every supported
// nats-server accepts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CimError,
  findNatsServer,
  listServers,
  NATS_ROLES,
  renderServerConfig,
  rolePermissions,
  serializeServerConfig,
  validateServerConfigFile,
  type NatsServerBinary,
  type ServerAuthorization,
  type ServerNode,
} from '../../appliance/index.js';
import { fileTempDir } from '../support/temp-dir.js';

const dir = fileTempDir('server-config-auth');
afterAll(() => dir.remove());

const node = (i: number): ServerNode => ({
  name: `n${i}`,
  host: '0.0.0.0',
  clientPort: 14220 + i,
  clusterPort: 16220 + i,
  monitorPort: 18220 + i,
  storeDir: join(dir.path, `n${i}`),
});

const keys = Object.fromEntries(NATS_ROLES.map((role) => [role, nkeys.createUser().getPublicKey()]));
const authorization: ServerAuthorization = {
  users: NATS_ROLES.map((role) => ({ role, nkey: keys[role]! })),
  route: { user: 'cim-route', password: 'c0ffee' },
};
const ADMIN = ['CREATE', 'UPDATE', 'DELETE', 'PURGE', 'MSG.DELETE'].map((verb) => `$JS.API.STREAM.${verb}.>`);

describe('renderServerConfig with authorization', () => {
  const all = [node(1), node(2), node(3)];
  const config = renderServerConfig({
    clusterName: 'east',
    node: all[0]!,
    peers: all.slice(1),
    authorization,
    subjectPrefix: 'prod.cim',
  });

  it('renders one nkey user per role, no no_auth_user, and the subject prefix substituted', () => {
    const users = config.authorization!.users;
    expect(users.map((u) => u.nkey)).toEqual(NATS_ROLES.map((r) => keys[r]));
    expect(config).not.toHaveProperty('no_auth_user');
    expect(JSON.stringify(config)).not.toContain('{prefix}');
    const service = users[NATS_ROLES.indexOf('service')]!.permissions;
    expect(service.publish.allow).toContain('prod.cim.*.events.>');
    expect(service.subscribe.allow).toEqual(expect.arrayContaining(['_INBOX_service.>', 'prod.cim.*.commands.*']));
    expect(service.allow_responses).toBe(true);
    const loadgen = users[NATS_ROLES.indexOf('loadgen')]!.permissions;
    expect(loadgen.publish.allow).toEqual(['prod.cim.*.commands.*']);
    expect(loadgen.subscribe.allow).toEqual(['_INBOX_loadgen.>']);
    expect(loadgen).not.toHaveProperty('allow_responses');
  });

  it('denies stream create, update, delete, purge and message delete to every role but operator', () => {
    for (const role of NATS_ROLES) {
      const { publish } = rolePermissions(role);
      if (role === 'operator') {
        expect(publish).toEqual({ allow: ['>'] });
      } else if (role === 'retention') {
        // Its one extra right: deleting messages of domain streams, never of the evidence or the buckets.
        expect(publish.deny, role).toEqual(expect.arrayContaining(ADMIN.filter((s) => !s.includes('MSG.DELETE'))));
        expect(
          publish.allow!.filter((s) => /^\$JS\.API\.STREAM\.(CREATE|UPDATE|DELETE|PURGE|MSG\.DELETE)/.test(s)),
        ).toEqual(['$JS.API.STREAM.MSG.DELETE.*']);
        expect(publish.deny).toEqual(
          expect.arrayContaining(
            ['CIM_SEALS', 'CIM_AUDIT', 'CIM_RETENTION', 'KV_cim_snapshots', 'KV_cim_commands', 'KV_cim_holds'].map(
              (stream) => `$JS.API.STREAM.MSG.DELETE.${stream}`,
            ),
          ),
        );
      } else {
        expect(publish.deny, role).toEqual(expect.arrayContaining(ADMIN));
        expect(publish.allow!.some((s) => /^\$JS\.API\.STREAM\.(CREATE|UPDATE|DELETE|PURGE|MSG\.DELETE)/.test(s))).toBe(
          false,
        );
      }
    }
    for (const role of ['gateway', 'loadgen', 'auditor', 'retention'] as const) {
      expect(rolePermissions(role).publish.deny).toEqual(expect.arrayContaining(['cim.*.events.>', 'cim.seals.>']));
    }
  });

  it('authenticates routes: the cluster block asks for the route user, and every route URL carries it', () => {
    expect(config.cluster!.authorization).toEqual({ user: 'cim-route', password: 'c0ffee' });
    expect(config.cluster!.routes).toEqual([
      'nats-route://cim-route:c0ffee@0.0.0.0:16222',
      'nats-route://cim-route:c0ffee@0.0.0.0:16223',
    ]);
  });

  it('refuses users without route credentials when there are peers', () => {
    expect(() =>
      renderServerConfig({ clusterName: 'x', node: all[0]!, peers: all.slice(1), authorization: { users: [] } }),
    ).toThrow(CimError);
  });

  it('listens for monitoring on loopback unless told otherwise, whatever the client host', () => {
    expect(config.http).toBe('127.0.0.1:18221');
    expect(renderServerConfig({ clusterName: 'x', node: all[0]!, peers: [], monitorHost: '::' }).http).toBe(
      '[::]:18221',
    );
  });

  it('renders configs every supported nats-server accepts (nats-server -t), for 1 and 3 nodes', async () => {
    const binaries: NatsServerBinary[] = [await findNatsServer()];
    for (const cached of await listServers(process.env)) {
      if (cached.path) binaries.push({ path: cached.path, version: cached.version, source: 'path given' });
    }
    const configs = [
      renderServerConfig({ clusterName: 'single', node: node(1), peers: [], authorization }),
      ...all.map((n) =>
        renderServerConfig({ clusterName: 'trio', node: n, peers: all.filter((p) => p !== n), authorization }),
      ),
    ];
    for (const binary of binaries) {
      for (const [i, rendered] of configs.entries()) {
        const file = join(dir.path, `auth-${binary.version}-${i}.json`);
        writeFileSync(file, serializeServerConfig(rendered));
        await expect(validateServerConfigFile(binary, file), `${binary.version} #${i}`).resolves.toBeUndefined();
      }
    }
  });
});
