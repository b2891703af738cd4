// One real 3-node cluster per test file for several scenario runs: started as `cim cluster up`
// would (persistent, in a temp state dir), so the runner uses it as the embedded cluster that is
// already running and may still kill, pause and restart its nodes. Stopped in afterAll whatever the
// faults left of it (nodes restarted by the runner have new processes; a node may stay down).
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { connectNats, EmbeddedCluster, loadConfig, type ApplianceConfig } from '../../appliance/index.js';
import { runScenario, type RunOptions } from '../../scenarios/runner.js';
import type { ScenarioResult } from '../../scenarios/results.js';
import type { Scenario } from '../../scenarios/types.js';
import { tempDir } from './temp-dir.js';

export interface ScenarioCluster {
  config: ApplianceConfig;
  /** The state dir: the cluster's files are in `cluster/` below it. */
  stateDir: string;
  /** Where the runner keeps each scenario's data (`<runDir>/<scenario>/`). */
  runDir: string;
  nc: NatsConnection;
  run(scenario: Scenario, options?: Partial<RunOptions>): Promise<ScenarioResult>;
  /** Stops every server still running, keeping the data; later runs start clusters of their own. */
  halt(): Promise<void>;
  /** Stops every server still running and removes the state dir. */
  stop(): Promise<void>;
}

export async function startScenarioCluster(name: string): Promise<ScenarioCluster> {
  const state = tempDir(name);
  const config = loadConfig({ env: {}, flags: { stateDir: state.path } });
  const runDir = join(state.path, 'run');
  let nc: NatsConnection | undefined;
  const halt = async () => {
    await nc?.close().catch(() => {});
    const running = EmbeddedCluster.findRunning(state.path);
    if (running) await running.stop();
    // Not every node alive (a fault left one down): stop those that are, by their pid files.
    else await EmbeddedCluster.reclaimOrphans(state.path);
  };
  const stop = async () => {
    await halt();
    state.remove();
  };
  try {
    const started = await EmbeddedCluster.start(config, { persistent: true });
    nc = await connectNats(started.endpointFor('operator'), { name: `test-${name}` });
    const connection = nc;
    return {
      config,
      stateDir: state.path,
      runDir,
      nc: connection,
      run: (scenario, options = {}) => runScenario(scenario, { config, runDir, baselineMessages: 1_000, ...options }),
      halt,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
