// Attach mode: with --nats the CLI uses a cluster that runs elsewhere and starts nothing itself.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedCluster, freePorts, loadConfig, type ClusterStatus } from '../../appliance/index.js';
import { runCli } from '../support/cli.js';
import { fileTempDir } from '../support/temp-dir.js';

const external = fileTempDir('attach-cluster');
const client = fileTempDir('attach-client');
let cluster: EmbeddedCluster;
let urls: string;
/** The CLI attaches with the role seeds of the cluster's users dir, as a deployed appliance would. */
const env = () => ({ CIM_NATS_USERS_DIR: cluster.usersDir! });

beforeAll(async () => {
  // The "existing" cluster, started by the test; the CLI gets only its URLs.
  cluster = await EmbeddedCluster.start(loadConfig({ env: {}, flags: { stateDir: external.path } }));
  urls = cluster.clientUrls.join(',');
});

afterAll(async () => {
  await cluster?.stop();
  external.remove();
  client.remove();
});

describe('attach mode (--nats URL,...)', () => {
  it("reports the attached cluster's servers and versions without spawning anything", async () => {
    const result = await runCli(['--state', client.path, '--nats', urls, 'cluster', 'status', '--json'], {
      env: env(),
    });
    expect(result.code, result.stderr).toBe(0);
    const status = JSON.parse(result.stdout) as ClusterStatus;
    expect(status.mode).toBe('attached');
    expect(status.name).toBe('cim');
    expect(status.servers.map((s) => s.name).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(status.servers.every((s) => s.state === 'running' && s.version === cluster.serverVersion)).toBe(true);
    expect(existsSync(join(client.path, 'cluster'))).toBe(false);
  });

  it('runs the bench against the attached cluster, losing nothing', async () => {
    const result = await runCli(
      ['--state', client.path, '--nats', urls, 'bench', '--components', '--messages', '1500', '--json'],
      { timeoutMs: 120_000, env: env() },
    );
    expect(result.code, result.stderr).toBe(0);
    const output = JSON.parse(result.stdout) as {
      cluster: ClusterStatus;
      rawBaseline: { replicas: number; read: { messages: number }; lost: number; publish: { perSecond: number } };
      peer?: {
        result?: { tool: string; messages: number; perSecond: number; command: string };
        skipped?: string;
        ratios: Record<string, number>;
      };
    };
    expect(output.cluster.mode).toBe('attached');
    // nats bench ran on the same cluster, same shape, and every throughput is also a ratio to it.
    expect(output.peer?.skipped).toBeUndefined();
    expect(output.peer?.result).toMatchObject({
      tool: expect.stringMatching(/^natscli \d+\.\d+\.\d+$/),
      messages: 1500,
    });
    expect(output.peer!.result!.command).toContain('--replicas=3');
    expect(output.peer!.ratios.rawPublish).toBeCloseTo(
      output.rawBaseline.publish.perSecond / output.peer!.result!.perSecond,
      9,
    );
    expect(output.rawBaseline.replicas).toBe(3);
    expect(output.rawBaseline.read.messages).toBe(1500);
    expect(output.rawBaseline.lost).toBe(0);
    expect(existsSync(join(client.path, 'cluster'))).toBe(false);
  }, 150_000); // the bench may take 120 s

  it('runs scenarios on the attached cluster one after another, skipping those that kill nodes', async () => {
    // Two scenarios on the same streams: the second verifies the seals the first one's services made.
    const mine = join(client.path, 'mine.yaml');
    writeFileSync(
      mine,
      'name: mine\nphases:\n  - type: load\n    rate: max\n    count: 50\n    mix: [{ command: person.RegisterPerson }]\n  - type: check\n    expect: [lost == 0, verify_findings == 0]\n',
    );
    const out = join(client.path, 'scenarios.json');
    const result = await runCli(
      [
        '--state',
        client.path,
        '--nats',
        urls,
        'bench',
        'quick-steady',
        'quick-leader-kill',
        mine,
        '--baseline-messages',
        '1000',
        '--out',
        out,
      ],
      { timeoutMs: 120_000, env: env() },
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const scenarios = (
      JSON.parse(readFileSync(out, 'utf8')) as {
        scenarios: { scenario: string; status: string; cluster: { mode: string } }[];
      }
    ).scenarios;
    expect(scenarios.map((s) => [s.scenario, s.status, s.cluster.mode])).toEqual([
      ['quick-steady', 'passed', 'attached'],
      ['quick-leader-kill', 'skipped', 'attached'],
      ['mine', 'passed', 'attached'],
    ]);
    expect(existsSync(join(client.path, 'cluster'))).toBe(false);
  }, 150_000);

  it('with --creds, connects with that file; without it or the users dir, the cluster refuses the connection', async () => {
    // A creds file as `nsc` writes them, around the operator's seed (a server without an operator ignores the JWT).
    const seed = readFileSync(join(cluster.usersDir!, 'operator.nk'), 'utf8').trim();
    const creds = join(client.path, 'operator.creds');
    writeFileSync(
      creds,
      `-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln\n------END NATS USER JWT------\n\n` +
        `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
      { mode: 0o600 },
    );
    const withCreds = await runCli([
      '--state',
      client.path,
      '--nats',
      urls,
      '--creds',
      creds,
      'cluster',
      'status',
      '--json',
    ]);
    expect(withCreds.code, withCreds.stderr).toBe(0);
    expect((JSON.parse(withCreds.stdout) as ClusterStatus).servers.every((s) => s.state === 'running')).toBe(true);
    const without = await runCli(['--state', client.path, '--nats', urls, 'cluster', 'status']);
    expect(without.code).toBe(3);
    expect(without.stderr).toMatch(/CIM-UNAVAILABLE.*Authorization Violation/i);
  });

  it('refuses `cluster up` with --nats, a usage error', async () => {
    const result = await runCli(['--state', client.path, '--nats', urls, 'cluster', 'up']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--nats attaches');
  });

  it('given nothing listens at the URL, exits 3 with CIM-UNAVAILABLE', async () => {
    const [port] = await freePorts(1);
    const result = await runCli(['--state', client.path, '--nats', `nats://127.0.0.1:${port}`, 'cluster', 'status']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('CIM-UNAVAILABLE');
  });
});
