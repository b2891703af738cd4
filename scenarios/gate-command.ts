// The performance gate on reports: a candidate bench run against a baseline one, per scenario and
// metric on the per-second samples (bench/gate.ts), as `cim gate` and `cim bench --baseline` use it.
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { CimError, ExitCode, type CommandWiring } from '../appliance/index.js';
import { gate } from '../bench/index.js';
import { loadReport, render, withLedger, type NamedReport, type ReportBaseline } from '../reports/index.js';
import { gateInput } from './gate-samples.js';
import type { BenchResults } from './results.js';

/**
 * 10 %: the ratio metrics divide every second of a run by one raw baseline figure, whose own
 * run-to-run noise (±4 % and more on shared machines, PERFORMANCE.md) the per-second test cannot
 * see; a 5 % threshold would flag that noise as regressions.
 */
export const DEFAULT_THRESHOLD = 0.1;

/** `5%`, `5 %` or `0.05` → 0.05. */
export function parseThreshold(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  const value = match ? Number(match[1]) / (match[2] ? 100 : 1) : NaN;
  if (!(value >= 0 && value < 1)) throw new CimError('CIM-INVALID-INPUT', `--threshold: expected a share such as 5% or 0.05, got "${text}"`);
  return value;
}

function benchResultsOf(named: NamedReport, role: string): BenchResults {
  const results = named.report.results as BenchResults | null;
  if (named.report.kind !== 'performance' || !results || !Array.isArray(results.scenarios)) {
    throw new CimError('CIM-INVALID-INPUT', `${role} ${named.cid.toString()} is a ${named.report.kind} report without bench results; the gate compares performance reports`);
  }
  return results;
}

/** The candidate's results against the baseline report's, as a report's `baseline` section. */
export function compareWithBaseline(baseline: NamedReport, candidate: BenchResults, threshold = DEFAULT_THRESHOLD): ReportBaseline {
  const result = gate(gateInput(benchResultsOf(baseline, 'baseline')), gateInput(candidate), { threshold });
  return { cid: baseline.cid, comparisons: result.comparisons, regressed: result.regressed };
}

export function registerGateCommand(program: Command, { configFrom, action, print, log }: CommandWiring): void {
  program
    .command('gate')
    .description(
      'the CI performance gate: compare a candidate bench report with a baseline, per scenario and metric, on the\n' +
        'per-second samples as ratios to each run\'s own raw baseline (bootstrap CI of the median change and\n' +
        'Mann–Whitney, plus a noise threshold); print a Markdown summary, write JUnit XML; exit 1 on a significant regression',
    )
    .requiredOption('--baseline <ref>', 'the baseline report (CID, prefix, baseline:<name>, latest:performance, or a .cbor file)')
    .option('--candidate <ref>', 'the candidate report', 'latest:performance')
    .addOption(new Option('--threshold <share>', 'smallest change that counts, e.g. 5% (default 10%)').argParser(parseThreshold))
    .option('--junit <file>', 'write JUnit XML here')
    .option('--markdown <file>', 'write the Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)')
    .option('--json', 'print the comparisons as JSON instead of Markdown')
    .action(
      action(async (options: { baseline: string; candidate: string; threshold?: number; junit?: string; markdown?: string; json?: boolean }, command: Command) => {
        const { stateDir } = configFrom(command);
        const [baseline, candidate] = withLedger(stateDir, (ledger) => [loadReport(ledger, options.baseline), loadReport(ledger, options.candidate)]);
        if (baseline!.cid.equals(candidate!.cid)) log('the baseline and the candidate are the same report');
        const comparison = compareWithBaseline(baseline!, benchResultsOf(candidate!, 'candidate'), options.threshold ?? DEFAULT_THRESHOLD);
        // The candidate as it would read with this comparison: what the renderers show for a gate.
        const gated: NamedReport = { cid: candidate!.cid, report: { ...candidate!.report, baseline: comparison } };
        const markdown = render(gated, 'md');
        if (options.junit) writeFileSync(options.junit, render(gated, 'junit'));
        if (options.markdown) writeFileSync(options.markdown, markdown);
        // The CID as its string: JSON.stringify would otherwise give the CID's own toJSON, { "/": … }.
        print(options.json ? JSON.stringify({ ...comparison, cid: comparison.cid.toString() }, null, 2) : markdown);
        const regressions = comparison.comparisons.filter((c) => c.verdict === 'regressed');
        if (regressions.length > 0) {
          log(`${regressions.length} significant regression(s): ${regressions.map((c) => `${c.scenario} ${c.metric} ${(c.relativeChange * 100).toFixed(1)} %`).join(', ')}`);
          process.exitCode = ExitCode.checkFailed;
        }
      }),
    );
}
