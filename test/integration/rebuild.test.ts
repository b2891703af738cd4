// Rebuilds against a real 3-node cluster: the model a rebuild makes — on the reading thread or on
// its worker thread, in large batches — holds the same rows and checkpoint as the one the live
// projector built and as a rebuild one event per transaction; a rebuild stopped midway (at a
// stream sequence or a time) has a checkpoint that matches its rows, and the live projector
// resumes from it to the same model as a full rebuild.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  domainStream,
  person,
  Projector,
  provision,
  ReadModel,
  replay,
  type CimError,
  type ReplayOptions,
} from '../../appliance/index.js';
import { fillChains } from '../../bench/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { fileTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait.js';

const directory = person.definition.projections![0]!;
const files = fileTempDir('rebuild-models');
const modelPath = (name: string) => join(files.path, `${name}.sqlite`);
const START = Date.UTC(2025, 0, 1);
/** Events before and after the two messages that are no events. */
const FIRST = 1_800;
const SECOND = 1_400;
let t: TestCluster;
let lastSeq = 0;

beforeAll(async () => {
  t = await startTestCluster('rebuild', 3);
  await provision(t.nc, { domains: ['person'], replicas: 3, duplicateWindowMs: 60_000 });
  const people = (events: number) =>
    Array.from({ length: 40 }, (_, i) => ({ id: `p-${String(i).padStart(3, '0')}`, events: events / 40 }));
  const heads = await fillChains(t.nc, { domain: 'person', aggregates: people(FIRST), startAt: START });
  // Anyone allowed to publish on the subjects can store bytes that are no event: skipped, checkpointed past.
  const js = t.nc.jetstream();
  await js.publish('cim.person.events.p-000', new TextEncoder().encode('not an event'));
  await js.publish('cim.person.events.p-poison', new Uint8Array([0xa1, 0x61, 0x76, 0x02]));
  await fillChains(t.nc, { domain: 'person', aggregates: people(SECOND), heads, startAt: START + FIRST });
  lastSeq = (await (await t.nc.jetstreamManager()).streams.info(domainStream('person'))).state.last_seq;
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

/** Rebuilds into a new file and reads back its rows and checkpoint. */
async function rebuilt(name: string, options: Partial<ReplayOptions> = {}) {
  const path = modelPath(name);
  const result = await replay({ nc: t.nc, projection: directory, path, ...options });
  return { result, ...contents(path) };
}

function contents(path: string) {
  const model = ReadModel.open({ path, projections: [directory] });
  try {
    return { rows: model.rows('person_directory'), checkpoint: model.checkpoint(directory.name, 'person') };
  } finally {
    model.close();
  }
}

/** Follows the stream live into `path` from its checkpoint up to the stream's end. */
async function followToEnd(path: string): Promise<void> {
  const model = ReadModel.open({ path, projections: [directory] });
  const projector = Projector.start({ nc: t.nc, model, projection: directory.name, batchSize: 100 });
  try {
    await waitFor('the projector to reach the end', () => model.checkpoint(directory.name, 'person') === lastSeq);
  } finally {
    await projector.stop();
    model.close();
  }
}

describe('rebuild', () => {
  it('given a stream with messages that are no events, when rebuilt in batches, on the reading thread or a worker, then the rows and checkpoint equal the live build and a build one event per transaction', async () => {
    const live = modelPath('live');
    ReadModel.open({ path: live, projections: [directory] }).close();
    await followToEnd(live);
    const expected = contents(live);
    expect(expected.rows).toHaveLength(40);
    expect(expected.checkpoint).toBe(lastSeq);

    const oneByOne = await rebuilt('one-by-one', { batch: 1 });
    const inline = await rebuilt('inline', { batch: 500 });
    const worker = await rebuilt('worker', { batch: 64, worker: {} });
    for (const build of [oneByOne, inline, worker]) {
      expect(build.rows).toEqual(expected.rows);
      expect(build.checkpoint).toBe(lastSeq);
      expect(build.result).toMatchObject({ events: FIRST + SECOND, lastSeq, lastSeqs: { person: lastSeq } });
      expect(build.result.invalid.map((f) => f.streamSeq)).toEqual([FIRST + 1, FIRST + 2]);
    }
  });

  it('given a rebuild stopped at a stream sequence, when the live projector resumes it, then its checkpoint matched its rows and the end equals a full rebuild', async () => {
    const full = await rebuilt('full-for-resume', { worker: {} });
    for (const [name, options] of [
      ['stopped-inline', { batch: 200 }],
      ['stopped-worker', { batch: 200, worker: {} }],
    ] as const) {
      // Midway, inside a batch and past the skipped messages.
      const stopAt = FIRST + 2 + 777;
      const stopped = await rebuilt(name, { ...options, toSeq: stopAt });
      const reference = await rebuilt(`${name}-reference`, { batch: 1, toSeq: stopAt });
      expect(stopped.checkpoint).toBe(stopAt);
      expect(stopped.rows).toEqual(reference.rows);
      expect(stopped.rows).not.toEqual(full.rows);
      await followToEnd(modelPath(name));
      expect(contents(modelPath(name))).toEqual({ rows: full.rows, checkpoint: lastSeq });
    }
  });

  it('given a time bound, when rebuilt on a worker, then it stops at the last event at or before it, as on the reading thread', async () => {
    const toTime = new Date(START + 1_234).toISOString();
    const inline = await rebuilt('time-inline', { toTime, batch: 100 });
    const worker = await rebuilt('time-worker', { toTime, batch: 100, worker: {} });
    // Events are 1 ms apart from START: the first 1,235 are at or before the bound.
    expect(inline.result.events).toBe(1_235);
    expect(worker.result).toMatchObject({ events: 1_235, lastSeq: 1_235 });
    expect(worker.checkpoint).toBe(1_235);
    expect(worker.rows).toEqual(inline.rows);
  });

  it('given a projection the served domains do not have, when rebuilt on a worker, then it fails naming it and leaves no file behind', async () => {
    const path = modelPath('unknown');
    const error = await replay({
      nc: t.nc,
      projection: { ...directory, name: 'nobody_serves_this' },
      path,
      worker: {},
    }).catch((e: unknown) => e as CimError);
    expect(error).toMatchObject({ code: 'CIM-NOT-FOUND', message: expect.stringContaining('nobody_serves_this') });
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(files.path).filter((f) => f.startsWith('unknown'))).toEqual([]);
  });
});
