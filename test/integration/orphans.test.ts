// Crash safety of the embedded cluster: a run killed with -9 leaves servers behind, and the next
// start in the same state dir finds and stops them; Ctrl-C stops a command's cluster cleanly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../appliance/cluster/server-process.js';
import { EmbeddedCluster, isCimError, loadConfig } from '../../appliance/index.js';
import { spawnCli } from '../support/cli.js';
import { fileTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait.js';

const work = fileTempDir('orphans');
const children: ChildProcess[] = [];
const started: EmbeddedCluster[] = [];

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const cluster of started) await cluster.stop();
  for (const state of ['crash', 'ctrlc']) await EmbeddedCluster.reclaimOrphans(join(work.path, state)).catch(() => {});
  work.remove();
});

/** Starts `cim bench` with far more messages than it will get to, and waits until its cluster is up. */
async function benchRunning(state: string): Promise<{ child: ChildProcess; serverPid: number; stderr: () => string }> {
  let stderr = '';
  const child = spawnCli(['--state', state, 'bench', '--components', '--messages', '100000000'], {
    env: { CIM_CLUSTER_NODES: '1' },
  });
  children.push(child);
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitFor('the bench cluster to come up', () => stderr.includes('is up') || undefined, 60_000);
  const serverPid = Number(readFileSync(join(state, 'cluster', 'n1', 'server.pid'), 'utf8'));
  return { child, serverPid, stderr: () => stderr };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('servers orphaned by a crashed run', () => {
  it(
    'are refused while their owner lives, and stopped by the next start once it has crashed',
    async () => {
      const state = join(work.path, 'crash');
      const config = loadConfig({ env: {}, flags: { stateDir: state, 'cluster.nodes': '1' } });
      const { child, serverPid } = await benchRunning(state);

      // While the bench runs, its cluster is in use: another start must not take it over.
      const refused = await EmbeddedCluster.start(config).then(
        (cluster) => {
          started.push(cluster);
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(isCimError(refused, 'CIM-UNAVAILABLE')).toBe(true);

      // The simulated crash: SIGKILL runs no clean-up, so the server outlives its owner.
      child.kill('SIGKILL');
      await exited(child);
      expect(isProcessAlive(serverPid)).toBe(true);

      const lines: string[] = [];
      const cluster = await EmbeddedCluster.start(config, { log: (line) => lines.push(line) });
      started.push(cluster);
      expect(isProcessAlive(serverPid)).toBe(false);
      expect(lines.join('\n')).toContain('stopped 1 nats-server process(es) left behind by an earlier run');
      expect((await cluster.status()).servers[0]?.state).toBe('running');
      await cluster.stop();
      expect(cluster.nodeNames.map((n) => cluster.nodeState(n))).toEqual(['stopped']);
    },
    60_000 + 2 * 30_000 + 30_000,
  ); // the bench's cluster coming up, two cluster starts
});

describe('Ctrl-C', () => {
  it('stops the cluster a command started for itself and exits 130', async () => {
    const state = join(work.path, 'ctrlc');
    const { child, serverPid, stderr } = await benchRunning(state);
    child.kill('SIGINT');
    const code = await exited(child);
    expect(code).toBe(130);
    expect(stderr()).toContain('shutting down cleanly');
    expect(isProcessAlive(serverPid)).toBe(false);
  });
});
