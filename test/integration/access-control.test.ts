// The NATS access matrix on a real 3-node embedded cluster: each role (nats-roles.json) tries every
// publish, subscribe, request and JetStream API call the appliance's roles are about; what its
// permissions allow goes through, what they do not is refused by the server (a publish does not
// throw: the refusal comes back as an asynchronous permissions violation, watched on the
// connection's status). Only `operator` may create, update, delete or purge streams or delete
// their messages. Connections without valid credentials are refused, routes authenticate, and
// monitoring listens on loopback only.
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AckPolicy, nkeys, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CimError,
  connectNats,
  EMPTY_HEAD,
  EventStore,
  freePorts,
  NATS_ROLES,
  person,
  provision,
  sendCommand,
  SEALS_STREAM,
  startCommandService,
  verifyDomain,
  type CommandServiceHandle,
  type NatsRole,
} from '../../appliance/index.js';
import { sleep } from '../../appliance/sleep.js';
import { RoleProbe } from '../../compliance/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { tempDir } from '../support/temp-dir.js';

const AUDIT_STREAM = 'CIM_AUDIT';
const PROTECTED = ['CIM_PERSON', SEALS_STREAM, AUDIT_STREAM];
const encoder = new TextEncoder();

let t: TestCluster;
let service: CommandServiceHandle;
let serviceNc: NatsConnection;
/** Each role's connection, watched for the permissions violations the server sends it (compliance/access-probe.ts, which the access check uses too). */
const probes = new Map<NatsRole, RoleProbe>();
const connections = { get: (role: NatsRole) => probes.get(role)?.nc };
const violations = { get: (role: NatsRole) => probes.get(role)?.violations };

async function settle(nc: NatsConnection): Promise<void> {
  await nc.flush();
  await sleep(30);
}

const publishOutcome = (role: NatsRole, subject: string) => probes.get(role)!.publish(subject);

/** A request: allowed when the server let it through (any reply, or no responders), denied on a violation. */
async function requestOutcome(role: NatsRole, subject: string, body = '{}'): Promise<'allowed' | 'denied'> {
  const { outcome } = await probes.get(role)!.request(subject, body);
  expect(outcome, `${role}: ${subject} neither answered nor refused`).not.toBe('silent');
  return outcome as 'allowed' | 'denied';
}

const subscribeOutcome = (role: NatsRole, subject: string) => probes.get(role)!.subscribe(subject);

async function messages(stream: string, subject?: string): Promise<number> {
  const info = await (await t.nc.jetstreamManager()).streams.info(stream, subject ? { subjects_filter: subject } : {});
  return subject ? (info.state.subjects?.[subject] ?? 0) : info.state.messages;
}

beforeAll(async () => {
  t = await startTestCluster('access-control', 3);
  await provision(t.nc, { domains: ['person'], replicas: 3, duplicateWindowMs: 120_000 });
  const jsm = await t.nc.jetstreamManager();
  // The audit stream as the audit log keeps it (made here unless provision already does).
  await jsm.streams.info(AUDIT_STREAM).catch(() =>
    jsm.streams.add({
      name: AUDIT_STREAM,
      subjects: ['cim.audit.*'],
      num_replicas: 3,
      deny_delete: true,
      deny_purge: true,
    }),
  );
  // A pull consumer to ask for the next message (2.9 answers no request for a consumer that is not there).
  await jsm.consumers.add('CIM_PERSON', { durable_name: 'access_probe', ack_policy: AckPolicy.None });
  for (const role of NATS_ROLES) probes.set(role, new RoleProbe(role, await t.connect(role)));
  serviceNc = await t.connect('service', 'access-person-service');
  service = await startCommandService(serviceNc, person, { store: await EventStore.open(serviceNc) });
  // Something in each protected stream, so that a purge or a delete that got through would show.
  const store = await EventStore.open(serviceNc);
  await store.append(
    { domain: 'person', aggregate: 'Person', aggregateId: 'seed' },
    EMPTY_HEAD,
    [{ type: 'PersonRegistered', payload: { name: 'Seed', email: 'seed@example.org' } }],
    { correlationId: 'c', causationId: 'c', actor: 'test' },
  );
  await serviceNc.jetstream().publish('cim.audit.seed', encoder.encode('{}'));
}, 60_000);

afterAll(async () => {
  await service?.stop().catch(() => {});
  await serviceNc?.close().catch(() => {});
  for (const probe of probes.values()) await probe.close();
  await t?.stop();
});

type Expect = Partial<Record<NatsRole, 'allowed' | 'denied'>>;
/** Allowed for the roles named, denied for every other one but operator (who may do everything). */
const only = (...roles: NatsRole[]): Expect =>
  Object.fromEntries(NATS_ROLES.map((r) => [r, roles.includes(r) || r === 'operator' ? 'allowed' : 'denied']));
