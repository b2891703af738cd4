// The durability table from synthetic results (no cluster): rows per server version and fault
// kind, the counts over seeds, "not measured" where a run has no replica comparison, and the same
// table in the terminal, Markdown and HTML renderings. Also the seed repetitions of `cim bench --seeds`.
import { describe, expect, it } from 'vitest';
import {
  durabilityRows,
  durabilityTable,
  readPerformanceResults,
  renderHtml,
  renderMarkdown,
} from '../../reports/index.js';
import {
  benchRuns,
  derivedSeed,
  findScenarios,
  parseScenario,
  renderBenchResults,
  type BenchResults,
  type FaultPhaseResult,
  type LoadPhaseResult,
  type Scenario,
  type ScenarioResult,
} from '../../scenarios/index.js';
import { performanceReport } from '../fixtures/performance-report.js';

type Kind = 'flip-bits' | 'truncate' | 'kill-default' | 'kill-always' | 'kill-one';

interface Run {
  kind: Kind;
  server: string;
  n: number;
  lost?: number;
  divergences?: number | 'metric';
  stayedDown?: boolean;
  /** Only the metric says so (as the verdict model counts it), not the fault record. */
  stayedDownMetric?: boolean;
  /** Findings of the verification after the run (undefined: not verified). */
  verifyFindings?: number;
  failed?: number;
  unknown?: number;
  status?: ScenarioResult['status'];
}

const NAMES: Record<Kind, string> = {
  'flip-bits': 'durability-bit-flips',
  truncate: 'durability-truncation',
  'kill-default': 'durability-kill-all',
  'kill-always': 'durability-kill-all-sync-always',
  'kill-one': 'leader-kill',
};

/** A result as the runner writes it, with only the fields the table reads filled in meaningfully. */
function result(run: Run): ScenarioResult {
  const load: LoadPhaseResult = {
    type: 'load',
    name: 'load',
    startedAtMs: 0,
    endedAtMs: 12_000,
    driver: 'nats',
    rate: 300,
    concurrency: 64,
    ok: 3_000,
    failed: run.failed ?? 0,
    unknown: run.unknown ?? 0,
    opsPerSec: 250,
    ratioToRaw: 0.02,
    latency: { count: 3_000, meanMs: 5, p50Ms: 4, p90Ms: 8, p99Ms: 20, p999Ms: 40, maxMs: 50, histogram: '' },
    perSecond: [],
    errorsByCode: {},
  };
  const corrupt = run.kind === 'flip-bits' || run.kind === 'truncate';
  const fault: FaultPhaseResult = {
    type: 'fault',
    name: 'fault',
    startedAtMs: 3_000,
    endedAtMs: 5_000,
    fault: {
      phase: 'fault',
      action: corrupt ? 'corrupt' : 'kill',
      nodes: run.kind === 'kill-one' ? ['n2'] : corrupt ? ['n3'] : ['n1', 'n2', 'n3'],
      firedAtMs: 3_000,
      detail: 'synthetic',
      ...(run.stayedDown ? { stayedDown: true } : {}),
      ...(corrupt
        ? { corruption: { file: '1.blk', mode: run.kind === 'truncate' ? 'truncate' : 'flip-bits', bytes: 64 } }
        : {}),
    },
  };
  const metrics: Record<string, number> = { ops_per_sec: 250 };
  if (run.lost !== undefined) metrics.lost = run.lost;
  if (run.divergences === 'metric') metrics.replica_divergences = 2;
  if (run.stayedDownMetric) metrics.nodes_stayed_down = 1;
  if (run.verifyFindings !== undefined) metrics.verify_findings = run.verifyFindings;
  const name = `${NAMES[run.kind]}#${run.n}@${run.server}`;
  return {
    scenario: name,
    description: 'synthetic',
    seed: derivedSeed(101, run.n),
    status: run.status ?? 'passed',
    server: run.server,
    startedAt: '2026-12-02T04:00:00Z',
    seconds: 20,
    cluster: {
      mode: 'embedded',
      nodes: 3,
      replicas: 3,
      servers: ['n1', 'n2', 'n3'].map((n) => ({ name: n, version: run.server })),
      syncIntervalInEffect: run.kind === 'kill-always' ? 'always' : 'server default',
      ...(run.kind === 'kill-always' ? { syncInterval: 'always' } : {}),
    },
    phases: [load, fault],
    ...(run.lost !== undefined
      ? {
          checker: {
            attempted: 3_000,
            acknowledged: 3_000,
            failed: 0,
            unknown: 0,
            readItems: 3_000 - run.lost,
            lost: run.lost,
            unexpected: 0,
            duplicates: 0,
            samples: { lost: [], unexpected: [], duplicates: [] },
            ok: run.lost === 0,
            streams: [],
          } as unknown as ScenarioResult['checker'],
        }
      : {}),
    ...(typeof run.divergences === 'number'
      ? {
          replicas: {
            streams: [],
            unreadable: [],
            divergences: Array.from({ length: run.divergences }, () => ({
              stream: 'CIM_PERSON',
              replica: 'n3',
              reference: 'n1',
              kind: 'missing' as const,
              sequences: [{ from: 57, to: 60 }],
            })),
          },
        }
      : {}),
    metrics,
    checks: [],
    serverStats: [],
  };
}

