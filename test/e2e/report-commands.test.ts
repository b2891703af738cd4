// `cim report list | render | diff` end to end: the real CLI on a real ledger in a temp state dir,
// holding two performance reports and an audit report written by the product's report writer.
// list shows them newest first (CID, kind, time, title) and filters; render writes each format
// once and refuses to replace a file; diff shows the figures that changed, with changes the test
// computes from the runs' raw counts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigner } from '../../appliance/index.js';
import { renderFiles, writeReport } from '../../reports/index.js';
import type { BenchResults, LoadPhaseResult } from '../../scenarios/index.js';
import { modelRun, STEADY_RATE, writeBenchReport } from '../fixtures/gate-runs.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';
import { wellFormedXml } from '../support/xml-well-formed.js';

let work: ReturnType<typeof tempDir>;
let state: string;
let earlierRun: BenchResults;
let laterRun: BenchResults;
let earlier: string;
let later: string;
let audit: string;

beforeAll(() => {
  work = tempDir('report-commands');
  state = join(work.path, 'state');
  earlierRun = modelRun({ seed: 11, repetitions: 1 });
  // 10 % fewer acknowledged and a slower p99 on quick-steady; saturate drawn again from the same model.
  laterRun = modelRun({ seed: 12, delivered: 0.9, p99Ms: 90, repetitions: 1 });
  earlier = writeBenchReport(state, earlierRun).cid;
  later = writeBenchReport(state, laterRun).cid;
  const { environment } = earlierRun;
  audit = writeReport(
    {
      kind: 'audit',
      title: 'audit of CIM_PERSON',
      environment: { ...environment, natsServers: [] },
      config: {},
      results: { streams: ['CIM_PERSON'], events: 3 },
      findings: [],
    },
    { stateDir: state, signer: loadOrCreateSigner(state), render: renderFiles },
  ).named.cid.toString();
});

afterAll(() => work?.remove());

/** A `cim report` call reads a ledger and renders: seconds even on a busy machine. Tests allow this per call. */
const CLI_MS = 30_000;
const report = (...args: string[]) => runCli(['--state', state, 'report', ...args], { timeoutMs: CLI_MS });

describe('cim report list', () => {
  it(
    'shows every report newest first: its CID, kind, time and title',
    async () => {
      const list = await report('list');
      expect(list.code, list.stderr).toBe(0);
      const lines = list.stdout.trim().split('\n');
      expect(lines).toHaveLength(3);
      const parsed = lines.map((line) => /^(b[a-z2-7]+) {2}(\S+) +(\S+) {2}(.+)$/.exec(line)?.slice(1));
      expect(parsed.map((p) => [p?.[0], p?.[1]])).toEqual([
        [audit, 'audit'],
        [later, 'performance'],
        [earlier, 'performance'],
      ]);
      expect(parsed.map((p) => p?.[3])).toEqual([
        'audit of CIM_PERSON',
        'cim bench: 2 scenario(s) — quick-steady, saturate',
        'cim bench: 2 scenario(s) — quick-steady, saturate',
      ]);
      for (const p of parsed) expect(Number.isNaN(Date.parse(p![2]!))).toBe(false);
    },
    CLI_MS + 10_000,
  );

  it(
    'filters by kind, limits, and prints JSON rows chained by prev',
    async () => {
      const performance = await report('list', '--kind', 'performance', '--json');
      expect(performance.code, performance.stderr).toBe(0);
      const rows = JSON.parse(performance.stdout) as {
        cid: string;
        kind: string;
        prev: string | null;
        title: string;
      }[];
      expect(rows.map((r) => [r.cid, r.kind, r.prev])).toEqual([
        [later, 'performance', earlier],
        [earlier, 'performance', null],
      ]);
      const newest = await report('list', '--limit', '1');
      expect(newest.stdout.trim().split('\n')).toHaveLength(1);
      expect(newest.stdout).toMatch(new RegExp(`^${audit} {2}audit`));
      const none = await report('list', '--kind', 'compliance');
      expect(none.code, none.stderr).toBe(0);
      expect(none.stdout).toMatch(/^no compliance reports in .*ledger\.sqlite\n$/);
    },
    3 * CLI_MS + 10_000,
  );

  it(
    'given an empty state dir, says there are no reports yet',
    async () => {
      const empty = await runCli(['--state', join(work.path, 'empty'), 'report', 'list'], { timeoutMs: CLI_MS });
      expect(empty.code, empty.stderr).toBe(0);
      expect(empty.stdout).toMatch(/^no reports yet in .*ledger\.sqlite/);
    },
    CLI_MS + 10_000,
  );
});

