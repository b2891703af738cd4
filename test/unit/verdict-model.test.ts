// The one verdict model, on scenario results made by hand: a scenario's status and findings from
// its figures (each finding metric, precedence, statuses only the run can record), the run's
// verdict (worst first; nothing ran is not passed), what fails a run with and without
// `--fail-on finding`, `cim bench`'s exit code — and an old report, written when a check-less
// scenario that lost events said "passed", judged again the same way by every rendering.
import { describe, expect, it } from 'vitest';
import { benchExitCode } from '../../cli/bench.js';
import {
  divergenceLine,
  recoveryText,
  renderHtml,
  renderJUnit,
  renderMarkdown,
  runVerdict,
  runVerdictOf,
  scenarioVerdict,
  verdictFails,
  type VerdictInput,
} from '../../reports/index.js';
import { renderBenchResults, type BenchResults, type ScenarioResult } from '../../scenarios/index.js';
import { benchResultsFixture, performanceReport } from '../fixtures/performance-report.js';

const result = (overrides: Partial<VerdictInput> = {}): VerdictInput => ({
  status: 'passed',
  metrics: { lost: 0, unexpected: 0, duplicates: 0, verify_findings: 0 },
  checks: [{ ok: true }],
  phases: [],
  ...overrides,
});

describe('scenarioVerdict', () => {
  it('given every check held and nothing misbehaved, then passed with no findings', () => {
    expect(scenarioVerdict(result())).toEqual({ status: 'passed', findings: [] });
    expect(scenarioVerdict(result({ checks: [] }))).toEqual({ status: 'passed', findings: [] });
  });

  it('given a check that did not hold, then failed — also when the system misbehaved too (failed ranks above finding)', () => {
    expect(scenarioVerdict(result({ checks: [{ ok: true }, { ok: false }] })).status).toBe('failed');
    const both = scenarioVerdict(result({ checks: [{ ok: false }], metrics: { lost: 2 } }));
    expect(both).toEqual({ status: 'failed', findings: ['lost 2 acknowledged events'] });
  });

  it('given each finding metric above 0 with every check holding, then a finding naming it', () => {
    const cases: [Record<string, number>, string][] = [
      [{ lost: 3 }, 'lost 3 acknowledged events'],
      [{ lost: 1 }, 'lost 1 acknowledged event'],
      [{ unexpected: 2 }, '2 unexpected events (caused by no attempted command)'],
      [{ duplicates: 1 }, '1 duplicate (an event stored, or a command applied, twice)'],
      [{ verify_findings: 124 }, '124 verification findings'],
      [{ replica_divergences: 2 }, '2 replica divergences'],
      [{ nodes_stayed_down: 1 }, '1 node did not start again'],
      [{ unserved_after_fault: 1 }, 'did not serve its data after the fault'],
    ];
    for (const [metrics, line] of cases)
      expect(scenarioVerdict(result({ checks: [], metrics })), line).toEqual({ status: 'finding', findings: [line] });
  });

  it('given data not served after a fault, then a finding with the reason, and failed when a check needed the figures', () => {
    const reason =
      'CIM-UNAVAILABLE: reading CIM_PERSON stalled after seq 0: seq 1 is stored but 3 consumers in a row did not deliver it';
    const unserved = { metrics: { unserved_after_fault: 1 }, unserved: { reason } };
    expect(scenarioVerdict(result({ checks: [], ...unserved }))).toEqual({
      status: 'finding',
      findings: [`did not serve its data after the fault: ${reason}`],
    });
    // `lost == 0` with lost not measured does not hold (scenarios/metrics.ts evaluate).
    expect(scenarioVerdict(result({ checks: [{ ok: false }], ...unserved })).status).toBe('failed');
  });

  it('given absent metrics, then they count as 0, and the details behind them count where the metric is missing', () => {
    expect(scenarioVerdict(result({ metrics: {} })).status).toBe('passed');
    const fromDetails = scenarioVerdict(
      result({
        metrics: {},
        checker: { lost: 0, unexpected: 0, duplicates: 4 },
        verification: { findings: 1, samples: ['person: chain-broken: seq 78'] },
        phases: [{ type: 'fault', name: 'corrupt-follower', fault: { nodes: ['n2'], stayedDown: true } }],
        replicas: {
          divergences: [
            {
              stream: 'CIM_PERSON',
              replica: 'n2',
              reference: 'n1',
              kind: 'missing',
              sequences: [{ from: 57, to: 60 }],
            },
          ],
        },
      }),
    );
    expect(fromDetails).toEqual({
      status: 'finding',
      findings: [
        '4 duplicates (an event stored, or a command applied, twice)',
        '1 verification finding (first: person: chain-broken: seq 78)',
        'replica n2 of CIM_PERSON is missing seq 57–60 (against n1)',
        'node n2 did not start again (fault corrupt-follower)',
      ],
    });
  });

  it('given an error, an interruption or a skip recorded by the run, then that stands, with any findings still listed', () => {
    expect(scenarioVerdict(result({ status: 'error', checks: [{ ok: false }], metrics: { lost: 1 } }))).toEqual({
      status: 'error',
      findings: ['lost 1 acknowledged event'],
    });
    expect(scenarioVerdict(result({ status: 'interrupted', checks: [{ ok: false }] })).status).toBe('interrupted');
    expect(scenarioVerdict(result({ status: 'skipped', checks: [] })).status).toBe('skipped');
  });

  it('given an old result recorded as passed or failed, then the figures decide, not the recorded word', () => {
    expect(scenarioVerdict(result({ status: 'passed', checks: [], metrics: { lost: 3 } })).status).toBe('finding');
    expect(scenarioVerdict(result({ status: 'failed', checks: [{ ok: true }] })).status).toBe('passed');
  });

  it('names each kind of divergence with its ranges', () => {
    const d = {
      stream: 'CIM_ORG',
      replica: 'n3',
      sequences: [
        { from: 4, to: 4 },
        { from: 9, to: 11 },
      ],
    };
    expect(divergenceLine({ ...d, kind: 'extra' })).toBe('replica n3 of CIM_ORG has extra seq 4, 9–11');
    expect(divergenceLine({ ...d, kind: 'different', reference: 'n1' })).toBe(
      'replica n3 of CIM_ORG differs at seq 4, 9–11 (against n1)',
    );
  });
});

