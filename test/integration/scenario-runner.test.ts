// The scenario runner on a real 3-node cluster (one per scenario, as `cim bench` does): a steady
// mixed load with raw publishes and replays passes the checker. That the checker fails on a real
// loss is test/integration/checker-real-loss.test.ts; the faults are test/integration/scenario-faults.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../appliance/index.js';
import { runScenario } from '../../scenarios/runner.js';
import type { ScenarioResult } from '../../scenarios/results.js';
import type { Assertion, MixEntry, Scenario } from '../../scenarios/types.js';
import { fileTempDir } from '../support/temp-dir.js';

const state = fileTempDir('scenario-runner');
const config = loadConfig({ env: {}, flags: { stateDir: state.path } });
const run = (scenario: Scenario) =>
  runScenario(scenario, { config, runDir: `${state.path}/run`, baselineMessages: 2_000 });

const mix: MixEntry[] = [
  { command: 'person.RegisterPerson', weight: 2 },
  { command: 'person.RenamePerson', weight: 3 },
  { command: 'organization.CreateOrganization', weight: 1 },
  { command: 'organization.AddMember', weight: 2 },
  { command: 'workflow.StartWorkflow', weight: 1 },
  { command: 'workflow.AdvanceWorkflow', weight: 1 },
];
const expect0 = (...metrics: Assertion['metric'][]): Assertion[] =>
  metrics.map((metric) => ({ text: `${metric} == 0`, metric, op: '==', value: 0 }));
const cluster = { nodes: 3, replicas: 3 };

let steady: ScenarioResult;

beforeAll(async () => {
  steady = await run({
    name: 'steady',
    description: 'steady mixed load, raw publishes, a rebuild and a time travel',
    seed: 7,
    suites: [],
    cluster,
    phases: [
      { type: 'load', name: 'load', driver: 'nats', rate: 150, concurrency: 32, duration: 3_000, mix, aggregates: 200 },
      {
        type: 'load',
        name: 'raw',
        driver: 'raw',
        rate: 'max',
        concurrency: 32,
        count: 500,
        mix: [],
        aggregates: 10,
        payloadBytes: 128,
      },
      { type: 'replay', name: 'rebuild', projection: 'person_directory' },
      { type: 'replay', name: 'half', projection: 'person_directory', to: { fraction: 0.5 } },
      {
        type: 'check',
        name: 'check',
        expect: [
          ...expect0('lost', 'unexpected', 'duplicates', 'verify_findings'),
          { text: 'ops > 0', metric: 'ops', op: '>', value: 0 },
        ],
      },
    ],
  });
}, 240_000);

describe('a steady scenario', () => {
  it('passes the checker: everything acknowledged is read back once, nothing else, and the streams verify', () => {
    expect(steady.status, steady.reason).toBe('passed');
    expect(steady.checker).toMatchObject({ lost: 0, unexpected: 0, duplicates: 0, ok: true });
    // Every acknowledged command's events and every raw message are in the read-back.
    const load = steady.phases.find((p) => p.name === 'load')!;
    const raw = steady.phases.find((p) => p.name === 'raw')!;
    expect(load.type === 'load' && load.ok).toBeGreaterThan(0);
    expect(raw.type === 'load' && raw.ok).toBe(500);
    expect(steady.checker!.acknowledged).toBe(steady.metrics.ops);
    expect(steady.verification!.findings).toBe(0);
    expect(steady.verification!.domains.map((d) => d.domain)).toEqual(['organization', 'person', 'workflow']);
    expect(steady.checks.every((c) => c.ok)).toBe(true);
  });

  it('measures against the raw baseline of the same run, per second, with server stats', () => {
    expect(steady.baseline!.publish.messages).toBe(2_000);
    const load = steady.phases.find((p) => p.name === 'load')!;
    const raw = steady.phases.find((p) => p.name === 'raw')!;
    if (load.type !== 'load' || raw.type !== 'load') throw new Error('not load phases');
    // The headline figures from the raw counts: every acknowledgement of both load phases over the
    // span they covered, against the baseline's acknowledged messages over its own seconds.
    const span = (Math.max(load.endedAtMs, raw.endedAtMs) - Math.min(load.startedAtMs, raw.startedAtMs)) / 1_000;
    const opsPerSec = (load.ok + raw.ok) / span;
    const rawPerSec = steady.baseline!.publish.messages / steady.baseline!.publish.seconds;
    expect(steady.metrics.ops_per_sec).toBeCloseTo(opsPerSec, 6);
    expect(steady.metrics.ratio_to_raw).toBeCloseTo(opsPerSec / rawPerSec, 6);
    expect(load.perSecond.reduce((n, s) => n + s.ok, 0)).toBe(load.ok);
    expect(load.latency.count).toBe(load.ok);
    expect(steady.cluster.servers.map((s) => s.version)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\d+\.\d+\.\d+/)]),
    );
    expect(new Set(steady.serverStats.map((s) => s.node))).toEqual(new Set(['n1', 'n2', 'n3']));
  });

  it('rebuilds and travels in time, with the raw read of the same span as the baseline', () => {
    const [rebuild, half] = ['rebuild', 'half'].map((name) => steady.phases.find((p) => p.name === name)!);
    if (rebuild?.type !== 'replay' || half?.type !== 'replay') throw new Error('not replay phases');
    expect(rebuild.replay!.replay.events).toBe(rebuild.replay!.bestRaw.messages);
    expect(half.replay!.replay.lastSeq).toBe(Math.round(rebuild.replay!.replay.lastSeq / 2));
    expect(steady.metrics['half.replay_ratio_to_raw']).toBeCloseTo(half.replay!.replayToRaw);
  });
});
