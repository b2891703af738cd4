// The compliance checks on a real 3-node cluster (sync_interval always): a clean system — the
// appliance served commands with its audit log on, erased a person, sealed — passes every check
// with no finding above info; then each seeded violation is found and named exactly: a deleted
// event, a forged but internally consistent event published straight to NATS, a key left after an
// erasure the audit log records, a command served without its audit record, a role with an extra
// permission, an R1 stream, a seal stream without its deny flags, a default sync_interval.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { headers as natsHeaders, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_LOG,
  AuditWriter,
  connectNats,
  decodeEnvelope,
  EmbeddedCluster,
  encodeEnvelope,
  EventStore,
  loadConfig,
  loadOrCreateSigner,
  person,
  referenceDomains,
  Sealer,
  sendCommand,
  startAppliance,
  startCommandService,
  trustedVerifiers,
  uuidv7,
  type ApplianceConfig,
} from '../../appliance/index.js';
import { openCheckContext, runChecks, type CheckName, type CheckOutcome } from '../../compliance/index.js';
import { tempDir } from '../support/temp-dir.js';

let config: ApplianceConfig;
let cluster: EmbeddedCluster;
let operator: NatsConnection;
let service: NatsConnection;
let client: NatsConnection;
const state = tempDir('compliance');

async function seal(): Promise<void> {
  const signer = loadOrCreateSigner(state.path);
  for (const domain of [...referenceDomains.map((d) => d.name), AUDIT_LOG])
    await (await Sealer.open(service, { domain, signer })).sealOnce();
}

async function comply(only?: CheckName[], maxUnsealedAgeMs?: number): Promise<CheckOutcome[]> {
  const ctx = openCheckContext({
    ...(maxUnsealedAgeMs !== undefined ? { maxUnsealedAgeMs } : {}),
    config,
    cluster: {
      mode: 'embedded-own',
      servers: cluster.clientUrls,
      endpointFor: (role) => cluster.endpointFor(role),
      embedded: cluster,
      nodeCount: cluster.nodeNames.length,
    },
    domains: referenceDomains,
    trusted: trustedVerifiers(state.path),
  });
  try {
    return await runChecks(ctx, only ? { only } : {});
  } finally {
    await ctx.close();
  }
}

/** Every finding above info, by id. */
const serious = (outcomes: CheckOutcome[]) =>
  outcomes.flatMap((o) => o.findings.filter((f) => f.severity !== 'info').map((f) => f.id));

/** What each seeded violation adds: the ids above info that the previous run did not have. */
let before = new Set<string>();
async function newFindings(only?: CheckName[]): Promise<string[]> {
  const now = serious(await comply(only));
  const added = now.filter((id) => !before.has(id)).sort();
  before = new Set([...before, ...now]);
  return added;
}

/** Changes a role's permissions in every node's config and has the servers reload it (SIGHUP). */
async function changeRole(
  isRole: (publish: { allow: string[]; deny: string[] }) => boolean,
  change: (publish: { allow: string[]; deny: string[] }) => void,
): Promise<void> {
  for (const node of cluster.nodeNames) {
    const file = join(state.path, 'cluster', node, 'server.json');
    const server = JSON.parse(readFileSync(file, 'utf8')) as {
      authorization: { users: Array<{ permissions: { publish: { allow: string[]; deny: string[] } } }> };
    };
    change(server.authorization.users.find((u) => isRole(u.permissions.publish))!.permissions.publish);
    writeFileSync(file, JSON.stringify(server, null, 2));
    const pid = Number(readFileSync(join(state.path, 'cluster', node, 'server.pid'), 'utf8').trim());
    process.kill(pid, 'SIGHUP');
  }
  await new Promise((r) => setTimeout(r, 1_500));
}

/** Every stream's messages, sequences and durable consumers, and the stream names. */
async function streamsNow(): Promise<unknown[]> {
  const jsm = await operator.jetstreamManager();
  const streams: unknown[] = [];
  for await (const info of jsm.streams.list()) {
    const consumers: string[] = [];
    // Durable ones: a reader's ordered consumers go away by themselves once idle.
    for await (const c of jsm.consumers.list(info.config.name)) if (c.config.durable_name) consumers.push(c.name);
    const { messages, first_seq, last_seq } = info.state;
    streams.push({ name: info.config.name, messages, first_seq, last_seq, consumers: consumers.sort() });
  }
  return streams.sort((a, b) => String((a as { name: string }).name).localeCompare((b as { name: string }).name));
}

const people = ['ada', 'bob', 'cyd', 'dee', 'eve', 'solo'];
const streamSeqOf: Record<string, number> = {};

