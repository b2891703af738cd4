// The embedded cluster supervisor: spawns N nats-server processes on free loopback ports, waits
// until they form a JetStream cluster, injects faults (kill -9, pause, resume, restart), and stops
// them cleanly. For scenarios that partition the network, each node runs in a network namespace of
// its own (netns.ts) and partition()/heal() cut and restore routes between them. A cluster left
// running by `cim cluster up` is adopted by later commands through its manifest and pid files;
// servers orphaned by a crashed run are found and stopped.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ApplianceConfig } from '../config.js';
import { CimError } from '../errors.js';
import { connectNats, roleEndpoint, type NatsEndpoint } from './connection.js';
import { MonitorClient, type Jsz } from './monitor.js';
import { NetworkNamespaces, type HostAccess, type IpCommand } from './netns.js';
import { freePorts } from './ports.js';
import { findNatsServer, validateServerConfigFile, type NatsServerBinary } from './server-binary.js';
import { requireFeature } from './server-features.js';
import { natsUsersDir, NatsUsers } from './nats-users.js';
import {
  DEFAULT_MONITOR_HOST,
  renderServerConfig,
  serializeServerConfig,
  type NatsRole,
  type ServerNode,
} from './server-config.js';
import { isProcessAlive, processCommandLine, ServerProcess } from './server-process.js';
import { ClusterStateDir, type ClusterManifest } from './state-dir.js';
import type { ClusterStatus, ServerStatus } from './status.js';
import { sleep } from '../sleep.js';

export type NodeState = 'running' | 'paused' | 'stopped';

/** The binary a cluster runs, as results and reports record it. */
export interface ServerBuild {
  path: string;
  version: string;
  source?: string;
  goVersion?: string;
  oldServerNote?: string;
}

export interface StartOptions {
  /** Keep the servers running after this process exits (`cim cluster up`). */
  persistent?: boolean;
  /** Progress lines for the user (stderr in the CLI). */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /**
   * Run each node in a network namespace of its own, so that partition() can cut the network
   * between nodes (and between a node and its clients). Needs root on Linux; not for persistent
   * clusters. The namespaces are removed by stop().
   */
  networkNamespaces?: boolean | { ip?: IpCommand; host?: HostAccess };
}

interface NodeEntry {
  spec: ServerNode;
  monitor: MonitorClient;
  process: ServerProcess | undefined;
}

export class EmbeddedCluster {
  private readonly nodes: Map<string, NodeEntry>;
  private stopped = false;
  /** The users the servers know; undefined for a cluster started before they had any. */
  private readonly users: NatsUsers | undefined;

  /** What the current partition cuts, in words; undefined while the network is whole. */
  private partitioned: string | undefined;

  private constructor(
    private readonly dir: ClusterStateDir,
    private readonly manifest: ClusterManifest,
    processes: Map<string, ServerProcess | undefined>,
    private readonly log: (line: string) => void,
    private readonly netns?: NetworkNamespaces,
  ) {
    this.nodes = new Map(
      manifest.nodes.map((spec) => [
        spec.name,
        {
          spec,
          monitor: new MonitorClient(`http://${spec.monitorHost ?? DEFAULT_MONITOR_HOST}:${spec.monitorPort}`),
          process: processes.get(spec.name),
        },
      ]),
    );
    this.users = manifest.usersDir === undefined ? undefined : NatsUsers.find(manifest.usersDir);
  }