function results(runs: Run[], servers = ['2.12.1', '2.15.3']): BenchResults {
  return {
    v: 1,
    kind: 'performance-results',
    runId: '20261202T040000Z-abcd',
    createdAt: '2026-12-02T04:00:00Z',
    environment: {
      node: 'v20.20.2',
      platform: 'linux-x64',
      cpu: { model: 'AMD EPYC', cores: 2 },
      memoryBytes: 2 ** 34,
      appliance: 'cim-appliance@0.1.0',
    },
    scenarios: runs.map(result),
    interrupted: false,
    servers,
  };
}

const RUNS: Run[] = [
  // 2.15.3 first in the results, but the matrix names 2.12.1 first: rows follow the matrix.
  { kind: 'kill-always', server: '2.15.3', n: 1, lost: 0, divergences: 0, stayedDownMetric: true },
  { kind: 'flip-bits', server: '2.15.3', n: 1, lost: 0, divergences: 0 },
  { kind: 'flip-bits', server: '2.15.3', n: 2, lost: 0, divergences: 1, stayedDown: true },
  { kind: 'flip-bits', server: '2.12.1', n: 1, lost: 63, divergences: 2, failed: 3, unknown: 1, verifyFindings: 124 },
  { kind: 'flip-bits', server: '2.12.1', n: 2, lost: 0, divergences: 0, verifyFindings: 0 },
  { kind: 'flip-bits', server: '2.12.1', n: 3, lost: 7, divergences: 1, verifyFindings: 2 },
  { kind: 'truncate', server: '2.12.1', n: 1, lost: 0, verifyFindings: 0 },
  { kind: 'truncate', server: '2.12.1', n: 2, status: 'error' },
  { kind: 'kill-default', server: '2.12.1', n: 1, lost: 0, divergences: 'metric', unknown: 64 },
  { kind: 'kill-one', server: '2.12.1', n: 1, lost: 0 },
];

