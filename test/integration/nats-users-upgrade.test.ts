// A state dir from before the embedded cluster had NATS users (cluster data, no users dir, a
// manifest without one) still starts: the users are created, every config is rewritten with them,
// and the data is all there for the roles to read.
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { connectNats, EmbeddedCluster, EMPTY_HEAD, EventStore, loadConfig, provision } from '../../appliance/index.js';
import type { ClusterManifest } from '../../appliance/cluster/state-dir.js';
import { fileTempDir } from '../support/temp-dir.js';

const state = fileTempDir('nats-users-upgrade');
let cluster: EmbeddedCluster | undefined;
afterAll(async () => {
  await cluster?.stop();
});

it('given cluster data but no users, starts, creates the users and rewrites the configs', async () => {
  const config = loadConfig({ env: {}, flags: { stateDir: state.path, 'cluster.nodes': '1' } });
  cluster = await EmbeddedCluster.start(config);
  const nc = await connectNats(cluster.endpointFor('operator'));
  await provision(nc, { domains: ['person'], replicas: 1, duplicateWindowMs: 60_000 });
  await (
    await EventStore.open(nc)
  ).append(
    { domain: 'person', aggregate: 'Person', aggregateId: 'old' },
    EMPTY_HEAD,
    [{ type: 'PersonRegistered', payload: { name: 'Old', email: 'old@example.org' } }],
    { correlationId: 'c', causationId: 'c', actor: 'test' },
  );
  await nc.close();
  await cluster.stop();

  // What an older version left: no users dir, a manifest that names none, configs without users.
  rmSync(join(state.path, 'nats-users'), { recursive: true, force: true });
  const manifestFile = join(state.path, 'cluster', 'cluster.json');
  const { usersDir: _gone, ...older } = JSON.parse(readFileSync(manifestFile, 'utf8')) as ClusterManifest;
  void _gone;
  writeFileSync(manifestFile, JSON.stringify(older));
  const configFile = join(state.path, 'cluster', 'n1', 'server.json');
  const { authorization: _none, ...plain } = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  void _none;
  writeFileSync(configFile, JSON.stringify(plain), { mode: 0o644 });

  cluster = await EmbeddedCluster.start(config);
  expect(cluster.usersDir).toBe(join(state.path, 'nats-users'));
  expect(statSync(join(state.path, 'nats-users', 'operator.nk')).mode & 0o777).toBe(0o600);
  expect(statSync(configFile).mode & 0o777).toBe(0o600);
  expect(JSON.parse(readFileSync(configFile, 'utf8'))).toHaveProperty('authorization.users');
  await expect(connectNats({ servers: cluster.clientUrls }, { timeoutMs: 2_000 })).rejects.toThrow(
    /Authorization Violation/i,
  );
  const auditor = await connectNats(cluster.endpointFor('auditor'));
  try {
    const info = await (await auditor.jetstreamManager()).streams.info('CIM_PERSON');
    expect(info.state.messages).toBe(1);
  } finally {
    await auditor.close();
  }
}, 60_000);