describe('cim report render', () => {
  it(
    'writes each format to --out, reproducing the files the writer stored, and replaces a file only with --force',
    async () => {
      // A unique prefix of the CID is enough.
      const prefix = earlier.slice(0, 16);
      for (const format of ['json', 'md', 'html', 'junit'] as const) {
        const out = join(work.path, `earlier.${format}`);
        const rendered = await report('render', prefix, '--format', format, '--out', out);
        expect(rendered.code, rendered.stderr).toBe(0);
        expect(rendered.stdout.trim()).toBe(out);
        const text = readFileSync(out, 'utf8');
        const stored = join(state, 'reports', `${earlier}.${format}`);
        if (format !== 'junit') expect(text).toBe(readFileSync(stored, 'utf8'));
        else expect(existsSync(stored)).toBe(false);
        if (format === 'json')
          expect(JSON.parse(text)).toMatchObject({
            cid: earlier,
            kind: 'performance',
            title: 'cim bench: 2 scenario(s) — quick-steady, saturate',
          });
        if (format === 'md') expect(text).toMatch(/^# cim bench: 2 scenario\(s\) — quick-steady, saturate\n/);
        if (format === 'html') expect(text).toMatch(/^<!doctype html>/i);
        if (format === 'junit') expect(wellFormedXml(text).root).toBe('testsuites');

        const again = await report('render', prefix, '--format', format, '--out', out);
        expect(again.code).toBe(2);
        expect(again.stderr).toContain(`cim: error CIM-INVALID-INPUT: --out ${out} exists`);
        expect(again.stderr).toContain('cim: hint: Pass --force to replace it');
        expect(readFileSync(out, 'utf8')).toBe(text);
      }
      const forced = await report(
        'render',
        prefix,
        '--format',
        'md',
        '--out',
        join(work.path, 'earlier.md'),
        '--force',
      );
      expect(forced.code, forced.stderr).toBe(0);
    },
    9 * CLI_MS + 10_000,
  );

  it(
    'renders Bencher Metric Format: a benchmark per scenario and phase, with the report’s own figures',
    async () => {
      const rendered = await report('render', later, '--format', 'bmf');
      expect(rendered.code, rendered.stderr).toBe(0);
      const bmf = JSON.parse(rendered.stdout) as Record<string, Record<string, { value: number }>>;
      const steady = laterRun.scenarios.find((s) => s.scenario === 'quick-steady')!;
      const phase = steady.phases.find((p): p is LoadPhaseResult => p.type === 'load')!;
      expect(bmf[`quick-steady/${phase.name}`]).toMatchObject({
        ops_per_sec: { value: phase.opsPerSec },
        delivered_ratio: { value: phase.opsPerSec / STEADY_RATE },
        p99_ms: { value: phase.latency.p99Ms },
      });
      const saturate = laterRun.scenarios.find((s) => s.scenario === 'saturate')!;
      const max = saturate.phases[0] as LoadPhaseResult;
      expect(bmf['saturate/load']!.throughput_ratio!.value).toBeCloseTo(
        max.opsPerSec / saturate.baseline!.publish.perSecond,
        12,
      );
      expect(bmf['quick-steady']).toEqual({ lost: { value: 0 }, unexpected: { value: 0 }, duplicates: { value: 0 } });
    },
    CLI_MS + 10_000,
  );

  it(
    'prints the rendering without --out (html by default)',
    async () => {
      const printed = await report('render', later);
      expect(printed.code, printed.stderr).toBe(0);
      expect(printed.stdout).toBe(readFileSync(join(state, 'reports', `${later}.html`), 'utf8'));
    },
    CLI_MS + 10_000,
  );
});

interface DiffRow {
  scenario: string;
  metric: string;
  a: number | null;
  b: number | null;
  change: number | null;
}

/** Acknowledged operations per second of a scenario's load phase, from its per-second counts and its wall clock. */
function opsPerSecond(run: BenchResults, scenario: string): number {
  const load = run.scenarios
    .find((s) => s.scenario === scenario)!
    .phases.find((p): p is LoadPhaseResult => p.type === 'load')!;
  return load.perSecond.reduce((n, s) => n + s.ok, 0) / ((load.endedAtMs - load.startedAtMs) / 1_000);
}

describe('cim report diff', () => {
  it(
    'shows the headline figures of both reports side by side, with the change of each',
    async () => {
      const diff = await report('diff', earlier, later, '--json');
      expect(diff.code, diff.stderr).toBe(0);
      const { a, b, rows } = JSON.parse(diff.stdout) as { a: string; b: string; rows: DiffRow[] };
      expect([a, b]).toEqual([earlier, later]);
      expect(new Set(rows.map((r) => r.scenario))).toEqual(new Set(['quick-steady', 'saturate']));
      const row = (scenario: string, metric: string) =>
        rows.find((r) => r.scenario === scenario && r.metric === metric)!;
      for (const scenario of ['quick-steady', 'saturate']) {
        const ops = row(scenario, 'ops_per_sec');
        const [x, y] = [opsPerSecond(earlierRun, scenario), opsPerSecond(laterRun, scenario)];
        expect(ops.a).toBeCloseTo(x, 9);
        expect(ops.b).toBeCloseTo(y, 9);
        expect(ops.change).toBeCloseTo((y - x) / x, 9);
        // Nothing lost either time: no change to give (a is 0).
        expect(row(scenario, 'lost')).toEqual({ scenario, metric: 'lost', a: 0, b: 0, change: null });
      }
      expect(row('quick-steady', 'ops_per_sec').change).toBeCloseTo(-0.1, 1);
      expect(row('quick-steady', 'p99_ms')).toMatchObject({ a: 60, b: 90, change: 0.5 });
      // Phase figures (load.ops_per_sec) stay out: the scenario-wide ones say it.
      expect(rows.some((r) => r.metric.includes('.'))).toBe(false);

      const text = await report('diff', earlier.slice(0, 12), later.slice(0, 12));
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(`a ${earlier} (`);
      expect(text.stdout).toContain(`b ${later} (`);
      const percent = (change: number) => `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)} %`;
      expect(text.stdout).toMatch(
        new RegExp(
          `^quick-steady +ops_per_sec +\\d+ +\\d+ +${percent(row('quick-steady', 'ops_per_sec').change!).replace('+', '\\+')}$`,
          'm',
        ),
      );
      expect(text.stdout).toMatch(/^quick-steady +p99_ms +60\.0 +90\.0 +\+50\.0 %$/m);
    },
    2 * CLI_MS + 10_000,
  );
});
