// `cim bench … --seeds 2` on the durability scenarios, as a user runs the corruption reproduction:
// real clusters of the default pinned server, a follower's newest block file damaged and every node
// killed under load, each seed on its own cluster. The durability table is printed and in the
// Markdown report, and its counts are the ones the per-scenario results give. The catalog's
// scenarios are shortened (load 5 s, the fault at 1.5 s) so the run takes about a minute.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_VERSION } from '../../appliance/index.js';
import { runCli, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';
import { expectValidAgainstSchema } from '../support/published-schema.js';

const CATALOG = new URL('../../scenarios/catalog/', import.meta.url);
const SCENARIOS = ['durability-bit-flips', 'durability-kill-all'];

interface Result {
  scenario: string;
  seed: number;
  status: string;
  metrics: Record<string, number>;
  checker?: { lost: number };
  replicas?: { divergences: unknown[] };
  cluster: { servers: { version?: string }[] };
  phases: {
    type: string;
    failed?: number;
    unknown?: number;
    fault?: { action: string; nodes: string[]; stayedDown?: boolean; corruption?: { mode: string } };
  }[];
}

let work: ReturnType<typeof tempDir>;
let bench: CliResult;
let results: { scenarios: Result[] };

beforeAll(async () => {
  work = tempDir('bench-durability');
  const files = SCENARIOS.map((name) => {
    const text = readFileSync(new URL(`${name}.yaml`, CATALOG), 'utf8')
      .replace(/duration: \d+s/, 'duration: 5s')
      .replace(/at: \d+s/, 'at: 1500ms')
      .replace(/for: \d+s/, 'for: 1s');
    const file = join(work.path, `${name}.yaml`);
    writeFileSync(file, text);
    return file;
  });
  bench = await runCli(
    [
      '--state',
      join(work.path, 'state'),
      'bench',
      ...files,
      '--seeds',
      '2',
      '--baseline-messages',
      '500',
      '--out',
      join(work.path, 'results.json'),
    ],
    { timeoutMs: 170_000 },
  );
  results = JSON.parse(readFileSync(join(work.path, 'results.json'), 'utf8'));
}, 180_000);

afterAll(() => work?.remove());

/** The table's cells for one scenario, counted here from its results, independently of the renderer. */
function expectedCells(name: string, label: string): string[] {
  const runs = results.scenarios.filter((s) => s.scenario.replace(/#\d+$/, '') === name);
  const lost = runs.map((s) => s.metrics.lost ?? s.checker?.lost);
  const measured = lost.filter((n): n is number => n !== undefined);
  const divergences = runs
    .map((s) => (s.replicas ? s.replicas.divergences.length : s.metrics.replica_divergences))
    .filter((n): n is number => n !== undefined);
  const verifyFindings = runs.map((s) => s.metrics.verify_findings).filter((n): n is number => n !== undefined);
  const errors = runs.map((s) =>
    s.phases.reduce((n, p) => n + (p.type === 'load' ? (p.failed ?? 0) + (p.unknown ?? 0) : 0), 0),
  );
  const broke = runs.filter((s) => s.status === 'error' || s.status === 'interrupted').length;
  const of = (n: number, m: number) => (m === 0 ? 'not measured' : m < runs.length ? `${n} of ${m}` : `${n}`);
  const withErrors = errors.filter((n) => n > 0).length;
  return [
    DEFAULT_SERVER_VERSION,
    label,
    broke > 0 ? `${runs.length} (${broke} broke)` : `${runs.length}`,
    of(measured.filter((n) => n > 0).length, measured.length),
    measured.length > 0 ? String(measured.reduce((a, b) => a + b, 0)) : 'not measured',
    measured.length > 0 ? String(Math.max(...measured)) : 'not measured',
    of(divergences.filter((n) => n > 0).length, divergences.length),
    of(verifyFindings.filter((n) => n > 0).length, verifyFindings.length),
    String(runs.filter((s) => s.phases.some((p) => p.fault?.stayedDown === true)).length),
    withErrors > 0 ? `yes: ${withErrors} (${errors.reduce((a, b) => a + b, 0).toLocaleString('en-US')} ops)` : 'none',
  ];
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the corruption reproduction through the CLI', () => {
  it('writes results valid against the published JSON Schema (reports/schema/bench-results.schema.json)', () => {
    expectValidAgainstSchema('results', results);
  });

  it('runs each scenario twice, with two seeds, each on a fresh cluster of the pinned server', () => {
    expect(bench.code, bench.stderr).not.toBe(-1);
    expect(results.scenarios.map((s) => s.scenario)).toEqual([
      'durability-bit-flips#1',
      'durability-bit-flips#2',
      'durability-kill-all#1',
      'durability-kill-all#2',
    ]);
    expect(results.scenarios[0]!.seed).toBe(101);
    expect(results.scenarios[1]!.seed).not.toBe(101);
    for (const s of results.scenarios) {
      expect(new Set(s.cluster.servers.map((n) => n.version))).toEqual(new Set([DEFAULT_SERVER_VERSION]));
      const fault = s.phases.find((p) => p.type === 'fault')?.fault;
      expect(fault, `${s.scenario}: ${s.status}`).toBeDefined();
      if (s.scenario.startsWith('durability-kill-all')) expect(fault!.nodes).toEqual(['n1', 'n2', 'n3']);
      else expect(fault!.corruption?.mode).toBe('flip-bits');
    }
  });

  it('prints the durability table, its counts those of the per-scenario results, with the page-cache caveat', () => {
    const text = bench.stdout.slice(bench.stdout.indexOf('durability per server version'));
    expect(text.length, bench.stdout).toBeGreaterThan(0);
    for (const [name, label] of [
      ['durability-bit-flips', 'bit flips (64)'],
      ['durability-kill-all', 'kill all, sync_interval server default'],
    ] as const)
      expect(text).toMatch(new RegExp(`^${expectedCells(name, label).map(escape).join('\\s+')}\\s*$`, 'm'));
    expect(text).toContain('Power loss is not simulated');
  });

  it('writes the same table into the Markdown report', () => {
    const cid = /^report (\S+) \(signed/m.exec(bench.stdout)?.[1];
    expect(cid, bench.stdout).toBeDefined();
    const md = readFileSync(join(work.path, 'state', 'reports', `${cid}.md`), 'utf8');
    expect(md).toContain('## Durability per server version');
    const row = expectedCells('durability-bit-flips', 'bit flips (64)');
    expect(md).toContain(`| ${row.join(' | ')} |`);
  });
});
