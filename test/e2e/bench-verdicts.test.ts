// One verdict everywhere, end to end: tiny scenario files — passed, failed and finding, each on a
// one-node cluster with a few seconds of load — run through `cim bench`,
// and every rendering (the terminal, `--json`, the results file, the report's HTML, Markdown and
// JUnit) says the same as the exit code, with and without `--fail-on finding`. The finding is real:
// the node's CIM_PERSON block file is cut off after the load, with no other replica to repair from,
// so the checker cannot read back what was acknowledged (the events are gone, or the stream will not
// serve them: both are the system's misbehaviour); the scenario has no checks, so it is a finding,
// not a failure. (The error verdict's exit code and renderings are tested on results in
// test/unit/verdict-model.test.ts and report-render.test.ts: no scenario that passes the loader
// breaks its run deterministically.)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResults } from '../../scenarios/index.js';
import { runCli, type CliResult } from '../support/cli.js';
import { expectValidAgainstSchema } from '../support/published-schema.js';
import { fileTempDir } from '../support/temp-dir.js';

const work = fileTempDir('bench-verdicts');
const state = join(work.path, 'state');

const load = (count: number) =>
  `  - name: load\n    type: load\n    rate: max\n    count: ${count}\n    mix: [{ command: person.RegisterPerson }]\n`;
const file = (name: string, body: string) => {
  const path = join(work.path, `${name}.yaml`);
  writeFileSync(path, `name: ${name}\ndescription: ${name}\ncluster: { nodes: 1 }\nphases:\n${body}`);
  return path;
};
/** Written in beforeAll, once the file's temporary directory exists. */
const scenarioFiles = () => ({
  passed: file('tiny-passed', `${load(40)}  - type: check\n    expect: [lost == 0, ops == 40]\n`),
  failed: file('tiny-failed', `${load(40)}  - type: check\n    expect: [lost == 0, ops_per_sec > 1000000000]\n`),
  finding: file(
    'tiny-finding',
    `${load(60)}  - name: cut\n    type: fault\n    action: corrupt\n    target: n1\n    corruption: { stream: CIM_PERSON, mode: truncate, bytes: 100000000 }\n`,
  ),
});
let FILES: ReturnType<typeof scenarioFiles>;

interface Run {
  cli: CliResult;
  results: BenchResults;
  html: string;
  md: string;
  junit: string;
}
const runs: Record<string, Run> = {};