  /** Starts a fresh cluster in the state dir, after stopping any servers a crashed run left behind. */
  static async start(config: ApplianceConfig, options: StartOptions = {}): Promise<EmbeddedCluster> {
    const log = options.log ?? (() => {});
    const binary = await findNatsServer(options.env, { choice: config.natsServer, log });
    if (config.cluster.syncInterval !== undefined)
      requireFeature(binary.version, 'syncInterval', `cluster.syncInterval (${config.cluster.syncInterval})`);
    const dir = new ClusterStateDir(resolve(config.stateDir));
    await reclaimOrphans(dir, log);

    const previous = dir.readManifest();
    if (previous) refuseOtherSize(config, previous);

    const count = config.cluster.nodes;
    const names = Array.from({ length: count }, (_, i) => `n${i + 1}`);
    let netns: NetworkNamespaces | undefined;
    if (options.networkNamespaces) {
      if (options.persistent) {
        throw new CimError('CIM-INVALID-INPUT', 'a cluster in network namespaces lives only as long as its run');
      }
      const seams = options.networkNamespaces === true ? {} : options.networkNamespaces;
      netns = await NetworkNamespaces.create(names, { ...seams, log });
    }
    // In namespaces every node has an address of its own (the ports need not differ, but unique
    // ones keep the logs and URLs unambiguous); all its listeners are there, the monitor too.
    const ports = await freePorts(count * 3, netns ? undefined : config.cluster.host);
    const nodes: ServerNode[] = names.map((name, i) => ({
      name,
      host: netns ? netns.address(name) : config.cluster.host,
      clientPort: ports[i * 3]!,
      clusterPort: ports[i * 3 + 1]!,
      monitorPort: ports[i * 3 + 2]!,
      storeDir: dir.storeDir(name),
      ...(netns ? { monitorHost: netns.address(name), netns: netns.namespace(name) } : {}),
    }));
    // Created on first need: a state dir from before there were users gets them now, and new configs.
    const users = NatsUsers.ensure(natsUsersDir(config));
    try {
      await Promise.all(nodes.map((node) => writeNodeConfig(dir, binary, config, users, node, nodes)));
    } catch (error) {
      await netns?.destroy();
      throw error;
    }

    const manifest: ClusterManifest = {
      name: config.cluster.name,
      persistent: options.persistent ?? false,
      ownerPid: process.pid,
      binary: binary.path,
      version: binary.version,
      source: binary.source,
      ...(binary.goVersion ? { goVersion: binary.goVersion } : {}),
      ...(binary.oldServerNote ? { oldServerNote: binary.oldServerNote } : {}),
      syncInterval: config.cluster.syncInterval,
      startedAt: new Date().toISOString(),
      usersDir: users.dir,
      nodes,
    };
    dir.writeManifest(manifest);

    log(`starting ${count} nats-server ${binary.version} node(s) in ${dir.root}`);
    const cluster = new EmbeddedCluster(dir, manifest, new Map(), log, netns);
    try {
      for (const node of nodes) cluster.spawn(node.name);
      // Every node just spawned must come up. (waitReady waits only for the nodes running when it is
      // called: a server that had already exited would be left out, and a smaller cluster reported up.)
      const deadline = Date.now() + config.cluster.startTimeoutMs;
      await Promise.all(nodes.map((node) => cluster.waitNodeReady(node.name, deadline)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    log(`cluster "${manifest.name}" is up: ${cluster.clientUrls.join(',')}`);
    return cluster;
  }

  /**
   * The cluster `cim cluster up` left running in this state dir, if every one of its servers is
   * still alive; undefined otherwise.
   */
  static findRunning(stateDir: string, log: (line: string) => void = () => {}): EmbeddedCluster | undefined {
    const dir = new ClusterStateDir(resolve(stateDir));
    const manifest = dir.readManifest();
    if (!manifest?.persistent) return undefined;
    const processes = new Map<string, ServerProcess>();
    for (const node of manifest.nodes) {
      const pid = dir.readPid(node.name);
      if (pid === undefined || !isOurServer(dir, node.name, pid)) return undefined;
      processes.set(node.name, ServerProcess.adopt(pid));
    }
    return new EmbeddedCluster(dir, manifest, processes, log);
  }

  /**
   * Refuses a config asking for another number of nodes than this cluster has (`cim cluster up
   * --nodes N` while it runs), as a start in its state dir would: the data belongs to this size.
   */
  assertSize(config: ApplianceConfig): void {
    refuseOtherSize(config, this.manifest);
  }

  /** Stops servers a crashed run left behind in this state dir (see reclaimOrphans). */
  static async reclaimOrphans(stateDir: string, log: (line: string) => void = () => {}): Promise<void> {
    await reclaimOrphans(new ClusterStateDir(resolve(stateDir)), log);
  }

  get name(): string {
    return this.manifest.name;
  }

  get persistent(): boolean {
    return this.manifest.persistent;
  }

  get serverVersion(): string {
    return this.manifest.version;
  }

  /** The nats-server binary the nodes run, and where it came from. */
  get server(): ServerBuild {
    const { binary, version, source, goVersion, oldServerNote } = this.manifest;
    return {
      path: binary,
      version,
      ...(source ? { source } : {}),
      ...(goVersion ? { goVersion } : {}),
      ...(oldServerNote ? { oldServerNote } : {}),
    };
  }

  get nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  get clientUrls(): string[] {
    return this.manifest.nodes.map((n) => `nats://${n.host}:${n.clientPort}`);
  }

  /** How a connection in `role` reaches this cluster: its seed and inbox prefix from the users dir. */
  endpointFor(role: NatsRole, servers: string[] = this.clientUrls): NatsEndpoint {
    return roleEndpoint(servers, role, { users: this.users });
  }

  /** The users dir the servers' users come from; undefined for a cluster started before there were users. */
  get usersDir(): string | undefined {
    return this.users?.dir;
  }

  clientUrl(node: string): string {
    const { spec } = this.entry(node);
    return `nats://${spec.host}:${spec.clientPort}`;
  }

  monitor(node: string): MonitorClient {
    return this.entry(node).monitor;
  }

  nodeState(node: string): NodeState {
    const { process } = this.entry(node);
    if (!process?.isAlive()) return 'stopped';
    return process.isPaused() ? 'paused' : 'running';
  }

  /** kill -9: no shutdown, no flush — the crash a fault scenario wants. */
  async kill(node: string): Promise<void> {
    const entry = this.entry(node);
    await entry.process?.kill();
    this.dir.removePid(node);
    this.log(`killed ${node} (SIGKILL)`);
  }

  /** SIGSTOP: the process keeps its sockets but stops answering, like a long GC pause or a hung VM. */
  async pause(node: string): Promise<void> {
    const process = this.running(node);
    process.signal('SIGSTOP');
    await this.waitProcessState(node, process, true);
    this.log(`paused ${node} (SIGSTOP)`);
  }

  async resume(node: string): Promise<void> {
    const process = this.running(node);
    process.signal('SIGCONT');
    await this.waitProcessState(node, process, false);
    this.log(`resumed ${node} (SIGCONT)`);
  }

  /** Signals are delivered asynchronously: wait until the kernel shows the process (un)stopped. */
  private async waitProcessState(node: string, process: ServerProcess, paused: boolean): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (process.isPaused() !== paused) {
      if (Date.now() > deadline) {
        throw new CimError('CIM-UNAVAILABLE', `${node} did not ${paused ? 'stop' : 'continue'} after the signal`);
      }
      await sleep(5);
    }
  }

  /** Stops the node if it runs, starts it again with the same config and data, and waits until it rejoined. */
  async restart(node: string, timeoutMs = 30_000): Promise<void> {
    const entry = this.entry(node);
    if (entry.process?.isAlive()) await entry.process.stop();
    this.spawn(node);
    await this.waitNodeReady(node, Date.now() + timeoutMs);
    this.log(`restarted ${node}`);
  }

  /** The server name of the current leader of a stream (asked over NATS), or undefined while there is none. */
  async streamLeader(stream: string): Promise<string | undefined> {
    return (await this.streamPlacement(stream)).leader;
  }

  /** Where a stream's replicas are: its leader (undefined while there is none) and the other replicas, by server name. */
  async streamPlacement(stream: string): Promise<{ leader: string | undefined; followers: string[] }> {
    const nc = await connectNats(this.endpointFor('auditor', this.runningUrls()), { name: 'cim-supervisor' });
    try {
      const jsm = await nc.jetstreamManager();
      try {
        const info = await jsm.streams.info(stream);
        const leader = info.cluster?.leader ?? (this.nodes.size === 1 ? this.nodeNames[0] : undefined);
        return { leader, followers: (info.cluster?.replicas ?? []).map((r) => r.name).sort() };
      } catch (error) {
        if ((error as { code?: string }).code === '404') {
          throw new CimError('CIM-NOT-FOUND', `stream ${stream} does not exist`);
        }
        throw error;
      }
    } finally {
      await nc.close();
    }
  }

  /** Stops a node gracefully (SIGTERM, then SIGKILL after a grace period) and leaves it stopped. */
  async stopNode(node: string): Promise<void> {
    const entry = this.entry(node);
    await entry.process?.stop();
    this.dir.removePid(node);
    this.log(`stopped ${node}`);
  }

  /** The node's JetStream store directory (nats-server keeps its data in `jetstream/` below it). */
  storeDir(node: string): string {
    return this.entry(node).spec.storeDir;
  }

  /** Waits until every running node is healthy, routed to every other running node, and knows the meta leader. */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const running = this.nodeNames.filter((n) => this.nodeState(n) === 'running');
    await Promise.all(running.map((n) => this.waitNodeReady(n, deadline)));
  }

  async status(): Promise<ClusterStatus> {
    const servers: ServerStatus[] = await Promise.all(
      [...this.nodes.values()].map(async ({ spec, monitor, process }): Promise<ServerStatus> => {
        const state = this.nodeState(spec.name);
        const base: ServerStatus = {
          name: spec.name,
          state,
          pid: state === 'stopped' ? undefined : process?.pid,
          url: `nats://${spec.host}:${spec.clientPort}`,
          ports: { client: spec.clientPort, cluster: spec.clusterPort, monitor: spec.monitorPort },
          version: undefined,
          connections: undefined,
          routes: undefined,
          metaLeader: undefined,
          clusterSize: undefined,
        };
        if (state !== 'running') return base;
        try {
          const [varz, jsz, routez] = await Promise.all([monitor.varz(), monitor.jsz(), monitor.routez()]);
          return {
            ...base,
            version: varz.version,
            connections: varz.connections,
            routes: routez.num_routes,
            metaLeader: jsz.meta_cluster?.leader || (this.nodes.size === 1 ? spec.name : undefined),
            clusterSize: jsz.meta_cluster?.cluster_size ?? 1,
          };
        } catch {
          return { ...base, state: 'unreachable' };
        }
      }),
    );
    const leaders = servers.map((s) => s.metaLeader).filter((l): l is string => Boolean(l));
    return {
      mode: 'embedded',
      name: this.manifest.name,
      persistent: this.manifest.persistent,
      stateDir: this.dir.root,
      size: this.nodes.size,
      metaLeader: mostCommon(leaders),
      servers,
    };
  }

  /** Whether the nodes run in network namespaces, so that partition() can cut between them. */
  get partitionable(): boolean {
    return this.netns !== undefined;
  }

  /** The network namespace of each node (names per run), or undefined when they run in the root namespace. */
  get networkNamespaces(): { bridge: string; namespaces: string[] } | undefined {
    return this.netns && { bridge: this.netns.bridge, namespaces: this.netns.namespaces };
  }

  /**
   * Cuts the network between the groups (every node in exactly one; a node alone in a group is
   * isolated), and between the nodes of `fromClients` and every client, the monitor included.
   * Replaces any partition in force. The processes keep running: only packets stop.
   */
  async partition(groups: readonly (readonly string[])[], fromClients: readonly string[] = []): Promise<void> {
    const netns = this.requireNetns();
    for (const node of [...groups.flat(), ...fromClients]) this.entry(node);
    const listed = groups.flat();
    const missing = this.nodeNames.filter((n) => !listed.includes(n));
    if (missing.length > 0 || listed.length !== this.nodes.size) {
      throw new CimError(
        'CIM-INVALID-INPUT',
        `a partition puts every node in exactly one group; got ${describeGroups(groups)}`,
      );
    }
    // Set first: a partition that fails half way is healed like a whole one.
    this.partitioned = `${describeGroups(groups)}${fromClients.length > 0 ? `, ${fromClients.join(', ')} cut from clients` : ''}`;
    await netns.partition(groups, fromClients);
    this.log(`partitioned the network: ${this.partitioned}`);
  }

  /** Restores the whole network. Idempotent. */
  async heal(): Promise<void> {
    if (!this.netns || this.partitioned === undefined) return;
    await this.netns.heal();
    this.log(`healed the network partition ${this.partitioned}`);
    this.partitioned = undefined;
  }

  /** What the partition in force cuts (`n1 | n2 n3`), or undefined while the network is whole. */
  get partitionInForce(): string | undefined {
    return this.partitioned;
  }

  private requireNetns(): NetworkNamespaces {
    if (this.netns) return this.netns;
    throw new CimError(
      'CIM-INVALID-INPUT',
      `cluster "${this.manifest.name}" runs its nodes in the root network namespace: it cannot be partitioned`,
      { hint: 'Partitions need a cluster started for them (a scenario with a partition fault starts one).' },
    );
  }

  /** Stops every server (graceful, then SIGKILL), removes the pid files and the network namespaces. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(
      [...this.nodes.values()].map(async ({ spec, process }) => {
        await process?.stop();
        this.dir.removePid(spec.name);
      }),
    );
    await this.netns?.destroy();
    this.log(`cluster "${this.manifest.name}" stopped`);
  }

  private entry(node: string): NodeEntry {
    const entry = this.nodes.get(node);
    if (!entry) {
      throw new CimError('CIM-NOT-FOUND', `no node named "${node}" in cluster "${this.manifest.name}"`, {
        hint: `Nodes: ${this.nodeNames.join(', ')}.`,
      });
    }
    return entry;
  }

  private running(node: string): ServerProcess {
    const { process } = this.entry(node);
    if (!process?.isAlive()) throw new CimError('CIM-INVALID-INPUT', `node ${node} is not running`);
    return process;
  }

  private runningUrls(): string[] {
    return this.nodeNames.filter((n) => this.nodeState(n) === 'running').map((n) => this.clientUrl(n));
  }

  private spawn(node: string): void {
    const entry = this.entry(node);
    entry.process = ServerProcess.spawn({
      binary: this.manifest.binary,
      configFile: this.dir.configFile(node),
      logFile: this.dir.logFile(node),
      outliveParent: this.manifest.persistent,
      ...(this.netns ? { prefix: this.netns.execPrefix(node) } : {}),
    });
    this.dir.writePid(node, entry.process.pid);
  }

  /** The running peers a meta leader's /jsz does not list as current and online. */
  private peersNotCurrent(node: string, jsz: Jsz): string[] {
    const replicas = jsz.meta_cluster?.replicas ?? [];
    return this.nodeNames
      .filter((n) => n !== node && this.nodeState(n) === 'running')
      .filter((n) => !replicas.some((r) => r.name === n && r.current && !r.offline));
  }

  private async waitNodeReady(node: string, deadline: number): Promise<void> {
    const entry = this.entry(node);
    const clustered = this.nodes.size > 1;
    let lastProblem = 'not answering yet';
    for (;;) {
      if (!entry.process?.isAlive()) {
        throw new CimError(
          'CIM-CLUSTER-START',
          `nats-server ${node} exited while starting:\n${this.dir.logTail(node)}`,
          {
            hint: `Its full log is ${this.dir.logFile(node)}.`,
          },
        );
      }
      const peers = this.nodeNames.filter((n) => n !== node && this.nodeState(n) === 'running').length;
      try {
        if (!(await entry.monitor.healthy())) {
          lastProblem = 'JetStream not healthy yet';
        } else if (!clustered) {
          return;
        } else {
          const [jsz, routez] = await Promise.all([entry.monitor.jsz(), entry.monitor.routez()]);
          const notCurrent = jsz.meta_cluster?.leader === node ? this.peersNotCurrent(node, jsz) : [];
          if (!jsz.meta_cluster?.leader) lastProblem = 'no JetStream meta leader yet';
          else if (routez.num_routes < peers) lastProblem = `${routez.num_routes} of ${peers} routes up`;
          // A stream placed before the meta leader counts its peers as current fails with "no
          // suitable peers for placement", so the leader waits until it does.
          else if (notCurrent.length > 0)
            lastProblem = `meta leader does not count ${notCurrent.join(', ')} as current yet`;
          else return;
        }
      } catch (error) {
        lastProblem = (error as Error).message;
      }
      if (Date.now() >= deadline) {
        throw new CimError(
          'CIM-CLUSTER-START',
          `nats-server ${node} did not become ready in time: ${lastProblem}\n${this.dir.logTail(node)}`,
          {
            hint: `Raise cluster.startTimeoutMs, or read ${this.dir.logFile(node)}.`,
          },
        );
      }
      await sleep(100);
    }
  }
}

async function writeNodeConfig(
  dir: ClusterStateDir,
  binary: NatsServerBinary,
  config: ApplianceConfig,
  users: NatsUsers,
  node: ServerNode,
  all: ServerNode[],
): Promise<void> {
  mkdirSync(node.storeDir, { recursive: true });
  const rendered = renderServerConfig({
    clusterName: config.cluster.name,
    node,
    peers: all.filter((peer) => peer.name !== node.name),
    syncInterval: config.cluster.syncInterval,
    authorization: users.authorization(),
  });
  // 0600: the config holds the route secret. (The mode option applies only to a new file.)
  writeFileSync(dir.configFile(node.name), serializeServerConfig(rendered), { mode: 0o600 });
  chmodSync(dir.configFile(node.name), 0o600);
  await validateServerConfigFile(binary, dir.configFile(node.name));
}

/** A state dir holds the data of one cluster size; a config asking for another is refused. */
function refuseOtherSize(config: ApplianceConfig, manifest: ClusterManifest): void {
  if (manifest.nodes.length === config.cluster.nodes) return;
  throw new CimError(
    'CIM-INVALID-CONFIG',
    `cluster.nodes: the state dir ${resolve(config.stateDir)} holds the data of a ${manifest.nodes.length}-node cluster, got ${config.cluster.nodes}`,
    { hint: `Use --nodes ${manifest.nodes.length}, or another --state directory for a cluster of another size.` },
  );
}

/** A pid is one of ours only if that process runs nats-server with this node's config file. */
function isOurServer(dir: ClusterStateDir, node: string, pid: number): boolean {
  if (!isProcessAlive(pid)) return false;
  const cmdline = processCommandLine(pid);
  return cmdline !== undefined && cmdline.includes(dir.configFile(node));
}

/**
 * Stops servers whose owner is gone (a crashed run) and removes stale pid files. A cluster still
 * owned by a live process, or left running on purpose by `cim cluster up`, is in use: refuse.
 */
async function reclaimOrphans(dir: ClusterStateDir, log: (line: string) => void): Promise<void> {
  const manifest = dir.readManifest();
  const live = dir.pidFiles().filter(({ node, pid }) => isOurServer(dir, node, pid));
  if (live.length > 0 && manifest) {
    const inUse = manifest.persistent || (manifest.ownerPid !== process.pid && isProcessAlive(manifest.ownerPid));
    if (inUse && manifest.persistent && live.length === manifest.nodes.length) {
      throw new CimError('CIM-INVALID-INPUT', `the embedded cluster in ${dir.root} is already running`, {
        hint: 'Use it as it is, or stop it first with `cim cluster down`.',
      });
    }
    if (inUse && !manifest.persistent) {
      throw new CimError(
        'CIM-UNAVAILABLE',
        `the embedded cluster in ${dir.root} is in use by process ${manifest.ownerPid}`,
        {
          hint: 'Wait for that command to finish, or use another --state directory.',
        },
      );
    }
  }
  for (const { pid } of live) await ServerProcess.adopt(pid).stop(5_000);
  for (const { node } of dir.pidFiles()) dir.removePid(node);
  if (live.length > 0) log(`stopped ${live.length} nats-server process(es) left behind by an earlier run`);
}

/** `n1 | n2 n3`. */
function describeGroups(groups: readonly (readonly string[])[]): string {
  return groups.map((g) => g.join(' ')).join(' | ');
}

function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}
