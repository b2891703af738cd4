// Fault phases: what is done to the embedded cluster (or the appliance) and when it was undone.
// Targets are resolved when the fault fires ("leader of CIM_PERSON" is whoever leads then), with
// the scenario's seed for any choice, and every action is logged with its times so the report
// can put markers on the throughput chart and measure recovery from them.
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CimError, sleep, toCimError, type EmbeddedCluster } from '../appliance/index.js';
import type { Random } from '../bench/index.js';
import type { FaultPhase, FaultTarget } from './types.js';

export interface FaultRecord {
  phase: string;
  action: FaultPhase['action'];
  /** The nodes it hit (empty for restart-appliance). */
  nodes: string[];
  /** When the fault fired and when it was undone (node back, appliance back), ms since the scenario started. */
  firedAtMs: number;
  healedAtMs?: number;
  /** What was done, in words: `killed n2 (leader of CIM_PERSON); restarted after 5.0 s`. */
  detail: string;
  /** The node could not be started again (a corrupt data file it refuses, or panics on). */
  stayedDown?: boolean;
  /** For corrupt: the file damaged and how. */
  corruption?: { file: string; mode: string; bytes: number; offsets?: number[] };
  /**
   * For partition: the groups the network was split into (the target alone in the first), the
   * nodes cut off from clients too, and each cut with when it healed (ms since the scenario
   * started; one cut, or one per flap).
   */
  partition?: { groups: string[][]; fromClients: string[]; cuts: { atMs: number; healedAtMs?: number }[] };
}

export interface FaultContext {
  cluster: EmbeddedCluster | undefined;
  clock: () => number;
  random: Random;
  signal?: AbortSignal | undefined;
  restartAppliance: () => Promise<void>;
  log: (line: string) => void;
}

