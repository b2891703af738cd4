// Network namespaces for an embedded cluster that must be partitioned: each node in a namespace of
// its own with one address, all of them on a bridge in the root namespace (where the appliance,
// the load driver and the monitor client run), and partitions as blackhole routes inside the
// namespaces. Names carry a slot number claimed per run, so parallel runs do not collide; the
// whole set is torn down by destroy(), and by an exit hook if the process ends without it.
//
// Why namespaces and not port rules: every route connection runs between loopback addresses, and
// the port a node dials from is ephemeral, so a rule on 127.0.0.1 cannot tell which node opened a
// route. With an address per node, "n2 cannot reach n1" is one route in n2's namespace. A
// blackhole route drops what the node sends to that address (a connect fails at once), so a cut
// between two nodes is a route in each of the two namespaces; a node cut off from clients gets one
// to the bridge's address, which is where every client connection (and the monitor) comes from.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { CimError } from '../errors.js';
import { isProcessAlive } from './server-process.js';

const run = promisify(execFile);

/** The first two octets of every namespace address: 10.213.<slot>.<node>, the bridge .254. */
const PREFIX = '10.213';
const BRIDGE_HOST = 254;
const ALIAS = 'cim-netns pid=';

/** Runs `ip` with the given arguments; the seam tests replace. */
export type IpCommand = (args: readonly string[]) => Promise<string>;

export const ipCommand: IpCommand = async (args) => (await run('ip', [...args], { encoding: 'utf8' })).stdout;

/** What the partition mechanism needs from the host; injected in tests. */
export interface HostAccess {
  platform: NodeJS.Platform;
  /** The effective uid (process.geteuid). */
  uid: number | undefined;
}

export const currentHost = (): HostAccess => ({ platform: process.platform, uid: process.geteuid?.() });

/**
 * Refuses, with CIM-NEEDS-ROOT and what to do, when partitions cannot be made here: they need
 * Linux network namespaces and root to create them. `what` names what asked for them.
 */
export function requireNetworkNamespaces(what: string, host: HostAccess = currentHost()): void {
  if (host.platform !== 'linux') {
    throw new CimError('CIM-NEEDS-ROOT', `${what} needs Linux network namespaces; this is ${host.platform}`, {
      hint: 'Run partition scenarios on Linux as root, or leave them out (they are in the `partition` suite only).',
    });
  }
  if (host.uid !== 0) {
    throw new CimError(
      'CIM-NEEDS-ROOT',
      `${what} needs root: it puts each node in a network namespace of its own and cuts routes between them (uid ${host.uid ?? 'unknown'})`,
      { hint: 'Run it as root (sudo), or leave partition scenarios out (they are in the `partition` suite only).' },
    );
  }
}

/** A cut in force: which node's namespace holds a blackhole route to which address. */
interface Cut {
  node: string;
  address: string;
}

export interface NamespaceSet {
  slot: number;
  bridge: string;
  namespaces: string[];
}

export class NetworkNamespaces {
  private cuts: Cut[] = [];
  private destroyed = false;
  private readonly onExit = () => this.destroySync();

  private constructor(
    readonly slot: number,
    private readonly nodes: readonly string[],
    private readonly ip: IpCommand,
  ) {
    process.once('exit', this.onExit);
  }

