// The erasure drill on a real 3-node cluster with `cim serve`'s appliance: persons registered,
// renamed and re-addressed; before any erasure no node's store holds a name or an e-mail address in
// plain text; one person is erased from another "process" (its own key store, read-model and NATS
// connections, as `cim erase` has them), and then: its key is gone, a byte scan of every file under
// the state dir (every node's block files, Raft logs and snapshots, the read models with their WAL
// and shm, the key store) finds neither the key (raw, hex, base64) nor any of its plain text, its
// rows and snapshot are gone, the running appliance stops decrypting it at once, the others still
// decrypt, every chain and seal verifies, and the erasure was recorded. Then an erasure while a node
// is down: the node comes back, catches up on ciphertext only, and holds nothing recoverable.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditWriter,
  readAuditLog,
  domainStream,
  eraseSubject,
  EventStore,
  FieldEncryption,
  listDomains,
  loadOrCreateSigner,
  person,
  personalDataOf,
  querySubject,
  ReadModel,
  Sealer,
  sendCommand,
  SnapshotStore,
  startAppliance,
  SubjectKeyStore,
  verifyDomain,
  type ApplianceHandle,
  type Eraser,
} from '../../appliance/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

interface Entry {
  action: string;
  target: string;
  outcome: string;
  actor: string;
  role: string;
  source: string;
  code?: string;
  correlationId: string;
}

let t: TestCluster;
let appliance: ApplianceHandle;
// Erasures run in this process are recorded by a real writer, as `cim erase` records them; the
// appliance records those it serves with its own.
let sink: AuditWriter;
const audited = async (): Promise<Entry[]> =>
  (await readAuditLog(t.nc, { filter: { action: 'erasure' } })).map((r) => r.record as unknown as Entry);

const PEOPLE = 30;
const nameOf = (i: number) => `Personname Number${i}`;
const emailOf = (i: number) => `subject-${i}@erasure.example`;
const victim = {
  id: 'victim-1',
  names: ['Grace Hopper', 'Grace Brewster Hopper'],
  emails: ['grace@navy.example', 'hopper@cobol.example'],
};
const later = {
  id: 'victim-2',
  names: ['Ada Lovelace', 'Augusta Ada King'],
  emails: ['ada@engine.example', 'countess@lovelace.example'],
};

/** Every regular file under `root`, recursively. */
function filesUnder(root: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** The files under `root` holding any of `needles`, each with what it holds (files may vanish meanwhile). */
function scan(root: string, needles: Buffer[]): string[] {
  const hits: string[] = [];
  for (const path of filesUnder(root)) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      continue;
    }
    for (const needle of needles)
      if (bytes.includes(needle)) hits.push(`${path}: ${needle.toString('latin1').slice(0, 40)}`);
  }
  return hits;
}

const text = (values: string[]) => values.map((v) => Buffer.from(v, 'utf8'));
const keyForms = (key: Uint8Array) => {
  const b = Buffer.from(key);
  return [
    b,
    Buffer.from(b.toString('hex')),
    Buffer.from(b.toString('hex').toUpperCase()),
    Buffer.from(b.toString('base64')),
    Buffer.from(b.toString('base64url')),
  ];
};

let commandNo = 0;
/** A person command, retried with the same id (so applied once) while the cluster recovers from a kill. */
async function command(type: string, payload: Record<string, string>) {
  const commandId = `drill-${++commandNo}`;
  for (let attempt = 1; ; attempt++) {
    try {
      return await sendCommand(t.nc, 'person', type, { actor: 'drill', payload, commandId }, { timeoutMs: 15_000 });
    } catch (error) {
      if (attempt >= 4 || (error as { code?: string }).code !== 'CIM-UNAVAILABLE') throw error;
    }
  }
}

async function getPerson(nc: NatsConnection, personId: string): Promise<Record<string, unknown> | null> {
  const reply = await nc.request(querySubject('cim', 'person', 'GetPerson'), JSON.stringify({ params: { personId } }), {
    timeout: 10_000,
  });
  const answer = JSON.parse(new TextDecoder().decode(reply.data)) as {
    ok: boolean;
    result: Record<string, unknown> | null;
  };
  expect(answer.ok).toBe(true);
  return answer.result;
}

