import { describe, expect, it } from 'vitest';
import { ApplianceConfigSchema, CimError, renderServerConfig } from '../../appliance/index.js';
import { natsConfigInput, parsePeer } from '../../cli/nats-config.js';
import { runCli } from '../support/cli.js';

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
    const ok = await runCli([
      'nats-config',
      '--server-name',
      'n2',
      '--host',
      '0.0.0.0',
      '--peer',
      '10.0.0.1:6222',
      '--cluster-name',
      'east',
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      server_name: 'n2',
      host: '0.0.0.0',
      cluster: { name: 'east', routes: ['nats-route://10.0.0.1:6222'] },
    });
    const bad = await runCli(['nats-config', '--port', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^cim: error CIM-INVALID-INPUT: --port: expected a port/);
  });
});
