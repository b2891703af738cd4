// Network partitions on real 3-node clusters whose nodes run in network namespaces: the namespaces
// hold the right processes (pause and kill still reach them), a cut really cuts (the isolated
// leader loses its stream, an isolated node's monitor goes silent) and a heal really heals, the
// namespaces are gone after a stop, a failed start, an exit without a stop and a crash; and the
// partition scenarios of the catalog, cut short, lose nothing and record when each cut healed.
// Needs root on Linux (it creates namespaces); skipped otherwise, saying so in the suite's name.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, EmbeddedCluster, loadConfig, type ApplianceConfig } from '../../appliance/index.js';
import { NetworkNamespaces, staleSets } from '../../appliance/cluster/netns.js';
import { defaultCatalogDir, loadScenarioFile } from '../../scenarios/loader.js';
import type { FaultPhaseResult, ScenarioResult } from '../../scenarios/results.js';
import { runScenario } from '../../scenarios/runner.js';
import type { Scenario } from '../../scenarios/types.js';
import { fileTempDir, tempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait.js';

const ROOT = process.platform === 'linux' && process.getuid?.() === 0;
const SKIPPED = ROOT ? '' : ' (skipped: needs root on Linux to create network namespaces)';

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
/** Whatever of a namespace set is still on the host: namespaces, links, the bridge. */
function leftOf(set: { bridge: string; namespaces: string[] }): string[] {
  const slot = set.bridge.replace('cimbr', '');
  const namespaces = ip('netns', 'list')
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((ns) => ns.startsWith(`cim${slot}-`));
  const links = ip('-o', 'link', 'show')
    .split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])
    .filter((l): l is string => l === set.bridge || (l !== undefined && new RegExp(`^cim${slot}n\\d+$`).test(l)));
  return [...namespaces, ...links];
}

