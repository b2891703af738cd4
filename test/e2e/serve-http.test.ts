// `cim serve --http` with keys made by `cim keys add`, as an operator sets it up: the key is
// printed once and only its hash stored; the gateway answers commands and queries with it; a key
// removed with `cim keys remove` stops working on the running gateway; and a gateway without a
// usable key file refuses to start, saying how to make one.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../appliance/index.js';
import { runCli, spawnCli } from '../support/cli.js';
import { fileTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait.js';

const work = fileTempDir('serve-http');
const state = join(work.path, 'state');
let serve: ChildProcess | undefined;
let output = '';
let base = '';
const tokens: Record<string, string> = {};
const ids: Record<string, string> = {};

async function keysAdd(role: string, actor: string): Promise<void> {
  const added = await runCli(['--state', state, 'keys', 'add', '--role', role, '--actor', actor]);
  expect(added.code, added.stderr).toBe(0);
  tokens[role] = added.stdout.trim();
  ids[role] = /added key ([a-z0-9]{12})/.exec(added.stderr)![1]!;
}

async function post(
  path: string,
  token: string,
  json: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  const up = await runCli(['--state', state, 'cluster', 'up', '--nodes', '1']);
  expect(up.code, up.stderr).toBe(0);
  await keysAdd('writer', 'crm-sync');
  await keysAdd('reader', 'dashboard');
  const [port] = await freePorts(1);
  base = `http://127.0.0.1:${port}`;
  serve = spawnCli(['--state', state, 'serve', '--http', `127.0.0.1:${port}`]);
  serve.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  serve.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor('cim serve --http to be ready', () => output.includes('HTTP gateway on') || undefined, 30_000);
}, 90_000);

afterAll(async () => {
  serve?.kill('SIGKILL');
  await runCli(['--state', state, 'cluster', 'down']);
  work.remove();
});

describe('cim keys and cim serve --http', () => {
  it('cim keys add prints the key once; the key file (0600) holds its hash, never the key', () => {
    expect(tokens.writer).toMatch(/^cim_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const file = join(state, 'api-keys.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    // The whole secret (43 characters after `cim_<id>_`): base64url has "_" in its alphabet.
    expect(text).not.toContain(tokens.writer!.slice('cim_'.length + 12 + 1));
    expect(text).toContain(ids.writer);
  });

  it('cim keys list shows ids, roles and actors; --json too', async () => {
    const listed = await runCli(['--state', state, 'keys', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${ids.writer}\\s+writer\\s+crm-sync`));
    const json = await runCli(['--state', state, 'keys', 'list', '--json']);
    expect(JSON.parse(json.stdout).map((k: { role: string }) => k.role)).toEqual(['writer', 'reader']);
    expect(json.stdout).not.toMatch(/hash|salt/);
  });

  it('with the writer key, a command over HTTP is accepted and answered with its events; readyz says ready', async () => {
    await waitFor('readyz', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 20_000);
    const sent = await post('/v1/commands/person/RegisterPerson', tokens.writer!, {
      personId: 'p-cli-http',
      name: 'Ada',
      email: 'ada@example.org',
    });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ aggregateId: 'p-cli-http', events: [{ type: 'PersonRegistered' }] });
    const limit = await fetch(`${base}/v1/queries/person/CountPeople`, {
      headers: { authorization: `Bearer ${tokens.reader}` },
    });
    expect(limit.status).toBe(200);
    // The default limit from the config: 100 requests per second per key.
    expect(limit.headers.get('x-ratelimit-limit')).toBe('100');
  });

  it('/metrics is served on the gateway’s port without a key, counting the command just sent', async () => {
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(
      /^cim_commands_total\{domain="person",command="RegisterPerson",outcome="ok"\} 1$/m,
    );
  });

  it('a key removed with cim keys remove is refused by the running gateway within seconds', async () => {
    const removed = await runCli(['--state', state, 'keys', 'remove', ids.writer!]);
    expect(removed.code, removed.stderr).toBe(0);
    await waitFor(
      'the removed key to be refused',
      async () => {
        const sent = await post('/v1/commands/person/RenamePerson', tokens.writer!, {
          personId: 'p-cli-http',
          name: 'Ada L',
        });
        return sent.status === 401 ? sent : undefined;
      },
      10_000,
    );
    const again = await runCli(['--state', state, 'keys', 'remove', ids.writer!]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/error CIM-NOT-FOUND: .* has no key/);
  });

  it('cim keys add refuses a role it does not know and an actor with control characters, writing nothing', async () => {
    const before = readFileSync(join(state, 'api-keys.json'), 'utf8');
    const role = await runCli(['--state', state, 'keys', 'add', '--role', 'root', '--actor', 'x']);
    expect(role.code).toBe(2);
    const actor = await runCli(['--state', state, 'keys', 'add', '--role', 'writer', '--actor', 'a\u0007b']);
    expect(actor.code).toBe(2);
    expect(actor.stderr).toMatch(/error CIM-INVALID-INPUT: --actor/);
    expect(readFileSync(join(state, 'api-keys.json'), 'utf8')).toBe(before);
  });

  it('cim serve --http without a key file, or with a bad listen address, exits 2 before starting anything', async () => {
    const elsewhere = join(work.path, 'no-keys');
    const missing = await runCli([
      '--state',
      elsewhere,
      '--nats',
      'nats://127.0.0.1:1',
      'serve',
      '--http',
      '127.0.0.1:0',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/error CIM-INVALID-CONFIG: cannot read the API key file/);
    const bad = await runCli(['--state', state, 'serve', '--http', 'localhost']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/http\.listen: expected HOST:PORT/);
  });
});