describe('durabilityRows', () => {
  const view = readPerformanceResults(results(RUNS))!;
  const rows = durabilityRows(view);

  it('gives one row per server version and fault kind, in the matrix order, a scenario killing one node left out', () => {
    expect(rows.map((r) => [r.server, r.kind, r.scenario, r.runs])).toEqual([
      ['2.12.1', 'bit-flips', 'durability-bit-flips', 3],
      ['2.12.1', 'truncation', 'durability-truncation', 2],
      ['2.12.1', 'kill-all-default', 'durability-kill-all', 1],
      ['2.15.3', 'bit-flips', 'durability-bit-flips', 2],
      ['2.15.3', 'kill-all-always', 'durability-kill-all-sync-always', 1],
    ]);
  });

  it('counts runs that lost acknowledged writes, the sum and the largest loss, divergence, nodes down and client errors', () => {
    expect(rows[0]).toMatchObject({
      lostRuns: 2,
      lostSum: 70,
      lostMax: 63,
      lostMeasured: 3,
      divergenceRuns: 2,
      divergenceMeasured: 3,
      stayedDownRuns: 0,
      clientErrorRuns: 1,
      clientErrors: 4,
      broken: 0,
    });
    expect(rows[3]).toMatchObject({
      lostRuns: 0,
      lostSum: 0,
      divergenceRuns: 1,
      stayedDownRuns: 1,
      clientErrorRuns: 0,
    });
  });

  it('reads divergence from the replica comparison, else from the metric, and knows when neither was measured', () => {
    expect(rows[2]).toMatchObject({ divergenceMeasured: 1, divergenceRuns: 1, clientErrorRuns: 1, clientErrors: 64 });
    expect(rows[4]).toMatchObject({ stayedDownRuns: 1 });
    expect(rows[1]).toMatchObject({ divergenceMeasured: 0, lostMeasured: 1, broken: 1 });
  });

  it('counts a run that broke before its fault fired (no fault recorded) under its scenario, as broke', () => {
    const bench = results(RUNS);
    const early = structuredClone(bench.scenarios.find((x) => x.scenario === 'durability-truncation#1@2.12.1')!);
    Object.assign(early, {
      scenario: 'durability-truncation#3@2.12.1',
      status: 'error',
      reason: 'CIM-UNAVAILABLE: NATS: 503',
    });
    early.phases = early.phases.filter((p) => p.type !== 'fault');
    delete early.checker;
    const truncation = durabilityRows(
      readPerformanceResults({ ...bench, scenarios: [...bench.scenarios, early] })!,
    ).find((r) => r.server === '2.12.1' && r.kind === 'truncation');
    expect(truncation).toMatchObject({ runs: 3, broken: 2 });
  });

  it('renders cells that say "not measured", "x of y" and which runs broke', () => {
    const table = durabilityTable(view)!;
    expect(table.rows[0]).toEqual(['2.12.1', 'bit flips (64)', '3', '2', '70', '63', '2', '2', '0', 'yes: 1 (4 ops)']);
    expect(table.rows[1]).toEqual([
      '2.12.1',
      'truncation (64 B)',
      '2 (1 broke)',
      '0 of 1',
      '0',
      '0',
      'not measured',
      '0 of 1',
      '0',
      'none',
    ]);
    expect(table.rows[2]![1]).toBe('kill all, sync_interval server default');
    expect(table.rows[4]![1]).toBe('kill all, sync_interval always');
    expect(table.notes.join('\n')).toMatch(/process crash.*page cache survives.*Power loss is not simulated/s);
    expect(table.notes.join('\n')).toMatch(/Not measured: those results carry no replica comparison/);
    expect(table.rows[3]![7]).toBe('not measured');
    expect(table.notes.join('\n')).toMatch(/Verification not measured: those results carry no verification/);
  });

  it('is absent for a run with no corruption and no kill of every node; says nothing of power loss without a kill-all row', () => {
    expect(durabilityTable(readPerformanceResults(results([RUNS.at(-1)!]))!)).toBeUndefined();
    const corruptOnly = durabilityTable(readPerformanceResults(results(RUNS.slice(1, 3)))!)!;
    expect(corruptOnly.notes.join('\n')).not.toMatch(/power loss/i);
    expect(corruptOnly.notes.join('\n')).not.toMatch(/Not measured/);
  });

  it('groups a run without a version matrix by the version its cluster reported', () => {
    const single = results(RUNS.slice(1, 3));
    delete single.servers;
    for (const s of single.scenarios) {
      delete s.server;
      s.scenario = s.scenario.replace(/@.*$/, '');
    }
    expect(durabilityRows(readPerformanceResults(single)!).map((r) => [r.server, r.scenario, r.runs])).toEqual([
      ['2.15.3', 'durability-bit-flips', 2],
    ]);
  });
});

