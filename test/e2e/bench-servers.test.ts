// `cim bench --servers`: the same scenario and seed on two nats-server versions, each on its own
// fresh cluster, as a user runs it — the results name each version, the report verifies, and its
// renderings compare the versions side by side. A short scenario of its own keeps it to seconds.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_VERSION, SUPPORTED_SERVERS } from '../../appliance/index.js';
import { runCli, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';
import { expectValidAgainstSchema } from '../support/published-schema.js';

const FLOOR = SUPPORTED_SERVERS.at(-1)!.version;
let work: ReturnType<typeof tempDir>;
let bench: CliResult;
let results: {
  servers: string[];
  scenarios: {
    scenario: string;
    server: string;
    status: string;
    cluster: { servers: { version?: string }[]; serverBuild?: { version: string; source?: string } };
  }[];
};

beforeAll(async () => {
  work = tempDir('bench-servers');
  const scenario = join(work.path, 'tiny.yaml');
  writeFileSync(
    scenario,
    [
      'name: tiny',
      'description: two seconds of registrations',
      'seed: 3',
      'cluster: { nodes: 3 }',
      'phases:',
      '  - { name: load, type: load, rate: 50, duration: 2s, mix: [ { command: person.RegisterPerson, weight: 1 } ] }',
      '  - { name: verdict, type: check, expect: [ lost == 0, verify_findings == 0 ] }',
      '',
    ].join('\n'),
  );
  bench = await runCli(
    [
      '--state',
      join(work.path, 'state'),
      'bench',
      scenario,
      '--servers',
      `${FLOOR},${DEFAULT_SERVER_VERSION.split('.').slice(0, 2).join('.')}.x`,
      '--baseline-messages',
      '500',
      '--out',
      join(work.path, 'results.json'),
    ],
    {
      timeoutMs: 240_000,
    },
  );
  results = JSON.parse(readFileSync(join(work.path, 'results.json'), 'utf8'));
}, 300_000);

afterAll(() => work?.remove());

describe('cim bench --servers', () => {
  it('writes results valid against the published JSON Schema (reports/schema/bench-results.schema.json)', () => {
    expectValidAgainstSchema('results', results);
  });

  it('runs the scenario once per version, each on a cluster of that version', () => {
    expect(bench.code, bench.stderr).toBe(0);
    expect(results.servers).toEqual([FLOOR, DEFAULT_SERVER_VERSION]);
    expect(results.scenarios.map((s) => [s.scenario, s.server, s.status])).toEqual([
      [`tiny@${FLOOR}`, FLOOR, 'passed'],
      [`tiny@${DEFAULT_SERVER_VERSION}`, DEFAULT_SERVER_VERSION, 'passed'],
    ]);
    for (const s of results.scenarios) {
      expect(new Set(s.cluster.servers.map((n) => n.version))).toEqual(new Set([s.server]));
      expect(s.cluster.serverBuild?.version).toBe(s.server);
    }
    expect(results.scenarios[1]!.cluster.serverBuild?.source).toBe('pinned build');
  });

  it('prints the versions side by side, and says that the floor is an old server', () => {
    const table = bench.stdout.slice(bench.stdout.indexOf('server versions side by side'));
    expect(table.split('\n')[1]).toMatch(
      new RegExp(
        `^scenario\\s+figure\\s+${FLOOR.replace(/\./g, '\\.')}\\s+${DEFAULT_SERVER_VERSION.replace(/\./g, '\\.')}$`,
      ),
    );
    expect(table).toMatch(/tiny\s+verdict\s+passed\s+passed/);
    expect(table).toMatch(
      new RegExp(
        `tiny\\s+nats-server\\s+${FLOOR.replace(/\./g, '\\.')}\\s+${DEFAULT_SERVER_VERSION.replace(/\./g, '\\.')}`,
      ),
    );
    expect(bench.stdout).toContain(`note: nats-server ${FLOOR} is older than the releases upstream supports`);
  });

  it('writes a report that verifies, whose Markdown has the comparison and the old-server note', async () => {
    const cid = /^report (\S+) \(signed/m.exec(bench.stdout)?.[1];
    expect(cid).toBeDefined();
    const verify = await runCli(['--state', join(work.path, 'state'), 'report', 'verify', cid!], { timeoutMs: 30_000 });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const md = readFileSync(join(work.path, 'state', 'reports', `${cid}.md`), 'utf8');
    expect(md).toContain(`## Server versions side by side: ${FLOOR}, ${DEFAULT_SERVER_VERSION}`);
    expect(md).toContain(`> **Note:** nats-server ${FLOOR} is older than the releases upstream supports`);
  }, 60_000);

  it('refuses an unknown version, and --servers with --baseline, before anything runs (exit 2)', async () => {
    const unknown = await runCli(
      ['--state', join(work.path, 'refused'), 'bench', '--servers', '2.9.10,7.0', '--quick'],
      { timeoutMs: 30_000 },
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('nats-server 7.0 is not a supported version');
    const gated = await runCli(
      ['--state', join(work.path, 'refused'), 'bench', '--servers', '2.9.10', '--baseline', 'latest', '--quick'],
      { timeoutMs: 30_000 },
    );
    expect(gated.code).toBe(2);
    expect(gated.stderr).toContain('--servers and --baseline');
  }, 60_000);
});
