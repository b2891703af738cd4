// Retention with legal holds on a real 3-node cluster: the applier, as the `retention` role,
// removes what a policy expires and no hold covers, only inside sealed ranges, writing a removal
// manifest and an audit record before deleting; a re-run is idempotent and completes a manifest a
// crash left undone; verification is clean afterwards (the manifests' CIDs recompute the seals,
// chains start after removed events), and a message deleted by hand without a manifest is named.
// Then `cim serve`'s appliance applies a policy on its schedule, and the retention compliance check
// passes that system, then names each seeded violation exactly.
import { nanos, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyRetention,
  AuditWriter,
  cidOfBlock,
  EMPTY_HEAD,
  EventStore,
  HoldStore,
  loadOrCreateSigner,
  parseRemovalTarget,
  provision,
  publishManifest,
  readAuditLog,
  readManifests,
  readSealRanges,
  RETENTION_STREAM,
  Sealer,
  sendCommand,
  Signer,
  startAppliance,
  verifyDomain,
  loadConfig,
  Subjects,
  type AggregateHead,
  type ApplianceHandle,
  type NatsRole,
  type RetentionPolicy,
} from '../../appliance/index.js';
import { RemovedEvents, retentionCheck, retentionSummary, type CheckContext } from '../../compliance/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

const DOMAIN = 'ledger';
const STREAM = 'CIM_LEDGER';
let t: TestCluster;
let retention: NatsConnection;
let signer: Signer;
let store: EventStore;
const heads = new Map<string, AggregateHead>();
/** Stream sequences of each aggregate's events, in order. */
const seqs = new Map<string, number[]>();

async function append(aggregateId: string, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    const [event] = await store.append(
      { domain: DOMAIN, aggregate: 'Account', aggregateId },
      heads.get(aggregateId) ?? EMPTY_HEAD,
      [{ type: 'Posted', payload: { amount: i } }],
      { correlationId: `c-${aggregateId}`, causationId: `c-${aggregateId}`, actor: 'test' },
    );
    heads.set(aggregateId, { seq: event!.seq, cid: event!.cid, streamSeq: event!.streamSeq });
    seqs.set(aggregateId, [...(seqs.get(aggregateId) ?? []), event!.streamSeq]);
  }
}

async function present(seq: number): Promise<boolean> {
  const jsm = await t.nc.jetstreamManager();
  return jsm.streams.getMessage(STREAM, { seq }).then(
    () => true,
    () => false,
  );
}

const trusted = () => ({ trusted: [signer.verifier()] });

beforeAll(async () => {
  t = await startTestCluster('retention', 3);
  await provision(t.nc, { domains: [DOMAIN, 'person'], replicas: 3, duplicateWindowMs: 120_000 });
  signer = loadOrCreateSigner(t.stateDir);
  store = await EventStore.open(t.nc);
  retention = await t.connect('retention');
  // Interleaved: A and B expire, H is held, C is the one a crash left half-removed.
  for (let round = 0; round < 5; round++) {
    await append('A');
    await append('B');
    if (round < 3) await append('H');
    if (round < 3) await append('C');
  }
  const sealer = await Sealer.open(t.nc, { domain: DOMAIN, signer });
  expect(await sealer.sealOnce()).toBeDefined();
  await append('A', 2); // after the seal: A's sixth event expires, but is not sealed yet
  const holds = (await HoldStore.open(t.nc, { create: { replicas: 3 } }))!;
  await holds.add({
    target: { kind: 'aggregate', domain: DOMAIN, aggregateId: 'H' },
    reason: 'litigation',
    placedBy: 'legal',
    at: new Date().toISOString(),
  });
}, 90_000);

afterAll(async () => {
  await retention?.close().catch(() => {});
  await t?.stop();
});

