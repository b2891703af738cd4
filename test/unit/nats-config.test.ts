import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ApplianceConfigSchema,
  CimError,
  NATS_ROLES,
  NatsUsers,
  renderServerConfig,
  serializeServerConfig,
} from '../../appliance/index.js';
import { natsConfigInput, parsePeer } from '../../cli/nats-config.js';
import { runCli } from '../support/cli.js';
import { fileTempDir } from '../support/temp-dir.js';

const work = fileTempDir('nats-config');
/** Every CLI run keeps its NATS users in the test's directory, not in ./.cim. */
const usersEnv = () => ({ env: { CIM_NATS_USERS_DIR: join(work.path, 'users') } });

const config = ApplianceConfigSchema.parse({ stateDir: '/var/lib/cim-appliance', cluster: { name: 'east' } });

describe('cim nats-config', () => {
  it("given no node flags, uses NATS' well-known ports, the config's host and a store under the state dir", () => {
    const input = natsConfigInput(config, { serverName: 'n1' });
    expect(input).toEqual({
      clusterName: 'east',
      node: {
        name: 'n1',
        host: '127.0.0.1',
        clientPort: 4222,
        clusterPort: 6222,
        monitorPort: 8222,
        storeDir: '/var/lib/cim-appliance/nats',
      },
      peers: [],
      syncInterval: undefined,
    });
  });

  it('given peers as host, host:port and [v6]:port, routes to each', () => {
    const input = natsConfigInput(config, { peer: ['10.0.0.2', '10.0.0.3:7222,[fd00::4]:6222'] });
    expect(renderServerConfig(input).cluster?.routes).toEqual([
      'nats-route://10.0.0.2:6222',
      'nats-route://10.0.0.3:7222',
      'nats-route://[fd00::4]:6222',
    ]);
  });

  it('rejects a peer that is not host:port', () => {
    expect(() => parsePeer('a:b:c')).toThrow(CimError);
    expect(() => parsePeer('host:70000')).toThrow(/expected host:port/);
  });

  it('given TLS files, clients get TLS and routes mutual TLS against the CA', () => {
    const config3 = renderServerConfig(
      natsConfigInput(config, { peer: ['10.0.0.2'], tlsCert: '/k/c.pem', tlsKey: '/k/k.pem', tlsCa: '/k/ca.pem' }),
    );
    expect(config3.tls).toEqual({ cert_file: '/k/c.pem', key_file: '/k/k.pem', ca_file: '/k/ca.pem' });
    expect(config3.cluster?.tls).toEqual({
      cert_file: '/k/c.pem',
      key_file: '/k/k.pem',
      ca_file: '/k/ca.pem',
      verify: true,
    });
  });

  it('refuses a certificate without its key', () => {
    expect(() => natsConfigInput(config, { tlsCert: '/k/c.pem' })).toThrow(/go together/);
  });

  it('prints the config as JSON; a bad flag exits 2 with a one-line error', async () => {
    const ok = await runCli(
      ['nats-config', '--server-name', 'n2', '--host', '0.0.0.0', '--peer', '10.0.0.1:6222', '--cluster-name', 'east'],
      usersEnv(),
    );
    expect(ok.code).toBe(0);
    const users = NatsUsers.find(join(work.path, 'users'))!;
    expect(JSON.parse(ok.stdout)).toMatchObject({
      server_name: 'n2',
      host: '0.0.0.0',
      http: '127.0.0.1:8222',
      cluster: { name: 'east', routes: [`nats-route://cim-route:${users.routePassword}@10.0.0.1:6222`] },
    });
    const bad = await runCli(['nats-config', '--port', 'x'], usersEnv());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^cim: error CIM-INVALID-INPUT: --port: expected a port/);
  });

  it('renders a user per role and authenticated routes from the users dir, which it creates private and then reuses', async () => {
    const dir = join(work.path, 'users');
    const args = ['nats-config', '--server-name', 'n1', '--peer', '10.0.0.2', '--monitor-host', '0.0.0.0'];
    const first = await runCli(args, usersEnv());
    expect(first.code, first.stderr).toBe(0);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const role of NATS_ROLES) expect(statSync(join(dir, `${role}.nk`)).mode & 0o777).toBe(0o600);
    const users = NatsUsers.find(dir)!;
    // Byte for byte what the renderer gives for the same inputs.
    const config = ApplianceConfigSchema.parse({});
    const expected = renderServerConfig(
      natsConfigInput(config, { serverName: 'n1', peer: ['10.0.0.2'], monitorHost: '0.0.0.0' }, users),
    );
    expect(first.stdout).toBe(serializeServerConfig(expected));
    expect(expected.authorization!.users.map((u) => u.nkey)).toEqual(NATS_ROLES.map((r) => users.publicKey(r)));
    expect(expected.http).toBe('0.0.0.0:8222');
    const again = await runCli(args, usersEnv());
    expect(again.stdout).toBe(first.stdout);
  });

  it('--help says which files to copy to the other machines', async () => {
    const help = await runCli(['nats-config', '--help']);
    expect(help.stdout).toMatch(/copy that whole\s+directory/);
    expect(help.stdout).toContain('route.secret');
  });
});
