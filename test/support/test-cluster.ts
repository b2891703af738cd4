// One real embedded cluster per test file, with a connection, torn down in afterAll even when
// tests failed. The cluster asks for credentials like every embedded one: `nc` is `operator` (tests
// provision, publish and delete freely); `connect(role)` opens another connection as a role.
// `flags` are config flags as the CLI takes them (`natsServer: '2.12.1'`).
import type { NatsConnection } from 'nats';
import { connectNats, EmbeddedCluster, loadConfig, type NatsRole } from '../../appliance/index.js';
import { tempDir } from './temp-dir.js';

export interface TestCluster {
  cluster: EmbeddedCluster;
  /** As `operator`. */
  nc: NatsConnection;
  stateDir: string;
  /** A connection as `role` (to `servers`, default every node); the caller closes it. */
  connect(role: NatsRole, name?: string, servers?: string[]): Promise<NatsConnection>;
  stop(): Promise<void>;
}

export async function startTestCluster(
  name: string,
  nodes = 3,
  flags: Record<string, string> = {},
): Promise<TestCluster> {
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
      loadConfig({ env: {}, flags: { ...flags, stateDir: state.path, 'cluster.nodes': String(nodes) } }),
    );
    const started = cluster;
    nc = await connectNats(started.endpointFor('operator'), { name: `test-${name}` });
    const connect = (role: NatsRole, as = `test-${name}-${role}`, servers?: string[]) =>
      connectNats(started.endpointFor(role, servers), { name: as });
    return { cluster, nc, stateDir: state.path, connect, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
