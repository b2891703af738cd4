// The live projector when a node dies under it, on a real 3-node cluster. Its consumer (R1, placed
// on a random replica by the server) goes with its node; nats.js waits for the server to say it is
// gone, which a cluster never says of a consumer on a dead node. So the projector takes a new
// consumer itself: after two missed heartbeats when its connection stays up, and after the
// reconnect when the node was its connection's (nats.js stops counting heartbeats then).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  connectNats,
  domainStream,
  EMPTY_HEAD,
  EventStore,
  person,
  Projector,
  provision,
  ReadModel,
  type Causation,
} from '../../appliance/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { fileTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait.js';

const STREAM = domainStream('person');
const directory = person.definition.projections![0]!;
const files = fileTempDir('projector-node-loss');
const who: Causation = { correlationId: 'c', causationId: 'c', actor: 'test' };
let t: TestCluster;

beforeAll(async () => {
  t = await startTestCluster('projector-node-loss', 3);
  await waitFor(
    'the streams provisioned',
    async () => (await provision(t.nc, { domains: ['person'], replicas: 3, duplicateWindowMs: 60_000 }), true),
    60_000,
    500,
  );
}, 120_000);

afterAll(async () => {
  await t?.stop();
  files.remove();
});

const register = async (store: EventStore, personId: string) =>
  store.append(
    { domain: 'person', aggregate: 'Person', aggregateId: personId },
    EMPTY_HEAD,
    [{ type: 'PersonRegistered', payload: { personId, name: `Name ${personId}`, email: `${personId}@example.com` } }],
    who,
  );

/** A connection to the nodes in order (n1 first), not shuffled: the test knows which node it is on. */
const orderedConnection = (name: string) =>
  connectNats(
    t.cluster.endpointFor(
      'operator',
      t.cluster.nodeNames.map((n) => t.cluster.clientUrl(n)),
    ),
    {
      name,
      extra: { noRandomize: true },
    },
  );

/** Kills `node`, waits for another to lead the stream, registers `personId`, and waits for `model` to apply it. */
async function loseNodeThenRegister(node: string, model: ReadModel, personId: string): Promise<void> {
  await t.cluster.kill(node);
  await waitFor(`a leader of ${STREAM} other than ${node}`, async () => {
    const leader = await t.cluster.streamLeader(STREAM);
    return leader !== undefined && leader !== node;
  });
  const [after] = await register(await EventStore.open(t.nc), personId);
  await waitFor(
    'the event after the node loss applied',
    () => model.checkpoint(directory.name, 'person') >= after!.streamSeq,
    90_000,
    100,
  );
  expect(model.query('person_directory', 'GetPerson', { personId })).toMatchObject({ name: `Name ${personId}` });
}

describe('the live projector losing the node of its connection', () => {
  it('reconnects elsewhere, takes a new consumer, and applies what came after', async () => {
    // Connected to n1 first, in order: the node killed is the connection's (and maybe the consumer's).
    const nc = await orderedConnection('projector-on-n1');
    const model = ReadModel.open({ path: join(files.path, 'on-n1.sqlite'), projections: [directory] });
    const errors: string[] = [];
    const projector = Projector.start({ nc, model, projection: directory, onError: (e) => errors.push(e.message) });
    try {
      const [first] = await register(await EventStore.open(t.nc), 'conn-before');
      await waitFor('the first event applied', () => model.checkpoint(directory.name, 'person') >= first!.streamSeq);
      expect(nc.info?.server_name).toBe('n1');
      await loseNodeThenRegister('n1', model, 'conn-after');
      expect(
        errors.some((m) => /reconnected|missed \d+ heartbeats/.test(m)),
        errors.join('\n'),
      ).toBe(true);
    } finally {
      await projector.stop();
      model.close();
      await nc.close();
      await t.cluster.restart('n1', 60_000);
      await t.cluster.waitReady();
    }
  }, 180_000);
});

describe('the live projector losing the node of its consumer', () => {
  it('takes a new consumer on a live replica and applies what came after', async () => {
    // The projector's connection stays up: it is on a node other than the consumer's. The server
    // places the consumer at random, so the projector starts again until it lands elsewhere.
    const nc = await orderedConnection('projector-consumer-elsewhere');
    const at = nc.info!.server_name;
    const jsm = await t.nc.jetstreamManager();
    // Ours are the consumers not there before: the test above leaves consumers behind.
    const names = async () => new Set((await jsm.consumers.list(STREAM).next()).map((c) => c.name));
    const newSince = async (before: Set<string>) =>
      (await jsm.consumers.list(STREAM).next()).filter((c) => !before.has(c.name));
    const store = await EventStore.open(t.nc);
    const [first] = await register(store, 'before');
    const errors: string[] = [];
    let model!: ReadModel;
    let projector!: Projector;
    let host: string | undefined;
    for (let attempt = 1; ; attempt++) {
      model = ReadModel.open({ path: join(files.path, `directory-${attempt}.sqlite`), projections: [directory] });
      const before = await names();
      projector = Projector.start({ nc, model, projection: directory, onError: (error) => errors.push(error.message) });
      await waitFor('the first event applied', () => model.checkpoint(directory.name, 'person') >= first!.streamSeq);
      const consumers = await newSince(before);
      expect(consumers).toHaveLength(1);
      host = consumers[0]!.cluster?.leader;
      if (host !== at || attempt >= 20) break;
      await projector.stop();
      model.close();
    }
    try {
      expect(host).not.toBe(at);
      expect(t.cluster.nodeNames).toContain(host);
      const beforeKill = await names();
      await loseNodeThenRegister(host!, model, 'after');
      // It said why it followed again.
      expect(
        errors.some((m) => /missed \d+ heartbeats/.test(m)),
        errors.join('\n'),
      ).toBe(true);
      const placed = (await newSince(beforeKill)).map((c) => c.cluster?.leader);
      expect(placed.length).toBeGreaterThan(0);
      expect(placed).not.toContain(host);
    } finally {
      await projector.stop();
      model.close();
      await nc.close();
    }
  }, 240_000);
});