describe('the retention applier', () => {
  const policies = { [DOMAIN]: { maxEventsPerAggregate: 1 } };

  it('a dry run says what a policy expires, and changes nothing', async () => {
    const before = (await (await t.nc.jetstreamManager()).streams.info(STREAM)).state.messages;
    const dry = await applyRetention(retention, { policies, dryRun: true, trusted: [signer.verifier()] });
    expect(dry.domains).toMatchObject([
      { domain: DOMAIN, examined: before, expired: 6 + 4 + 2 + 2, held: 2, unsealed: 1, removed: 11 },
    ]);
    expect((await (await t.nc.jetstreamManager()).streams.info(STREAM)).state.messages).toBe(before);
    // A seal signed by a key not trusted proves nothing: nothing under it would be removed.
    const untrusted = await applyRetention(retention, {
      policies,
      dryRun: true,
      trusted: [Signer.ephemeral().verifier()],
    });
    expect(untrusted.domains).toMatchObject([{ expired: 14, held: 2, unsealed: 12, removed: 0 }]);
  });

  it('removes the expired, sealed, unheld events: manifest and audit record first, then the deletions; verification is clean', async () => {
    // A crash after the manifest of C's first event, before its deletion.
    const [seal] = await readSealRanges(t.nc.jetstream(), await t.nc.jetstreamManager(), DOMAIN);
    const c1 = seqs.get('C')![0]!;
    const jsm = await t.nc.jetstreamManager();
    const c1Bytes = (await jsm.streams.getMessage(STREAM, { seq: c1 })).data;
    const crashed = await publishManifest(t.nc.jetstream(), {
      v: 1,
      domain: DOMAIN,
      seal: seal!.cid,
      removed: [[c1, cidOfBlock(c1Bytes)]],
      policy: { maxEventsPerAggregate: 1 },
      at: new Date().toISOString(),
    });

    const audit = await AuditWriter.open(retention, { name: 'retention-test' });
    const applied = await applyRetention(retention, {
      policies,
      audit,
      actor: 'test',
      source: 'cli',
      trusted: [signer.verifier()],
    });
    await audit.flush();
    const [d] = applied.domains;
    // A: 7 events, 6 expire, 5 sealed; B: 4; C: the crash's one completed, then one of the two left; H: held.
    expect(d).toMatchObject({ expired: 5 + 1 + 4 + 1 + 2, held: 2, unsealed: 1, removed: 10, completed: 1 });
    expect(d!.manifests).toHaveLength(1);
    expect(d!.manifests[0]).toMatchObject({ seal: seal!.cid.toString(), count: 10 });

    // Gone: A's first five, B's first four, C's first two; kept: the rest.
    const gone = [...seqs.get('A')!.slice(0, 5), ...seqs.get('B')!.slice(0, 4), ...seqs.get('C')!.slice(0, 2)];
    const kept = [...seqs.get('A')!.slice(5), ...seqs.get('B')!.slice(4), seqs.get('C')![2]!, ...seqs.get('H')!];
    for (const seq of gone) expect([seq, await present(seq)]).toEqual([seq, false]);
    for (const seq of kept) expect([seq, await present(seq)]).toEqual([seq, true]);

    // The manifests: the crash's and this run's, together exactly what is gone.
    const { manifests, invalid } = await readManifests(t.nc.jetstream(), jsm, DOMAIN);
    expect(invalid).toEqual([]);
    expect(manifests.flatMap((m) => m.manifest.removed.map(([seq]) => seq)).sort((a, b) => a - b)).toEqual(
      [...gone].sort((a, b) => a - b),
    );
    const stream = await jsm.streams.info(RETENTION_STREAM);
    expect([stream.config.deny_delete, stream.config.deny_purge]).toEqual([true, true]);

    // The crashed run's record is written before its deletions are completed, then this run's.
    const records = (await readAuditLog(t.nc, { filter: { action: 'retention.remove' } })).flatMap((r) =>
      r.record ? [r.record] : [],
    );
    expect(records.map((r) => [r.role, r.outcome, r.actor, r.source])).toEqual([
      ['retention', 'ok', 'test', 'cli'],
      ['retention', 'ok', 'test', 'cli'],
    ]);
    expect(records.map((r) => parseRemovalTarget(r.target))).toEqual([
      { domain: DOMAIN, manifest: crashed.cid.toString(), seal: seal!.cid.toString() },
      { domain: DOMAIN, manifest: d!.manifests[0]!.manifest, seal: seal!.cid.toString() },
    ]);

    const verified = await verifyDomain(t.nc, DOMAIN, trusted());
    expect(verified.findings).toEqual([]);
    expect(verified.removedByRetention).toBe(11);
  });

  it('is idempotent: a second run removes nothing and writes no manifest', async () => {
    const audit = await AuditWriter.open(retention, { name: 'retention-test' });
    const again = await applyRetention(retention, { policies, audit });
    expect(again.domains[0]).toMatchObject({ removed: 0, completed: 0, manifests: [] });
    const { manifests } = await readManifests(t.nc.jetstream(), await t.nc.jetstreamManager(), DOMAIN);
    expect(manifests).toHaveLength(2);
  });

  it('refuses a policy for a domain with no stream', async () => {
    await expect(applyRetention(retention, { policies: { nowhere: { maxAge: '1d' } }, dryRun: true })).rejects.toThrow(
      /retention\.policies\.nowhere: there is no stream CIM_NOWHERE/,
    );
  });
});

