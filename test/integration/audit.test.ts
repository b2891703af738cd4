// The audit log on a real 3-node cluster, wired as `cim serve --http` wires it: after 1,000 mixed
// commands over HTTP (API keys) and NATS — accepted, rejected by the domain, invalid, denied — every
// command request has exactly one record (matched by correlation id), no record holds a person's
// name or e-mail, `cim audit verify` holds, `cim audit tail` filters as asked, and an all-powerful
// client that writes into a writer's chain, or removes a record, is caught by `cim audit verify`.
import { userInfo } from 'node:os';
import { headers, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_STREAM,
  AUDIT_VERSION,
  createApiKey,
  decodeAuditMessage,
  KeyRing,
  namedAuditRecord,
  readAuditLog,
  readStream,
  sendCommand,
  startAppliance,
  Subjects,
  type ApplianceHandle,
  type AuditRecord,
  type TailedRecord,
} from '../../appliance/index.js';
import { runCli, spawnCli } from '../support/cli.js';
import { seededRandom } from '../support/random.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

let t: TestCluster;
let appliance: ApplianceHandle | undefined;
let base = '';
let nats: string[] = [];
const tokens: Record<'writer' | 'reader', string> = { writer: '', reader: '' };
const cli = (...args: string[]) => runCli(['--state', t.stateDir, '--nats', nats.join(','), ...args]);

/** What each request expects its one record to say. */
interface Expected {
  outcome: AuditRecord['outcome'];
  code?: string;
  source: 'http' | 'nats';
  role: string;
  actor: string;
  action: string;
}
const expected = new Map<string, Expected>();
/** Names and e-mail addresses sent: none may be in the audit stream. */
const personal: string[] = [];

async function post(path: string, token: string, body: string, correlationId: string): Promise<number> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'x-correlation-id': correlationId,
    },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

async function allRecords(nc: NatsConnection): Promise<AuditRecord[]> {
  return (await readAuditLog(nc)).map((r: TailedRecord) => r.record!);
}

beforeAll(async () => {
  t = await startTestCluster('audit', 3);
  nats = t.cluster.clientUrls;
  const writer = await createApiKey('writer', 'crm');
  const reader = await createApiKey('reader', 'dashboard');
  tokens.writer = writer.token;
  tokens.reader = reader.token;
  appliance = await startAppliance({
    endpointFor: (role) => t.cluster.endpointFor(role),
    stateDir: t.stateDir,
    replicas: 3,
    sealEveryMs: 1_000,
    http: { listen: '127.0.0.1:0', keys: new KeyRing([writer.entry, reader.entry]) },
  });
  base = `http://${appliance.httpAddress}`;
}, 120_000);

afterAll(async () => {
  await appliance?.stop();
  await t?.stop();
});