/** Denied to every role but operator, which is not tried: the call would really act (step down, purge an account). */
const untriedForOperator = (): Expect => {
  const expected = only();
  delete expected.operator;
  return expected;
};

const publishes: Array<[string, Expect]> = [
  ['cim.person.events.forged', only('service')],
  ['cim.seals.person', only('service')],
  ['cim.audit.probe', only('service', 'gateway', 'retention')],
  ['cim.retention.person', only('retention')],
  ['$KV.cim_snapshots.probe', only('service')],
  ['$KV.cim_commands.probe', only('service')],
  ['cim.person.queries.probe', only('gateway')],
  ['$JS.ACK.CIM_PERSON.x.1.1.1.1.1', only('service')],
  // A pull request as a plain publish (the real pulls run in "the roles at work" below).
  ['$JS.API.CONSUMER.MSG.NEXT.CIM_PERSON.access_probe', only('service', 'auditor', 'retention')],
  ['_INBOX_gateway.stolen', only()],
  ['$SYS.REQ.SERVER.PING', only()],
];

const requests: Array<[string, Expect]> = [
  ['cim.person.commands.ProbeCommand', only('service', 'gateway', 'loadgen')],
  ['$SRV.PING.cim-person', only('gateway')],
  ['$JS.API.INFO', only('service', 'gateway', 'auditor', 'retention')],
  ['$JS.API.STREAM.INFO.CIM_PERSON', only('service', 'gateway', 'auditor', 'retention')],
  ['$JS.API.STREAM.NAMES', only('service', 'auditor', 'retention')],
  ['$JS.API.STREAM.LIST', only('service', 'auditor', 'retention')],
  ['$JS.API.STREAM.MSG.GET.CIM_PERSON', only('service', 'auditor', 'retention')],
  ['$JS.API.DIRECT.GET.KV_cim_snapshots', only('service', 'auditor', 'retention')],
  ['$JS.API.CONSUMER.INFO.CIM_PERSON.none', only('service', 'auditor', 'retention')],
  ['$JS.API.CONSUMER.DURABLE.CREATE.CIM_PERSON.probe', only('service')],
  ['$JS.API.CONSUMER.DELETE.CIM_PERSON.none', only('service', 'auditor', 'retention')],
  // Retention's one extra right: deleting messages of domain streams (of a sequence that is not there: nothing is removed).
  ['$JS.API.STREAM.MSG.DELETE.CIM_PERSON', only('retention')],
  ['$JS.API.META.LEADER.STEPDOWN', untriedForOperator()],
  ['$JS.API.ACCOUNT.PURGE.$G', untriedForOperator()],
];

/** A request the server answers (an empty direct get goes unanswered by 2.9). */
const bodyFor = (subject: string) =>
  subject.includes('.MSG.DELETE.')
    ? '{"seq":999999}'
    : subject.includes('.DIRECT.GET.')
      ? '{"last_by_subj":"$KV.cim_snapshots.none"}'
      : subject.includes('.GET.')
        ? '{"seq":1}'
        : '{}';

const subscriptions: Array<[string, Expect]> = [
  ['cim.person.commands.*', only('service')],
  ['cim.person.queries.*', only('service')],
  ['$SRV.>', only('service')],
  ['cim.person.events.>', only()],
  ['cim.audit.>', only()],
  ['_INBOX.>', only()],
  ['>', only()],
];

describe('the access matrix, role by role', () => {
  for (const role of NATS_ROLES) {
    it(`${role}: publishes`, async () => {
      const outcomes = [];
      for (const [subject, expected] of publishes)
        outcomes.push([subject, await publishOutcome(role, subject), expected[role]]);
      expect(outcomes.map(([s, got]) => [s, got])).toEqual(outcomes.map(([s, , want]) => [s, want]));
    });

    it(`${role}: requests and JetStream API calls`, async () => {
      const outcomes = [];
      for (const [subject, expected] of requests)
        if (expected[role])
          outcomes.push([subject, await requestOutcome(role, subject, bodyFor(subject)), expected[role]]);
      expect(outcomes.map(([s, got]) => [s, got])).toEqual(outcomes.map(([s, , want]) => [s, want]));
    });

    it(`${role}: subscriptions, its own inbox and no other role's`, async () => {
      const outcomes = [];
      const cases: Array<[string, Expect]> = [
        ...subscriptions,
        ...NATS_ROLES.filter((r) => r !== 'operator').map((r): [string, Expect] => [`_INBOX_${r}.>`, only(r)]),
      ];
      for (const [subject, expected] of cases)
        outcomes.push([subject, await subscribeOutcome(role, subject), expected[role]]);
      expect(outcomes.map(([s, got]) => [s, got])).toEqual(outcomes.map(([s, , want]) => [s, want]));
    });
  }
});

