// `cim bench --quick` as CI runs it: the quick suite end to end on real 3-node clusters (one per
// scenario), its results file, and what it must show — the leader kill loses nothing and has a
// measured recovery; every figure has its raw baseline from the same run. Then Ctrl-C in the
// middle of a run still writes what was measured, and the scenario commands for files.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateComparison } from '../../reports/index.js';
import type { BenchResults, LoadPhaseResult } from '../../scenarios/index.js';
import { scaledRun, writeBenchReport } from '../fixtures/gate-runs.js';
import { CLI_TIMEOUT_MS, runCli, spawnCli, type CliResult } from '../support/cli.js';
import { fileTempDir } from '../support/temp-dir.js';
import { expectValidAgainstSchema } from '../support/published-schema.js';

const work = fileTempDir('bench-scenarios');
const state = join(work.path, 'state');
let quick: CliResult;
let results: BenchResults;

const resultsFile = join(work.path, 'quick-results.json');

beforeAll(async () => {
  quick = await runCli(
    ['--state', state, 'bench', '--quick', '--baseline-messages', '2000', '--save-baseline', '--out', resultsFile],
    { timeoutMs: 240_000 },
  );
  results = JSON.parse(readFileSync(resultsFile, 'utf8')) as BenchResults;
}, 300_000);

afterAll(() => work.remove());

const scenario = (name: string) => results.scenarios.find((s) => s.scenario === name)!;

