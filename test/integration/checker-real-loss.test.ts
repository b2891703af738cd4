// The checker against real damage to JetStream, not to its input: after a scenario's load, events
// the services acknowledged are deleted from their domain streams, or rewritten in place on every
// replica's disk (same sequence, other bytes, valid record checksums), before the checker reads
// back. It must name exactly those events as lost, and the scenario must fail.
import type { JetStreamManager } from 'nats';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dagCbor from '@ipld/dag-cbor';
import { domainStream, readStream } from '../../appliance/index.js';
import type { ScenarioResult } from '../../scenarios/results.js';
import type { BeforeCheckContext } from '../../scenarios/runner.js';
import type { Assertion, MixEntry, Scenario } from '../../scenarios/types.js';
import { rewriteStoredMessage } from '../support/filestore.js';
import { seededRandom } from '../support/random.js';
import { startScenarioCluster, type ScenarioCluster } from '../support/scenario-cluster.js';
import { waitFor } from '../support/wait.js';

const mix: MixEntry[] = [
  { command: 'person.RegisterPerson', weight: 3 },
  { command: 'person.RenamePerson', weight: 2 },
  { command: 'organization.CreateOrganization', weight: 1 },
  { command: 'organization.AddMember', weight: 1 },
  { command: 'workflow.StartWorkflow', weight: 1 },
];
const expect0 = (...metrics: Assertion['metric'][]): Assertion[] =>
  metrics.map((metric) => ({ text: `${metric} == 0`, metric, op: '==', value: 0 }));
const scenario = (name: string, seed: number): Scenario => ({
  name,
  description: `acknowledged events damaged before the read-back (${name})`,
  seed,
  suites: [],
  cluster: { nodes: 3, replicas: 3 },
  phases: [
    { type: 'load', name: 'load', driver: 'nats', rate: 'max', concurrency: 16, count: 300, mix, aggregates: 60 },
    { type: 'check', name: 'check', expect: expect0('lost', 'unexpected', 'duplicates') },
  ],
});

/** The CID of stored bytes, computed here (CIDv1, dag-cbor, sha2-256), not by the product. */
const cidOf = (bytes: Uint8Array) =>
  CID.create(1, 0x71, Digest.create(0x12, createHash('sha256').update(bytes).digest())).toString();

interface StoredEvent {
  stream: string;
  seq: number;
  cid: string;
  bytes: Uint8Array;
}

/** Every message of the domain streams, by the CID of its stored bytes. */
async function storedEvents(ctx: Pick<BeforeCheckContext, 'nc' | 'domains'>): Promise<Map<string, StoredEvent>> {
  const jsm = await ctx.nc.jetstreamManager();
  const byCid = new Map<string, StoredEvent>();
  for (const domain of ctx.domains) {
    const stream = domainStream(domain);
    const { last_seq: last } = (await jsm.streams.info(stream)).state;
    for await (const m of readStream(ctx.nc.jetstream(), { stream, fromSeq: 1, toSeq: last })) {
      byCid.set(cidOf(m.data), { stream, seq: m.seq, cid: cidOf(m.data), bytes: m.data });
    }
  }
  return byCid;
}

/** Acknowledged events, each with the label of the command that caused it, in a seeded order. */
function acknowledged(ctx: BeforeCheckContext, seed: number): { cid: string; label: string }[] {
  const events = ctx.operations
    .filter((o) => o.outcome === 'ok')
    .flatMap((o) => o.acked.map((cid) => ({ cid, label: o.label! })));
  const random = seededRandom(seed);
  for (let i = events.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [events[i], events[j]] = [events[j]!, events[i]!];
  }
  return events;
}

async function streamsLed(jsm: JetStreamManager, streams: readonly string[]): Promise<boolean> {
  for (const stream of streams) if (!(await jsm.streams.info(stream)).cluster?.leader) return false;
  return true;
}

let sc: ScenarioCluster;
const deleted: { cid: string; label: string; stream: string; seq: number }[] = [];
let deletedRun: ScenarioResult;
let altered:
  | {
      cid: string;
      label: string;
      stream: string;
      seq: number;
      files: string[];
      storedCid: string;
      emailBefore: string;
      storedEmail: string;
    }
  | undefined;
let alteredRun: ScenarioResult;