beforeAll(async () => {
  config = loadConfig({
    env: {},
    flags: { stateDir: state.path, 'cluster.nodes': '3', 'cluster.syncInterval': 'always' },
  });
  cluster = await EmbeddedCluster.start(config);
  operator = await connectNats(cluster.endpointFor('operator'), { name: 'compliance-operator' });
  service = await connectNats(cluster.endpointFor('service'), { name: 'compliance-service' });
  client = await connectNats(cluster.endpointFor('loadgen'), { name: 'compliance-client' });
  const appliance = await startAppliance({
    endpointFor: (role) => cluster.endpointFor(role),
    stateDir: state.path,
    replicas: 3,
    sealEveryEvents: 1_000,
    sealEveryMs: 60_000,
    log: (line) => console.error(`appliance: ${line}`),
  });
  try {
    for (const id of people) {
      const reply = await sendCommand(client, 'person', 'RegisterPerson', {
        actor: 'crm',
        payload: { personId: id, name: `Person ${id}`, email: `${id}@example.org` },
      });
      streamSeqOf[id] = reply.events[0]!.streamSeq;
    }
    await sendCommand(client, 'person', 'RenamePerson', { actor: 'crm', payload: { personId: 'ada', name: 'Ada L' } });
    await sendCommand(client, 'organization', 'CreateOrganization', {
      actor: 'crm',
      payload: { organizationId: 'acme', name: 'Acme' },
    });
    // The onboarding process manager starts a workflow for the new member: its command is audited too.
    await sendCommand(client, 'organization', 'AddMember', {
      actor: 'crm',
      payload: { organizationId: 'acme', personId: 'bob' },
    });
    // A rejected command writes nothing and explains nothing.
    await expect(
      sendCommand(client, 'person', 'RegisterPerson', {
        actor: 'crm',
        payload: { personId: 'ada', name: 'Again', email: 'ada@example.org' },
      }),
    ).rejects.toThrow();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const info = await (await operator.jetstreamManager()).streams.info('CIM_WORKFLOW').catch(() => undefined);
      if ((info?.state.messages ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await appliance.erase({ subjectId: 'eve', actor: 'dpo', role: 'operator', source: 'cli', correlationId: uuidv7() });
  } finally {
    await appliance.stop();
  }
  await seal();
}, 120_000);

afterAll(async () => {
  for (const nc of [client, service, operator]) await nc?.close().catch(() => {});
  await cluster?.stop();
  state.remove();
});

describe('a clean system', () => {
  it('passes every check with no finding above info, having examined what it holds', async () => {
    const before = await streamsNow();
    const outcomes = await comply();
    // The probes of the access matrix changed nothing: no message stored or removed, no consumer left.
    expect(await streamsNow()).toEqual(before);
    expect(outcomes.map((o) => o.check)).toEqual([
      'access',
      'immutability',
      'retention',
      'audit-completeness',
      'erasure',
      'durability',
    ]);
    expect(serious(outcomes)).toEqual([]);
    const examined = Object.fromEntries(outcomes.map((o) => [o.check, o.examined]));
    expect(examined.immutability!.events).toBeGreaterThanOrEqual(people.length + 4);
    expect(examined['audit-completeness']!.events).toBe(examined.immutability!.events);
    expect(examined.erasure!.erasures).toBe(1);
    expect(examined.durability).toMatchObject({ servers: 3 });
    expect(examined.access!.natsProbes).toBeGreaterThan(100);
    expect(examined.access!.httpProbes).toBeGreaterThan(0);
  });
});

describe('each seeded violation, found and named', () => {
  it('a deleted event: the missing sealed event and the seal that no longer recomputes', async () => {
    const seq = streamSeqOf.solo!;
    expect(await (await operator.jetstreamManager()).streams.deleteMessage('CIM_PERSON', seq)).toBe(true);
    const added = await newFindings();
    expect(added).toContain(`immutability:missing-event:CIM_PERSON:${seq}`);
    // Retention sees it too: gone, and no removal manifest records it.
    expect(added).toContain(`retention:unrecorded-removal:CIM_PERSON:${seq}`);
    for (const id of added)
      expect(id).toMatch(/^(immutability:(missing-event|seal-mismatch)|retention:unrecorded-removal):CIM_PERSON:\d+$/);
  });

  it('a forged, internally consistent event published straight to NATS: no audited command explains it', async () => {
    const jsm = await service.jetstreamManager();
    const head = await jsm.streams.getMessage('CIM_PERSON', { last_by_subj: 'cim.person.events.cyd' });
    const prev = decodeEnvelope(head.data);
    const forged = encodeEnvelope({
      v: 1,
      id: uuidv7(),
      domain: 'person',
      aggregate: 'Person',
      aggregateId: 'cyd',
      seq: prev.envelope.seq + 1,
      type: 'PersonArchived',
      typeVersion: 1,
      at: new Date().toISOString(),
      correlationId: uuidv7(),
      causationId: uuidv7(),
      actor: 'crm',
      payload: {},
      prev: prev.cid,
    });
    const h = natsHeaders();
    h.set('Cim-Cid', forged.cid.toString());
    const ack = await service.jetstream().publish('cim.person.events.cyd', forged.bytes, {
      headers: h,
      msgID: `cyd:${prev.envelope.seq + 1}`,
      expect: { lastSubjectSequence: head.seq },
    });
    expect(await newFindings()).toEqual([`audit-completeness:unaudited-event:CIM_PERSON:${ack.seq}`]);
  });

  it('a key left after an erasure the audit log records as done', async () => {
    const audit = await AuditWriter.open(service, { name: 'forger' });
    await audit.record({
      actor: 'dpo',
      role: 'operator',
      source: 'cli',
      action: 'erasure',
      target: 'subject/dee',
      outcome: 'ok',
      correlationId: uuidv7(),
    });
    await seal();
    expect(await newFindings(['erasure'])).toEqual([
      'erasure:key-present:dee',
      'erasure:read-model:dee:person_directory',
    ]);
  });

  it('a snapshot left after an erasure, and an erasure against a key store that never knew the subject', async () => {
    const kv = await service.jetstream().views.kv('cim_snapshots');
    await kv.put('person.eve', new TextEncoder().encode('left behind'));
    const audit = await AuditWriter.open(service, { name: 'forger' });
    await audit.record({
      actor: 'dpo',
      role: 'operator',
      source: 'cli',
      action: 'erasure',
      target: 'subject/nobody',
      outcome: 'ok',
      correlationId: uuidv7(),
    });
    await seal();
    expect(await newFindings(['erasure'])).toEqual(['erasure:key-unknown:nobody', 'erasure:snapshot:person.eve']);
  });

  it('a command served without its audit record', async () => {
    const unaudited = await startCommandService(service, person, { store: await EventStore.open(service) });
    let seq: number;
    try {
      // The new service's interest reaches the client's server over a route a moment later: until
      // then the request finds no responders (it reached no service, so sending it again is safe).
      const register = () =>
        sendCommand(client, 'person', 'RegisterPerson', {
          actor: 'crm',
          payload: { personId: 'ghost', name: 'Ghost', email: 'ghost@example.org' },
        });
      let reply: Awaited<ReturnType<typeof register>> | undefined;
      for (let attempt = 0; !reply; attempt++) {
        try {
          reply = await register();
        } catch (error) {
          const noService = /no service answers/.test(String((error as Error).cause ?? error));
          if (!noService || attempt >= 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      seq = reply.events[0]!.streamSeq;
    } finally {
      await unaudited.stop();
    }
    expect(await newFindings(['audit-completeness'])).toEqual([`audit-completeness:unaudited-event:CIM_PERSON:${seq}`]);
  });

  it('a role with an extra permission: auditor may publish events', async () => {
    await changeRole(
      (p) => p.deny.includes('cim.audit.*'),
      (p) => {
        p.deny = p.deny.filter((d) => d !== 'cim.*.events.>');
        p.allow.push('cim.*.events.>');
      },
    );
    expect(await newFindings(['access'])).toEqual([
      'access:unexpected-allow:nats:auditor:stored-publish cim.person.events.__cim_probe__',
    ]);
  });

  it('a role that may purge streams: the access matrix and the stream administration both name it', async () => {
    await changeRole(
      (p) => p.allow.length === 1 && p.allow[0] === 'cim.*.commands.*',
      (p) => {
        p.deny = p.deny.filter((d) => d !== '$JS.API.STREAM.PURGE.>');
        p.allow.push('$JS.API.STREAM.PURGE.*');
      },
    );
    const streams = ['CIM_AUDIT', 'CIM_ORGANIZATION', 'CIM_PERSON', 'CIM_SEALS', 'CIM_WORKFLOW'];
    expect(await newFindings(['access', 'immutability'])).toEqual(
      [
        ...streams.map((s) => `access:unexpected-allow:nats:loadgen:request $JS.API.STREAM.PURGE.${s}`),
        ...streams.map((s) => `immutability:stream-admin:loadgen:purge:${s}`),
      ].sort(),
    );
  });

  it('events unsealed for longer than the bound', async () => {
    const ids = serious(await comply(['immutability'], 1));
    expect(ids).toContain('immutability:unsealed:CIM_PERSON');
  });

  it('an R1 stream', async () => {
    await (await operator.jetstreamManager()).streams.update('CIM_WORKFLOW', { num_replicas: 1 });
    expect(await newFindings(['durability'])).toEqual(['durability:replicas:CIM_WORKFLOW']);
  });

  it('a seal stream without its deny flags', async () => {
    const jsm = await operator.jetstreamManager();
    const { config: seals } = await jsm.streams.info('CIM_SEALS');
    await jsm.streams.delete('CIM_SEALS');
    await jsm.streams.add({ ...seals, deny_delete: false, deny_purge: false });
    expect(await newFindings(['immutability'])).toEqual(['immutability:deny-flags:CIM_SEALS']);
  });

  it('a default sync_interval on one node', async () => {
    const file = join(state.path, 'cluster', 'n3', 'server.json');
    const server = JSON.parse(readFileSync(file, 'utf8')) as { jetstream: { sync_interval?: string } };
    delete server.jetstream.sync_interval;
    writeFileSync(file, JSON.stringify(server, null, 2));
    await cluster.restart('n3');
    expect(await newFindings(['durability'])).toEqual(['durability:sync-interval:n3']);
  });
});