describe('cim bench --quick', () => {
  it('writes results valid against the published JSON Schema (reports/schema/bench-results.schema.json)', () => {
    expectValidAgainstSchema('results', results);
  });

  it('runs every scenario of the quick suite, passes, and ends with its signed report', () => {
    expect(quick.code, quick.stderr).toBe(0);
    expect(results.scenarios.map((s) => s.scenario).sort()).toEqual([
      'quick-leader-kill',
      'quick-replay',
      'quick-steady',
    ]);
    expect(results.scenarios.map((s) => s.status)).toEqual(['passed', 'passed', 'passed']);
    expect(quick.stdout).toMatch(/quick-leader-kill\s+passed/);
    expect(quick.stdout).toMatch(/^report b[a-z2-7]+ \(signed ed25519:/m);
    expect(quick.stdout).toMatch(/html: .*\.html/);
  });

  it('writes the report files once, read-only, and the report verifies', async () => {
    const files = readdirSync(join(state, 'reports'));
    expect(files.map((f) => f.replace(/^b[a-z2-7]+/, '<cid>')).sort()).toEqual([
      '<cid>.cbor',
      '<cid>.html',
      '<cid>.json',
      '<cid>.md',
    ]);
    for (const f of files) expect(statSync(join(state, 'reports', f)).mode & 0o777).toBe(0o444);
    const verified = await runCli(['--state', state, 'report', 'verify', 'latest']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^ok: report b/);
  });

  it('records the run with how it was obtained', () => {
    expect(results).toMatchObject({ v: 1, kind: 'performance-results', interrupted: false });
    expect(results.environment.node).toBe(process.version);
    for (const s of results.scenarios) {
      expect(s.cluster).toMatchObject({ mode: 'embedded', nodes: 3, replicas: 3 });
      expect(s.cluster.servers.every((server) => /^\d+\.\d+\.\d+/.test(server.version ?? ''))).toBe(true);
      expect(s.seed).toBeTypeOf('number');
      expect(s.baseline!.publish.perSecond).toBeGreaterThan(0);
    }
  });

  it('kills the stream leader under load, loses nothing and measures the recovery', () => {
    const kill = scenario('quick-leader-kill');
    expect(kill.checker).toMatchObject({ lost: 0, unexpected: 0, duplicates: 0 });
    expect(kill.checker!.acknowledged).toBeGreaterThan(0);
    const fault = kill.phases.find((p) => p.type === 'fault');
    if (fault?.type !== 'fault') throw new Error('no fault phase');
    expect(fault.fault!.detail).toMatch(/killed n\d \(leader of CIM_PERSON\)/);
    // Recovery: the delivered rate back within 10 % of the offered 200/s for 2 s, said in the headline either way.
    expect(fault.recovered).toBeTypeOf('boolean');
    expect(kill.metrics.recovery_ms === undefined).toBe(!fault.recovered);
    expect(kill.metrics.stall_ms).toBeGreaterThan(0);
    expect(quick.stdout).toMatch(
      /fault kill-leader .*(recovery \d+\.\d s \(back within 10 % of the offered 200\/s for 2 s\)|did not recover within the run).*; longest stall \d+\.\d s/,
    );
    expect(kill.checks.map((c) => c.ok)).toEqual([true, true, true]);
  });

  it('gives each headline figure as a ratio to the raw baseline of the same run, as the test computes it from the raw counts', () => {
    const close = (actual: number, expected: number) =>
      expect(Math.abs(actual / expected - 1), `${actual} vs ${expected}`).toBeLessThan(1e-9);
    for (const s of results.scenarios) {
      // Acknowledgements counted second by second, over the wall clock the load phases spanned.
      const loads = s.phases.filter((p): p is LoadPhaseResult => p.type === 'load');
      const acks = loads.reduce((n, p) => n + p.perSecond.reduce((m, second) => m + second.ok, 0), 0);
      const elapsed =
        (Math.max(...loads.map((p) => p.endedAtMs)) - Math.min(...loads.map((p) => p.startedAtMs))) / 1_000;
      const raw = s.baseline!.publish.messages / s.baseline!.publish.seconds;
      expect(acks).toBeGreaterThan(0);
      expect(s.metrics.ops).toBe(acks);
      close(s.metrics.ratio_to_raw!, acks / elapsed / raw);
    }
    // A replay: events replayed per second over the best raw ordered read of the same stream.
    const halfway = scenario('quick-replay').phases.find((p) => p.name === 'halfway');
    if (halfway?.type !== 'replay' || !halfway.replay) throw new Error('no halfway replay');
    const { replay, bestRaw } = halfway.replay;
    expect(replay.events).toBeGreaterThan(0);
    close(
      scenario('quick-replay').metrics['halfway.replay_ratio_to_raw']!,
      replay.events / replay.seconds / (bestRaw.messages / bestRaw.seconds),
    );
  });
});

describe('Ctrl-C during cim bench', () => {
  it(
    'stops the run, still writes what was measured, and leaves no server behind',
    async () => {
      const interruptedState = join(work.path, 'interrupted');
      const child = spawnCli(['--state', interruptedState, 'bench', 'quick-steady', '--baseline-messages', '1000']);
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      // Interrupt once the load is running: the first status line names its phase (a second into it).
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the load never started:\n${stderr}`)), 60_000);
        child.stderr!.on('data', () => {
          if (/quick-steady \[steady\] \d+ s/.test(stderr)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(130);
      // The half run is in the ledger, but latest passes over it: only latest-any names it.
      const latest = await runCli(['--state', interruptedState, 'report', 'show', 'latest:performance', '--json']);
      expect(latest.code).toBe(2);
      expect(latest.stderr).toContain('CIM-NOT-FOUND');
      const report = await runCli(['--state', interruptedState, 'report', 'show', 'latest-any:performance', '--json']);
      const partial = (JSON.parse(report.stdout) as { results: BenchResults }).results;
      expect(partial.interrupted).toBe(true);
      expect(partial.scenarios[0]!.status).toBe('interrupted');
      expect(partial.scenarios[0]!.checker!.lost).toBe(0);
      // No nats-server of the run's clusters (their configs live in its state dir) is left.
      expect(spawnSync('pgrep', ['-f', interruptedState]).stdout.toString()).toBe('');
    },
    60_000 + 60_000 + CLI_TIMEOUT_MS,
  ); // the load starting, the run stopping, the report
});

describe('a cim bench killed with -9', () => {
  it(
    'leaves servers that the next bench run stops',
    async () => {
      const crashState = join(work.path, 'crashed');
      const tiny = join(work.path, 'tiny.yaml');
      writeFileSync(
        tiny,
        'name: tiny\ncluster: { nodes: 1 }\nphases:\n  - type: load\n    rate: max\n    count: 20\n    mix: [{ command: person.RegisterPerson }]\n',
      );
      const child = spawnCli(['--state', crashState, 'bench', 'quick-steady', '--baseline-messages', '1000']);
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the cluster never came up:\n${stderr}`)), 60_000);
        child.stderr!.on('data', () => {
          if (/is up/.test(stderr)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('exit', resolve));
      const orphans = () =>
        spawnSync('pgrep', ['-f', join(crashState, 'bench')])
          .stdout.toString()
          .trim();
      expect(orphans()).not.toBe('');
      const next = await runCli(['--state', crashState, 'bench', tiny, '--baseline-messages', '500'], {
        timeoutMs: 120_000,
      });
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).toMatch(/stopped 3 nats-server process\(es\) left behind/);
      expect(orphans()).toBe('');
    },
    60_000 + 120_000 + 30_000,
  ); // the cluster coming up, the next bench, the rest
});

