// A scenario's replicas compared after its checker, on a real 3-node cluster: before the checker,
// three acknowledged events are erased from one follower's block files only (that node stopped,
// then started again). The leader's read-back loses nothing; the comparison names that follower
// as missing exactly those sequences, the seals agreeing with the leader, metric
// replica_divergences counts it, and the checker against that replica's copy finds the three lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cidOfBlock, domainStream, EmbeddedCluster, readStream } from '../../appliance/index.js';
import type { ScenarioResult } from '../../scenarios/results.js';
import type { Scenario } from '../../scenarios/types.js';
import { eraseStoredMessage } from '../support/filestore.js';
import { startScenarioCluster, type ScenarioCluster } from '../support/scenario-cluster.js';
import { waitFor } from '../support/wait.js';

const STREAM = domainStream('person');
const ERASED = [21, 22, 23];
const scenario: Scenario = {
  name: 'replica-missing',
  description: 'three acknowledged events erased from one follower before the checker',
  seed: 18,
  suites: [],
  cluster: { nodes: 3, replicas: 3 },
  phases: [
    {
      type: 'load',
      name: 'load',
      driver: 'nats',
      rate: 'max',
      concurrency: 8,
      count: 120,
      mix: [
        { command: 'person.RegisterPerson', weight: 3 },
        { command: 'person.RenamePerson', weight: 2 },
      ],
      aggregates: 30,
    },
  ],
};

let sc: ScenarioCluster;
let result: ScenarioResult;
const seeded = { follower: '', leader: '', acked: 0 };

beforeAll(async () => {
  sc = await startScenarioCluster('scenario-replicas');
  result = await sc.run(scenario, {
    beforeCheck: async (ctx) => {
      const cluster = ctx.cluster!;
      const jsm = await ctx.nc.jetstreamManager();
      const { leader, followers } = await cluster.streamPlacement(STREAM);
      seeded.leader = leader!;
      seeded.follower = followers.find((f) => f !== leader)!;
      const acked = new Set(ctx.operations.filter((o) => o.outcome === 'ok').flatMap((o) => o.acked));
      for (const seq of ERASED) {
        const cid = cidOfBlock((await jsm.streams.getMessage(STREAM, { seq })).data).toString();
        if (acked.has(cid)) seeded.acked++;
      }
      await cluster.stopNode(seeded.follower);
      for (const seq of ERASED) eraseStoredMessage(cluster.storeDir(seeded.follower), STREAM, seq);
      await cluster.restart(seeded.follower, 60_000);
      await cluster.waitReady();
      // The sealer and the read-back that follow need every stream led again (it may have led some).
      for (const stream of [STREAM, 'CIM_SEALS', 'CIM_AUDIT'])
        await waitFor(
          `a leader of ${stream}`,
          async () =>
            (
              await jsm.streams.info(stream).catch((error: { code?: string }) => {
                if (error.code === '404') return { cluster: { leader: 'none needed' } };
                throw error;
              })
            ).cluster?.leader,
          60_000,
        );
    },
  });
}, 300_000);

afterAll(async () => {
  await sc?.stop();
});

describe('the replicas of a scenario', () => {
  it('are compared after the checker, the follower named as missing the erased sequences', () => {
    expect(result.status, result.reason).not.toBe('error');
    expect(result.checker?.lost).toBe(0);
    expect(result.replicas?.unreadable).toEqual([]);
    expect(result.replicas?.divergences).toEqual([
      {
        stream: STREAM,
        replica: seeded.follower,
        reference: seeded.leader,
        kind: 'missing',
        sequences: [{ from: ERASED[0], to: ERASED.at(-1) }],
        agreesWithSeals: 'reference',
      },
    ]);
    expect(result.metrics.replica_divergences).toBe(1);
    const views = result.replicas!.streams.find((s) => s.stream === STREAM)!.replicas;
    expect(views.map((v) => v.server)).toEqual(['n1', 'n2', 'n3']);
    expect(views.find((v) => v.leader)?.server).toBe(seeded.leader);
  });

  it('runs the checker against each replica: only the damaged one lost the acknowledged events', () => {
    expect(seeded.acked).toBe(ERASED.length);
    const perReplica = result.checker!.perReplica!;
    expect(perReplica.map((r) => r.server)).toEqual(['n1', 'n2', 'n3']);
    for (const r of perReplica)
      expect(r, r.server).toEqual({
        server: r.server,
        lost: r.server === seeded.follower ? seeded.acked : 0,
        unexpected: 0,
        duplicates: 0,
      });
  });

  it("reads the leader's copy with onLeader, whichever replica a consumer would land on", async () => {
    // The servers place a reader's consumer on a random replica; the damaged follower still lacks
    // the erased sequences. Once another node leads, every leader's read holds them.
    const jsm = await sc.nc.jetstreamManager();
    await waitFor(
      'a leader other than the damaged follower',
      async () => {
        const leader = (await jsm.streams.info(STREAM)).cluster?.leader;
        if (leader && leader !== seeded.follower) return leader;
        await sc.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${STREAM}`, undefined, { timeout: 5_000 }).catch(() => {});
        return undefined;
      },
      60_000,
    );
    const { state } = await jsm.streams.info(STREAM);
    for (let read = 0; read < 8; read++) {
      const seqs = new Set<number>();
      for await (const m of readStream(sc.nc.jetstream(), {
        stream: STREAM,
        fromSeq: ERASED[0]!,
        toSeq: Math.min(state.last_seq, ERASED.at(-1)! + 2),
        onLeader: true,
      }))
        seqs.add(m.seq);
      expect(
        [...seqs].filter((seq) => ERASED.includes(seq)),
        `read ${read + 1}`,
      ).toEqual(ERASED);
    }
  }, 120_000);

  it('leaves every node running after reading each one stopped', () => {
    expect(result.replicas!.streams.map((s) => s.stream)).toEqual(expect.arrayContaining([STREAM, 'CIM_SEALS']));
    const cluster = EmbeddedCluster.findRunning(sc.stateDir);
    expect(cluster?.nodeNames.map((n) => cluster.nodeState(n))).toEqual(['running', 'running', 'running']);
  });
});
