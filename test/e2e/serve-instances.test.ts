// Three `cim serve` processes on one 3-node cluster, sharing the command load through their queue
// groups, under a seeded mixed load: clients alternating renames of a person only they write,
// renames of people all of them write, retries of earlier commands with the same command id, and
// the same command sent twice at once. Afterwards the checker reads the stream back: every
// acknowledged event is in it exactly once, nothing is in it that no command asked for, a retry
// got the original reply, and no rename was acknowledged as "nothing to change" while the
// person's last event held another name.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHistory, type Attempt, type ReadItem } from '../../bench/index.js';
import {
  connectNats,
  decodeEnvelope,
  domainStream,
  FieldEncryption,
  person,
  personalDataOf,
  readStream,
  SubjectKeyStore,
  type CommandReply,
  type EventEnvelope,
} from '../../appliance/index.js';
import { spawnCli } from '../support/cli.js';
import { seededRandom } from '../support/random.js';
import { fileTempDir } from '../support/temp-dir.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

const INSTANCES = 3;
const CLIENTS = 4;
const STEPS = 30;
const SHARED = ['shared-0', 'shared-1'];

const work = fileTempDir('serve-instances');
const sharedKeys = join(work.path, 'subject-keys');
let t: TestCluster;
const serves: { process: ChildProcess; output: string }[] = [];
const clients: NatsConnection[] = [];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Sent {
  commandId: string;
  type: string;
  payload: Record<string, unknown>;
  reply: CommandReply;
}

async function send(
  nc: NatsConnection,
  type: string,
  payload: Record<string, unknown>,
  commandId: string,
): Promise<CommandReply> {
  const body = encoder.encode(JSON.stringify({ actor: 'load', payload, commandId }));
  const reply = await nc.request(`cim.person.commands.${type}`, body, { timeout: 20_000 });
  return JSON.parse(decoder.decode(reply.data)) as CommandReply;
}

async function lastName(nc: NatsConnection, personId: string): Promise<unknown> {
  const jsm = await nc.jetstreamManager();
  const last = await jsm.streams.getMessage(domainStream('person'), { last_by_subj: `cim.person.events.${personId}` });
  // Names are stored encrypted, with the key store the instances share.
  const keys = SubjectKeyStore.open(work.path, { dir: sharedKeys });
  try {
    return new FieldEncryption(personalDataOf([person]), keys).reveal(decodeEnvelope(last.data).envelope).payload[
      'name'
    ];
  } finally {
    keys.close();
  }
}

beforeAll(async () => {
  t = await startTestCluster('serve-instances', 3);
  const urls = t.cluster.clientUrls.join(',');
  for (let i = 0; i < INSTANCES; i++) {
    const state = join(work.path, `instance-${i}`);
    mkdirSync(state);
    // Instances with state dirs of their own (machines of their own) share one subject key store:
    // each must read the personal data the others encrypted.
    const serve = {
      process: spawnCli(['--nats', urls, '--state', state, 'serve'], {
        env: { CIM_NATS_USERS_DIR: t.cluster.usersDir!, CIM_PRIVACY_KEY_STORE_DIR: sharedKeys },
      }),
      output: '',
    };
    serve.process.stdout!.on('data', (chunk: Buffer) => (serve.output += chunk.toString()));
    serve.process.stderr!.on('data', (chunk: Buffer) => (serve.output += chunk.toString()));
    serves.push(serve);
  }
  for (const [i, serve] of serves.entries())
    await waitFor(
      `cim serve ${i} to be ready`,
      () => {
        if (serve.process.exitCode !== null) throw new Error(`cim serve ${i} exited:\n${serve.output}`);
        return serve.output.includes('serving person') || undefined;
      },
      60_000,
    );
  for (let c = 0; c < CLIENTS; c++) clients.push(await connectNats(t.cluster.endpointFor('operator')));
  // All three instances answer: the queue group spreads the commands over them.
  await waitFor('three person services', async () => {
    const pings = [];
    for await (const p of await clients[0]!.services.client().ping('cim-person')) pings.push(p);
    return pings.length === INSTANCES || undefined;
  });
}, 120_000);

afterAll(async () => {
  for (const nc of clients) await nc.close().catch(() => {});
  await Promise.all(
    serves.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.process.exitCode !== null) return resolve();
          s.process.once('exit', () => resolve());
          s.process.kill('SIGKILL');
        }),
    ),
  );
  await t?.stop();
}, 60_000);

