// One real 3-node cluster per test file for several scenario runs: started as `cim cluster up`
// would (persistent, in a temp state dir), so the runner uses it as the embedded cluster that is
// already running and may still kill, pause and restart its nodes. Stopped in afterAll whatever the
// faults left of it (nodes restarted by the runner have new processes; a node may stay down).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { connectNats, EmbeddedCluster, loadConfig, type ApplianceConfig } from '../../appliance/index.js';
import { runScenario, type RunOptions } from '../../scenarios/runner.js';
import type { ScenarioResult } from '../../scenarios/results.js';
import type { Scenario } from '../../scenarios/types.js';
import { tempDir } from './temp-dir.js';

export interface ScenarioCluster {
  config: ApplianceConfig;
  stateDir: string;
  /** The cluster as this process sees it now (adopted anew, so restarted nodes are found). */
  cluster(): EmbeddedCluster;
  nc: NatsConnection;
  run(scenario: Scenario, options?: Partial<RunOptions>): Promise<ScenarioResult>;
  /** The pid in a node's pid file, or undefined when it has none (killed, stopped). */
  pid(node: string): number | undefined;
  stop(): Promise<void>;
}

export async function startScenarioCluster(name: string): Promise<ScenarioCluster> {
  const state = tempDir(name);
  const config = loadConfig({ env: {}, flags: { stateDir: state.path } });
  let nc: NatsConnection | undefined;
  const stop = async () => {
    await nc?.close().catch(() => {});
    const running = EmbeddedCluster.findRunning(state.path);
    if (running) await running.stop();
    // Not every node alive (a fault left one down): stop those that are, by their pid files.
    else await EmbeddedCluster.reclaimOrphans(state.path);
    state.remove();
  };
  try {
    const started = await EmbeddedCluster.start(config, { persistent: true });
    nc = await connectNats({ servers: started.clientUrls }, { name: `test-${name}` });
    const connection = nc;
    return {
      config,
      stateDir: state.path,
      nc: connection,
      cluster: () => {
        const running = EmbeddedCluster.findRunning(state.path);
        if (!running) throw new Error(`the cluster in ${state.path} is not fully running`);
        return running;
      },
      run: (scenario, options = {}) => runScenario(scenario, { config, runDir: join(state.path, 'run'), baselineMessages: 1_000, ...options }),
      pid: (node) => {
        try {
          return Number(readFileSync(join(state.path, 'cluster', node, 'server.pid'), 'utf8').trim());
        } catch {
          return undefined;
        }
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
