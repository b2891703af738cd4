// `cim gate`: the CI performance gate on two reports of the ledger — the comparison is
// scenarios/'s (compareWithBaseline), the verdict reports/' (gateVerdict); here the Markdown
// summary, the JUnit file, the annotations and the exit code, which all say the same.
import { Option, type Command } from 'commander';
import { ExitCode } from '../appliance/index.js';
import { gateVerdict, loadReport, render, renderGateSummary, withLedger, type NamedReport } from '../reports/index.js';
import { benchResultsOf, compareWithBaseline, DEFAULT_THRESHOLD, parseThreshold } from '../scenarios/index.js';
import { githubAnnotations } from './annotations.js';
import { appendOutputFile, checkOutputFile, writeOutputFile } from './output-file.js';
import { action, configFrom, log, print } from './wiring.js';

export function registerGateCommand(program: Command): void {
  program
    .command('gate')
    .description(
      'the CI performance gate: compare a candidate bench report with a baseline, per scenario, phase and metric, ' +
        "on one figure per repetition (cim bench --repeat N) as ratios to each repetition's own raw baseline: " +
        "Welch's t-test on the logs, Holm's correction over every comparison, and a threshold for how large a " +
        'change matters. Prints the verdict first (Markdown), appends it to --markdown, writes JUnit XML. ' +
        'Exit 1 on a significant regression; exit 5 when a comparison had too little data (fewer than 3 ' +
        'repetitions a side) unless --allow-missing; exit 2 when the two reports share no scenario.',
    )
    .requiredOption(
      '--baseline <ref>',
      'the baseline report (CID, prefix, baseline:<name>, latest:performance, or a .cbor file)',
    )
    .option('--candidate <ref>', 'the candidate report', 'latest:performance')
    .addOption(
      new Option('--threshold <share>', 'smallest change that counts, e.g. 10% (default 5%)').argParser(parseThreshold),
    )
    .option('--allow-missing', 'pass (exit 0) although some comparisons had too little data; they are still listed')
    .option('--junit <file>', 'write JUnit XML here (an existing file only with --force)')
    .option('--markdown <file>', 'append the Markdown summary to this file (e.g. $GITHUB_STEP_SUMMARY)')
    .option('--force', 'replace the --junit file when it exists')
    .option('--json', 'print the comparisons as JSON instead of Markdown')
    .action(
      action(
        async (
          options: {
            baseline: string;
            candidate: string;
            threshold?: number;
            allowMissing?: boolean;
            junit?: string;
            markdown?: string;
            force?: boolean;
            json?: boolean;
          },
          command: Command,
        ) => {
          const { stateDir } = configFrom(command);
          if (options.junit) checkOutputFile(options.junit, '--junit', { force: options.force === true });
          if (options.markdown) checkOutputFile(options.markdown, '--markdown', { append: true });
          const [baseline, candidate] = withLedger(
            stateDir,
            (ledger) => [loadReport(ledger, options.baseline), loadReport(ledger, options.candidate)],
            { readOnly: true },
          );
          if (baseline!.cid.equals(candidate!.cid)) log('the baseline and the candidate are the same report');
          const comparison = compareWithBaseline(baseline!, benchResultsOf(candidate!, 'candidate'), {
            threshold: options.threshold ?? DEFAULT_THRESHOLD,
            allowMissing: options.allowMissing === true,
          });
          // The candidate as it would read with this comparison: what the renderers show for a gate.
          const gated: NamedReport = { cid: candidate!.cid, report: { ...candidate!.report, baseline: comparison } };
          const summary = renderGateSummary(gated);
          if (options.junit)
            writeOutputFile(options.junit, render(gated, 'junit'), '--junit', { force: options.force === true });
          if (options.markdown) appendOutputFile(options.markdown, summary, '--markdown');
          // The CID as its string: JSON.stringify would otherwise give the CID's own toJSON, { "/": … }.
          const verdict = gateVerdict(comparison);
          print(
            options.json
              ? JSON.stringify({ verdict: verdict.verdict, ...comparison, cid: comparison.cid.toString() }, null, 2)
              : summary,
          );
          githubAnnotations(verdict);
          log(`gate: ${verdict.verdict}: ${verdict.text}`);
          if (verdict.verdict === 'regressed') process.exitCode = ExitCode.checkFailed;
          else if (verdict.verdict === 'insufficient-data') process.exitCode = ExitCode.insufficientData;
        },
      ),
    );
}