describe('stream administration is for operator alone', () => {
  const admin = (stream: string) => [
    `$JS.API.STREAM.UPDATE.${stream}`,
    `$JS.API.STREAM.DELETE.${stream}`,
    `$JS.API.STREAM.PURGE.${stream}`,
    `$JS.API.STREAM.MSG.DELETE.${stream}`,
  ];

  it('every other role is refused create, update, delete, purge and message delete on the domain, seal and audit streams', async () => {
    const before = await Promise.all(PROTECTED.map((s) => messages(s)));
    for (const role of NATS_ROLES.filter((r) => r !== 'operator')) {
      // Retention may delete messages of domain streams (below), and only those.
      const calls = ['$JS.API.STREAM.CREATE.CIM_ROGUE', ...PROTECTED.flatMap(admin)].filter(
        (subject) => role !== 'retention' || subject !== '$JS.API.STREAM.MSG.DELETE.CIM_PERSON',
      );
      for (const subject of calls) {
        const body = subject.includes('.MSG.DELETE.')
          ? '{"seq":1}'
          : subject.includes('.UPDATE.')
            ? JSON.stringify({ name: subject.split('.').at(-1), subjects: ['x.>'], max_msgs: 1 })
            : subject.includes('.CREATE.')
              ? '{"name":"CIM_ROGUE","subjects":["rogue.>"]}'
              : '{}';
        expect([role, subject, await requestOutcome(role, subject, body)]).toEqual([role, subject, 'denied']);
      }
    }
    // Nothing happened to them.
    expect(await Promise.all(PROTECTED.map((s) => messages(s)))).toEqual(before);
    const names: string[] = [];
    for await (const name of (await t.nc.jetstreamManager()).streams.names()) names.push(name);
    expect(names).not.toContain('CIM_ROGUE');
  });

  it('retention may delete messages of a domain stream, and of no stream whose messages are evidence or state', async () => {
    const nc = connections.get('retention')!;
    const before = violations.get('retention')!.length;
    const evidence = [
      SEALS_STREAM,
      AUDIT_STREAM,
      'CIM_RETENTION',
      'KV_cim_snapshots',
      'KV_cim_commands',
      'KV_cim_holds',
    ];
    for (const stream of evidence)
      expect([stream, await requestOutcome('retention', `$JS.API.STREAM.MSG.DELETE.${stream}`, '{"seq":1}')]).toEqual([
        stream,
        'denied',
      ]);
    const js = t.nc.jetstream();
    const ack = await js.publish('cim.person.events.retention-probe', encoder.encode('{"probe":true}'));
    expect(await (await nc.jetstreamManager()).streams.deleteMessage('CIM_PERSON', ack.seq, false)).toBe(true);
    expect(violations.get('retention')!.slice(before)).toEqual(
      evidence.map((stream) => `publish $JS.API.STREAM.MSG.DELETE.${stream}`),
    );
  });

  it('operator may: create, update, purge, delete a message and delete a stream; the protected flags still hold for it', async () => {
    const jsm = await connections.get('operator')!.jetstreamManager();
    await jsm.streams.add({ name: 'ACCESS_SCRATCH', subjects: ['scratch.>'], num_replicas: 1 });
    const js = connections.get('operator')!.jetstream();
    await js.publish('scratch.a', encoder.encode('1'));
    await js.publish('scratch.b', encoder.encode('2'));
    await jsm.streams.update('ACCESS_SCRATCH', { max_msgs: 10 });
    expect(await jsm.streams.deleteMessage('ACCESS_SCRATCH', 1)).toBe(true);
    expect((await jsm.streams.purge('ACCESS_SCRATCH')).success).toBe(true);
    expect(await jsm.streams.delete('ACCESS_SCRATCH')).toBe(true);
    // The seal and audit streams' deny_delete/deny_purge refuse a message delete or a purge, even to operator.
    for (const stream of [SEALS_STREAM, AUDIT_STREAM]) {
      await expect(jsm.streams.purge(stream)).rejects.toThrow(/purge/i);
      await expect(jsm.streams.deleteMessage(stream, 1)).rejects.toThrow(/delete/i);
    }
    expect(violations.get('operator')).toEqual([]);
  });
});

