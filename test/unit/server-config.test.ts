import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CimError,
  findNatsServer,
  renderServerConfig,
  serializeServerConfig,
  validateServerConfigFile,
  type ServerNode,
} from '../../appliance/index.js';
import { compareVersions } from '../../appliance/cluster/server-binary.js';
import { fileTempDir } from '../support/temp-dir.js';

const dir = fileTempDir('server-config');
afterAll(() => dir.remove());

const node = (i: number): ServerNode => ({
  name: `n${i}`,
  host: '127.0.0.1',
  clientPort: 14220 + i,
  clusterPort: 16220 + i,
  monitorPort: 18220 + i,
  storeDir: join(dir.path, `n${i}`),
});

describe('renderServerConfig', () => {
  it('given one node, renders JetStream without a cluster block', () => {
    const config = renderServerConfig({ clusterName: 'cim', node: node(1), peers: [] });
    expect(config).toEqual({
      server_name: 'n1',
      host: '127.0.0.1',
      port: 14221,
      http: '127.0.0.1:18221',
      jetstream: { store_dir: join(dir.path, 'n1') },
    });
  });

  it('given three nodes, routes each node to the two others only', () => {
    const all = [node(1), node(2), node(3)];
    const config = renderServerConfig({
      clusterName: 'east',
      node: all[1]!,
      peers: [all[0]!, all[2]!],
      syncInterval: '10s',
    });
    expect(config.cluster).toEqual({
      name: 'east',
      host: '127.0.0.1',
      port: 16222,
      routes: ['nats-route://127.0.0.1:16221', 'nats-route://127.0.0.1:16223'],
    });
    expect(config.jetstream.sync_interval).toBe('10s');
  });

  it('renders configs the real nats-server accepts (nats-server -t), for 1 and 3 nodes', async () => {
    const binary = await findNatsServer();
    const all = [node(1), node(2), node(3)];
    const configs = [
      renderServerConfig({ clusterName: 'single', node: node(1), peers: [] }),
      ...all.map((n) => renderServerConfig({ clusterName: 'trio', node: n, peers: all.filter((p) => p !== n) })),
    ];
    for (const [i, config] of configs.entries()) {
      const file = join(dir.path, `valid-${i}.json`);
      writeFileSync(file, serializeServerConfig(config));
      await expect(validateServerConfigFile(binary, file)).resolves.toBeUndefined();
    }
  });

  it("a config the server refuses becomes CIM-INVALID-CONFIG carrying the server's reason", async () => {
    const binary = await findNatsServer();
    const file = join(dir.path, 'invalid.json');
    writeFileSync(
      file,
      JSON.stringify({ ...renderServerConfig({ clusterName: 'x', node: node(1), peers: [] }), no_such_option: 1 }),
    );
    const error = await validateServerConfigFile(binary, file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CimError);
    expect((error as CimError).code).toBe('CIM-INVALID-CONFIG');
    expect((error as CimError).message).toContain('no_such_option');
  });
});

describe('sync_interval', () => {
  it('is passed to nats-server, which accepts it from 2.10 on and otherwise names it in the error', async () => {
    const binary = await findNatsServer();
    const file = join(dir.path, 'sync.json');
    writeFileSync(
      file,
      serializeServerConfig(renderServerConfig({ clusterName: 'x', node: node(1), peers: [], syncInterval: 'always' })),
    );
    const outcome = await validateServerConfigFile(binary, file).then(
      () => 'accepted',
      (e: CimError) => e.message,
    );
    if (compareVersions(binary.version, '2.10.0') >= 0) expect(outcome).toBe('accepted');
    else expect(outcome).toMatch(/unknown field "sync_interval"/);
  });
});
