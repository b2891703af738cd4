// `cim bench`, the main job: scenarios on real clusters, their report signed into the ledger and,
// with --baseline, gated; with --components, the component benchmarks (bench-components.ts).
import { Command, Option } from 'commander';
import {
  CimError,
  EmbeddedCluster,
  ExitCode,
  isCimErrorCode,
  loadOrCreateSigner,
  NATSCLI_VERSION,
  onShutdown,
  resolveServerVersion,
  Verifier,
} from '../appliance/index.js';
import {
  DEFAULT_FAIL_ON,
  FAIL_ON_VALUES,
  gateVerdict,
  loadReport,
  renderFiles,
  runVerdictOf,
  verdictFails,
  withLedger,
  writeReport,
  type FailOn,
} from '../reports/index.js';
import {
  benchResultsOf,
  compareWithBaseline,
  DEFAULT_THRESHOLD,
  findScenarios,
  parseThreshold,
  performanceReport,
  renderBenchResults,
  runBench,
  type BenchResults,
} from '../scenarios/index.js';
import { githubAnnotations } from './annotations.js';
import { componentBench, type ComponentBenchOptions } from './bench-components.js';
import { checkOutputFile, writeOutputFile } from './output-file.js';
import { statusLine } from './tty.js';
import { action, configFrom, positiveInteger, print, servedNames } from './wiring.js';

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .argument('[scenario...]', 'scenario files, catalog scenario names or suite names (default: the standard suite)')
    .description(
      'the main job: run scenarios (scenarios/catalog) against the reference services on a real cluster — each on a\n' +
        'fresh embedded cluster of its shape (or the one --nats names): the raw JetStream baseline first, then load,\n' +
        'fault and replay phases, then the checker (everything acknowledged read back: lost, unexpected, duplicates)\n' +
        'and chain/seal verification. Prints every headline figure with its ratio to the raw baseline of the same run\n' +
        'and writes them as a signed performance report in <state>/reports/ (chained in the ledger).\n' +
        'Verdicts: passed; failed (a check did not hold); finding (every check held but the system misbehaved: loss,\n' +
        'verification findings, diverging replicas, a node that did not start again); error (the run broke). The run takes\n' +
        'the worst. Exit 1 when a scenario failed, when nothing ran (every scenario skipped) or, with --fail-on finding,\n' +
        "on a finding; an error exits with its error's code (2 usage, 3 unavailable).\n" +
        'With --components: the component benchmarks instead (raw, event store, commands, replay, HTTP vs NATS, micro).',
    )
    .option('--quick', 'run the quick suite (well under a minute of load; what CI runs)')
    .addOption(
      new Option(
        '--baseline-messages <n>',
        'messages of the raw baseline per scenario (default 20000, --quick 5000)',
      ).argParser(positiveInteger('--baseline-messages')),
    )
    .option(
      '--baseline <ref>',
      'gate the run against this report (CID, baseline:<name>, latest:performance): exit 1 on a significant regression',
    )
    .addOption(
      new Option(
        '--threshold <share>',
        'with --baseline: smallest change that counts, e.g. 5% (default 10%)',
      ).argParser(parseThreshold),
    )
    .option('--save-baseline [name]', 'record this run\'s report as baseline <name> (default "default") in the ledger')
    .option('--out <file>', 'also write the raw results JSON to this file (an existing one only with --force)')
    .option('--force', 'replace the --out file when it exists')
    .option(
      '--allow-missing',
      'with --baseline: pass although some comparisons had too little data (fewer than 3 repetitions a side)',
    )
    .option('--keep-data', "keep each scenario's cluster data and read models under <state>/bench/<run>/")
    .addOption(
      new Option(
        '--servers <versions>',
        'a version matrix: the same scenarios and seeds on each nats-server (e.g. 2.9.10,2.12.1,2.15.x, or paths), each on its own fresh cluster, compared side by side',
      ).argParser(parseServerList),
    )
    .addOption(
      new Option(
        '--seeds <n>',
        "runs of each scenario, each with its own seed derived from the scenario's and on a fresh cluster (default: the scenario's `seeds`, 1 unless it says; the durability suite: 10)",
      ).argParser(positiveInteger('--seeds')),
    )
    .addOption(
      new Option(
        '--repeat <n>',
        'run the whole suite n times, the same seeds each time, each scenario on a fresh cluster; the gate compares one figure per repetition and needs 3 a side (5 recommended)',
      ).argParser(positiveInteger('--repeat')),
    )
    .option(
      '--key <file...>',
      'with --nats: seal keys (PEM) of the appliances already serving that cluster, trusted by verification',
    )
    .addOption(
      new Option(
        '--fail-on <verdict>',
        'what fails the run (exit 1, JUnit failure): "failed" (failed checks; findings are reported, not failing) or "finding" (findings too)',
      )
        .choices([...FAIL_ON_VALUES])
        .default(DEFAULT_FAIL_ON),
    )
    .option('--json', 'print the results as JSON')
    .option('--components', 'run the component benchmarks instead of scenarios (the options below)')
    .addOption(
      new Option('--messages <n>', 'components: messages per throughput phase')
        .default(20_000)
        .argParser(positiveInteger('--messages')),
    )
    .addOption(
      new Option('--payload-bytes <n>', 'components: payload size')
        .default(256)
        .argParser(positiveInteger('--payload-bytes')),
    )
    .addOption(
      new Option('--subjects <n>', 'components: distinct subjects (event store: aggregates)')
        .default(1_000)
        .argParser(positiveInteger('--subjects')),
    )
    .addOption(
      new Option('--in-flight <n>', 'components: publishes awaiting their ack')
        .default(256)
        .argParser(positiveInteger('--in-flight')),
    )
    .addOption(
      new Option('--latency-seconds <n>', 'components: length of each fixed-rate latency phase')
        .default(5)
        .argParser(positiveInteger('--latency-seconds')),
    )
    .addOption(
      new Option(
        '--latency-rate <n>',
        'components: msgs/s of the latency phases (default: half the raw throughput)',
      ).argParser(positiveInteger('--latency-rate')),
    )
    .option('--no-eventstore', 'components: skip the event store measurement')
    .option('--no-commands', 'components: skip the command service and replay measurement')
    .option('--no-http', 'components: skip the HTTP gateway against NATS (autocannon) measurement')
    .option(
      '--no-peer',
      `components: skip \`nats bench\` (natscli ${NATSCLI_VERSION}, built with Go when missing), the peer every figure is also a ratio to`,
    )
    .option('--tracing', 'components: also measure command throughput with tracing on (SDK, spans dropped) vs off')
    .option(
      '--audit',
      'components: also measure command throughput with the audit log on, and with it and field encryption on, vs both off',
    )
    .option(
      '--growth',
      'components: also measure cost growth: one more command on aggregates of 10, 1,000 and 100,000 events (snapshots on and off), and a rebuild at --messages and 10× as many events',
    )
    .option(
      '--micro',
      'components: also run the client-side micro-benchmarks (encode, decode, Merkle, verification kernel, the worker kernel against a bare SHA-256 of the same bytes)',
    )
    .action(
      action(async (refs: string[], options: ScenarioBenchOptions & ComponentBenchOptions, command: Command) => {
        if (options.components) return componentBench(options, command);
        return scenarioBench(refs, options, command);
      }),
    );
}