describe("cim serve's appliance", () => {
  let appliance: ApplianceHandle | undefined;
  afterAll(async () => appliance?.stop());

  it('applies the policies on its schedule, as the retention role', async () => {
    appliance = await startAppliance({
      endpointFor: (role) => t.cluster.endpointFor(role),
      stateDir: t.stateDir,
      replicas: 3,
      sealEveryMs: 200,
      sealEveryEvents: 1,
      retention: { policies: { person: { maxEventsPerAggregate: 1 } }, everyMs: 300 },
    });
    await sendCommand(t.nc, 'person', 'RegisterPerson', {
      payload: { personId: 'kept-short', name: 'Ann Short', email: 'ann@short.example' },
      actor: 'test',
    });
    for (const name of ['Ann Shorter', 'Ann Shortest'])
      await sendCommand(t.nc, 'person', 'RenamePerson', { payload: { personId: 'kept-short', name }, actor: 'test' });
    const jsm = await t.nc.jetstreamManager();
    await waitFor(
      'the two older events of kept-short removed',
      async () => ((await jsm.streams.info('CIM_PERSON')).state.messages === 1 ? true : undefined),
      30_000,
    );
    const records = (await readAuditLog(t.nc, { filter: { action: 'retention.remove' } })).flatMap((r) =>
      r.record ? [r.record] : [],
    );
    // One application removes both, or (on a slow machine, the schedule firing between the commands)
    // two remove one each: either way every removal is the retention role's, through NATS.
    const removals = records.filter((r) => r.target.startsWith('person/'));
    expect(removals.length).toBeGreaterThanOrEqual(1);
    expect(new Set(removals.map((r) => JSON.stringify([r.role, r.actor, r.source])))).toEqual(
      new Set([JSON.stringify(['retention', 'cim-serve', 'nats'])]),
    );
    const verified = await verifyDomain(t.nc, 'person', trusted());
    expect(verified.findings).toEqual([]);
    expect(verified.removedByRetention).toBe(2);
  }, 60_000);

  it('refuses a policy for a domain it does not serve', async () => {
    await expect(
      startAppliance({
        endpointFor: (role) => t.cluster.endpointFor(role),
        stateDir: t.stateDir,
        replicas: 3,
        retention: { policies: { ledger: { maxAge: '1d' } }, everyMs: 1_000 },
      }),
    ).rejects.toThrow(/retention\.policies: ledger is not served here/);
  }, 60_000);
});

/** A check context as `cim comply` makes one, on this cluster. */
function checkContext(policies: Record<string, RetentionPolicy>, now = new Date()): CheckContext {
  const config = loadConfig({
    env: {},
    flags: { stateDir: t.stateDir, 'retention.policies': JSON.stringify(policies) },
  });
  const done = new Map<string, Promise<unknown>>();
  const connections = new Map<NatsRole, Promise<NatsConnection>>();
  return {
    config,
    subjects: new Subjects(),
    cluster: {
      mode: 'embedded-own',
      servers: t.cluster.clientUrls,
      endpointFor: (role) => t.cluster.endpointFor(role),
      embedded: t.cluster,
      nodeCount: 3,
    },
    domains: [],
    trusted: [signer.verifier()],
    connect: (role) => {
      if (!connections.has(role)) connections.set(role, t.connect(role));
      return connections.get(role)!;
    },
    once: <T>(key: string, work: () => Promise<T>) => {
      if (!done.has(key)) done.set(key, work());
      return done.get(key)! as Promise<T>;
    },
    maxUnsealedAgeMs: 3_600_000,
    now: () => now,
  };
}

