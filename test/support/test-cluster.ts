// One real embedded cluster per test file, with a connection, torn down in afterAll even when
// tests failed.
import type { NatsConnection } from 'nats';
import { connectNats, EmbeddedCluster, loadConfig } from '../../appliance/index.js';
import { tempDir } from './temp-dir.js';

export interface TestCluster {
  cluster: EmbeddedCluster;
  nc: NatsConnection;
  stateDir: string;
  stop(): Promise<void>;
}

export async function startTestCluster(name: string, nodes = 3): Promise<TestCluster> {
  const state = tempDir(name);
  let cluster: EmbeddedCluster | undefined;
  let nc: NatsConnection | undefined;
  const stop = async () => {
    await nc?.close().catch(() => {});
    await cluster?.stop();
    state.remove();
  };
  try {
    cluster = await EmbeddedCluster.start(
      loadConfig({ env: {}, flags: { stateDir: state.path, 'cluster.nodes': String(nodes) } }),
    );
    nc = await connectNats({ servers: cluster.clientUrls }, { name: `test-${name}` });
    return { cluster, nc, stateDir: state.path, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