describe('the roles at work', () => {
  it('a forged event published as gateway is refused and not stored', async () => {
    const subject = 'cim.person.events.forged-by-gateway';
    const nc = connections.get('gateway')!;
    const before = await messages('CIM_PERSON');
    await expect(
      nc.jetstream().publish(subject, encoder.encode('{"forged":true}'), { timeout: 1_500 }),
    ).rejects.toThrow();
    await settle(nc);
    expect(violations.get('gateway')).toContain(`publish ${subject}`);
    expect(await messages('CIM_PERSON')).toBe(before);
    expect(await messages('CIM_PERSON', subject)).toBe(0);
  });

  it('gateway and loadgen send commands to the service, which appends as service', async () => {
    for (const role of ['gateway', 'loadgen'] as const) {
      const reply = await sendCommand(connections.get(role)!, 'person', 'RegisterPerson', {
        payload: { personId: `by-${role}`, name: `By ${role}`, email: `${role}@example.org` },
        actor: role,
        correlationId: role,
      });
      expect(reply.events).toHaveLength(1);
    }
  });

  it('auditor reads the streams through ordered consumers and verifies the domain', async () => {
    const nc = connections.get('auditor')!;
    const before = violations.get('auditor')!.length;
    const consumer = await nc.jetstream().consumers.get('CIM_PERSON');
    const read = await consumer.fetch({ max_messages: 100, expires: 2_000 });
    let count = 0;
    for await (const m of read) {
      count++;
      if (m.info.pending === 0) break;
    }
    expect(count).toBe(await messages('CIM_PERSON'));
    const verification = await verifyDomain(nc, 'person');
    expect(verification.events).toBe(count);
    expect(violations.get('auditor')!.slice(before)).toEqual([]);
  });
});

describe('authentication', () => {
  it('refuses a connection without credentials, and one with a key the servers do not know', async () => {
    await expect(connectNats({ servers: t.cluster.clientUrls }, { timeoutMs: 2_000 })).rejects.toThrow(
      /Authorization Violation/i,
    );
    const dir = tempDir('access-stranger');
    try {
      const seedFile = join(dir.path, 'stranger.nk');
      writeFileSync(seedFile, new TextDecoder().decode(nkeys.createUser().getSeed()));
      await expect(
        connectNats({ servers: t.cluster.clientUrls, nkeySeedFile: seedFile }, { timeoutMs: 2_000 }),
      ).rejects.toBeInstanceOf(CimError);
    } finally {
      dir.remove();
    }
  });

  it('keeps the credentials private: users dir 0700, seeds and server configs 0600', () => {
    const dir = t.cluster.usersDir!;
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const role of NATS_ROLES) expect(statSync(join(dir, `${role}.nk`)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'route.secret')).mode & 0o777).toBe(0o600);
    for (const node of t.cluster.nodeNames) {
      const file = join(t.stateDir, 'cluster', node, 'server.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const config = JSON.parse(readFileSync(file, 'utf8')) as { http: string; no_auth_user?: string };
      expect(config.http).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(config.no_auth_user).toBeUndefined();
    }
  });

  it('refuses a route from a server that does not know the route secret', async () => {
    const manifest = JSON.parse(readFileSync(join(t.stateDir, 'cluster', 'cluster.json'), 'utf8')) as {
      binary: string;
      nodes: Array<{ clusterPort: number }>;
    };
    const [client, cluster, monitor] = await freePorts(3);
    const dir = tempDir('access-intruder');
    const config = join(dir.path, 'intruder.json');
    writeFileSync(
      config,
      JSON.stringify({
        server_name: 'intruder',
        host: '127.0.0.1',
        port: client,
        http: `127.0.0.1:${monitor}`,
        cluster: {
          name: 'cim',
          host: '127.0.0.1',
          port: cluster,
          routes: [`nats-route://127.0.0.1:${manifest.nodes[0]!.clusterPort}`],
        },
      }),
    );
    const routesBefore = (await t.cluster.monitor('n1').routez()).num_routes;
    const intruder = spawn(manifest.binary, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    intruder.stdout!.on('data', (c: Buffer) => (log += c.toString()));
    intruder.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    try {
      const deadline = Date.now() + 10_000;
      while (!/authorization violation/i.test(log) && Date.now() < deadline) await sleep(100);
      expect(log).toMatch(/authorization violation/i);
      const routez = (await (await fetch(`http://127.0.0.1:${monitor}/routez`)).json()) as { num_routes: number };
      expect(routez.num_routes).toBe(0);
      // (A route pool makes several connections per peer: count them, whatever the pool size.)
      expect((await t.cluster.monitor('n1').routez()).num_routes).toBe(routesBefore);
    } finally {
      intruder.kill('SIGKILL');
      await new Promise((resolve) =>
        intruder.exitCode !== null ? resolve(undefined) : intruder.once('exit', resolve),
      );
      dir.remove();
    }
  }, 20_000);
});
