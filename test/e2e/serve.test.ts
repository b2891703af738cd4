// `cim serve` as the NixOS module runs it: on the cluster `cim cluster up` left running it serves
// commands and queries, runs the onboarding flow and the projections, and on SIGTERM stops
// cleanly, leaving its read model on disk.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, person, ReadModel, sendCommand, type ClusterStatus } from '../../appliance/index.js';
import { runCli, spawnCli } from '../support/cli.js';
import { stateEndpoint, usersDirOf } from '../support/roles.js';
import { fileTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait.js';

const work = fileTempDir('serve');
const state = join(work.path, 'state');
let serve: ChildProcess | undefined;
let output = '';
let nc: NatsConnection;
const who = { actor: 'e2e' };

async function query(domain: string, name: string, params: Record<string, unknown> = {}): Promise<unknown> {
  const reply = await nc.request(
    `cim.${domain}.queries.${name}`,
    new TextEncoder().encode(JSON.stringify({ params })),
    { timeout: 5_000 },
  );
  return JSON.parse(new TextDecoder().decode(reply.data));
}

beforeAll(async () => {
  const up = await runCli(['--state', state, 'cluster', 'up', '--nodes', '1', '--json']);
  expect(up.code, up.stderr).toBe(0);
  nc = await connectNats(
    stateEndpoint(
      state,
      'operator',
      (JSON.parse(up.stdout) as ClusterStatus).servers.map((s) => s.url),
    ),
  );
  serve = spawnCli(['--state', state, 'serve']);
  serve.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  serve.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(
    'cim serve to be ready',
    () => output.includes('serving person, organization, workflow') || undefined,
    30_000,
  );
});

afterAll(async () => {
  serve?.kill('SIGKILL');
  await nc?.close().catch(() => {});
  await runCli(['--state', state, 'cluster', 'down']);
  work.remove();
});

describe('cim serve', () => {
  it('handles commands, runs onboarding, and answers queries from the projections', async () => {
    await sendCommand(nc, 'person', 'RegisterPerson', {
      ...who,
      payload: { personId: 'grace', name: 'Grace Hopper', email: 'grace@example.org' },
    });
    await sendCommand(nc, 'organization', 'CreateOrganization', {
      ...who,
      payload: { organizationId: 'navy', name: 'US Navy' },
    });
    await sendCommand(nc, 'organization', 'AddMember', {
      ...who,
      payload: { organizationId: 'navy', personId: 'grace' },
    });

    await waitFor(
      'the person in the directory',
      async () =>
        ((await query('person', 'GetPerson', { personId: 'grace' })) as { result: unknown }).result || undefined,
      20_000,
    );
    expect(await query('person', 'GetPerson', { personId: 'grace' })).toEqual({
      ok: true,
      result: { personId: 'grace', name: 'Grace Hopper', email: 'grace@example.org', status: 'active' },
    });
    const workflows = await waitFor(
      'an onboarding workflow',
      async () => {
        const r = (await query('workflow', 'CountByStatus')) as {
          result: { status: string; count?: number; workflows?: number }[];
        };
        return r.result.length > 0 ? r.result : undefined;
      },
      20_000,
    );
    expect(JSON.stringify(workflows)).toContain('running');
    expect(await query('person', 'GetPerson', { personId: 'a.b' })).toMatchObject({
      ok: false,
      error: { code: 'CIM-INVALID-INPUT' },
    });
  });

  it('stops on SIGTERM: in flight answered, projections flushed, connections drained', async () => {
    const exited = new Promise<number | null>((resolve) => serve!.once('exit', (code) => resolve(code)));
    serve!.kill('SIGTERM');
    expect(await exited).toBe(143);
    serve = undefined;
    expect(output).toContain('SIGTERM: shutting down cleanly');
    expect(output).not.toMatch(/while shutting down/);
    expect(existsSync(join(state, 'read-models.sqlite'))).toBe(true);
    // The services are gone: a command now finds no responder.
    await expect(
      sendCommand(
        nc,
        'person',
        'RenamePerson',
        { ...who, payload: { personId: 'grace', name: 'Amazing Grace' } },
        { timeoutMs: 1_000 },
      ),
    ).rejects.toMatchObject({ code: 'CIM-UNAVAILABLE' });
  });
});

describe('cim replay', () => {
  it('rebuilds a projection into a file of its own, and travels to a stream sequence', async () => {
    const full = await runCli(['--state', state, 'replay', 'person_directory', '--json']);
    expect(full.code, full.stderr).toBe(0);
    const all = JSON.parse(full.stdout) as { events: number; lastSeq: number; path: string };
    expect(all.events).toBeGreaterThanOrEqual(1);
    expect(existsSync(all.path)).toBe(true);
    const early = await runCli(['--state', state, 'replay', 'workflow_status', '--to', '1', '--json']);
    expect(early.code, early.stderr).toBe(0);
    expect(JSON.parse(early.stdout)).toMatchObject({ events: 1, lastSeq: 1 });
  });

  it('given --worker, rebuilds on a worker thread that decrypts with the same key store: the same rows', async () => {
    const directory = person.definition.projections![0]!;
    const rowsOf = (path: string) => {
      const model = ReadModel.open({ path, projections: [directory] });
      try {
        return model.rows('person_directory');
      } finally {
        model.close();
      }
    };
    const plain = await runCli(['--state', state, 'replay', 'person_directory', '--json']);
    const out = join(work.path, 'worker-directory.sqlite');
    const worker = await runCli(['--state', state, 'replay', 'person_directory', '--worker', '--out', out, '--json']);
    expect(worker.code, worker.stderr).toBe(0);
    const built = JSON.parse(worker.stdout) as { events: number; path: string };
    expect(built).toMatchObject({ events: (JSON.parse(plain.stdout) as { events: number }).events, path: out });
    const rows = rowsOf(out);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.some((r) => typeof r.name === 'string')).toBe(true);
    expect(rows).toEqual(rowsOf((JSON.parse(plain.stdout) as { path: string }).path));
  });

  it('refuses an unknown projection and a bound that is neither a sequence nor a time', async () => {
    const unknown = await runCli(['--state', state, 'replay', 'nosuch']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('CIM-NOT-FOUND: no projection nosuch; there are person_directory');
    const bad = await runCli(['--state', state, 'replay', 'person_directory', '--to', 'yesterday-ish']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--to: expected a stream sequence ≥ 1 or an RFC 3339 time');
  });

  it('given --nats and a state dir that does not exist yet, makes it (mode 0700) and serves', async () => {
    const fresh = join(work.path, 'new', 'state');
    const urls = nc.getServer();
    const second = spawnCli(['--nats', `nats://${urls}`, '--state', fresh, 'serve'], {
      env: { CIM_NATS_USERS_DIR: usersDirOf(state) },
    });
    let said = '';
    second.stderr!.on('data', (chunk: Buffer) => (said += chunk.toString()));
    second.stdout!.on('data', (chunk: Buffer) => (said += chunk.toString()));
    try {
      await waitFor(
        'the second cim serve to be ready',
        () => said.includes('serving person, organization, workflow') || undefined,
        30_000,
      );
      expect(statSync(fresh).mode & 0o777).toBe(0o700);
    } finally {
      if (second.exitCode === null && second.signalCode === null) {
        const exited = new Promise((resolve) => second.once('exit', resolve));
        second.kill('SIGTERM');
        await exited;
      }
    }
  });
});
