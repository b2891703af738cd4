// `cim gate`: the CI performance gate on two reports of the ledger — the comparison is
// scenarios/'s (compareWithBaseline); here the Markdown summary, the JUnit file and the exit code.
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { ExitCode } from '../appliance/index.js';
import { loadReport, render, withLedger, type NamedReport } from '../reports/index.js';
import { benchResultsOf, compareWithBaseline, DEFAULT_THRESHOLD, parseThreshold } from '../scenarios/index.js';
import { action, configFrom, log, print } from './wiring.js';

export function registerGateCommand(program: Command): void {
  program
    .command('gate')
    .description(
      'the CI performance gate: compare a candidate bench report with a baseline, per scenario and metric, on the\n' +
        "per-second samples as ratios to each run's own raw baseline (bootstrap CI of the median change and\n" +
        'Mann–Whitney, plus a noise threshold); print a Markdown summary, write JUnit XML; exit 1 on a significant regression',
    )
    .requiredOption(
      '--baseline <ref>',
      'the baseline report (CID, prefix, baseline:<name>, latest:performance, or a .cbor file)',
    )
    .option('--candidate <ref>', 'the candidate report', 'latest:performance')
    .addOption(
      new Option('--threshold <share>', 'smallest change that counts, e.g. 5% (default 10%)').argParser(parseThreshold),
    )
    .option('--junit <file>', 'write JUnit XML here')
    .option('--markdown <file>', 'write the Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)')
    .option('--json', 'print the comparisons as JSON instead of Markdown')
    .action(
      action(
        async (
          options: {
            baseline: string;
            candidate: string;
            threshold?: number;
            junit?: string;
            markdown?: string;
            json?: boolean;
          },
          command: Command,
        ) => {
          const { stateDir } = configFrom(command);
          const [baseline, candidate] = withLedger(
            stateDir,
            (ledger) => [loadReport(ledger, options.baseline), loadReport(ledger, options.candidate)],
            { readOnly: true },
          );
          if (baseline!.cid.equals(candidate!.cid)) log('the baseline and the candidate are the same report');
          const comparison = compareWithBaseline(
            baseline!,
            benchResultsOf(candidate!, 'candidate'),
            options.threshold ?? DEFAULT_THRESHOLD,
          );
          // The candidate as it would read with this comparison: what the renderers show for a gate.
          const gated: NamedReport = { cid: candidate!.cid, report: { ...candidate!.report, baseline: comparison } };
          const markdown = render(gated, 'md');
          if (options.junit) writeFileSync(options.junit, render(gated, 'junit'));
          if (options.markdown) writeFileSync(options.markdown, markdown);
          // The CID as its string: JSON.stringify would otherwise give the CID's own toJSON, { "/": … }.
          print(options.json ? JSON.stringify({ ...comparison, cid: comparison.cid.toString() }, null, 2) : markdown);
          const regressions = comparison.comparisons.filter((c) => c.verdict === 'regressed');
          if (regressions.length > 0) {
            log(
              `${regressions.length} significant regression(s): ${regressions.map((c) => `${c.scenario} ${c.metric} ${(c.relativeChange * 100).toFixed(1)} %`).join(', ')}`,
            );
            process.exitCode = ExitCode.checkFailed;
          }
        },
      ),
    );
}