describe('the durability table in every rendering', () => {
  const bench = results(RUNS);
  const expected = durabilityTable(readPerformanceResults(bench)!)!;

  it('is in the terminal summary', () => {
    const text = renderBenchResults(bench);
    expect(text).toContain('durability per server version');
    for (const row of expected.rows) expect(text).toMatch(new RegExp(row.map(escape).join('\\s+')));
    expect(text).toContain('Power loss is not simulated');
  });

  it('is in the Markdown and the HTML renderings of the report', async () => {
    const named = await performanceReport({ results: bench });
    const md = renderMarkdown(named);
    expect(md).toContain('## Durability per server version');
    expect(md).toContain('| 2.12.1 | bit flips (64) | 3 | 2 | 70 | 63 | 2 | 2 | 0 | yes: 1 (4 ops) |');
    expect(md).toContain('Power loss is not simulated');
    const html = renderHtml(named);
    expect(html).toContain('<h3 id="durability">Durability per server version</h3>');
    expect(html).toContain(
      '<th scope="row">2.12.1</th><td data-label="fault">bit flips (64)</td><td class="num" data-label="runs">3</td><td class="num" data-label="runs with acked writes lost">2</td><td class="num" data-label="lost (sum)">70</td>',
    );
    expect(html).toContain('Power loss is not simulated');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('seed repetitions (cim bench --seeds)', () => {
  const scenario = (name: string, seeds?: number): Scenario => ({
    name,
    description: '',
    seed: 7,
    ...(seeds !== undefined ? { seeds } : {}),
    suites: [],
    cluster: { nodes: 3, replicas: 3 },
    phases: [],
  });

  it('runs a scenario once under its own name and seed unless it or --seeds asks for more', () => {
    expect(benchRuns([scenario('a')], undefined).map((r) => [r.scenario.name, r.scenario.seed])).toEqual([['a', 7]]);
    expect(benchRuns([scenario('a', 3)], undefined, 1).map((r) => r.scenario.name)).toEqual(['a']);
  });

  it('repeats the whole run with --repeat: same names and seeds, interleaved, each saying its repetition', () => {
    const runs = benchRuns([scenario('a'), scenario('b')], undefined, undefined, 3);
    expect(runs.map((r) => [r.scenario.name, r.scenario.seed, r.repetition])).toEqual([
      ['a', 7, 1],
      ['b', 7, 1],
      ['a', 7, 2],
      ['b', 7, 2],
      ['a', 7, 3],
      ['b', 7, 3],
    ]);
    expect(benchRuns([scenario('a')], undefined, undefined, 1)[0]).not.toHaveProperty('repetition');
  });

  it('names the n-th run <scenario>#n (then @server), the first with the scenario seed, all seeds distinct', () => {
    const runs = benchRuns([scenario('a', 3), scenario('b')], ['2.12.1', '2.15.3']);
    expect(runs.map((r) => r.scenario.name)).toEqual([
      'a#1@2.12.1',
      'a#2@2.12.1',
      'a#3@2.12.1',
      'b@2.12.1',
      'a#1@2.15.3',
      'a#2@2.15.3',
      'a#3@2.15.3',
      'b@2.15.3',
    ]);
    expect(runs.map((r) => r.server)).toEqual([...Array(4).fill('2.12.1'), ...Array(4).fill('2.15.3')]);
    // The same seeds on every server: the versions are compared on the same runs.
    expect(runs.slice(0, 3).map((r) => r.scenario.seed)).toEqual(runs.slice(4, 7).map((r) => r.scenario.seed));
    expect(runs[0]!.scenario.seed).toBe(7);
    const many = benchRuns([scenario('a')], undefined, 1_000).map((r) => r.scenario.seed);
    expect(new Set(many).size).toBe(1_000);
    expect(many.every((s) => Number.isSafeInteger(s) && s >= 0)).toBe(true);
  });

  it('reads `seeds` from a scenario file and refuses a count below 1', () => {
    const text = (seeds: string) =>
      `name: x\nseeds: ${seeds}\nphases:\n  - { type: load, rate: 10, duration: 1s, mix: [ { command: person.RegisterPerson, weight: 1 } ] }\n`;
    expect(parseScenario(text('4')).seeds).toBe(4);
    expect(() => parseScenario(text('0'))).toThrow(/seeds/);
  });

  it('the durability suite: bit flips, truncation and kill-all with both sync_intervals, 10 seeds each', () => {
    const suite = findScenarios(['durability']);
    expect(suite.map((s) => [s.name, s.seeds]).sort()).toEqual([
      ['durability-bit-flips', 10],
      ['durability-kill-all', 10],
      ['durability-kill-all-sync-always', 10],
      ['durability-truncation', 10],
    ]);
    expect(suite.find((s) => s.name === 'durability-kill-all-sync-always')!.cluster.syncInterval).toBe('always');
    expect(suite.find((s) => s.name === 'durability-kill-all')!.cluster.syncInterval).toBeUndefined();
  });
});