describe('three cim serve instances under mixed load', () => {
  it('acknowledge every change exactly once, answer retries with the original reply, and never a stale no-op', async () => {
    const sent: Sent[] = [];
    const problems: string[] = [];
    const people = [...SHARED, ...clients.map((_, c) => `own-${c}`)];
    for (const personId of people) {
      const payload = { personId, name: 'A', email: `${personId}@example.org` };
      const reply = await send(clients[0]!, 'RegisterPerson', payload, `register-${personId}`);
      expect(reply.ok, JSON.stringify(reply)).toBe(true);
      sent.push({ commandId: `register-${personId}`, type: 'RegisterPerson', payload, reply });
    }

    await Promise.all(
      clients.map(async (nc, c) => {
        const random = seededRandom(1400 + c);
        const own = `own-${c}`;
        let ownName = 'A';
        const mine: Sent[] = [];
        for (let step = 0; step < STEPS; step++) {
          const roll = random.next();
          if (roll < 0.2 && mine.length > 0) {
            // A retry of an earlier command of this client: the original reply, nothing appended.
            const earlier = random.pick(mine);
            const reply = await send(nc, earlier.type, earlier.payload, earlier.commandId);
            if (JSON.stringify(reply) !== JSON.stringify(earlier.reply))
              problems.push(
                `retry of ${earlier.commandId}: ${JSON.stringify(reply)} ≠ ${JSON.stringify(earlier.reply)}`,
              );
            if ((await lastName(nc, own)) !== ownName) problems.push(`retry of ${earlier.commandId} changed ${own}`);
            continue;
          }
          const commandId = `c${c}-${step}`;
          const onOwn = roll < 0.7;
          const name = onOwn ? (ownName === 'A' ? 'B' : 'A') : random.pick(['A', 'B', 'C']);
          const payload = { personId: onOwn ? own : random.pick(SHARED), name };
          // Now and then the same command twice at once, as a client that retried too early would.
          const twice = random.next() < 0.25;
          const replies = await Promise.all(
            (twice ? [0, 1] : [0]).map(() => send(nc, 'RenamePerson', payload, commandId)),
          );
          const reply = replies[0]!;
          if (twice && JSON.stringify(replies[1]) !== JSON.stringify(reply))
            problems.push(`${commandId} sent twice: ${JSON.stringify(replies[1])} ≠ ${JSON.stringify(reply)}`);
          if (!reply.ok) {
            problems.push(`${commandId}: ${reply.error.code}: ${reply.error.message}`);
            continue;
          }
          const entry = { commandId, type: 'RenamePerson', payload, reply };
          mine.push(entry);
          sent.push(entry);
          if (onOwn) {
            // Nobody else writes this person: its last event must hold the name just set.
            ownName = name;
            const head = await lastName(nc, own);
            if (head !== name)
              problems.push(
                `${commandId}: rename of ${own} to ${name} answered with ${reply.events.length} events, the stream's last event holds ${String(head)}`,
              );
          }
        }
      }),
    );
    expect(problems, serves.map((s, i) => `serve ${i}:\n${s.output}`).join('\n')).toEqual([]);

    // The checker: what the replies promised against what the stream holds.
    const attempts: Attempt[] = sent.map((s) => ({
      id: s.commandId,
      outcome: s.reply.ok ? 'ok' : 'failed',
      acked: s.reply.ok ? s.reply.events.map((e) => e.cid) : [],
      label: `person.${s.type}`,
    }));
    const read: ReadItem[] = [];
    const jsm = await clients[0]!.jetstreamManager();
    const { last_seq } = (await jsm.streams.info(domainStream('person'))).state;
    for await (const m of readStream(clients[0]!.jetstream(), {
      stream: domainStream('person'),
      fromSeq: 1,
      toSeq: last_seq,
    })) {
      const { envelope, cid }: { envelope: EventEnvelope; cid: { toString(): string } } = decodeEnvelope(m.data);
      if (!people.includes(envelope.aggregateId)) continue;
      read.push({
        key: cid.toString(),
        attemptId: envelope.causationId,
        origin: `${envelope.causationId}#${envelope.type}`,
        where: `CIM_PERSON#${m.seq} ${envelope.aggregateId} seq ${envelope.seq}`,
      });
    }
    const verdict = checkHistory(attempts, read);
    expect(verdict, JSON.stringify(verdict.samples)).toMatchObject({ lost: 0, unexpected: 0, duplicates: 0, ok: true });
    // The load did what it is for: renames that changed something, and some that had nothing to change.
    const renames = sent.filter((s) => s.type === 'RenamePerson' && s.reply.ok);
    expect(renames.filter((s) => s.reply.ok && s.reply.events.length > 0).length).toBeGreaterThan(20);
    expect(read.length).toBe(attempts.reduce((n, a) => n + a.acked.length, 0));
    for (const serve of serves) expect(serve.output).not.toMatch(/CIM-INTERNAL/);
  }, 90_000);
});