/** The kernel's state letter of a process; `gone` once it has exited (a zombie not yet reaped included). */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'Z' || state === 'X' ? 'gone' : state;
  } catch {
    return 'gone';
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

function tcpOpens(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port, timeout: 1_000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

describe.skipIf(!ROOT)(`a cluster in network namespaces${SKIPPED}`, () => {
  const state = fileTempDir('partition-cluster');
  let cluster: EmbeddedCluster;
  let set: { bridge: string; namespaces: string[] };

  beforeAll(async () => {
    cluster = await EmbeddedCluster.start(loadConfig({ env: {}, flags: { stateDir: state.path } }), {
      networkNamespaces: true,
    });
    set = cluster.networkNamespaces!;
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs each node in its own namespace, on its own address, as the pid the supervisor signals', async () => {
    expect(cluster.partitionable).toBe(true);
    const status = await cluster.status();
    const netnsOfUs = readlinkSync('/proc/self/ns/net');
    for (const [i, server] of status.servers.entries()) {
      const ns = set.namespaces[i]!;
      expect(server.state).toBe('running');
      expect(server.url).toMatch(new RegExp(`^nats://10\\.213\\.\\d+\\.${i + 1}:\\d+$`));
      expect(readFileSync(`/proc/${server.pid}/cmdline`, 'utf8')).toContain('nats-server');
      const netns = readlinkSync(`/proc/${server.pid}/ns/net`);
      expect(netns).not.toBe(netnsOfUs);
      expect(netns).toBe(`net:[${statSync(`/run/netns/${ns}`).ino}]`);
    }
    // SIGSTOP and SIGKILL reach the server itself (ip netns exec execs it, so the pid is its own).
    const pid = status.servers[2]!.pid!;
    await cluster.pause('n3');
    expect(procState(pid)).toBe('T');
    await cluster.resume('n3');
    await cluster.kill('n3');
    expect(procState(pid)).toBe('gone');
    await cluster.restart('n3');
    const again = (await cluster.status()).servers[2]!;
    expect(again.pid).not.toBe(pid);
    expect(readlinkSync(`/proc/${again.pid}/ns/net`)).toBe(`net:[${statSync(`/run/netns/${set.namespaces[2]}`).ino}]`);
    await cluster.waitReady();
  }, 60_000);

  it('given the stream leader cut off from its peers, then the majority elects another and the old one loses the meta leader; after the heal all agree again', async () => {
    const nc = await connectNats(cluster.endpointFor('operator'), { name: 'test-partition' });
    try {
      const jsm = await nc.jetstreamManager();
      // Right after a node restarted (the test before) placement can still time out: retried.
      await waitFor(
        'stream PT created',
        () => jsm.streams.add({ name: 'PT', subjects: ['pt.>'], num_replicas: 3 }),
        60_000,
        500,
      );
      for (let i = 0; i < 20; i++)
        await waitFor(
          'a write to PT acknowledged',
          () => nc.jetstream().publish('pt.x', 'x', { msgID: `pt-${i}` }),
          30_000,
          500,
        );
      const leader = await waitFor('a leader of PT', () => cluster.streamLeader('PT'));
      const others = cluster.nodeNames.filter((n) => n !== leader);
      await cluster.partition([[leader], others]);
      expect(cluster.partitionInForce).toBe(`${leader} | ${others.join(' ')}`);
      const majority = await connectNats(
        cluster.endpointFor(
          'operator',
          others.map((n) => cluster.clientUrl(n)),
        ),
        {
          name: 'test-partition-majority',
        },
      );
      try {
        const majorityJsm = await majority.jetstreamManager();
        const newLeader = await waitFor(
          'another leader of PT on the majority side',
          async () => {
            const info = await majorityJsm.streams.info('PT');
            return info.cluster?.leader && info.cluster.leader !== leader ? info.cluster.leader : undefined;
          },
          45_000,
          500,
        );
        expect(others).toContain(newLeader);
        // The majority still takes writes; the isolated node no longer knows a meta leader.
        await waitFor(
          'a write to PT on the majority side',
          () => majority.jetstream().publish('pt.x', 'during', { msgID: 'pt-during' }),
          30_000,
          500,
        );
        await waitFor(
          `${leader} to lose the meta leader`,
          async () => !(await cluster.monitor(leader).jsz()).meta_cluster?.leader,
          45_000,
          500,
        );
        // Clients still reach it: the cut is between the nodes only.
        expect(await answers(`${cluster.monitor(leader).baseUrl}/varz`)).toBe(true);
      } finally {
        await majority.close();
      }
      await cluster.heal();
      expect(cluster.partitionInForce).toBeUndefined();
      await waitFor(
        'every node to agree on one meta leader, routed to both others, PT current on all',
        async () => {
          const views = await Promise.all(cluster.nodeNames.map((n) => cluster.monitor(n).jsz()));
          const routes = await Promise.all(cluster.nodeNames.map((n) => cluster.monitor(n).routez()));
          const info = await jsm.streams.info('PT');
          const leaders = new Set(views.map((v) => v.meta_cluster?.leader));
          return (
            leaders.size === 1 &&
            !leaders.has(undefined) &&
            routes.every((r) => r.num_routes >= 2) &&
            (info.cluster?.replicas ?? []).length === 2 &&
            info.cluster!.replicas!.every((r) => r.current) &&
            info.state.messages === 21
          );
        },
        60_000,
        500,
      );
    } finally {
      await nc.close();
    }
  }, 180_000);

  it('given a node cut off from peers and clients, then neither its monitor nor its client port answers; after the heal both do', async () => {
    const node = 'n2';
    const spec = (await cluster.status()).servers[1]!;
    const [host, port] = spec.url.replace('nats://', '').split(':');
    await cluster.partition([[node], ['n1', 'n3']], [node]);
    expect(await answers(`${cluster.monitor(node).baseUrl}/varz`)).toBe(false);
    expect(await tcpOpens(host!, Number(port))).toBe(false);
    expect(await answers(`${cluster.monitor('n1').baseUrl}/varz`)).toBe(true);
    await cluster.heal();
    expect(await answers(`${cluster.monitor(node).baseUrl}/varz`)).toBe(true);
    expect(await tcpOpens(host!, Number(port))).toBe(true);
    await cluster.waitReady(60_000);
  }, 120_000);

  it('given a partition in force, when the cluster stops, then no namespace, link or bridge is left', async () => {
    await cluster.partition([['n1'], ['n2', 'n3']], ['n1']);
    expect(leftOf(set).length).toBeGreaterThan(0);
    await cluster.stop();
    expect(leftOf(set)).toEqual([]);
  }, 60_000);
});

describe.skipIf(!ROOT)(`namespaces are removed whatever ends the run${SKIPPED}`, () => {
  it('given a cluster that does not become ready, then start fails and removes its namespaces', async () => {
    const state = tempDir('partition-start-fails');
    const lines: string[] = [];
    try {
      const config = loadConfig({ env: {}, flags: { stateDir: state.path } });
      await expect(
        EmbeddedCluster.start(
          { ...config, cluster: { ...config.cluster, startTimeoutMs: 1 } },
          {
            networkNamespaces: true,
            log: (l) => lines.push(l),
          },
        ),
      ).rejects.toMatchObject({ code: 'CIM-CLUSTER-START' });
      const bridge = /on bridge (cimbr\d+)/.exec(lines.join('\n'))![1]!;
      const slot = bridge.replace('cimbr', '');
      expect(leftOf({ bridge, namespaces: [`cim${slot}-n1`] })).toEqual([]);
    } finally {
      state.remove();
    }
  }, 60_000);

  const child = (script: string) =>
    spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { NetworkNamespaces } from ${JSON.stringify(join(process.cwd(), 'dist/appliance/cluster/netns.js'))};
         const set = await NetworkNamespaces.create(['n1', 'n2']);
         console.log(set.bridge);
         ${script}`,
      ],
      { encoding: 'utf8' },
    );

  it('given a process that exits without stopping, then its exit hook removes them', () => {
    const run = child('process.exit(0);');
    expect(run.status, run.stderr).toBe(0);
    const bridge = run.stdout.trim();
    expect(leftOf({ bridge, namespaces: [] })).toEqual([]);
  });

  it('given a process killed with -9, then the next set reclaims what it left', async () => {
    const run = child("process.kill(process.pid, 'SIGKILL');");
    expect(run.signal).toBe('SIGKILL');
    const bridge = run.stdout.trim();
    // Two namespaces, the host ends of their veths, the bridge.
    expect(leftOf({ bridge, namespaces: [] })).toHaveLength(5);
    expect((await staleSets()).map((s) => s.bridge)).toContain(bridge);
    const next = await NetworkNamespaces.create(['n1']);
    try {
      // Its pieces are gone; the new set may take the freed slot (then only its own n1 is there).
      expect((await staleSets()).map((s) => s.bridge)).not.toContain(bridge);
      const slot = bridge.replace('cimbr', '');
      expect(leftOf({ bridge, namespaces: [] }).filter((piece) => piece.endsWith('n2'))).toEqual([]);
      if (next.bridge !== bridge) expect(leftOf({ bridge, namespaces: [] })).toEqual([]);
      else expect(leftOf({ bridge, namespaces: [] }).sort()).toEqual([`cim${slot}-n1`, `cim${slot}n1`, bridge].sort());
    } finally {
      await next.destroy();
    }
    expect(leftOf({ bridge: next.bridge, namespaces: [] })).toEqual([]);
  });
});

describe.skipIf(!ROOT)(`partition scenarios, cut short, on the default server${SKIPPED}`, () => {
  const state = fileTempDir('partition-scenarios');
  let config: ApplianceConfig;
  beforeAll(() => void (config = loadConfig({ env: {}, flags: { stateDir: state.path } })));

  /** A catalog scenario with a load of `loadMs` at 150/s and its fault at 1 s, changed by `fault`. */
  function short(file: string, loadMs: number, fault: Record<string, unknown>): Scenario {
    const scenario = loadScenarioFile(join(defaultCatalogDir(), file));
    return {
      ...scenario,
      phases: scenario.phases.map((phase) => {
        if (phase.type === 'load') return { ...phase, rate: 150, duration: loadMs };
        if (phase.type === 'fault') return { ...phase, at: 1_000, ...fault };
        return phase;
      }),
    };
  }

  const faultOf = (result: ScenarioResult) => {
    const fault = result.phases.find((p): p is FaultPhaseResult => p.type === 'fault')!;
    expect(fault.error).toBeUndefined();
    return fault.fault!;
  };

  it('given the stream leader partitioned for 4 s under load, then nothing is lost, and the cut and its heal are recorded', async () => {
    let namespaces: { bridge: string; namespaces: string[] } | undefined;
    // 15 s of load after the heal: on a loaded machine the election and the backlog take several
    // seconds before the delivered rate holds within 10 % of the offered for 2 s (CI: not within 6 s).
    const result = await runScenario(short('partition-leader.yaml', 20_000, { for: 4_000 }), {
      config,
      runDir: join(state.path, 'run'),
      baselineMessages: 1_000,
      beforeCheck: async ({ cluster }) => void (namespaces = cluster?.networkNamespaces),
    });
    expect(result.status, result.reason).toBe('passed');
    expect(result.checker).toMatchObject({ lost: 0, unexpected: 0, duplicates: 0 });
    const fault = faultOf(result);
    expect(fault.action).toBe('partition');
    expect(fault.nodes).toHaveLength(1);
    expect(fault.detail).toMatch(
      new RegExp(`^cut ${fault.nodes[0]} \\(leader of CIM_PERSON\\) off from n\\d, n\\d for 4\\.\\d s; healed`),
    );
    expect(fault.firedAtMs).toBeGreaterThanOrEqual(1_000);
    expect(fault.firedAtMs).toBeLessThan(3_000);
    expect(fault.healedAtMs! - fault.firedAtMs).toBeGreaterThanOrEqual(4_000);
    expect(fault.healedAtMs! - fault.firedAtMs).toBeLessThan(6_000);
    expect(fault.partition).toEqual({
      groups: [fault.nodes, expect.any(Array)],
      fromClients: [],
      cuts: [{ atMs: fault.firedAtMs, healedAtMs: expect.any(Number) }],
    });
    // Recovery is reported either way: the time until the delivered rate held within 10 % of the
    // offered for 2 s (here about 10 s: the 4 s stall, then the backlog drained above the offered
    // rate), or, on a machine too loaded to drain the backlog before the load ends, that it did not
    // recover within the run. The longest stall spans the cut.
    const phase = result.phases.find((p): p is FaultPhaseResult => p.type === 'fault')!;
    expect(phase.recovered).toEqual(expect.any(Boolean));
    expect(phase.stallMs).toBeGreaterThan(2_000);
    if (phase.recovered) expect(result.metrics.recovery_ms).toBeGreaterThanOrEqual(phase.stallMs!);
    else expect(result.metrics.recovery_ms).toBeUndefined();
    expect(namespaces?.namespaces).toHaveLength(3);
    expect(leftOf(namespaces!)).toEqual([]);
  }, 240_000);

  it('given a follower cut off from peers and clients twice (flapping), then nothing is lost and each cut is recorded', async () => {
    const result = await runScenario(
      short('partition-follower.yaml', 10_000, { for: undefined, flap: { times: 2, on: 2_000, off: 2_000 } }),
      { config, runDir: join(state.path, 'run'), baselineMessages: 1_000 },
    );
    expect(result.status, result.reason).toBe('passed');
    expect(result.checker).toMatchObject({ lost: 0, unexpected: 0, duplicates: 0 });
    const fault = faultOf(result);
    expect(fault.detail).toMatch(
      /off from n\d, n\d and from every client 2 times \(2\.0 s cut, 2\.0 s whole between cuts\)/,
    );
    const cuts = fault.partition!.cuts;
    expect(cuts).toHaveLength(2);
    expect(fault.partition!.fromClients).toEqual(fault.nodes);
    expect(cuts[0]!.atMs).toBe(fault.firedAtMs);
    expect(cuts[1]!.healedAtMs).toBeLessThanOrEqual(fault.healedAtMs!);
    // Timers fire to the millisecond, the clock is finer.
    for (const cut of cuts) expect(cut.healedAtMs! - cut.atMs).toBeGreaterThanOrEqual(1_990);
    expect(cuts[1]!.atMs - cuts[0]!.healedAtMs!).toBeGreaterThanOrEqual(1_990);
  }, 240_000);

  it('given a run that breaks after the partition, then its namespaces are gone all the same', async () => {
    let namespaces: { bridge: string; namespaces: string[] } | undefined;
    const result = await runScenario(short('partition-leader.yaml', 3_000, { for: 1_000 }), {
      config,
      runDir: join(state.path, 'run'),
      baselineMessages: 200,
      beforeCheck: async ({ cluster }) => {
        namespaces = cluster?.networkNamespaces;
        throw new Error('the check broke');
      },
    });
    expect(result.status).toBe('error');
    expect(result.reason).toContain('the check broke');
    expect(namespaces?.namespaces).toHaveLength(3);
    expect(leftOf(namespaces!)).toEqual([]);
  }, 240_000);
});