describe('the retention check', () => {
  const policies = { [DOMAIN]: { maxEventsPerAggregate: 1 }, person: { maxEventsPerAggregate: 1 } };

  it('passes a system whose removals retention made: zero findings, and the summary shows each range with its seal', async () => {
    const outcome = await retentionCheck.run(checkContext(policies));
    expect(outcome.findings).toEqual([]);
    // This domain's two manifests, and those cim serve's schedule wrote for person above (one or two).
    const personManifests = (await readManifests(t.nc.jetstream(), await t.nc.jetstreamManager(), 'person')).manifests
      .length;
    expect(personManifests).toBeGreaterThanOrEqual(1);
    expect(outcome.examined).toMatchObject({ holds: 1, manifests: 2 + personManifests, removed: 13 });

    const summary = await retentionSummary(await t.connect('auditor'), { retention: { policies, applyEvery: '1h' } });
    const ledger = summary.find((d) => d.domain === DOMAIN)!;
    const [seal] = await readSealRanges(t.nc.jetstream(), await t.nc.jetstreamManager(), DOMAIN);
    expect(ledger).toMatchObject({
      policy: { maxEventsPerAggregate: 1 },
      holds: [{ target: `${DOMAIN}/H`, placedBy: 'legal' }],
    });
    expect(ledger.removed.map((r) => [r.count, r.seal])).toEqual([
      [1, seal!.cid.toString()],
      [10, seal!.cid.toString()],
    ]);
    expect(ledger.oldestKept!.seq).toBe(
      Math.min(seqs.get('A')![5]!, seqs.get('B')![4]!, seqs.get('C')![2]!, seqs.get('H')![0]!),
    );
    const removed = await RemovedEvents.read(t.nc, [DOMAIN]);
    const a1 = seqs.get('A')![0]!;
    const manifested = (await readManifests(t.nc.jetstream(), await t.nc.jetstreamManager(), DOMAIN)).manifests
      .flatMap((m) => m.manifest.removed)
      .find(([seq]) => seq === a1)!;
    expect(removed.removedEventCid(DOMAIN, a1)).toBe(manifested[1].toString());
    expect(removed.removedEventCid(DOMAIN, seqs.get('A')![6]!)).toBeUndefined();
  });

  it('names each seeded violation exactly: events deleted by hand (one held), an over-age event outside a hold, stream limits, a policy for no stream', async () => {
    const jsm = await t.nc.jetstreamManager();
    const b5 = seqs.get('B')![4]!; // sealed, kept by the policy
    const h2 = seqs.get('H')![1]!; // held
    expect(await jsm.streams.deleteMessage(STREAM, b5, false)).toBe(true);
    expect(await jsm.streams.deleteMessage(STREAM, h2, false)).toBe(true);
    // Verification names a removal no manifest covers.
    const verified = await verifyDomain(t.nc, DOMAIN, trusted());
    expect(verified.findings.map((f) => [f.kind, f.streamSeq])).toEqual([
      ['missing-event', h2],
      ['chain-broken', seqs.get('H')![2]!],
      ['missing-event', b5],
      ['seal-mismatch', 1],
    ]);
    await jsm.streams.update('CIM_ORGANIZATION', { max_age: nanos(86_400_000) });

    const later = new Date(Date.now() + 3 * 3_600_000);
    const outcome = await retentionCheck.run(
      checkContext(
        { ...policies, [DOMAIN]: { maxEventsPerAggregate: 1, maxAge: '1h' }, nowhere: { maxAge: '1d' } },
        later,
      ),
    );
    expect(outcome.findings.map((f) => [f.id, f.severity]).sort()).toEqual(
      [
        ['retention:stream-limits:CIM_ORGANIZATION', 'high'],
        [`retention:unrecorded-removal:${STREAM}:${h2}`, 'critical'],
        [`retention:unrecorded-removal:${STREAM}:${b5}`, 'critical'],
        [`retention:held-event-removed:${STREAM}:H:2`, 'critical'],
        [`retention:over-age:${STREAM}:${seqs.get('C')![2]!}`, 'high'],
        ['retention:policy-without-stream:nowhere', 'medium'],
      ].sort(),
    );
    await jsm.streams.update('CIM_ORGANIZATION', { max_age: 0 });
  });
});