  /**
   * Creates a namespace per node, each with its address on a veth pair whose other end is on a
   * fresh bridge in the root namespace. Refuses without root; leaves nothing behind when it fails.
   */
  static async create(
    nodes: readonly string[],
    options: { ip?: IpCommand; host?: HostAccess; log?: (line: string) => void } = {},
  ): Promise<NetworkNamespaces> {
    requireNetworkNamespaces('a cluster that can be partitioned', options.host);
    const ip = options.ip ?? ipCommand;
    await reclaimStale(ip, options.log ?? (() => {}));
    const slot = await claimSlot(ip);
    const set = new NetworkNamespaces(slot, nodes, ip);
    try {
      await ip(['link', 'set', set.bridge, 'alias', `${ALIAS}${process.pid}`]);
      await ip(['addr', 'add', `${set.bridgeAddress}/24`, 'dev', set.bridge]);
      await ip(['link', 'set', set.bridge, 'up']);
      for (const node of nodes) {
        const ns = set.namespace(node);
        await ip(['netns', 'add', ns]);
        await ip(['link', 'add', set.hostLink(node), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
        await ip(['link', 'set', set.hostLink(node), 'master', set.bridge, 'up']);
        await ip(['-n', ns, 'addr', 'add', `${set.address(node)}/24`, 'dev', 'eth0']);
        await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
        await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      }
    } catch (error) {
      await set.destroy();
      throw new CimError('CIM-CLUSTER-START', `could not set up network namespaces: ${(error as Error).message}`, {
        hint: 'It needs `ip` (iproute2) with netns, veth and bridge support in the kernel.',
        cause: error,
      });
    }
    options.log?.(`network namespaces ${set.namespaces.join(', ')} on bridge ${set.bridge} (${PREFIX}.${slot}.0/24)`);
    return set;
  }

  get bridge(): string {
    return `cimbr${this.slot}`;
  }

  /** The root namespace's address on the bridge: the source of every client and monitor connection. */
  get bridgeAddress(): string {
    return `${PREFIX}.${this.slot}.${BRIDGE_HOST}`;
  }

  get namespaces(): string[] {
    return this.nodes.map((n) => this.namespace(n));
  }

  namespace(node: string): string {
    return `cim${this.slot}-${node}`;
  }

  /** The node's only address: its client, cluster and monitor ports listen there. */
  address(node: string): string {
    const index = this.nodes.indexOf(node);
    if (index < 0) throw new CimError('CIM-NOT-FOUND', `no namespace for node "${node}"`);
    return `${PREFIX}.${this.slot}.${index + 1}`;
  }

  /** The command prefix that runs a program inside the node's namespace (`ip netns exec` execs it: same pid). */
  execPrefix(node: string): string[] {
    return ['ip', 'netns', 'exec', this.namespace(node)];
  }

  private hostLink(node: string): string {
    return `cim${this.slot}${node}`;
  }

  /**
   * Cuts every node off from the nodes outside its group (both directions), and the nodes of
   * `fromClients` off from the root namespace too. Heals any cut in force first.
   */
  async partition(groups: readonly (readonly string[])[], fromClients: readonly string[] = []): Promise<void> {
    await this.heal();
    const groupOf = new Map(groups.flatMap((group, i) => group.map((node) => [node, i] as const)));
    for (const node of this.nodes) {
      for (const other of this.nodes) {
        if (other === node) continue;
        if (groupOf.get(node) !== groupOf.get(other)) await this.cut(node, this.address(other));
      }
    }
    for (const node of fromClients) await this.cut(node, this.bridgeAddress);
  }

  /** The cuts in force, as `n1→10.213.7.2`, for logs. */
  get inForce(): string[] {
    return this.cuts.map((c) => `${c.node}→${c.address}`);
  }

  private async cut(node: string, address: string): Promise<void> {
    await this.ip(['-n', this.namespace(node), 'route', 'add', 'blackhole', `${address}/32`]);
    this.cuts.push({ node, address });
  }

  /** Removes every cut in force. */
  async heal(): Promise<void> {
    const cuts = this.cuts;
    this.cuts = [];
    for (const { node, address } of cuts) {
      await this.ip(['-n', this.namespace(node), 'route', 'del', 'blackhole', `${address}/32`]);
    }
  }

  /**
   * Deletes the host ends of the veth pairs (which takes the namespace ends with them at once;
   * a namespace's own devices go asynchronously after it is deleted), the namespaces with their
   * routes, and the bridge. Idempotent; tries every step even when one fails.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    await removeSet(this.ip, { slot: this.slot, bridge: this.bridge, namespaces: this.namespaces }, this.nodes);
  }

  /** The same, synchronously, for the exit hook (no promises run once the process is exiting). */
  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const quiet = (args: string[]) => {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
    };
    for (const node of this.nodes) quiet(['link', 'del', this.hostLink(node)]);
    for (const ns of this.namespaces) quiet(['netns', 'del', ns]);
    quiet(['link', 'del', this.bridge]);
  }
}

/** Claims the lowest free slot by creating its bridge: `ip link add` fails if another run has it. */
async function claimSlot(ip: IpCommand): Promise<number> {
  const used = await ip(['-o', 'addr', 'show']);
  for (let slot = 0; slot < 250; slot++) {
    // A host that already uses the subnet (a real network, a VPN) keeps it.
    if (used.includes(` ${PREFIX}.${slot}.`)) continue;
    try {
      await ip(['link', 'add', `cimbr${slot}`, 'type', 'bridge']);
      return slot;
    } catch {
      // Taken by a parallel run (or a stale bridge): the next.
    }
  }
  throw new CimError('CIM-UNAVAILABLE', `no free network namespace slot (${PREFIX}.0–249.0/24 all in use)`, {
    hint: 'Remove bridges named cimbrN that no run owns any more (`ip link del cimbrN`).',
  });
}

async function removeSet(ip: IpCommand, set: NamespaceSet, nodes?: readonly string[]): Promise<void> {
  const quiet = async (args: string[]) => ip(args).catch(() => '');
  const links = nodes?.map((n) => `cim${set.slot}${n}`) ?? set.namespaces.map((ns) => ns.replace('-', ''));
  for (const link of links) await quiet(['link', 'del', link]);
  for (const ns of set.namespaces) await quiet(['netns', 'del', ns]);
  await quiet(['link', 'del', set.bridge]);
}

/** The namespace sets on this host whose bridge names an owner process that is gone (a run killed with -9). */
export async function staleSets(ip: IpCommand = ipCommand): Promise<NamespaceSet[]> {
  const links = await ip(['-o', 'link', 'show', 'type', 'bridge']);
  const namespaces = (await ip(['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!);
  const stale: NamespaceSet[] = [];
  for (const line of links.split('\n')) {
    const match = /^\d+: (cimbr(\d+))[:@].*alias cim-netns pid=(\d+)/.exec(line);
    if (!match || isProcessAlive(Number(match[3]))) continue;
    const slot = Number(match[2]);
    stale.push({ slot, bridge: match[1]!, namespaces: namespaces.filter((ns) => ns.startsWith(`cim${slot}-`)) });
  }
  return stale;
}

async function reclaimStale(ip: IpCommand, log: (line: string) => void): Promise<void> {
  for (const set of await staleSets(ip)) {
    await removeSet(ip, set);
    log(
      `removed network namespaces ${set.namespaces.join(', ') || '(none)'} and bridge ${set.bridge} of a run that is gone`,
    );
  }
}
