// The `cim` CLI as a user runs it: help, configuration errors, a missing or old nats-server, and
// the embedded cluster's whole life (up, status, bench on it, down) with no server left behind.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../appliance/cluster/server-process.js';
import type { ClusterStatus } from '../../appliance/index.js';
import type {
  AppendBenchmarkResult,
  CommandBenchmarkResult,
  HttpCommandBenchmarkResult,
  TracingBenchmarkResult,
} from '../../bench/index.js';
import { CLI_TIMEOUT_MS, runCli } from '../support/cli.js';
import { fileTempDir } from '../support/temp-dir.js';

const work = fileTempDir('cli');
afterAll(async () => {
  // Whatever a failed assertion left running in this state dir is stopped here.
  await runCli(['--state', join(work.path, 'state'), 'cluster', 'down']);
  work.remove();
});

describe('cim --help', () => {
  it('lists the commands and exit codes and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('cluster');
    expect(result.stdout).toContain('bench');
    expect(result.stdout).toContain('Exit codes');
  });

  it('an unknown command is a usage error (exit 2)', async () => {
    const result = await runCli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown command/);
  });
});

describe('invalid configuration', () => {
  const state = join(work.path, 'never-used');

  it('given --nodes x, exits 2 naming cluster.nodes and the value', async () => {
    const result = await runCli(['--state', state, 'cluster', 'up', '--nodes', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CIM-INVALID-CONFIG');
    expect(result.stderr).toContain('cluster.nodes: expected integer ≥ 1, got "x"');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('given CIM_CLUSTER_NODES=0, exits 2 naming the variable', async () => {
    const result = await runCli(['--state', state, 'cluster', 'up'], { env: { CIM_CLUSTER_NODES: '0' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cluster.nodes: expected integer ≥ 1, got 0 (from environment CIM_CLUSTER_NODES)');
  });

  it('given a config file with a bad value, exits 2 naming the field and the file', async () => {
    const file = join(work.path, 'bad.yaml');
    writeFileSync(file, 'cluster:\n  syncInterval: sometimes\n');
    const result = await runCli(['--state', state, '--config', file, 'cluster', 'status']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cluster.syncInterval: expected a duration');
    expect(result.stderr).toContain(`(from config file ${file})`);
  });
});

describe('nats-server missing or too old', () => {
  const state = join(work.path, 'no-server');

  it('given NATS_SERVER_BIN points nowhere, exits 3 with the install hint', async () => {
    const result = await runCli(['--state', state, 'cluster', 'up'], {
      env: { NATS_SERVER_BIN: join(work.path, 'absent') },
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('CIM-NATS-SERVER-MISSING');
    expect(result.stderr).toContain('apt-get install -y nats-server');
  });

  it('given no nats-server on PATH, exits 3 with the install hint', async () => {
    // No cached pinned build and no Go to make one either: the last resort, PATH, is empty too.
    const env = {
      PATH: '/nonexistent',
      NATS_SERVER_BIN: '',
      XDG_CACHE_HOME: join(work.path, 'empty-cache'),
      GOROOT: '/nonexistent',
    };
    const result = await runCli(['--state', state, 'cluster', 'up'], { env });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('nats-server was not found on PATH, and no Go to build one');
    expect(result.stderr).toContain('`cim servers install` builds nats-server');
  });

  it('given a nats-server older than 2.9.4, exits 3 naming both versions', async () => {
    // A stand-in binary that only answers --version, as an old release would.
    const old = join(work.path, 'nats-server-old');
    writeFileSync(old, '#!/bin/sh\necho "nats-server: v2.9.3"\n');
    chmodSync(old, 0o755);
    const result = await runCli(['--state', state, 'cluster', 'up'], { env: { NATS_SERVER_BIN: old } });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('CIM-NATS-SERVER-TOO-OLD');
    expect(result.stderr).toMatch(/2\.9\.3.*≥ 2\.9\.4/);
  });
});

describe('cim cluster up / status / bench / down', () => {
  const state = join(work.path, 'state');

  it(
    'brings 3 servers up, reports a meta leader, is used by bench, and leaves no server behind',
    async () => {
      const up = await runCli(['--state', state, 'cluster', 'up', '--json']);
      expect(up.code, up.stderr).toBe(0);

      const status = await runCli(['--state', state, 'cluster', 'status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      const parsed = JSON.parse(status.stdout) as ClusterStatus;
      expect(parsed.mode).toBe('embedded');
      expect(parsed.size).toBe(3);
      expect(parsed.servers).toHaveLength(3);
      expect(parsed.servers.every((s) => s.state === 'running')).toBe(true);
      expect(parsed.metaLeader).toMatch(/^n[123]$/);
      const pids = parsed.servers.map((s) => s.pid!);
      expect(pids.every((pid) => isProcessAlive(pid))).toBe(true);

      const text = await runCli(['--state', state, 'cluster', 'status']);
      expect(text.stdout).toContain('JetStream meta leader: n');

      // A second `up` finds the running cluster instead of starting another.
      const again = await runCli(['--state', state, 'cluster', 'up', '--json']);
      expect(again.code).toBe(0);
      expect((JSON.parse(again.stdout) as ClusterStatus).servers.map((s) => s.pid)).toEqual(pids);

      const bench = await runCli(
        [
          ...['--state', state, 'bench', '--components', '--messages', '2000', '--latency-seconds', '1'],
          ...['--tracing', '--json'],
        ],
        { timeoutMs: 120_000 },
      );
      expect(bench.code, bench.stderr).toBe(0);
      const result = JSON.parse(bench.stdout) as {
        cluster: ClusterStatus;
        rawBaseline: { publish: { messages: number }; lost: number; corrupted: number };
        eventStore: AppendBenchmarkResult;
        commands: CommandBenchmarkResult;
        tracing: TracingBenchmarkResult;
        httpCommands: HttpCommandBenchmarkResult;
      };
      expect(result.cluster.servers.map((s) => s.pid)).toEqual(pids); // it used the running cluster
      expect(result.rawBaseline.publish.messages).toBe(2000);
      expect(result.rawBaseline.lost).toBe(0);
      expect(result.rawBaseline.corrupted).toBe(0);
      // The event store was measured against raw in the same run, then sealed and verified.
      expect(result.eventStore.throughput.append.messages).toBe(2000);
      expect(result.eventStore.throughput.ratio).toBeGreaterThan(0);
      expect(result.eventStore.check).toMatchObject({ rawLost: 0, appendLost: 0, duplicates: 0 });
      expect(result.eventStore.verify).toMatchObject({ findings: 0, seals: 1 });
      expect(result.eventStore.verify!.events).toBe(result.eventStore.check.appendStored);
      // And commands through a domain service, in the same run.
      expect(result.commands.throughput.command.messages).toBe(2000);
      expect(result.commands.check.commandsFailed).toBe(0);
      expect(result.commands.check.renamesStored).toBe(result.commands.check.commandsOk);
      // And the same commands with tracing on and off.
      expect([result.tracing.off.messages, result.tracing.on.messages]).toEqual([2000, 2000]);
      expect(result.tracing.spansPerCommand).toBe(4);
      // And the same commands through the HTTP gateway (autocannon) against over NATS, in the same run.
      const http = result.httpCommands;
      expect([http.nats.messages, http.http.messages]).toEqual([2000, 2000]);
      expect(http.http).toMatchObject({ tool: 'autocannon', failed: 0, non2xx: 0, errors: 0 });
      expect(http.http.latency.count).toBe(2000);
      expect(http.ratio.throughput).toBeCloseTo(http.http.perSecond / http.nats.perSecond, 9);
      expect(http.ratio.p99).toBeCloseTo(http.http.latency.p99Ms / http.nats.latency.p99Ms, 9);
      expect(http.check).toEqual({ commandsOk: 4000, renamesStored: 4000 });

      const down = await runCli(['--state', state, 'cluster', 'down']);
      expect(down.code, down.stderr).toBe(0);
      expect(pids.filter((pid) => isProcessAlive(pid))).toEqual([]);

      const after = await runCli(['--state', state, 'cluster', 'status']);
      expect(after.code).toBe(3);
      expect(after.stderr).toContain('CIM-CLUSTER-NOT-RUNNING');
    },
    6 * CLI_TIMEOUT_MS + 120_000 + 30_000,
  ); // six CLI runs, the bench, the rest
});
