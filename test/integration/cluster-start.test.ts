// The embedded cluster when it cannot be what was asked for: a nats-server that refuses to run, or
// a port another process holds, is CIM-CLUSTER-START (exit 3) with no server left running; a node
// count other than that of the cluster in the state dir is CIM-INVALID-CONFIG (exit 2), and the
// cluster and its files stay as they were.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isProcessAlive, processCommandLine } from '../../appliance/cluster/server-process.js';
import { EmbeddedCluster, isCimError, loadConfig, type ClusterStatus } from '../../appliance/index.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';

let work: ReturnType<typeof tempDir>;
const states: string[] = [];

beforeAll(() => {
  work = tempDir('cluster-start');
});

afterAll(async () => {
  // Whatever a failed assertion left running is stopped here, then the files go.
  for (const state of states) await EmbeddedCluster.reclaimOrphans(state).catch(() => {});
  for (const state of states) for (const pid of serversIn(state)) process.kill(pid, 'SIGKILL');
  work?.remove();
});

function stateDir(name: string): string {
  const state = join(work.path, name);
  states.push(state);
  return state;
}

/** Every live nats-server process whose config lies in this state dir, whatever its pid files say. */
function serversIn(state: string): number[] {
  const configs = join(state, 'cluster') + '/';
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => isProcessAlive(pid) && (processCommandLine(pid) ?? '').includes(configs));
}

const pidFiles = (state: string) =>
  ['n1', 'n2', 'n3'].filter((n) => readdirSync(join(state, 'cluster', n)).includes('server.pid'));

describe('a cluster that cannot start', () => {
  it('given nats-server n2 refuses to run (its JetStream store is a file), `cim cluster up` exits 3 naming n2 and the reason, and leaves no server running', async () => {
    const state = stateDir('refused');
    const blocked = join(state, 'cluster', 'n2', 'store', 'jetstream');
    mkdirSync(join(state, 'cluster', 'n2', 'store'), { recursive: true });
    writeFileSync(blocked, 'not a directory\n');

    const up = await runCli(['--state', state, 'cluster', 'up']);
    expect(up.code, up.stderr).toBe(3);
    expect(up.stderr).toContain('cim: error CIM-CLUSTER-START: nats-server n2 exited while starting:\n');
    expect(up.stderr).toContain("[FTL] Can't start JetStream: storage directory is not a directory");
    expect(up.stderr).toContain(`cim: hint: Its full log is ${join(state, 'cluster', 'n2', 'server.log')}.`);
    // n1 and n3 were started beside it, and were stopped again: no process, no pid file.
    for (const node of ['n1', 'n3'])
      expect(readFileSync(join(state, 'cluster', node, 'server.log'), 'utf8'), node).toContain('Starting nats-server');
    expect(serversIn(state)).toEqual([]);
    expect(pidFiles(state)).toEqual([]);
    const status = await runCli(['--state', state, 'cluster', 'status']);
    expect(status.code).toBe(3);
    expect(status.stderr).toContain('CIM-CLUSTER-NOT-RUNNING');

    // The state dir is left usable: with the cause gone, the same command brings the cluster up.
    rmSync(blocked);
    const again = await runCli(['--state', state, 'cluster', 'up', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const servers = (JSON.parse(again.stdout) as ClusterStatus).servers;
    expect(servers.map((s) => [s.name, s.state])).toEqual([
      ['n1', 'running'],
      ['n2', 'running'],
      ['n3', 'running'],
    ]);
    expect((await runCli(['--state', state, 'cluster', 'down'])).code).toBe(0);
    expect(serversIn(state)).toEqual([]);
  }, 270_000);

  describe('given the client port of a node being restarted is held by another process', () => {
    let cluster: EmbeddedCluster | undefined;
    let squatter: Server | undefined;

    afterEach(async () => {
      await new Promise((resolve) => (squatter?.listening ? squatter.close(resolve) : resolve(undefined)));
      await cluster?.stop();
    });

    it('the restart fails with CIM-CLUSTER-START naming the address in use, nothing runs, and a restart once it is free rejoins', async () => {
      const state = stateDir('port-taken');
      cluster = await EmbeddedCluster.start(loadConfig({ env: {}, flags: { stateDir: state, 'cluster.nodes': '1' } }));
      const { hostname, port } = new URL(cluster.clientUrl('n1'));
      await cluster.stopNode('n1');
      squatter = createServer();
      await new Promise<void>((resolve, reject) =>
        squatter!.once('error', reject).listen(Number(port), hostname, resolve),
      );

      const error = await cluster.restart('n1', 30_000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isCimError(error, 'CIM-CLUSTER-START'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/^nats-server n1 exited while starting:\n/);
      expect((error as Error).message).toContain(`${hostname}:${port}`);
      expect((error as Error).message).toContain('address already in use');
      expect(cluster.nodeState('n1')).toBe('stopped');
      expect(serversIn(state)).toEqual([]);

      await new Promise((resolve) => squatter!.close(resolve));
      await cluster.restart('n1', 30_000);
      expect(cluster.nodeState('n1')).toBe('running');
      expect((await cluster.status()).servers.map((s) => [s.name, s.state, s.ports?.client])).toEqual([
        ['n1', 'running', Number(port)],
      ]);
    }, 120_000);
  });
});

describe('a node count other than that of the cluster in the state dir', () => {
  const refusal = (state: string) =>
    `cim: error CIM-INVALID-CONFIG: cluster.nodes: the state dir ${state} holds the data of a 3-node cluster, got 1\n` +
    'cim: hint: Use --nodes 3, or another --state directory for a cluster of another size.\n';

  it('given `cim cluster up` left 3 nodes running, `cim cluster up --nodes 1` exits 2 and leaves the 3 running as they were', async () => {
    const state = stateDir('running-3');
    const up = await runCli(['--state', state, 'cluster', 'up', '--json']);
    expect(up.code, up.stderr).toBe(0);
    const pids = (JSON.parse(up.stdout) as ClusterStatus).servers.map((s) => s.pid);
    const manifest = readFileSync(join(state, 'cluster', 'cluster.json'), 'utf8');

    const other = await runCli(['--state', state, 'cluster', 'up', '--nodes', '1']);
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr).toBe(refusal(state));
    expect(other.stdout).toBe('');
    const status = await runCli(['--state', state, 'cluster', 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as ClusterStatus).servers.map((s) => [s.pid, s.state])).toEqual(
      pids.map((pid) => [pid, 'running']),
    );
    expect(readFileSync(join(state, 'cluster', 'cluster.json'), 'utf8')).toBe(manifest);
    expect((await runCli(['--state', state, 'cluster', 'down'])).code).toBe(0);
  }, 200_000);

  it('given a 3-node cluster stopped with its data kept, `cim cluster up --nodes 1` exits 2 and starts nothing', async () => {
    const state = stateDir('stopped-3');
    expect((await runCli(['--state', state, 'cluster', 'up'])).code).toBe(0);
    expect((await runCli(['--state', state, 'cluster', 'down'])).code).toBe(0);
    const manifest = readFileSync(join(state, 'cluster', 'cluster.json'), 'utf8');

    const other = await runCli(['--state', state, 'cluster', 'up', '--nodes', '1']);
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr).toBe(refusal(state));
    expect(serversIn(state)).toEqual([]);
    expect(pidFiles(state)).toEqual([]);
    expect(readFileSync(join(state, 'cluster', 'cluster.json'), 'utf8')).toBe(manifest);
  }, 200_000);
});