async function bench(name: string, files: string[], extra: string[] = []): Promise<Run> {
  const out = join(work.path, `${name}.json`);
  const cli = await runCli(
    ['--state', state, 'bench', ...files, '--baseline-messages', '300', '--out', out, ...extra],
    {
      timeoutMs: 180_000,
    },
  );
  const results = JSON.parse(readFileSync(out, 'utf8')) as BenchResults;
  expectValidAgainstSchema('results', results);
  const cid = extra.includes('--json')
    ? (JSON.parse(cli.stdout) as { report: { cid: string } }).report.cid
    : /^report (b[a-z2-7]+) /m.exec(cli.stdout)?.[1];
  expect(cid, cli.stdout + cli.stderr).toBeDefined();
  const rendered = async (format: string) => {
    const r = await runCli(['--state', state, 'report', 'render', cid!, '--format', format]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const json = await rendered('json');
  expectValidAgainstSchema('report', JSON.parse(json));
  return { cli, results, html: await rendered('html'), md: await rendered('md'), junit: await rendered('junit') };
}

const statuses = (r: Run) => r.results.scenarios.map((s) => [s.scenario, s.status]);
/** Why each scenario came to what it did, for a failing assertion's message. */
const why = (r: Run) => JSON.stringify(r.results.scenarios.map((s) => [s.scenario, s.status, s.reason, s.findings]));
const suite = (junit: string, name: string) =>
  new RegExp(`<testsuite name="${name}" tests="\\d+" failures="(\\d+)" errors="(\\d+)"`).exec(junit)?.slice(1);

beforeAll(async () => {
  FILES = scenarioFiles();
  runs.finding = await bench('finding', [FILES.passed, FILES.finding]);
  runs.failOnFinding = await bench('fail-on-finding', [FILES.finding], ['--fail-on', 'finding', '--json']);
  runs.failed = await bench('failed', [FILES.passed, FILES.failed, FILES.finding]);
}, 900_000);

afterAll(() => work.remove());

describe('cim bench verdicts, every rendering and the exit code', () => {
  it('a passed and a finding scenario: exit 0, and every rendering says "finding" for it and for the run', () => {
    const { cli, results, html, md, junit } = runs.finding!;
    expect(statuses(runs.finding!), why(runs.finding!)).toEqual([
      ['tiny-passed', 'passed'],
      ['tiny-finding', 'finding'],
    ]);
    const found = results.scenarios[1]!;
    // Real loss: the acknowledged events were cut off the only copy.
    expect(found.checker!.acknowledged).toBeGreaterThan(0);
    expect(found.findings!.length).toBeGreaterThan(0);
    expect(found.findings!.join('\n')).toMatch(
      /lost \d+ acknowledged events?|did not start again|verification finding/,
    );
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^tiny-finding: FINDING \(/m);
    expect(cli.stdout).toMatch(/^ {2}finding: /m);
    expect(cli.stdout).toContain('verdict: finding — 1 finding, 1 passed');
    expect(cli.stdout).toContain('findings are reported but do not fail this run (--fail-on failed, the default)');
    expect(html).toContain('<span class="figure warn">finding</span>run verdict');
    expect(html).toContain('<span class="figure warn">1</span>scenario(s) finding');
    expect(html).toContain('<span class="figure ok">1</span>scenario(s) passed');
    expect(md).toContain('## Scenarios: finding — 1 finding, 1 passed');
    expect(md).toContain('### tiny-finding: finding');
    // A finding is not a JUnit failure without --fail-on finding: the same pass as the exit code.
    expect(suite(junit, 'tiny-finding')).toEqual(['0', '0']);
    expect(junit).toContain('<property name="verdict" value="finding"/>');
    expect(junit).toMatch(/<testsuites [^>]*failures="0" errors="0"/);
  });

  it('with --fail-on finding: exit 1, the JUnit findings case fails, and --json says the same', () => {
    const { cli, results, html, junit } = runs.failOnFinding!;
    expect(statuses(runs.failOnFinding!), why(runs.failOnFinding!)).toEqual([['tiny-finding', 'finding']]);
    expect(cli.code, cli.stderr).toBe(1);
    const json = JSON.parse(cli.stdout) as { results: BenchResults };
    expect(json.results.failOn).toBe('finding');
    expect(json.results.scenarios.map((s) => s.status)).toEqual(['finding']);
    expect(results.failOn).toBe('finding');
    expect(html).toContain('findings fail this run (--fail-on finding)');
    expect(suite(junit, 'tiny-finding')).toEqual(['1', '0']);
    expect(junit).toContain('type="finding"');
  });

  it('a failed check: exit 1, "failed" in every rendering, the run failed over its finding', () => {
    const { cli, html, md, junit } = runs.failed!;
    expect(statuses(runs.failed!), why(runs.failed!)).toEqual([
      ['tiny-passed', 'passed'],
      ['tiny-failed', 'failed'],
      ['tiny-finding', 'finding'],
    ]);
    expect(cli.code, cli.stdout + cli.stderr).toBe(1);
    expect(cli.stdout).toMatch(/^tiny-failed: FAILED \(/m);
    expect(cli.stdout).toContain('verdict: failed — 1 failed, 1 finding, 1 passed');
    expect(html).toContain('<span class="figure bad">failed</span>run verdict');
    expect(md).toContain('## Scenarios: failed — 1 failed, 1 finding, 1 passed');
    expect(suite(junit, 'tiny-failed')).toEqual(['1', '0']);
    expect(suite(junit, 'tiny-finding')).toEqual(['0', '0']);
  });
});