export interface ScenarioBenchOptions {
  key?: string[];
  baseline?: string;
  saveBaseline?: string | true;
  threshold?: number;
  quick?: boolean;
  baselineMessages?: number;
  out?: string;
  keepData?: boolean;
  json?: boolean;
  servers?: string[];
  force?: boolean;
  allowMissing?: boolean;
  seeds?: number;
  repeat?: number;
  failOn?: FailOn;
}

/**
 * `cim bench`'s exit status from the run's verdict (reports/verdict.ts), the one the reports show:
 * an error exits with the exit status of its CIM-* code (the first errored scenario's), a failure
 * (failed checks, a run where nothing ran, or with `--fail-on finding` a finding) with 1. An
 * interrupted run's exit status is the shutdown's (130), not decided here.
 */
export function benchExitCode(results: Pick<BenchResults, 'scenarios' | 'interrupted'>, failOn: FailOn): ExitCode {
  const run = runVerdictOf(results.scenarios, results.interrupted);
  if (run.verdict === 'error') {
    const code = results.scenarios.find((s) => s.status === 'error')?.errorCode;
    return code && isCimErrorCode(code) ? new CimError(code, '').exitCode : ExitCode.unavailable;
  }
  return verdictFails(run.verdict, failOn) ? ExitCode.checkFailed : ExitCode.ok;
}

