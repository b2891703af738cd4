// The embedded cluster on real nats-server processes: it forms, serves an R3 stream, survives
// kill -9 of the stream leader, and takes a killed or paused node back in.
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectNats,
  createStream,
  DEFAULT_RETRY,
  EmbeddedCluster,
  isCimError,
  loadConfig,
} from '../../appliance/index.js';
import { fileTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait.js';

const STREAM = 'FAULTS';
const state = fileTempDir('faults');
let cluster: EmbeddedCluster;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

async function publishSome(count: number, tag: string): Promise<number> {
  let last = 0;
  for (let i = 0; i < count; i++) {
    const ack = await js.publish(`faults.${tag}.${i % 10}`, new TextEncoder().encode(`${tag}-${i}`), {
      timeout: 5_000,
    });
    last = ack.seq;
  }
  return last;
}

/** The last sequence of the stream as one node's own replica reports it. */
async function replicaLastSeq(node: string): Promise<number | undefined> {
  return (await cluster.monitor(node).localStreamState(STREAM))?.last_seq;
}

beforeAll(async () => {
  cluster = await EmbeddedCluster.start(loadConfig({ env: {}, flags: { stateDir: state.path } }));
  nc = await connectNats(cluster.endpointFor('operator'), { name: 'faults-test' });
  js = nc.jetstream({ timeout: 5_000 });
  jsm = await nc.jetstreamManager();
  // Through the appliance's retrying create: right after forming, a cluster may not place an R3 stream yet.
  await createStream(DEFAULT_RETRY, STREAM, () =>
    jsm.streams.add({ name: STREAM, subjects: ['faults.>'], num_replicas: 3 }),
  );
});

afterAll(async () => {
  await nc?.close().catch(() => {});
  await cluster?.stop();
  state.remove();
});

describe('embedded 3-node cluster', () => {
  it('forms: three running servers that agree on one JetStream meta leader', async () => {
    const status = await cluster.status();
    expect(status.size).toBe(3);
    expect(status.servers.map((s) => s.state)).toEqual(['running', 'running', 'running']);
    expect(status.metaLeader).toMatch(/^n[123]$/);
    for (const server of status.servers) {
      expect(server.metaLeader).toBe(status.metaLeader);
      expect(server.routes).toBeGreaterThanOrEqual(2);
      expect(server.clusterSize).toBe(3);
      expect(server.version).toMatch(/^\d+\.\d+\.\d+/);
    }
    const ports = status.servers.flatMap((s) => Object.values(s.ports!));
    expect(new Set(ports).size).toBe(9);
  });

  it('serves an R3 stream whose leader it can name', async () => {
    const last = await publishSome(50, 'first');
    expect(last).toBe(50);
    const info = await jsm.streams.info(STREAM);
    expect(info.config.num_replicas).toBe(3);
    expect(await cluster.streamLeader(STREAM)).toBe(info.cluster?.leader);
  });

  it('given the stream leader is killed with -9, elects a new leader and accepts publishes again', async () => {
    const before = await publishSome(20, 'before-kill');
    const oldLeader = (await cluster.streamLeader(STREAM))!;
    await cluster.kill(oldLeader);
    expect(cluster.nodeState(oldLeader)).toBe('stopped');

    const newLeader = await waitFor('a new stream leader', async () => {
      const leader = await cluster.streamLeader(STREAM);
      return leader && leader !== oldLeader ? leader : undefined;
    });
    expect(newLeader).not.toBe(oldLeader);
    const after = await waitFor('a publish to succeed after the kill', () => publishSome(1, 'after-kill'));
    expect(after).toBeGreaterThan(before);
    await publishSome(30, 'while-down');

    // The killed node restarts from its own data and catches up with what it missed.
    await cluster.restart(oldLeader);
    expect(cluster.nodeState(oldLeader)).toBe('running');
    const { state: streamState } = await jsm.streams.info(STREAM);
    await waitFor(`${oldLeader} to catch up to seq ${streamState.last_seq}`, async () =>
      (await replicaLastSeq(oldLeader)) === streamState.last_seq ? true : undefined,
    );
    expect(await replicaLastSeq(oldLeader)).toBe(streamState.last_seq);
  }, 180_000); // three waits and a restart of 30 s each, and the publishes

  it('given a follower is paused, publishes go on; after resume it catches up', async () => {
    const leader = (await cluster.streamLeader(STREAM))!;
    // Not the server this client is connected to either: a paused server holds its clients'
    // connections open but silent, so their publishes would stall until a ping timeout.
    const follower = cluster.nodeNames.find((n) => n !== leader && n !== nc.info?.server_name)!;
    await cluster.pause(follower);
    try {
      expect(cluster.nodeState(follower)).toBe('paused');
      expect((await cluster.status()).servers.find((s) => s.name === follower)?.state).toBe('paused');
      const last = await publishSome(25, 'while-paused');
      expect(last).toBeGreaterThan(0);
    } finally {
      await cluster.resume(follower);
    }
    expect(cluster.nodeState(follower)).toBe('running');
    const { state: streamState } = await jsm.streams.info(STREAM);
    await waitFor(`${follower} to catch up after resume`, async () =>
      (await replicaLastSeq(follower)) === streamState.last_seq ? true : undefined,
    );
    await cluster.waitReady(30_000);
  });

  it('refuses to act on a node it does not have', async () => {
    const caught = await cluster.pause('n9').catch((error: unknown) => error);
    expect(isCimError(caught, 'CIM-NOT-FOUND')).toBe(true);
  });
});
