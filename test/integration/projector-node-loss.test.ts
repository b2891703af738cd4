// The live projector when the node holding its consumer dies, on a real 3-node cluster: the
// consumer (R1, placed on a random replica by the server) goes with the node; nats.js would wait
// for the server to say it is gone, which a cluster never says of a consumer on a dead node, so the
// projector itself takes a new consumer after two missed heartbeats and the read model goes on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
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

describe('the live projector losing the node of its consumer', () => {
  it('takes a new consumer on a live replica and applies what came after', async () => {
    const model = ReadModel.open({ path: join(files.path, 'directory.sqlite'), projections: [directory] });
    const errors: string[] = [];
    const projector = Projector.start({
      nc: t.nc,
      model,
      projection: directory,
      onError: (error) => errors.push(error.message),
    });
    try {
      const store = await EventStore.open(t.nc);
      const [first] = await register(store, 'before');
      await waitFor('the first event applied', () => model.checkpoint(directory.name, 'person') === first!.streamSeq);

      const jsm = await t.nc.jetstreamManager();
      const consumers = await jsm.consumers.list(STREAM).next();
      expect(consumers).toHaveLength(1);
      const host = consumers[0]!.cluster?.leader;
      expect(t.cluster.nodeNames).toContain(host);
      await t.cluster.kill(host!);
      await waitFor(`a leader of ${STREAM} other than ${host}`, async () => {
        const leader = await t.cluster.streamLeader(STREAM);
        return leader !== undefined && leader !== host;
      });

      const [after] = await register(await EventStore.open(t.nc), 'after');
      await waitFor(
        'the event after the node loss applied',
        () => model.checkpoint(directory.name, 'person') === after!.streamSeq,
        90_000,
        100,
      );
      expect(model.query('person_directory', 'GetPerson', { personId: 'after' })).toMatchObject({ name: 'Name after' });
      // It said why it followed again.
      expect(
        errors.some((m) => /missed \d+ heartbeats/.test(m)),
        errors.join('\n'),
      ).toBe(true);
      const placed = (await jsm.consumers.list(STREAM).next()).map((c) => c.cluster?.leader);
      expect(placed).not.toContain(host);
    } finally {
      await projector.stop();
      model.close();
    }
  }, 180_000);
});
