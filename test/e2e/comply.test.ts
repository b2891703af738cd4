// `cim comply` as a user runs it on the embedded cluster: on the cluster `cim cluster up
// --sync-interval always` left running, with the appliance's streams provisioned and sealed, every
// check passes (exit 0), the table names each check with its findings by severity, and the signed
// compliance, retention and audit reports land in the ledger, verify, and carry checkpoint notes an
// independent verifier accepts; on a cluster started for the command with the
// server's default sync_interval it exits 1 naming that finding; a check that does not exist is a
// usage error.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, provision, type ClusterStatus } from '../../appliance/index.js';
import { readFileSync } from 'node:fs';
import { runCli } from '../support/cli.js';
import { verifyCheckpoint } from '../support/signed-note-verify.js';
import { stateEndpoint } from '../support/roles.js';
import { tempDir } from '../support/temp-dir.js';

let work: ReturnType<typeof tempDir>;
let state: string;

beforeAll(async () => {
  work = tempDir('comply-cli');
  state = join(work.path, 'state');
  const up = await runCli(['--state', state, 'cluster', 'up', '--sync-interval', 'always', '--json']);
  expect(up.code, up.stderr).toBe(0);
  const urls = (JSON.parse(up.stdout) as ClusterStatus).servers.map((s) => s.url);
  const nc = await connectNats(stateEndpoint(state, 'operator', urls));
  try {
    await provision(nc, { domains: ['person', 'organization', 'workflow'], replicas: 3, duplicateWindowMs: 60_000 });
  } finally {
    await nc.close();
  }
  const sealed = await runCli(['--state', state, 'seal']);
  expect(sealed.code, sealed.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  if (state) await runCli(['--state', state, 'cluster', 'down']);
  work?.remove();
});

describe('cim comply', () => {
  it('passes a sound system: exit 0, the table, three signed reports in the ledger', async () => {
    const run = await runCli(['--state', state, 'comply']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^CHECK\s+CRITICAL\s+HIGH\s+MEDIUM\s+LOW\s+INFO\s+EXAMINED$/);
    for (const check of ['access', 'immutability', 'retention', 'audit-completeness', 'erasure', 'durability'])
      expect(lines.find((l) => l.startsWith(check))).toMatch(new RegExp(`^${check}\\s+0\\s+0\\s+`));
    expect(run.stdout).toMatch(/comply passed: no critical or high finding/);
    const cids = Object.fromEntries(
      ['compliance', 'retention', 'audit'].map((kind) => [
        kind,
        new RegExp(`^${kind} report: (bafy\\w+)`, 'm').exec(run.stdout)![1]!,
      ]),
    );
    const vkey = /verifier key (\S+)/.exec(run.stdout)![1]!;
    // Progress and each check's summary went to stderr.
    expect(run.stderr).toMatch(/access: no findings/);

    const list = await runCli(['--state', state, 'report', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    for (const [kind, cid] of Object.entries(cids))
      expect(JSON.parse(list.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ cid, kind })]));
    for (const cid of Object.values(cids)) {
      const verified = await runCli(['--state', state, 'report', 'verify', cid, '--key', vkey]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      // The checkpoint note, checked by a verifier written from the C2SP text, not the appliance's.
      const note = readFileSync(join(state, 'reports', `${cid}.checkpoint`));
      expect(verifyCheckpoint(note, [vkey]).origin).toMatch(/^cim-appliance\/cim\/compliance$/);
    }
  }, 60_000);

  it('prints the outcomes and the report as JSON, one check at a time', async () => {
    const run = await runCli(['--state', state, 'comply', '--check', 'durability', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const body = JSON.parse(run.stdout) as {
      ok: boolean;
      checks: { check: string }[];
      reports: Record<string, { cid: string }>;
    };
    expect(body.ok).toBe(true);
    expect(body.checks.map((c) => c.check)).toEqual(['durability']);
    expect(Object.keys(body.reports).sort()).toEqual(['audit', 'compliance', 'retention']);
    for (const r of Object.values(body.reports)) expect(r.cid).toMatch(/^bafy/);
  });

  it('refuses a check that does not exist (exit 2), and explains itself in --help', async () => {
    const run = await runCli(['--state', state, 'comply', '--check', 'nonsense']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/nonsense/);
    const help = await runCli(['comply', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/audit-completeness/);
    expect(help.stdout).toMatch(/--max-unsealed-age/);
  });

  it('exits 1 on a cluster with the default sync_interval, naming the finding per node', async () => {
    const other = join(work.path, 'other');
    const run = await runCli(['--state', other, 'comply', '--check', 'durability'], { timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/high\s+durability:sync-interval:n1/);
    expect(run.stdout).toMatch(/comply FAILED/);
  }, 90_000);
});