async function register(subject: typeof victim) {
  await command('RegisterPerson', { personId: subject.id, name: subject.names[0]!, email: subject.emails[0]! });
  await command('RenamePerson', { personId: subject.id, name: subject.names[1]! });
  await command('ChangePersonEmail', { personId: subject.id, email: subject.emails[1]! });
}

/** Everything of a subject that must not survive its erasure, as bytes. */
const plainOf = (subject: typeof victim) => text([...subject.names, ...subject.emails]);

/** Seals what is unsealed, then verifies every domain stream: chains and seals. */
async function verifyAll(): Promise<void> {
  const signer = loadOrCreateSigner(t.stateDir);
  for (const domain of await listDomains(t.nc)) {
    await (await Sealer.open(t.nc, { domain, signer })).sealOnce();
    const v = await verifyDomain(t.nc, domain, { trusted: [signer.verifier()] });
    expect(v.findings, domain).toEqual([]);
    expect(v.signaturesChecked).toBe(true);
  }
}

/** An eraser of its own, as `cim erase` builds it in its own process. */
function otherProcess(nc?: NatsConnection): { eraser: Eraser; close: () => void } {
  const keys = SubjectKeyStore.open(t.stateDir);
  const readModel = ReadModel.open({ path: appliance.readModelPath, projections: person.definition.projections! });
  return {
    eraser: { keys, domains: ['person'], readModel, audit: sink, ...(nc ? { nc } : {}) },
    close: () => {
      readModel.close();
      keys.close();
    },
  };
}

beforeAll(async () => {
  t = await startTestCluster('erasure', 3);
  appliance = await startAppliance({
    endpointFor: (role) => t.cluster.endpointFor(role),
    stateDir: t.stateDir,
    replicas: 3,
    sealEveryEvents: 10,
    sealEveryMs: 500,
    // Only problems are logged (a projection or sealer failure): shown with the test's output.
    log: (line) => console.error(`appliance: ${line}`),
  });
  sink = await AuditWriter.open(t.nc, { name: 'erasure-test' });
  for (let i = 0; i < PEOPLE; i++)
    await command('RegisterPerson', { personId: `p-${i}`, name: nameOf(i), email: emailOf(i) });
  await register(victim);
  await sendCommand(t.nc, 'organization', 'CreateOrganization', {
    actor: 'drill',
    payload: { organizationId: 'navy', name: 'Navy' },
  });
  await sendCommand(t.nc, 'organization', 'AddMember', {
    actor: 'drill',
    payload: { organizationId: 'navy', personId: victim.id, role: 'member' },
  });
  await waitFor(
    'the directory to hold the victim renamed',
    async () => (await getPerson(t.nc, victim.id))?.name === victim.names[1],
  );
}, 120_000);

afterAll(async () => {
  await appliance?.stop();
  await t?.stop();
});