export async function runFault(phase: FaultPhase, ctx: FaultContext): Promise<FaultRecord> {
  const record: FaultRecord = {
    phase: phase.name,
    action: phase.action,
    nodes: [],
    firedAtMs: ctx.clock(),
    detail: '',
  };
  if (phase.action === 'restart-appliance') {
    await ctx.restartAppliance();
    record.healedAtMs = ctx.clock();
    record.detail = 'stopped and restarted the domain services, projections and sealers';
    return record;
  }
  const cluster = ctx.cluster;
  if (!cluster) {
    throw new CimError(
      'CIM-INVALID-INPUT',
      `fault ${phase.name}: faults need the embedded cluster; an attached cluster is not the appliance's to kill`,
      {
        hint: 'Run fault scenarios without --nats.',
      },
    );
  }
  if (phase.action === 'partition' && !cluster.partitionable) {
    throw new CimError(
      'CIM-INVALID-INPUT',
      `fault ${phase.name}: the cluster's nodes do not run in network namespaces, so it cannot be partitioned`,
      {
        hint: '`cim bench` starts a cluster of its own, in namespaces, for a scenario with a partition fault.',
      },
    );
  }
  const { nodes, why } = phase.split
    ? { nodes: minority(phase.split), why: undefined }
    : await resolveTarget(phase.target!, cluster, ctx.random);
  record.nodes = nodes;
  record.firedAtMs = ctx.clock();
  const names = `${nodes.join(', ')}${why ? ` (${why})` : ''}`;
  switch (phase.action) {
    case 'partition': {
      await partition(phase, cluster, nodes, names, record, ctx);
      break;
    }
    case 'kill': {
      await Promise.all(nodes.map((n) => cluster.kill(n)));
      record.detail = `killed ${names} with SIGKILL`;
      if (phase.for !== undefined) {
        await sleep(phase.for, ctx.signal);
        // All at once (a node alone would wait for a quorum that is down too). A node that does
        // not come back after the crash is the finding, as for corruption, not a failure of the run.
        const started = await Promise.allSettled(nodes.map((n) => cluster.restart(n)));
        const down = started.flatMap((s, i) => (s.status === 'rejected' ? [{ node: nodes[i]!, error: s.reason }] : []));
        for (const { node } of down) await cluster.stopNode(node).catch(() => {});
        if (down.length === 0) {
          record.healedAtMs = ctx.clock();
          record.detail += `; started again after ${seconds(record.healedAtMs - record.firedAtMs)}`;
        } else {
          record.stayedDown = true;
          record.detail += `; ${down.map((d) => `${d.node} did not start again: ${startFailureCause(toCimError(d.error).message)}`).join('; ')}`;
        }
      }
      break;
    }
    case 'pause': {
      await Promise.all(nodes.map((n) => cluster.pause(n)));
      await sleep(phase.for ?? 5_000, ctx.signal);
      await Promise.all(nodes.map((n) => cluster.resume(n)));
      record.healedAtMs = ctx.clock();
      record.detail = `paused ${names} with SIGSTOP for ${seconds(record.healedAtMs - record.firedAtMs)}`;
      break;
    }
    case 'restart': {
      // All at once for `all`: a node restarted alone would wait for a quorum that is down too.
      await Promise.all(nodes.map((n) => cluster.restart(n)));
      record.healedAtMs = ctx.clock();
      record.detail = `restarted ${names} (graceful stop, start, rejoin) in ${seconds(record.healedAtMs - record.firedAtMs)}`;
      break;
    }
    case 'corrupt': {
      const corruption = phase.corruption!;
      const [node] = nodes;
      await cluster.stopNode(node!);
      const file = lastBlockFile(cluster.storeDir(node!), corruption.stream);
      record.corruption = damage(file, corruption.mode, corruption.bytes, ctx.random);
      record.detail = `stopped ${names}, ${corruption.mode === 'flip-bits' ? `flipped ${corruption.bytes} bits in` : `cut ${corruption.bytes} bytes off`} ${file}`;
      // Said before the restart, which may take long or fail: what was done to the file is known now.
      ctx.log(`fault ${phase.name}: ${record.detail}; starting it again`);
      try {
        await cluster.restart(node!);
        record.healedAtMs = ctx.clock();
        record.detail += ', started it again';
      } catch (error) {
        // What the server does with the damage is the finding, not a failure of the run. A server
        // that runs but never becomes ready (seen on 2.15) is stopped, so the node is plainly down.
        await cluster.stopNode(node!).catch(() => {});
        record.stayedDown = true;
        record.detail += `; it did not start again: ${startFailureCause(toCimError(error).message)}`;
      }
      break;
    }
  }
  ctx.log(`fault ${phase.name}: ${record.detail}`);
  return record;
}

/**
 * Cuts the network as the phase says, once for `for` or `flap.times` times, and heals it after
 * each cut; healed also when the run is interrupted or a cut fails, so that no partition outlives
 * its phase.
 */
async function partition(
  phase: FaultPhase,
  cluster: EmbeddedCluster,
  nodes: string[],
  names: string,
  record: FaultRecord,
  ctx: FaultContext,
): Promise<void> {
  const groups = phase.split ?? [nodes, cluster.nodeNames.filter((n) => !nodes.includes(n))];
  const fromClients = phase.cut === 'peers-and-clients' ? nodes : [];
  const flap = phase.flap ?? { times: 1, on: phase.for ?? 10_000, off: 0 };
  const cuts: { atMs: number; healedAtMs?: number }[] = [];
  record.partition = { groups, fromClients, cuts };
  try {
    for (let i = 0; i < flap.times && !ctx.signal?.aborted; i++) {
      if (i > 0) await sleep(flap.off, ctx.signal);
      const cut: { atMs: number; healedAtMs?: number } = { atMs: ctx.clock() };
      cuts.push(cut);
      await cluster.partition(groups, fromClients);
      if (i === 0) record.firedAtMs = cut.atMs;
      await sleep(flap.on, ctx.signal);
      await cluster.heal();
      cut.healedAtMs = ctx.clock();
    }
  } finally {
    await cluster.heal();
  }
  record.healedAtMs = ctx.clock();
  const what = phase.split
    ? `split the network into ${groups.map((g) => g.join(' ')).join(' | ')}`
    : `cut ${names} off from ${groups[1]!.join(', ')}${fromClients.length > 0 ? ' and from every client' : ''}`;
  const when =
    cuts.length === 1
      ? `for ${seconds(record.healedAtMs - record.firedAtMs)}`
      : `${cuts.length} times (${seconds(flap.on)} cut, ${seconds(flap.off)} whole between cuts)`;
  record.detail = `${what} ${when}; healed ${seconds(record.healedAtMs)} into the run`;
}