describe('runVerdict', () => {
  it('takes the worst scenario by interrupted > error > failed > finding > passed, and counts each', () => {
    expect(runVerdict(['passed', 'finding', 'passed'])).toEqual({
      verdict: 'finding',
      counts: [
        ['finding', 1],
        ['passed', 2],
      ],
      summary: 'finding — 1 finding, 2 passed',
    });
    expect(runVerdict(['finding', 'failed', 'error']).verdict).toBe('error');
    expect(runVerdict(['passed', 'failed', 'finding']).verdict).toBe('failed');
    expect(runVerdict(['error', 'interrupted']).verdict).toBe('interrupted');
    expect(runVerdict(['passed'], true).verdict).toBe('interrupted');
  });

  it('lets skipped scenarios neither spoil a run nor make it pass: all skipped (or none) is skipped, "nothing ran"', () => {
    expect(runVerdict(['passed', 'skipped']).verdict).toBe('passed');
    expect(runVerdict(['skipped', 'skipped'])).toMatchObject({
      verdict: 'skipped',
      summary: 'skipped — nothing ran: 2 skipped',
    });
    expect(runVerdict([])).toMatchObject({ verdict: 'skipped', summary: 'skipped — nothing ran: no scenarios' });
  });

  it('fails a run on failed, error, interrupted and nothing-ran; on a finding only with --fail-on finding', () => {
    expect(verdictFails('passed', 'finding')).toBe(false);
    expect(verdictFails('finding', 'failed')).toBe(false);
    expect(verdictFails('finding', 'finding')).toBe(true);
    for (const v of ['failed', 'error', 'interrupted', 'skipped'] as const)
      expect(verdictFails(v, 'failed')).toBe(true);
  });
});

describe('cim bench exit code', () => {
  const run = (...scenarios: Partial<ScenarioResult>[]) => ({
    interrupted: false,
    scenarios: scenarios.map((s) => ({ ...(result() as ScenarioResult), ...s })),
  });
  it('given one scenario of each verdict, then 0 for passed and finding (1 with --fail-on finding), 1 for failed, the error code for error', () => {
    expect(benchExitCode(run({}), 'failed')).toBe(0);
    expect(benchExitCode(run({ checks: [], metrics: { lost: 3 } }), 'failed')).toBe(0);
    expect(benchExitCode(run({ checks: [], metrics: { lost: 3 } }), 'finding')).toBe(1);
    expect(benchExitCode(run({ checks: [{ text: 'x', ok: false, actual: 1 }] }), 'failed')).toBe(1);
    expect(benchExitCode(run({ status: 'error', errorCode: 'CIM-INVALID-INPUT' }), 'failed')).toBe(2);
    expect(benchExitCode(run({ status: 'error', errorCode: 'CIM-CLUSTER-START' }), 'finding')).toBe(3);
    // An error without a code the appliance knows: unavailable.
    expect(benchExitCode(run({ status: 'error' }), 'failed')).toBe(3);
    expect(benchExitCode(run({ status: 'skipped' }, { status: 'skipped' }), 'failed')).toBe(1);
    expect(benchExitCode(run({ status: 'skipped' }, {}), 'failed')).toBe(0);
  });
});