describe('the audit log', () => {
  it('after 1,000 mixed commands over HTTP and NATS, every command request has exactly one record and none holds personal data', async () => {
    const random = seededRandom(16);
    const registered: string[] = [];
    let n = 0;
    const one = async (): Promise<void> => {
      const i = n++;
      const correlationId = `audit-test-${i}`;
      const overHttp = random.next() < 0.5;
      let kind = random.pick<string>(
        overHttp
          ? ([
              'register',
              'register',
              'rename',
              'duplicate',
              'invalid',
              'bad-json',
              'forbidden',
              'anonymous',
              'unknown',
            ] as const)
          : (['register', 'register', 'rename', 'duplicate', 'invalid', 'not-registered'] as const),
      );
      // Until someone is registered, what needs a registered person registers one.
      if (registered.length === 0 && (kind === 'rename' || kind === 'duplicate')) kind = 'register';
      const id = kind === 'register' ? `p-${i}` : random.pick(registered.length > 0 ? registered : ['p-none']);
      const name = `Name${i}x${random.int(1000, 9999)}`;
      const email = `mail${i}.${random.int(1000, 9999)}@example.org`;
      personal.push(name, email);
      const command =
        kind === 'rename' || kind === 'not-registered'
          ? 'RenamePerson'
          : kind === 'unknown'
            ? 'NoSuchCommand'
            : 'RegisterPerson';
      const payload =
        kind === 'invalid'
          ? { personId: id, name } // no e-mail
          : command === 'RenamePerson'
            ? { personId: kind === 'not-registered' ? `nobody-${i}` : id, name }
            : { personId: id, name, email };
      const outcome: Expected['outcome'] =
        kind === 'register' || kind === 'rename'
          ? 'accepted'
          : kind === 'forbidden' || kind === 'anonymous'
            ? 'denied'
            : 'rejected';
      const code = (
        {
          register: undefined,
          rename: undefined,
          duplicate: 'CIM-REJECTED',
          'not-registered': 'CIM-REJECTED',
          invalid: 'CIM-INVALID-INPUT',
          'bad-json': 'CIM-INVALID-INPUT',
          forbidden: 'CIM-FORBIDDEN',
          anonymous: 'CIM-UNAUTHENTICATED',
          unknown: 'CIM-NOT-FOUND',
        } as Record<string, string | undefined>
      )[kind];
      if (overHttp) {
        const actor = kind === 'anonymous' ? 'anonymous' : kind === 'forbidden' ? 'dashboard' : 'crm';
        const role = kind === 'anonymous' ? 'none' : kind === 'forbidden' ? 'reader' : 'writer';
        expected.set(correlationId, {
          outcome,
          ...(code ? { code } : {}),
          source: 'http',
          role,
          actor,
          action: `command.person.${command}`,
        });
        const token =
          kind === 'forbidden' ? tokens.reader : kind === 'anonymous' ? 'cim_000000000000_not-a-key' : tokens.writer;
        const status = await post(
          `/v1/commands/person/${command}`,
          token,
          kind === 'bad-json' ? '{"personId": ' : JSON.stringify(payload),
          correlationId,
        );
        expect(status < 300).toBe(outcome === 'accepted');
      } else {
        expected.set(correlationId, {
          outcome,
          ...(code ? { code } : {}),
          source: 'nats',
          role: 'nats',
          actor: 'nats-client',
          action: `command.person.${command}`,
        });
        await sendCommand(t.nc, 'person', command, { actor: 'nats-client', payload, correlationId }).then(
          () => expect(outcome).toBe('accepted'),
          (error: { code: string }) => expect(error.code).toBe(code),
        );
      }
      if (kind === 'register') registered.push(id);
    };
    while (n < 1_000) await Promise.all(Array.from({ length: 20 }, one));
    // A raw request that is not JSON has no correlation id of its own: its record says `none`.
    await t.nc.request('cim.person.commands.RegisterPerson', new TextEncoder().encode('not json'), { timeout: 5_000 });

    const records = await allRecords(t.nc);
    const byCorrelation = new Map<string, AuditRecord[]>();
    for (const r of records) byCorrelation.set(r.correlationId, [...(byCorrelation.get(r.correlationId) ?? []), r]);
    for (const [correlationId, want] of expected) {
      const found = byCorrelation.get(correlationId) ?? [];
      expect(found, correlationId).toHaveLength(1);
      expect(found[0], correlationId).toMatchObject(want);
      if (want.outcome === 'accepted') expect(found[0]!.target).toMatch(/^person\/p-\d+$/);
    }
    expect(byCorrelation.get('none')?.map((r) => [r.outcome, r.code, r.target])).toEqual([
      ['rejected', 'CIM-INVALID-INPUT', 'person/-'],
    ]);
    expect(records.filter((r) => r.action.startsWith('command.'))).toHaveLength(1_001);

    // No name or e-mail anywhere in the stream's bytes.
    let bytes = '';
    const lastSeq = (await (await t.nc.jetstreamManager()).streams.info(AUDIT_STREAM)).state.last_seq;
    for await (const m of readStream(t.nc.jetstream(), { stream: AUDIT_STREAM, fromSeq: 1, toSeq: lastSeq }))
      bytes += Buffer.from(m.data).toString('latin1');
    for (const text of personal) expect(bytes.includes(Buffer.from(text).toString('latin1')), text).toBe(false);
  }, 240_000);

  it('a query of personal data is recorded once per answer with its id as target; one that returns none is not', async () => {
    for (const i of [0, 1, 2]) {
      const response = await fetch(`${base}/v1/queries/person/GetPerson?personId=p-q-${i}`, {
        headers: { authorization: `Bearer ${tokens.reader}`, 'x-correlation-id': `audit-query-${i}` },
      });
      await response.arrayBuffer();
    }
    await fetch(`${base}/v1/queries/person/CountPeople`, {
      headers: { authorization: `Bearer ${tokens.reader}`, 'x-correlation-id': 'audit-count' },
    }).then((r) => r.arrayBuffer());
    const records = await allRecords(t.nc);
    for (const i of [0, 1, 2])
      expect(records.filter((r) => r.correlationId === `audit-query-${i}`)).toEqual([
        expect.objectContaining({
          action: 'query.person.GetPerson',
          target: `person/p-q-${i}`,
          actor: 'dashboard',
          role: 'reader',
          source: 'http',
          outcome: 'ok',
        }),
      ]);
    expect(records.filter((r) => r.correlationId === 'audit-count')).toEqual([]);
  });

  it('cim keys add and cim seal are recorded as the operator at the terminal; the chains and their seals verify', async () => {
    const added = await cli('keys', 'add', '--role', 'writer', '--actor', 'late-joiner');
    expect(added.code, added.stderr).toBe(0);
    const id = /added key ([a-z0-9]{12})/.exec(added.stderr)![1]!;
    const sealed = await cli('seal');
    expect(sealed.code, sealed.stderr).toBe(0);

    const tail = await cli('audit', 'tail', '--action', 'apikey', '--json');
    expect(tail.code, tail.stderr).toBe(0);
    const lines = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({
        action: 'apikey.add',
        target: `apikey/${id}`,
        actor: `cli:${userInfo().username}`,
        role: 'operator',
        source: 'cli',
        outcome: 'ok',
      }),
    ]);
    expect(tail.stdout).not.toContain(added.stdout.trim()); // never the key
    const admin = await cli('audit', 'tail', '--action', 'admin.seal', '--json');
    expect(admin.stdout.trim().split('\n')).toHaveLength(1);

    const verified = await cli('audit', 'verify');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(
      /^audit \(CIM_AUDIT\): \d+ records in \d+ messages, ([2-9]|[1-9]\d+) writers, [1-9]\d* seals; .* — ok$/m,
    );
    const all = await cli('verify');
    expect(all.code, all.stdout + all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^audit \(CIM_AUDIT\): .* — ok$/m);
    expect(all.stdout).toMatch(/^person \(CIM_PERSON\): .* — ok$/m);
  }, 120_000);

  it('cim audit tail filters by actor and action, keeps the last N, and follows until Ctrl-C', async () => {
    const byActor = await cli('audit', 'tail', '--actor', 'dashboard', '--json');
    expect(byActor.code, byActor.stderr).toBe(0);
    const actors = byActor.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as AuditRecord).actor);
    expect(actors.length).toBeGreaterThanOrEqual(3);
    expect(new Set(actors)).toEqual(new Set(['dashboard']));

    const last = await cli('audit', 'tail', '--action', 'query', '--limit', '2');
    expect(last.code, last.stderr).toBe(0);
    const lines = last.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ query\.person\.GetPerson person\/p-q-1 ok correlation=audit-query-1$/);
    expect(lines[1]).toMatch(/ query\.person\.GetPerson person\/p-q-2 ok correlation=audit-query-2$/);

    const follow = spawnCli([
      '--state',
      t.stateDir,
      '--nats',
      nats.join(','),
      'audit',
      'tail',
      '--follow',
      '--action',
      'command.person.RenamePerson',
      '--limit',
      '1',
      '--json',
    ]);
    let out = '';
    let err = '';
    follow.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    follow.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => follow.on('exit', (code) => resolve(code)));
    await waitFor('tail --follow to follow', () => err.includes('following the audit log'), 30_000);
    const before = out.trim().split('\n').length;
    await sendCommand(t.nc, 'person', 'RenamePerson', {
      actor: 'follower-test',
      payload: { personId: 'p-0', name: 'Renamed' },
      correlationId: 'audit-follow',
    }).catch(() => {});
    await waitFor('the new record to be printed', () => out.includes('"correlationId":"audit-follow"'), 15_000);
    expect(out.trim().split('\n')).toHaveLength(before + 1);
    follow.kill('SIGINT');
    expect(await exited).toBe(130);
  }, 90_000);

  it('a record written into a writer chain by someone else is named by cim audit verify', async () => {
    const jsm = await t.nc.jetstreamManager();
    const records = await allRecords(t.nc);
    const writer = records.find((r) => r.writer.startsWith('serve-'))!.writer;
    const subject = new Subjects().audit(writer);
    const head = await jsm.streams.getMessage(AUDIT_STREAM, { last_by_subj: subject });
    const last = decodeAuditMessage(head.data).records.at(-1)!;
    // A valid-looking continuation, published as a client that may publish anything.
    const forged = namedAuditRecord({
      ...last.record,
      v: AUDIT_VERSION,
      id: 'forged',
      seq: last.record.seq + 1,
      actor: 'mallory',
      prev: last.cid,
    });
    const h = headers();
    h.set('Cim-Cid', forged.cid.toString());
    const ack = await t.nc.jetstream().publish(subject, forged.bytes, { headers: h });
    // The writer's next record still goes in, linked to its own chain: the forgery shows as a fork.
    await sendCommand(t.nc, 'person', 'RegisterPerson', {
      actor: 'after-forgery',
      payload: { personId: 'p-after', name: 'After', email: 'after@example.org' },
      correlationId: 'audit-after-forgery',
    });
    const verified = await cli('audit', 'verify');
    expect(verified.code, verified.stdout).toBe(1);
    expect(verified.stdout).toContain(`forks at seq ${forged.record.seq}: CIM_AUDIT seq ${ack.seq} and seq`);
    expect(verified.stdout).toContain(forged.cid.toString());
    expect(verified.stdout).toContain(writer);
  }, 60_000);

  it('removing a record, even by re-creating the stream, is named by cim audit verify; deny_delete cannot be dropped', async () => {
    await appliance?.stop();
    appliance = undefined;
    const jsm = await t.nc.jetstreamManager();
    const info = await jsm.streams.info(AUDIT_STREAM);
    await expect(jsm.streams.update(AUDIT_STREAM, { ...info.config, deny_delete: false })).rejects.toThrow(
      /deny message deletes|can not/i,
    );
    await expect(jsm.streams.deleteMessage(AUDIT_STREAM, 5)).rejects.toThrow();

    // The all-powerful way: copy the stream, delete it, and put everything back but one record.
    const copy: { subject: string; data: Uint8Array; cid: string }[] = [];
    for await (const m of readStream(t.nc.jetstream(), {
      stream: AUDIT_STREAM,
      fromSeq: 1,
      toSeq: info.state.last_seq,
    }))
      copy.push({ subject: m.subject, data: m.data, cid: m.headers!.get('Cim-Cid') });
    await jsm.streams.delete(AUDIT_STREAM);
    await jsm.streams.add(info.config);
    // A record in the middle of a chain: one whose writer wrote more after it.
    const writerOf = (m: { data: Uint8Array }) => decodeAuditMessage(m.data).records[0]!.record.writer;
    const removed =
      10 + copy.slice(9).findIndex((m, i) => copy.slice(10 + i).some((later) => writerOf(later) === writerOf(m)));
    const js = t.nc.jetstream();
    for (const [i, m] of copy.entries()) {
      if (i + 1 === removed) continue;
      const h = headers();
      h.set('Cim-Cid', m.cid);
      await js.publish(m.subject, m.data, { headers: h });
    }
    // The message removed may hold a batch: the writer's next record links to its last one.
    const gone = decodeAuditMessage(copy[removed - 1]!.data).records.at(-1)!;
    const verified = await cli('audit', 'verify', '--json');
    expect(verified.code, verified.stdout).toBe(1);
    const result = JSON.parse(verified.stdout) as {
      audit: { findings: { kind: string; streamSeq?: number; aggregateId?: string; actual?: string }[] };
    };
    // The next record of that writer links to the one that is gone.
    expect(result.audit.findings).toContainEqual(
      expect.objectContaining({
        kind: 'chain-broken',
        aggregateId: gone.record.writer,
        actual: `seq ${gone.record.seq + 1} after ${gone.cid}`,
      }),
    );
    expect(result.audit.findings.map((f) => f.kind)).toContain('seal-mismatch');
  }, 120_000);
});