/** The nodes a split cuts off: every group but the largest (the first of equals). */
function minority(groups: readonly string[][]): string[] {
  const largest = groups.reduce((a, b) => (b.length > a.length ? b : a));
  return groups.filter((g) => g !== largest).flat();
}

async function resolveTarget(
  target: FaultTarget,
  cluster: EmbeddedCluster,
  random: Random,
): Promise<{ nodes: string[]; why?: string }> {
  if ('all' in target) return { nodes: cluster.nodeNames };
  if ('node' in target) {
    if (!cluster.nodeNames.includes(target.node)) {
      throw new CimError('CIM-INVALID-INPUT', `fault target ${target.node}: no such node`, {
        hint: `Nodes: ${cluster.nodeNames.join(', ')}.`,
      });
    }
    return { nodes: [target.node] };
  }
  if ('leaderOf' in target) {
    // Right after a fault or at start-up a stream may briefly have no leader: wait for one.
    for (let tries = 0; tries < 100; tries++) {
      const leader = await cluster.streamLeader(target.leaderOf);
      if (leader) return { nodes: [leader], why: `leader of ${target.leaderOf}` };
      await sleep(100);
    }
    throw new CimError('CIM-UNAVAILABLE', `stream ${target.leaderOf} has no leader to target`);
  }
  const { followers } = await cluster.streamPlacement(target.followerOf);
  if (followers.length === 0)
    throw new CimError(
      'CIM-INVALID-INPUT',
      `stream ${target.followerOf} has no followers (one replica?): nothing to target`,
    );
  return { nodes: [random.pick(followers)], why: `follower of ${target.followerOf}` };
}

/** The stream's newest block file on a node: where the latest acknowledged writes are. */
export function lastBlockFile(storeDir: string, stream: string): string {
  const dir = join(storeDir, 'jetstream', '$G', 'streams', stream, 'msgs');
  const blocks = existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.blk$/.test(f)) : [];
  if (blocks.length === 0) throw new CimError('CIM-NOT-FOUND', `no block file of ${stream} in ${dir}`);
  blocks.sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
  return join(dir, blocks[blocks.length - 1]!);
}

/** Flips `bytes` bits at seeded offsets, or cuts `bytes` bytes off the end; says what it did. */
export function damage(
  file: string,
  mode: 'flip-bits' | 'truncate',
  bytes: number,
  random: Random,
): NonNullable<FaultRecord['corruption']> {
  const size = statSync(file).size;
  if (mode === 'truncate') {
    truncateSync(file, Math.max(0, size - bytes));
    return { file, mode, bytes: Math.min(bytes, size) };
  }
  if (size === 0) return { file, mode, bytes: 0, offsets: [] };
  const content = readFileSync(file);
  const offsets: number[] = [];
  for (let i = 0; i < bytes; i++) {
    const offset = random.int(0, size - 1);
    content[offset]! ^= 1 << random.int(0, 7);
    offsets.push(offset);
  }
  writeFileSync(file, content);
  return { file, mode, bytes, offsets: offsets.sort((a, b) => a - b) };
}

/** The cause of a start failure: the panic's line when the server log has one, else the first line. */
export function startFailureCause(message: string): string {
  const lines = message.split('\n');
  return (lines.find((l) => /panic:|fatal error:|\[FTL\]/.test(l)) ?? lines[0] ?? message).trim();
}

const seconds = (ms: number) => `${(ms / 1_000).toFixed(1)} s`;
