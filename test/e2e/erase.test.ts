// `cim erase` and `POST /v1/erasures/:subjectId` as an operator uses them, against a running
// `cim serve --http` on a 3-node cluster: only the operator role may erase over HTTP; `cim erase`
// in another process makes the running appliance stop decrypting the subject at once; erasing
// again is harmless, an unknown subject is a clear error; chains and seals still verify; and no
// file under the state dir holds the erased person's name or e-mail address afterwards. A legal hold
// refuses erasure; `cim retention apply` removes what a policy expires, and `cim verify` still passes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../appliance/index.js';
import { runCli, spawnCli } from '../support/cli.js';
import { fileTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait.js';

const work = fileTempDir('erase-e2e');
const state = join(work.path, 'state');
let serve: ChildProcess | undefined;
let output = '';
let base = '';
const tokens: Record<string, string> = {};

const people = {
  'p-http': { name: 'Hedy Lamarr', email: 'hedy@frequency.example' },
  'p-cli': { name: 'Katherine Johnson', email: 'katherine@orbit.example' },
  'p-kept': { name: 'Margaret Hamilton', email: 'margaret@apollo.example' },
  'p-held': { name: 'Mary Jackson', email: 'mary@tunnel.example' },
};

async function call(method: string, path: string, token?: string, json?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function filesUnder(root: string): string[] {
  return readdirSync(root, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(root, e.name)) : e.isFile() ? [join(root, e.name)] : [],
  );
}

function holding(values: string[]): string[] {
  return filesUnder(state).filter((f) => {
    let bytes: Buffer;
    try {
      bytes = readFileSync(f);
    } catch {
      return false; // gone meanwhile (a temporary file)
    }
    return values.some((v) => bytes.includes(Buffer.from(v)));
  });
}

beforeAll(async () => {
  const up = await runCli(['--state', state, 'cluster', 'up', '--nodes', '3']);
  expect(up.code, up.stderr).toBe(0);
  for (const role of ['operator', 'writer', 'reader']) {
    const added = await runCli(['--state', state, 'keys', 'add', '--role', role, '--actor', `${role}-1`]);
    expect(added.code, added.stderr).toBe(0);
    tokens[role] = added.stdout.trim();
  }
  const [port] = await freePorts(1);
  base = `http://127.0.0.1:${port}`;
  serve = spawnCli(['--state', state, 'serve', '--http', `127.0.0.1:${port}`]);
  serve.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  serve.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor('cim serve --http to be ready', () => output.includes('HTTP gateway on') || undefined, 60_000);
  await waitFor('readyz', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 30_000);
  for (const [personId, p] of Object.entries(people)) {
    const sent = await call('POST', '/v1/commands/person/RegisterPerson', tokens.writer, { personId, ...p });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  }
  for (const personId of Object.keys(people))
    await waitFor(`${personId} in the directory`, async () =>
      (await call('GET', `/v1/queries/person/GetPerson?personId=${personId}`, tokens.reader)).status === 200
        ? true
        : undefined,
    );
}, 120_000);

afterAll(async () => {
  serve?.kill('SIGKILL');
  await runCli(['--state', state, 'cluster', 'down']);
  work.remove();
});

describe('erasure as an operator runs it', () => {
  it('POST /v1/erasures/:subjectId is for the operator role only, and in the OpenAPI document', async () => {
    expect((await call('POST', '/v1/erasures/p-http')).status).toBe(401);
    for (const role of ['writer', 'reader']) {
      const refused = await call('POST', '/v1/erasures/p-http', tokens[role]);
      expect(refused.status, role).toBe(403);
      expect(refused.body.code).toBe('CIM-FORBIDDEN');
    }
    const openapi = await call('GET', '/v1/openapi.json');
    expect(Object.keys(openapi.body.paths as object)).toContain('/v1/erasures/{subjectId}');

    const erased = await call('POST', '/v1/erasures/p-http', tokens.operator);
    expect(erased.status, JSON.stringify(erased.body)).toBe(200);
    expect(erased.body).toEqual({ subjectId: 'p-http', outcome: 'erased', rowsDeleted: 1, snapshotsDeleted: [] });
    expect((await call('GET', '/v1/queries/person/GetPerson?personId=p-http', tokens.reader)).status).toBe(404);
    const again = await call('POST', '/v1/erasures/p-http', tokens.operator);
    expect(again.body).toMatchObject({ outcome: 'already-erased' });
    const unknown = await call('POST', '/v1/erasures/nobody', tokens.operator);
    expect([unknown.status, unknown.body.code]).toEqual([404, 'CIM-NOT-FOUND']);
  });

  it('cim erase in another process: the running appliance stops decrypting the subject at once', async () => {
    // The appliance has p-cli cached: a rename to the same name is a no-op answered from its state.
    const noop = await call('POST', '/v1/commands/person/RenamePerson', tokens.writer, {
      personId: 'p-cli',
      name: people['p-cli'].name,
    });
    expect(noop.body).toMatchObject({ events: [] });

    const erased = await runCli(['--state', state, 'erase', 'p-cli']);
    expect(erased.code, erased.stderr).toBe(0);
    // The row is deleted by this verb, or just before it by the running appliance's erasure sweep
    // (every second, from the key store's tombstone, which the verb writes first): gone either way.
    expect(erased.stdout).toMatch(
      /^erased subject p-cli: key destroyed, [01] read-model rows and 0 snapshots deleted$/m,
    );

    // At once, with no stale cache: personal data for the erased subject is refused.
    const renamed = await call('POST', '/v1/commands/person/RenamePerson', tokens.writer, {
      personId: 'p-cli',
      name: people['p-cli'].name,
    });
    expect([renamed.status, renamed.body.code]).toEqual([422, 'CIM-REJECTED']);
    expect((await call('GET', '/v1/queries/person/GetPerson?personId=p-cli', tokens.reader)).status).toBe(404);
    const kept = await call('GET', '/v1/queries/person/GetPerson?personId=p-kept', tokens.reader);
    expect(kept.body.result).toMatchObject(people['p-kept']);

    const again = await runCli(['--state', state, 'erase', 'p-cli', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ subjectId: 'p-cli', outcome: 'already-erased' });
    const unknown = await runCli(['--state', state, 'erase', 'nobody']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/CIM-NOT-FOUND: no personal data was ever stored for subject nobody/);
    const bad = await runCli(['--state', state, 'erase', 'not an id']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/CIM-INVALID-INPUT/);
  });

  it('a legal hold overrides erasure: refused over HTTP and by cim erase with CIM-LEGAL-HOLD, audited as such, nothing destroyed', async () => {
    const held = await runCli(['--state', state, 'hold', 'add', '--subject', 'p-held', '--reason', 'case 42/2026']);
    expect(held.code, held.stderr).toBe(0);
    expect(held.stdout.trim()).toBe('held subject/p-held');
    const listed = await runCli(['--state', state, 'hold', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { target: { kind: 'subject', subjectId: 'p-held' }, reason: 'case 42/2026', placedBy: expect.any(String) },
    ]);

    const overHttp = await call('POST', '/v1/erasures/p-held', tokens.operator);
    expect([overHttp.status, overHttp.body.code]).toEqual([409, 'CIM-LEGAL-HOLD']);
    const byCli = await runCli(['--state', state, 'erase', 'p-held']);
    expect(byCli.code).toBe(1);
    expect(byCli.stderr).toMatch(
      /CIM-LEGAL-HOLD: subject p-held is under a legal hold \(subject\/p-held\): nothing was erased/,
    );
    // Nothing was destroyed: the person still reads.
    const still = await call('GET', '/v1/queries/person/GetPerson?personId=p-held', tokens.reader);
    expect(still.body.result).toMatchObject(people['p-held']);

    const log = await runCli(['--state', state, 'audit', 'tail', '--json']);
    const records = log.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const refusals = records.filter((r) => r.action === 'erasure' && r.target === 'subject/p-held');
    expect(refusals.map((r) => [r.source, r.outcome, r.code])).toEqual([
      ['http', 'rejected', 'CIM-LEGAL-HOLD'],
      ['cli', 'rejected', 'CIM-LEGAL-HOLD'],
    ]);
    expect(records.filter((r) => r.action === 'hold.add').map((r) => [r.target, r.outcome])).toEqual([
      ['subject/p-held', 'ok'],
    ]);
    // The reason is free text: it stays with the hold, out of the audit log.
    expect(log.stdout).not.toContain('case 42');

    const removed = await runCli(['--state', state, 'hold', 'remove', '--subject', 'p-held']);
    expect(removed.code, removed.stderr).toBe(0);
    const none = await runCli(['--state', state, 'hold', 'remove', '--subject', 'p-held']);
    expect([none.code, none.stderr]).toEqual([
      2,
      expect.stringMatching(/CIM-NOT-FOUND: there is no hold on subject\/p-held/),
    ]);
    const lifted = await runCli(['--state', state, 'audit', 'tail', '--action', 'hold.remove', '--json']);
    expect(
      lifted.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .map((r) => [r.target, r.outcome, r.code]),
    ).toEqual([
      ['subject/p-held', 'ok', undefined],
      ['subject/p-held', 'rejected', 'CIM-NOT-FOUND'],
    ]);
    const bad = await runCli(['--state', state, 'hold', 'add', '--aggregate', 'person', '--reason', 'x']);
    expect([bad.code, bad.stderr]).toEqual([
      2,
      expect.stringMatching(/CIM-INVALID-INPUT: aggregate "person": expected DOMAIN\/AGGREGATE_ID/),
    ]);

    const erased = await runCli(['--state', state, 'erase', 'p-held']);
    expect(erased.code, erased.stderr).toBe(0);
  });

  it('leaves every chain and seal verifying and no plaintext of the erased in any file', async () => {
    const sealed = await runCli(['--state', state, 'seal']);
    expect(sealed.code, sealed.stderr).toBe(0);
    const verified = await runCli(['--state', state, 'verify']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const erased = [people['p-http'], people['p-cli'], people['p-held']].flatMap((p) => [p.name, p.email]);
    expect(holding(erased)).toEqual([]);
    // The read model still holds the kept person (the scan sees what is there).
    expect(holding([people['p-kept'].email]).some((f) => f.includes('read-models.sqlite'))).toBe(true);
  });

  it('cim retention apply: a dry run changes nothing; then sealed events past the policy go, a held aggregate stays, and cim verify passes', async () => {
    const kept = await call('POST', '/v1/commands/person/RenamePerson', tokens.writer, {
      personId: 'p-kept',
      name: 'Margaret H. Hamilton',
    });
    expect(kept.status, JSON.stringify(kept.body)).toBe(200);
    for (const [command, body] of [
      ['RegisterPerson', { personId: 'p-short', name: 'Dorothy Vaughan', email: 'dorothy@fortran.example' }],
      ['RenamePerson', { personId: 'p-short', name: 'Dorothy J. Vaughan' }],
    ] as const) {
      const sent = await call('POST', `/v1/commands/person/${command}`, tokens.writer, body);
      expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    }
    const held = await runCli(['--state', state, 'hold', 'add', '--aggregate', 'person/p-kept', '--reason', 'audit']);
    expect(held.code, held.stderr).toBe(0);
    expect((await runCli(['--state', state, 'seal'])).code).toBe(0);
    const env = { CIM_RETENTION_POLICIES: '{"person":{"maxEventsPerAggregate":1}}' };
    const dry = await runCli(['--state', state, 'retention', 'apply', '--dry-run', '--json'], { env });
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout) as { dryRun: boolean; domains: Array<Record<string, number>> };
    expect(planned.dryRun).toBe(true);
    expect(planned.domains[0]).toMatchObject({ domain: 'person', held: 1, removed: 1 });
    const applied = await runCli(['--state', state, 'retention', 'apply'], { env });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout.trim()).toMatch(
      /^person \(maxEventsPerAggregate 1\): \d+ events examined, 2 expired; removed 1; kept 1 under a hold, 0 not sealed yet\n {2}seq \d+\.\.\d+: 1 under seal \S+, manifest \S+$/,
    );
    const again = await runCli(['--state', state, 'retention', 'apply', '--json'], { env });
    expect((JSON.parse(again.stdout) as { domains: Array<Record<string, number>> }).domains[0]).toMatchObject({
      removed: 0,
      completed: 0,
    });
    const verified = await runCli(['--state', state, 'verify'], { env });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const bad = await runCli(['--state', state, 'retention', 'apply'], {
      env: { CIM_RETENTION_POLICIES: '{"person":{"maxAge":"soon"}}' },
    });
    expect([bad.code, bad.stderr]).toEqual([
      2,
      expect.stringMatching(/CIM-INVALID-CONFIG: retention\.policies\.person\.maxAge: expected a duration/),
    ]);
  });
});