describe('an old report whose check-less scenario lost events and was recorded "passed"', () => {
  // Red before the verdict model: the terminal said "quick-steady: PASSED", HTML and Markdown "3 passed".
  const oldResults = () => {
    const results = benchResultsFixture();
    const steady = results.scenarios[2]!;
    steady.checks = [];
    Object.assign(steady.checker as object, { lost: 3, ok: false });
    (steady.metrics as Record<string, number>).lost = 3;
    return results;
  };

  it('is a finding in every rendering, and the run verdict is finding', async () => {
    const results = oldResults();
    expect(results.scenarios[2]!.status).toBe('passed');
    const term = renderBenchResults(results as unknown as BenchResults);
    expect(term).toMatch(/^quick-steady: FINDING \(/m);
    expect(term).toContain('  finding: lost 3 acknowledged events');
    expect(term).toMatch(/^quick-steady\s+finding\s/m);
    expect(term).toContain('verdict: finding — 1 finding, 2 passed');
    expect(term).toContain('findings are reported but do not fail this run (--fail-on failed, the default)');
    const named = await performanceReport({ results });
    const html = renderHtml(named);
    expect(html).toContain('<span class="figure warn">finding</span>run verdict');
    expect(html).toContain('<span class="figure warn">1</span>scenario(s) finding');
    expect(html).toContain('<span class="status warn">finding</span>');
    expect(html).toContain('<li>lost 3 acknowledged events</li>');
    const md = renderMarkdown(named);
    expect(md).toContain('## Scenarios: finding — 1 finding, 2 passed');
    expect(md).toContain('### quick-steady: finding');
    const xml = renderJUnit(named);
    expect(xml).toMatch(/<testsuite name="quick-steady" tests="\d+" failures="0" errors="0"/);
    expect(xml).toContain('<property name="verdict" value="finding"/>');
    expect(runVerdictOf(results.scenarios as unknown as VerdictInput[]).verdict).toBe('finding');
  });

  it('with --fail-on finding recorded, fails in JUnit as the exit code does', async () => {
    const xml = renderJUnit(await performanceReport({ results: { ...oldResults(), failOn: 'finding' } }));
    expect(xml).toMatch(/<testsuite name="quick-steady" tests="\d+" failures="1" errors="0"/);
    expect(xml).toContain('type="finding"');
  });
});

describe('the recovery headline', () => {
  it('says recovery and the longest stall, no dip, did not recover, or which measure an old report holds', () => {
    const ref = { perSec: 200, kind: 'offered' };
    expect(
      recoveryText({ recovered: true, dip: true, recoveryMs: 5_800, stallMs: 4_900, recoveryReference: ref }),
    ).toBe('recovery 5.8 s (back within 10 % of the offered 200/s for 2 s); longest stall 4.9 s');
    expect(recoveryText({ recovered: true, dip: false, recoveryMs: 0, stallMs: 20, recoveryReference: ref })).toBe(
      'no dip: recovery 0 ms (the rate stayed within 10 % of the offered 200/s); longest stall 0.0 s',
    );
    expect(
      recoveryText({ recovered: false, stallMs: 12_000, recoveryReference: { perSec: 950, kind: 'before-fault' } }),
    ).toBe(
      'did not recover within the run (never back within 10 % of the 950/s before the fault for 2 s); longest stall 12.0 s',
    );
    expect(recoveryText({ recoveryMs: 144, stallMs: 5_700 })).toBe(
      'recovery 144 ms (old measure: first failed operation to the next acknowledgement); longest stall 5.7 s',
    );
    expect(recoveryText({})).toBe('');
  });

  it('is defined in the HTML and Markdown reports of a run with a fault', async () => {
    const named = await performanceReport();
    expect(renderHtml(named)).toContain('id="recovery-definition"');
    expect(renderMarkdown(named)).toContain('Recovery: from the fault firing until the delivered rate');
  });
});
