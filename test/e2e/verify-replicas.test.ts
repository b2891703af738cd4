// `cim verify --replicas` as a user runs it against the 3-node cluster `cim cluster up` left
// running: one follower's copy of a sealed event is rewritten on its disk (that node stopped, then
// started again). Verification through the leader finds nothing; the replica comparison names that
// follower, the stream, the sequence and that the seals agree with the leader — exit 1, in the
// terminal and in --json — and leaves every node running.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectNats,
  EmbeddedCluster,
  EMPTY_HEAD,
  EventStore,
  provision,
  type AggregateHead,
  type ClusterStatus,
  type ReplicaComparison,
} from '../../appliance/index.js';
import { runCli } from '../support/cli.js';
import { rewriteStoredMessage } from '../support/filestore.js';
import { stateEndpoint } from '../support/roles.js';
import { tempDir } from '../support/temp-dir.js';

const STREAM = 'CIM_PERSON';
const ALTERED = 5;
let work: ReturnType<typeof tempDir>;
let state: string;
const placement = { leader: '', follower: '' };

beforeAll(async () => {
  work = tempDir('verify-replicas-cli');
  state = join(work.path, 'state');
  const up = await runCli(['--state', state, 'cluster', 'up', '--nodes', '3', '--json'], { timeoutMs: 60_000 });
  expect(up.code, up.stderr).toBe(0);
  const urls = (JSON.parse(up.stdout) as ClusterStatus).servers.map((s) => s.url);
  const nc = await connectNats(stateEndpoint(state, 'operator', urls));
  try {
    await provision(nc, { domains: ['person', 'organization', 'workflow'], replicas: 3, duplicateWindowMs: 60_000 });
    const store = await EventStore.open(nc);
    const heads = new Map<string, AggregateHead>();
    for (let i = 0; i < 20; i++) {
      const id = `p${i % 4}`;
      const [e] = await store.append(
        { domain: 'person', aggregate: 'Person', aggregateId: id },
        heads.get(id) ?? EMPTY_HEAD,
        [{ type: 'Renamed', payload: { i } }],
        { correlationId: 'c', causationId: 'c', actor: 'e2e' },
      );
      heads.set(id, { seq: e!.seq, cid: e!.cid, streamSeq: e!.streamSeq });
    }
  } finally {
    await nc.close();
  }
  const sealed = await runCli(['--state', state, 'seal']);
  expect(sealed.code, sealed.stderr).toBe(0);
  const cluster = EmbeddedCluster.findRunning(state)!;
  const { leader, followers } = await cluster.streamPlacement(STREAM);
  placement.leader = leader!;
  placement.follower = followers.find((f) => f !== leader)!;
  await cluster.stopNode(placement.follower);
  rewriteStoredMessage(cluster.storeDir(placement.follower), STREAM, ALTERED, (body) => {
    const out = Buffer.from(body);
    out[out.indexOf('Renamed') + 6] = 'e'.charCodeAt(0);
    return out;
  });
  await cluster.restart(placement.follower, 60_000);
  await cluster.waitReady(60_000);
}, 180_000);

afterAll(async () => {
  if (state) await runCli(['--state', state, 'cluster', 'down'], { timeoutMs: 60_000 });
  work?.remove();
});

describe('cim verify --replicas', () => {
  it('names the follower whose copy differs, and exits 1', async () => {
    const run = await runCli(['--state', state, 'verify', '--replicas'], { timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain(
      `DIVERGENCE replica ${placement.follower} of ${STREAM} holds other bytes at seq ${ALTERED} (against ${placement.leader}; the seals agree with ${placement.leader})`,
    );
    expect(run.stdout).toMatch(new RegExp(`${STREAM}: .*${placement.leader}\\* 20 msgs 1\\.\\.20`));
  }, 150_000);

  it('says the same in --json, and leaves every node running', async () => {
    const run = await runCli(['--state', state, 'verify', '--replicas', '--json'], { timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(1);
    const out = JSON.parse(run.stdout) as { ok: boolean; replicas: ReplicaComparison };
    expect(out.ok).toBe(false);
    // The first run stopped every node in turn, so the leader may have moved, even to the damaged copy:
    // then the two sound copies are named against it, and the seals agree with them.
    const leader = out.replicas.streams.find((s) => s.stream === STREAM)!.replicas.find((r) => r.leader)!.server;
    const named = (replica: string, agrees: 'reference' | 'replica') => ({
      stream: STREAM,
      replica,
      reference: leader,
      kind: 'different',
      sequences: [{ from: ALTERED, to: ALTERED }],
      agreesWithSeals: agrees,
    });
    expect(out.replicas.divergences).toEqual(
      leader === placement.follower
        ? ['n1', 'n2', 'n3'].filter((n) => n !== leader).map((n) => named(n, 'replica'))
        : [named(placement.follower, 'reference')],
    );
    expect(out.replicas.unreadable).toEqual([]);
    const cluster = EmbeddedCluster.findRunning(state);
    expect(cluster?.nodeNames.map((n) => cluster.nodeState(n))).toEqual(['running', 'running', 'running']);
  }, 150_000);
});