describe('crypto-shredding erasure', () => {
  it("stores no plaintext personal data in any node's store, only ciphertext", async () => {
    const stores = t.cluster.nodeNames.map((n) => t.cluster.storeDir(n));
    const plain = [
      ...plainOf(victim),
      ...text(Array.from({ length: PEOPLE }, (_, i) => emailOf(i))),
      ...text(Array.from({ length: PEOPLE }, (_, i) => nameOf(i))),
    ];
    for (const store of stores) {
      // The scan reads the block files: the ids (not personal data here) are there in plain text.
      expect(scan(store, text([victim.id])).length, store).toBeGreaterThan(0);
      expect(scan(store, plain), store).toEqual([]);
    }
    // The read model holds the plain text, for those allowed to query it (until an erasure).
    expect(scan(t.stateDir, text([victim.names[1]!])).length).toBeGreaterThan(0);
  });

  it('erases a subject from another process: no key, no plaintext, no rows or snapshot, chains and seals intact', async () => {
    // A snapshot of the victim as an appliance without encryption would have left it.
    const snapshots = new SnapshotStore(t.nc);
    const store = await EventStore.open(t.nc, {
      protection: new FieldEncryption(personalDataOf([person]), SubjectKeyStore.open(t.stateDir)),
    });
    const loaded = await store.load({ domain: 'person', aggregate: 'Person', aggregateId: victim.id }, person.reducer);
    expect(loaded.state).toMatchObject({ name: victim.names[1], email: victim.emails[1] });
    expect(loaded.fromSnapshot).toBe(false);
    await snapshots.put({
      v: 1,
      domain: 'person',
      aggregateId: victim.id,
      seq: loaded.head.seq,
      cid: loaded.head.cid!,
      streamSeq: loaded.head.streamSeq,
      at: new Date().toISOString(),
      state: { status: 'active' },
    });
    const key = SubjectKeyStore.open(t.stateDir).key(victim.id)!;
    expect(key).toHaveLength(32);
    // The running appliance has the victim cached, decrypted (a no-op on the cached state is answered).
    expect((await command('RenamePerson', { personId: victim.id, name: victim.names[1]! })).events).toEqual([]);

    const other = otherProcess(t.nc);
    const result = await eraseSubject(other.eraser, {
      subjectId: victim.id,
      actor: 'dpo',
      role: 'operator',
      source: 'cli',
      correlationId: 'erase-1',
    });
    other.close();
    expect(result).toEqual({
      subjectId: victim.id,
      outcome: 'erased',
      rowsDeleted: 1,
      snapshotsDeleted: [`person.${victim.id}`],
    });
    expect(await audited()).toContainEqual(
      expect.objectContaining({
        actor: 'dpo',
        role: 'operator',
        source: 'cli',
        action: 'erasure',
        target: `subject/${victim.id}`,
        outcome: 'ok',
        correlationId: 'erase-1',
      }),
    );

    // The key is gone; the running appliance stops decrypting at once: its cached state is not used,
    // and personal data is refused for the erased subject.
    const keys = SubjectKeyStore.open(t.stateDir);
    expect(keys.key(victim.id)).toBeUndefined();
    expect(keys.status(victim.id)).toBe('erased');
    await expect(command('RenamePerson', { personId: victim.id, name: victim.names[1]! })).rejects.toMatchObject({
      code: 'CIM-REJECTED',
    });
    // Events stay readable, their personal data erased (not an error).
    const after = await store.load({ domain: 'person', aggregate: 'Person', aggregateId: victim.id }, person.reducer);
    expect(after.state).toEqual({ status: 'active', name: null, email: null });
    expect(after.head).toEqual(loaded.head);
    // A later event of the erased subject brings a row back without its personal data.
    await command('ArchivePerson', { personId: victim.id });
    await waitFor('the archived row', async () => (await getPerson(t.nc, victim.id))?.status === 'archived');
    expect(await getPerson(t.nc, victim.id)).toEqual({
      personId: victim.id,
      name: null,
      email: null,
      status: 'archived',
    });
    expect(await snapshots.get('person', victim.id)).toBeUndefined();

    // Others still decrypt, in the event store and in the read model.
    const p7 = await store.load({ domain: 'person', aggregate: 'Person', aggregateId: 'p-7' }, person.reducer);
    expect(p7.state).toEqual({ status: 'active', name: nameOf(7), email: emailOf(7) });
    expect(await getPerson(t.nc, 'p-7')).toMatchObject({ name: nameOf(7), email: emailOf(7) });

    // Nothing recoverable in any file under the state dir: every node's store, the read models with
    // their -wal and -shm, the key store, the signing keys, the manifests and logs.
    const files = filesUnder(t.stateDir);
    expect(files.some((f) => f.endsWith('read-models.sqlite-wal'))).toBe(true);
    expect(files.some((f) => f.endsWith('.blk'))).toBe(true);
    expect(scan(t.stateDir, [...keyForms(key), ...plainOf(victim)])).toEqual([]);

    await verifyAll();

    // Idempotent; a subject never known is a clear error, also recorded.
    const again = otherProcess();
    expect(
      await eraseSubject(again.eraser, {
        subjectId: victim.id,
        actor: 'dpo',
        role: 'operator',
        source: 'cli',
        correlationId: 'erase-2',
      }),
    ).toMatchObject({ outcome: 'already-erased', rowsDeleted: 1 });
    await expect(
      eraseSubject(again.eraser, {
        subjectId: 'nobody',
        actor: 'dpo',
        role: 'operator',
        source: 'cli',
        correlationId: 'erase-3',
      }),
    ).rejects.toMatchObject({ code: 'CIM-NOT-FOUND' });
    again.close();
    expect((await audited()).at(-1)).toMatchObject({
      target: 'subject/nobody',
      outcome: 'rejected',
      code: 'CIM-NOT-FOUND',
    });
    keys.close();
  });

  it('erases while a node is down: the node comes back, catches up on ciphertext, and holds nothing recoverable', async () => {
    const down = t.cluster.nodeNames[2]!;
    await t.cluster.kill(down);
    const streams = [
      'CIM_PERSON',
      'CIM_ORGANIZATION',
      'CIM_WORKFLOW',
      'CIM_SEALS',
      'KV_cim_snapshots',
      'KV_cim_commands',
      // The erasure reads the legal holds and writes its audit record: until these elect a leader
      // on a live node, it times out.
      'KV_cim_holds',
      'CIM_AUDIT',
      'CIM_RETENTION',
    ];
    for (const stream of streams)
      await waitFor(`a leader of ${stream} other than ${down}`, async () => {
        const leader = await t.cluster.streamLeader(stream);
        return leader !== undefined && leader !== down;
      });
    await register(later);
    // A projector whose consumer was on the killed node takes a new one after two missed
    // heartbeats (about 5 s; appliance/projections/projector.ts), more on a loaded machine.
    await waitFor(
      'the directory to hold the second victim',
      async () => (await getPerson(t.nc, later.id))?.email === later.emails[1],
      120_000,
      1_000,
    );
    const key = SubjectKeyStore.open(t.stateDir).key(later.id)!;
    const result = await appliance.erase({
      subjectId: later.id,
      actor: 'dpo',
      role: 'operator',
      source: 'http',
      correlationId: 'erase-4',
    });
    expect(result).toMatchObject({ outcome: 'erased', rowsDeleted: 1 });
    expect(await getPerson(t.nc, later.id)).toBeNull();

    await t.cluster.restart(down);
    // Caught up: every stream's replica on the node is current, and the node holds the second victim's events.
    const jsm = await t.nc.jetstreamManager();
    await waitFor(
      `${down} to catch up`,
      async () => {
        for (const stream of ['person', 'organization'].map(domainStream)) {
          const info = await jsm.streams.info(stream);
          const replica = [
            info.cluster?.leader === down
              ? { current: true, lag: 0 }
              : info.cluster?.replicas?.find((r) => r.name === down),
          ];
          if (!replica[0] || !replica[0].current || (replica[0].lag ?? 0) > 0) return false;
        }
        return scan(t.cluster.storeDir(down), text([later.id])).length > 0;
      },
      60_000,
      250,
    );
    expect(scan(t.cluster.storeDir(down), [...keyForms(key), ...plainOf(later), ...plainOf(victim)])).toEqual([]);
    expect(scan(t.stateDir, [...keyForms(key), ...plainOf(later)])).toEqual([]);
    await verifyAll();
  }, 240_000);

  it("reaches another instance's read model: it deletes the erased subject's rows on its own", async () => {
    const third = {
      id: 'victim-3',
      names: ['Mary Somerville', 'Mary Fairfax'],
      emails: ['mary@physical.example', 'fairfax@sciences.example'],
    };
    // A second instance with a state dir (a machine) of its own, sharing the key store.
    const otherState = join(t.stateDir, 'instance-2');
    mkdirSync(otherState);
    const second = await startAppliance({
      endpointFor: (role) => t.cluster.endpointFor(role),
      stateDir: otherState,
      replicas: 3,
      keyStoreDir: join(t.stateDir, 'privacy'),
      erasureSweepMs: 200,
      log: (line) => console.error(`appliance 2: ${line}`),
    });
    try {
      await register(third);
      const secondModel = () => new Database(second.readModelPath, { readonly: true });
      const row = (db: Database.Database) =>
        db.prepare('SELECT name, email FROM person_directory WHERE person_id = ?').get(third.id);
      await waitFor('the second instance to hold the third victim', () => {
        const db = secondModel();
        try {
          return (row(db) as { email?: string } | undefined)?.email === third.emails[1];
        } finally {
          db.close();
        }
      });
      await appliance.erase({
        subjectId: third.id,
        actor: 'dpo',
        role: 'operator',
        source: 'http',
        correlationId: 'erase-5',
      });
      await waitFor('the second instance to delete the rows', () => {
        const db = secondModel();
        try {
          return row(db) === undefined;
        } finally {
          db.close();
        }
      });
      await waitFor("no plaintext in the second instance's files", () => scan(otherState, plainOf(third)).length === 0);
      expect(scan(t.stateDir, plainOf(third))).toEqual([]);
    } finally {
      await second.stop();
    }
  }, 120_000);
});
