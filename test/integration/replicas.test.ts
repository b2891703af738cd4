// Replicas read one by one, on every nats-server of the matrix: on a real 3-node cluster, one
// node is stopped and its block files seeded with what only it then holds — another body at one
// sequence (a marker), a range erased, one message more — and the replicas, each read from its own
// server's files, are compared. The marker is seen in that replica's read and in no other; every
// divergence is named exactly (replica, stream, kind, sequences, reference, what the seals say).
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cachedServerPath,
  domainStream,
  EventStore,
  provision,
  readReplicas,
  SEALS_STREAM,
  Sealer,
  Signer,
  type Causation,
  waitForStreamLeader,
  type ReplicaRead,
} from '../../appliance/index.js';
import { appendStoredMessage, eraseStoredMessage, rewriteStoredMessage } from '../support/filestore.js';
import { fillAggregates } from '../support/stream-events.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

const VERSIONS = ['2.10.27', '2.12.1', '2.14.10', '2.15.3'];
const DOMAINS = ['rdiff', 'rmiss', 'rextra'];
const S = (domain: string) => domainStream(domain);
const who: Causation = { correlationId: 'corr', causationId: 'cause', actor: 'test' };
const MARKER = Buffer.from('MARKER!'); // as long as "Changed", which it replaces
const SEEDED = 'n2';

/** Runs one step of the set-up, naming it in the error when it fails (a bare NATS TIMEOUT says nothing of where). */
async function step<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new Error(`${what}: ${(error as Error).message}`, { cause: error });
  }
}

for (const version of VERSIONS) {
  const available = existsSync(cachedServerPath(version, process.env));
  describe.skipIf(!available)(`replicas of nats-server ${version} (skipped unless built in ~/.cache/cim)`, () => {
    let t: TestCluster;
    let read: ReplicaRead;

    beforeAll(async () => {
      t = await startTestCluster(`replicas-${version}`, 3, { natsServer: version });
      // On a loaded machine the first JetStream API calls after a start can time out while the
      // meta leader settles; provisioning is idempotent, so it is simply tried again.
      await waitFor(
        'the streams provisioned',
        async () => (await provision(t.nc, { domains: DOMAINS, replicas: 3, duplicateWindowMs: 60_000 }), true),
        60_000,
        500,
      );
      // New R3 streams elect their leaders a moment after they are made; on a loaded machine an
      // append before that times out (seen in CI on 2.10.27 and 2.12.1, one version a run).
      const jsm0 = await t.nc.jetstreamManager();
      for (const stream of [...DOMAINS.map(S), SEALS_STREAM]) await waitForStreamLeader(jsm0, stream, 60_000);
      const store = await EventStore.open(t.nc);
      const signer = Signer.ephemeral();
      for (const domain of DOMAINS) {
        await step(`filling ${domain}`, () => fillAggregates(store, who, domain, ['a', 'b'], 4)); // seqs 1..8
        expect(
          await step(`sealing ${domain}`, async () => (await Sealer.open(t.nc, { domain, signer })).sealOnce()),
        ).toBeDefined();
      }
      // The seeded node down, every stream led elsewhere: its copies are the ones to differ.
      await t.cluster.stopNode(SEEDED);
      const jsm = await t.nc.jetstreamManager();
      for (const stream of [...DOMAINS.map(S), SEALS_STREAM])
        await waitFor(
          `a leader of ${stream} other than ${SEEDED}`,
          async () => {
            const leader = (await jsm.streams.info(stream)).cluster?.leader;
            return leader && leader !== SEEDED ? leader : undefined;
          },
          60_000,
        );
      const dir = t.cluster.storeDir(SEEDED);
      rewriteStoredMessage(dir, S('rdiff'), 3, (body) => {
        const at = Buffer.from(body).indexOf('Changed');
        expect(at).toBeGreaterThanOrEqual(0);
        const out = Buffer.from(body);
        MARKER.copy(out, at);
        return out;
      });
      for (const seq of [4, 5, 6]) eraseStoredMessage(dir, S('rmiss'), seq);
      expect(
        appendStoredMessage(dir, S('rextra'), store.subjects.event('rextra', 'a'), Buffer.from('not an event')).seq,
      ).toBe(9);

      read = await step('reading the replicas', () => readReplicas(t.cluster, [...DOMAINS.map(S), SEALS_STREAM]));
    }, 240_000);

    afterAll(async () => {
      await t?.stop();
    });

    it('reads each replica from its own server: the marker is in the seeded one only', () => {
      const copies = read.copies.filter((c) => c.stream === S('rdiff'));
      expect(copies.map((c) => c.server).sort()).toEqual(['n1', 'n2', 'n3']);
      for (const copy of copies) {
        const at3 = Buffer.from(copy.messages.find((m) => m.seq === 3)!.data);
        expect(at3.includes(MARKER), copy.server).toBe(copy.server === SEEDED);
        expect(copy.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      }
      expect(read.stayedDown).toEqual([]);
      expect(read.comparison.unreadable).toEqual([]);
    });

    it('names each divergence: replica, stream, kind, sequences, reference and the seals', () => {
      const { comparison } = read;
      const leaderOf = (stream: string) =>
        comparison.streams.find((s) => s.stream === stream)!.replicas.find((r) => r.leader)?.server;
      for (const domain of DOMAINS) expect(['n1', 'n3']).toContain(leaderOf(S(domain)));
      expect(comparison.divergences).toEqual([
        {
          stream: S('rdiff'),
          replica: SEEDED,
          reference: leaderOf(S('rdiff')),
          kind: 'different',
          sequences: [{ from: 3, to: 3 }],
          agreesWithSeals: 'reference',
        },
        {
          stream: S('rextra'),
          replica: SEEDED,
          reference: leaderOf(S('rextra')),
          kind: 'extra',
          sequences: [{ from: 9, to: 9 }],
          agreesWithSeals: 'unsealed',
        },
        {
          stream: S('rmiss'),
          replica: SEEDED,
          reference: leaderOf(S('rmiss')),
          kind: 'missing',
          sequences: [{ from: 4, to: 6 }],
          agreesWithSeals: 'reference',
        },
      ]);
      const views = comparison.streams.find((s) => s.stream === S('rmiss'))!.replicas;
      expect(views.find((v) => v.server === SEEDED)).toMatchObject({ messages: 5, firstSeq: 1, lastSeq: 8 });
      expect(views.filter((v) => v.server !== SEEDED).map((v) => v.messages)).toEqual([8, 8]);
      expect(
        comparison.streams.find((s) => s.stream === S('rextra'))!.replicas.find((v) => v.server === SEEDED),
      ).toMatchObject({ messages: 9, lastSeq: 9 });
    });

    it('leaves the nodes as it found them: the ones it stopped run again, the seeded one is still down', () => {
      expect(t.cluster.nodeNames.map((n) => t.cluster.nodeState(n))).toEqual(['running', 'stopped', 'running']);
    });
  });
}