describe('the gate on the quick run', () => {
  it('against a distinct copy of itself: one repetition a side cannot be told apart, so it passes only with --allow-missing, saying what was missing, in JUnit and Markdown', async () => {
    // The baseline is another report (written by the report writer into a state dir of its own, and
    // passed as its .cbor file).
    const copy = writeBenchReport(join(work.path, 'copy-state'), scaledRun(results, { seed: 21 }));
    const junit = join(work.path, 'gate.xml');
    const markdown = join(work.path, 'gate.md');
    const args = ['--state', state, 'gate', '--baseline', copy.cbor, '--candidate', 'baseline:default'];
    const refused = await runCli(args, { timeoutMs: 30_000 });
    expect(refused.code, refused.stdout + refused.stderr).toBe(5);
    const gate = await runCli([...args, '--allow-missing', '--junit', junit, '--markdown', markdown], {
      timeoutMs: 30_000,
    });
    expect(gate.code, gate.stdout + gate.stderr).toBe(0);
    expect(gate.stderr).not.toMatch(/same report/);
    expect(readFileSync(junit, 'utf8')).toMatch(
      /<testsuite name="gate" tests="(\d+)" failures="0" errors="0" skipped="\1"/,
    );
    const md = readFileSync(markdown, 'utf8');
    expect(md.split('\n')[0]).toBe('## Performance gate: ✅ passed');
    expect(md).toContain('without enough data (allowed)');
    const json = JSON.parse((await runCli([...args, '--allow-missing', '--json'], { timeoutMs: 30_000 })).stdout) as {
      verdict: string;
      comparisons: GateComparison[];
    };
    expect(json.verdict).toBe('passed');
    const steady = json.comparisons.find(
      (c) => c.scenario === 'quick-steady' && c.metric.endsWith('.delivered_ratio'),
    )!;
    expect(steady).toMatchObject({ verdict: 'insufficient-data', baseline: { samples: 1 }, candidate: { samples: 1 } });
    expect(json.comparisons.every((c) => c.verdict === 'insufficient-data')).toBe(true);
  }, 100_000);
});

describe('cim scenario', () => {
  it('validates a good file and names the line and field of each problem in a broken one (exit 2)', async () => {
    const good = join(work.path, 'good.yaml');
    const bad = join(work.path, 'bad.yaml');
    writeFileSync(
      good,
      'name: mine\nphases:\n  - type: load\n    rate: 50\n    duration: 2s\n    mix:\n      - command: person.RegisterPerson\n',
    );
    writeFileSync(
      bad,
      'name: mine\nphases:\n  - type: load\n    rate: fast\n    duration: 2s\n    mix:\n      - command: person.Teleport\n',
    );
    const ok = await runCli(['scenario', 'validate', good]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok\s+.*good\.yaml \(mine\)/m);
    const broken = await runCli(['scenario', 'validate', bad]);
    expect(broken.code).toBe(2);
    expect(broken.stdout).toMatch(/bad\.yaml:4:\d+ phases\[0\]\.rate:/);
    expect(broken.stdout).toMatch(/bad\.yaml:7:\d+ phases\[0\]\.mix\[0\]\.command: .*person\.Teleport/);
  });

  it('lists the catalog and shows a scenario', async () => {
    const list = await runCli(['scenario', 'list']);
    expect(list.code).toBe(0);
    for (const name of ['steady-mixed', 'leader-kill', 'follower-corruption', 'quick-steady'])
      expect(list.stdout).toContain(name);
    const show = await runCli(['scenario', 'show', 'leader-kill']);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/leader of CIM_PERSON/);
    const missing = await runCli(['scenario', 'show', 'no-such-thing']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/CIM-NOT-FOUND/);
  });
});
