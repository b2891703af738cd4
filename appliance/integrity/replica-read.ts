// Reads every replica of the named streams of an embedded cluster one server at a time, each from
// that server's own block files while it is stopped, then compares them (replicas.ts). One node is
// down at a time and is started again before the next, so the cluster keeps its quorum; a node
// that was already down is read as it lies and left down; a paused one cannot be stopped cleanly
// and is unreadable. The reference is the leader each stream had before the first node stopped.
import { toCimError } from '../errors.js';
import { sleep } from '../sleep.js';
import { readStoredStream } from '../cluster/block-files.js';
import type { EmbeddedCluster } from '../cluster/supervisor.js';
import { SEALS_STREAM } from '../eventstore/names.js';
import { compareReplicas, type ReplicaComparison, type ReplicaCopy, type SealClaim } from './replicas.js';
import { decodeSeal } from './seal.js';

export interface ReplicaRead {
  comparison: ReplicaComparison;
  /** Every copy read, by server: what the checker per replica reads back from. */
  copies: ReplicaCopy[];
  /** Nodes that were running, were stopped for the read, and did not start again. */
  stayedDown: { server: string; reason: string }[];
}

export interface ReplicaReadOptions {
  log?: (line: string) => void;
  /** How long a node restarted after its read may take to be ready again (default 60 s). */
  restartTimeoutMs?: number;
}

/** The seals in a copy of CIM_SEALS that decode (verification names the rest). */
function sealsOf(copy: ReplicaCopy | undefined): SealClaim[] {
  const out: SealClaim[] = [];
  for (const m of copy?.messages ?? []) {
    try {
      out.push(decodeSeal(m.data).seal);
    } catch {
      // not a seal: no claim to compare with
    }
  }
  return out;
}

/**
 * Waits, for at most `timeoutMs`, until every stream has a leader again: the restarts moved
 * leadership, and whatever uses the cluster next (the next scenario, a seal) needs it. Best
 * effort: a stream still without one is said, not thrown.
 */
async function waitForLeaders(
  cluster: EmbeddedCluster,
  streams: readonly string[],
  timeoutMs: number,
  log: (line: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const stream of streams) {
    for (;;) {
      const leader = await cluster.streamLeader(stream).catch(() => undefined);
      if (leader !== undefined) break;
      if (Date.now() > deadline) {
        log(`${stream} has no leader yet after its replicas were read`);
        break;
      }
      await sleep(200);
    }
  }
}

export async function readReplicas(
  cluster: EmbeddedCluster,
  streams: readonly string[],
  options: ReplicaReadOptions = {},
): Promise<ReplicaRead> {
  const log = options.log ?? (() => {});
  const unreadable: ReplicaComparison['unreadable'] = [];
  const leaders = new Map<string, string | undefined>();
  const holders = new Map<string, Set<string>>();
  for (const stream of streams) {
    try {
      const { leader, followers } = await cluster.streamPlacement(stream);
      leaders.set(stream, leader);
      holders.set(stream, new Set([...(leader ? [leader] : []), ...followers]));
    } catch (error) {
      const cim = toCimError(error);
      // A stream that does not exist has no replicas; one whose placement cannot be asked is read where its files are.
      if (cim.code === 'CIM-NOT-FOUND') continue;
      leaders.set(stream, undefined);
    }
  }
  const wanted = [...leaders.keys()];
  const copies: ReplicaCopy[] = [];
  const stayedDown: ReplicaRead['stayedDown'] = [];
  for (const node of cluster.nodeNames) {
    const holds = wanted.filter((s) => holders.get(s)?.has(node) ?? true);
    if (holds.length === 0) continue;
    const state = cluster.nodeState(node);
    if (state === 'paused') {
      for (const stream of holds) unreadable.push({ server: node, stream, reason: `${node} is paused (SIGSTOP)` });
      continue;
    }
    if (state === 'running') await cluster.stopNode(node);
    for (const stream of holds) {
      try {
        const copy = readStoredStream(cluster.storeDir(node), stream);
        if (!copy) {
          if (holders.get(stream)?.has(node))
            unreadable.push({ server: node, stream, reason: `no block files of ${stream} in ${node}'s store` });
          continue;
        }
        for (const tear of copy.torn) log(`${node} ${stream}: ${tear.file} holds no record at offset ${tear.offset}`);
        copies.push({ server: node, stream, messages: copy.records });
      } catch (error) {
        unreadable.push({ server: node, stream, reason: (error as Error).message });
      }
    }
    if (state === 'running') {
      try {
        await cluster.restart(node, options.restartTimeoutMs ?? 60_000);
        await cluster.waitReady(options.restartTimeoutMs ?? 60_000);
      } catch (error) {
        // Its files were read; a node whose store no longer starts is what the caller reports.
        const reason = toCimError(error).message.split('\n')[0]!;
        // A process that runs but was not ready in time (JetStream still catching up) is not a node that stayed down.
        if (cluster.nodeState(node) === 'running') log(`${node} runs again but was not ready in time: ${reason}`);
        else {
          log(`${node} did not start again after its replicas were read: ${reason}`);
          stayedDown.push({ server: node, reason });
        }
      }
    }
  }
  log(`read ${copies.length} replica(s) of ${wanted.length} stream(s) from the nodes' block files`);
  await waitForLeaders(cluster, wanted, 30_000, log);
  // The seals the reference holds (the leader of CIM_SEALS, else any copy).
  const sealCopies = copies.filter((c) => c.stream === SEALS_STREAM);
  const seals = sealsOf(sealCopies.find((c) => c.server === leaders.get(SEALS_STREAM)) ?? sealCopies[0]);
  return { comparison: compareReplicas(copies, { leaders, seals, unreadable }), copies, stayedDown };
}