/** `--servers 2.9.10,2.12.1,2.15.x`: supported versions (lines resolved to their pinned release) or paths. */
function parseServerList(text: string): string[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0)
    throw new CimError('CIM-INVALID-INPUT', '--servers: expected a comma-separated list of versions or paths');
  const servers = items.map((item) => (item.includes('/') ? item : resolveServerVersion(item).version));
  const twice = servers.find((s, i) => servers.indexOf(s) !== i);
  if (twice) throw new CimError('CIM-INVALID-INPUT', `--servers: ${twice} is named twice`);
  return servers;
}

/** `cim bench [SCENARIO…]`: the scenarios, a live status line, the summary and the results file. */
export async function scenarioBench(refs: string[], options: ScenarioBenchOptions, command: Command): Promise<void> {
  const config = configFrom(command);
  const known = await servedNames(command);
  const wanted = [...refs, ...(options.quick ? ['quick'] : [])];
  const scenarios = findScenarios(wanted.length > 0 ? wanted : ['standard'], { known });
  if (options.servers) {
    // Each version needs clusters of its own; an attached or running cluster has one version.
    if (config.nats.urls.length > 0)
      throw new CimError(
        'CIM-INVALID-INPUT',
        '--servers runs embedded clusters of each version; it cannot be combined with --nats',
      );
    if (EmbeddedCluster.findRunning(config.stateDir))
      throw new CimError(
        'CIM-INVALID-INPUT',
        '--servers starts a fresh cluster per version, but `cim cluster up` left one running in this state dir',
        { hint: 'Stop it with `cim cluster down`, or use another --state.' },
      );
    if (options.baseline)
      throw new CimError(
        'CIM-INVALID-INPUT',
        '--servers and --baseline: a version matrix is compared side by side, not gated; gate a run on one server',
      );
  }
  // Resolved before the run, so a wrong reference costs nothing.
  const baseline = options.baseline
    ? withLedger(config.stateDir, (ledger) => loadReport(ledger, options.baseline!))
    : undefined;
  if (baseline) {
    const measured = new Set(benchResultsOf(baseline, 'baseline').scenarios.map((s) => s.scenario));
    if (!scenarios.some((s) => measured.has(s.name)))
      throw new CimError(
        'CIM-INVALID-INPUT',
        `--baseline ${options.baseline}: the baseline measured none of the scenarios to run (it has ${[...measured].join(', ') || 'none'})`,
        { hint: 'Gate a run against a baseline of the same suite (cim bench --quick against a --quick baseline).' },
      );
  }
  if (options.out) checkOutputFile(options.out, '--out', { force: options.force === true });
  const abort = new AbortController();
  let finished!: () => void;
  const written = new Promise<void>((resolve) => (finished = resolve));
  // Ctrl-C stops the scenario in progress; the shutdown waits until its results are written.
  const unregister = onShutdown(async () => {
    abort.abort();
    await written;
  });
  const status = statusLine();
  try {
    const results = await runBench({
      scenarios,
      config,
      baselineMessages: options.baselineMessages ?? (options.quick ? 5_000 : 20_000),
      keepData: options.keepData ?? false,
      trusted: (options.key ?? []).map((file) => Verifier.fromFile(file)),
      log: (line) => status.log(line),
      onScenario: (s, index, total) =>
        status.log(`scenario ${index + 1}/${total}: ${s.name} — ${s.description.split('\n')[0]!.slice(0, 100)}`),
      onProgress: (p) =>
        status.update(
          `${p.scenario} [${p.phases.join(', ') || 'between phases'}] ${(p.elapsedMs / 1_000).toFixed(0)} s  ${p.opsPerSec} ops/s  p99 ${p.p99Ms.toFixed(1)} ms  errors ${p.errors}`,
        ),
      signal: abort.signal,
      ...(options.servers ? { servers: options.servers } : {}),
      ...(options.seeds !== undefined ? { seeds: options.seeds } : {}),
      ...(options.repeat !== undefined ? { repeat: options.repeat } : {}),
    });
    const failOn = options.failOn ?? DEFAULT_FAIL_ON;
    results.failOn = failOn;
    status.done();
    const comparison = baseline
      ? compareWithBaseline(baseline, results, {
          threshold: options.threshold ?? DEFAULT_THRESHOLD,
          allowMissing: options.allowMissing === true,
        })
      : undefined;
    const gated = comparison ? gateVerdict(comparison) : undefined;
    const reportConfig = {
      stateDir: config.stateDir,
      nats: { urls: config.nats.urls },
      cluster: config.cluster,
      domains: config.domains,
      bench: {
        refs: wanted,
        quick: options.quick ?? false,
        baselineMessages: options.baselineMessages ?? null,
        threshold: options.threshold ?? null,
        servers: options.servers ?? null,
        seeds: options.seeds ?? null,
        repeat: options.repeat ?? null,
        failOn,
      },
    };
    const { named, files } = writeReport(performanceReport(results, reportConfig, comparison), {
      stateDir: config.stateDir,
      signer: loadOrCreateSigner(config.stateDir),
      render: renderFiles,
    });
    const cid = named.cid.toString();
    const baselineName = options.saveBaseline === true ? 'default' : options.saveBaseline;
    if (baselineName) withLedger(config.stateDir, (ledger) => ledger.addBaseline(baselineName, cid));
    if (options.out)
      writeOutputFile(options.out, JSON.stringify(results, null, 2) + '\n', '--out', { force: options.force === true });
    if (options.json) {
      print(JSON.stringify({ report: { cid, files }, results }, null, 2));
    } else {
      const lines = [
        renderBenchResults(results),
        '',
        `report ${cid} (signed ${named.report.signer})`,
        `  html: ${files.html}`,
        `  verify: cim report verify ${cid}`,
      ];
      if (baselineName)
        lines.push(`  saved as baseline "${baselineName}" (cim bench --baseline baseline:${baselineName})`);
      if (comparison && gated) {
        lines.push('', `gate against ${comparison.cid.toString()}: ${gated.verdict}: ${gated.text}`);
        for (const c of gated.regressions)
          lines.push(
            `  ${c.scenario} ${c.metric}: ${(c.relativeChange * 100).toFixed(1)} % (CI ${c.confidenceInterval.map((x) => (x * 100).toFixed(1)).join('…')} %, p ${(c.adjustedPValue ?? c.pValue).toPrecision(2)} after Holm)`,
          );
        if (gated.verdict === 'insufficient-data')
          lines.push(
            `  too little to compare: ${gated.missing.length} comparison(s); run both with --repeat N (N ≥ 3), or pass --allow-missing`,
          );
      }
      print(lines.join('\n'));
    }
    if (gated) githubAnnotations(gated);
    const exit = benchExitCode(results, failOn);
    if (exit !== ExitCode.ok) process.exitCode = exit;
    else if (gated?.verdict === 'regressed') process.exitCode = ExitCode.checkFailed;
    else if (gated?.verdict === 'insufficient-data') process.exitCode = ExitCode.insufficientData;
  } finally {
    status.done();
    finished();
    unregister();
  }
}