beforeAll(async () => {
  sc = await startScenarioCluster('checker-real-loss');

  deletedRun = await sc.run(scenario('deleted', 11), {
    beforeCheck: async (ctx) => {
      const stored = await storedEvents(ctx);
      const jsm = await ctx.nc.jetstreamManager();
      // Three acknowledged events, of three different commands, removed from JetStream itself.
      for (const event of acknowledged(ctx, 11)) {
        if (deleted.length === 3) break;
        const at = stored.get(event.cid);
        if (!at || deleted.some((d) => d.label === event.label)) continue;
        expect(await jsm.streams.deleteMessage(at.stream, at.seq)).toBe(true);
        deleted.push({ ...event, stream: at.stream, seq: at.seq });
      }
    },
  });

  alteredRun = await sc.run(scenario('altered', 12), {
    beforeCheck: async (ctx) => {
      const stored = await storedEvents(ctx);
      // A PersonRegistered event: one byte of its (encrypted) email changed on every replica's
      // disk, so every node serves the new bytes at the old sequence.
      const target = acknowledged(ctx, 12).find((e) => e.label === 'person.RegisterPerson' && stored.has(e.cid))!;
      const at = stored.get(target.cid)!;
      const cluster = ctx.cluster!;
      const original = await (await ctx.nc.jetstreamManager()).streams.getMessage(at.stream, { seq: at.seq });
      const before = dagCbor.decode<{ payload: { email: Uint8Array } }>(original.data).payload.email;
      for (const node of cluster.nodeNames) await cluster.stopNode(node);
      const files = cluster.nodeNames.map(
        (node) =>
          rewriteStoredMessage(cluster.storeDir(node), at.stream, at.seq, (stored) => {
            const body = Buffer.from(stored);
            // dag-cbor: the key "email" (0x65 + 5 bytes), then its value's byte-string header
            // (0x58 + a one-byte length), then the ciphertext: version, IV, ….
            const offset = body.indexOf(Buffer.from([0x65, ...Buffer.from('email'), 0x58]));
            if (offset < 0) throw new Error('the event has no encrypted email in its stored bytes');
            body[offset + 7 + 3]! ^= 0x01;
            return body;
          }).file,
      );
      await Promise.all(cluster.nodeNames.map((node) => cluster.restart(node)));
      await cluster.waitReady();
      const jsm = await ctx.nc.jetstreamManager();
      await waitFor('the domain streams to have leaders again', () => streamsLed(jsm, ctx.domains.map(domainStream)));
      const now = await jsm.streams.getMessage(at.stream, { seq: at.seq });
      const envelope = dagCbor.decode<{ payload: { email: Uint8Array } }>(now.data);
      altered = {
        ...target,
        stream: at.stream,
        seq: at.seq,
        files,
        storedCid: cidOf(now.data),
        emailBefore: Buffer.from(before).toString('hex'),
        storedEmail: Buffer.from(envelope.payload.email).toString('hex'),
      };
    },
  });
}, 240_000);

afterAll(async () => {
  await sc?.stop();
});

describe('acknowledged events deleted from JetStream before the read-back', () => {
  it('were really deleted: three events of three commands, gone from their streams', async () => {
    expect(deleted).toHaveLength(3);
    const jsm = await sc.nc.jetstreamManager();
    for (const d of deleted)
      await expect(jsm.streams.getMessage(d.stream, { seq: d.seq })).rejects.toThrow(/no message found/);
  });

  it('are reported lost, exactly those, by CID and command, and the scenario fails', () => {
    expect(deletedRun.status, deletedRun.reason).toBe('failed');
    expect(deletedRun.checker).toMatchObject({ lost: 3, unexpected: 0, duplicates: 0, ok: false });
    expect([...deletedRun.checker!.samples.lost].sort()).toEqual(deleted.map((d) => `${d.cid} (${d.label})`).sort());
    expect(deletedRun.checker!.lostBy).toEqual(Object.fromEntries(deleted.map((d) => [d.label, 1])));
    expect(deletedRun.checks.find((c) => c.text === 'lost == 0')).toEqual({ text: 'lost == 0', ok: false, actual: 3 });
  });
});

describe('an acknowledged event altered in place on every replica before the read-back', () => {
  it('was really altered: the same sequence now holds other bytes, served by the cluster', () => {
    expect(altered).toBeDefined();
    expect(altered!.files).toHaveLength(3);
    expect(altered!.storedEmail).toHaveLength(altered!.emailBefore.length);
    expect(altered!.storedEmail).not.toBe(altered!.emailBefore);
    expect(altered!.storedCid).not.toBe(altered!.cid);
  });

  it('is reported lost by the CID that was acknowledged, nothing else, and the scenario fails', () => {
    expect(alteredRun.status, alteredRun.reason).toBe('failed');
    expect(alteredRun.checker).toMatchObject({
      lost: 1,
      unexpected: 0,
      duplicates: 0,
      ok: false,
      lostBy: { 'person.RegisterPerson': 1 },
    });
    expect(alteredRun.checker!.samples.lost).toEqual([`${altered!.cid} (person.RegisterPerson)`]);
    expect(alteredRun.checks.find((c) => c.text === 'lost == 0')).toEqual({ text: 'lost == 0', ok: false, actual: 1 });
  });
});
