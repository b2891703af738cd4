#!/usr/bin/env node
// `cim`, the appliance's one command line. This file is the composition root: it wires the
// commands of appliance/, bench/ and (later) scenarios/, compliance/ and reports/ together;
// nothing else in appliance/ imports those folders.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import type { NatsConnection } from 'nats';
import {
  renderAppendBenchmark,
  renderCommandBenchmark,
  renderMicroBenchmarks,
  runAppendBenchmark,
  runCommandBenchmark,
  runMicroBenchmarks,
  runRawBaseline,
  type AppendBenchmarkResult,
  type CommandBenchmarkResult,
  type MicroBenchmarkResult,
  type RawBaselineResult,
  runNatsBench,
  type NatsBenchResult,
} from '../bench/index.js';
import {
  attachedClusterStatus,
  connectNats,
  EmbeddedCluster,
  openCluster,
  renderClusterStatus,
  resolveServerVersion,
  installNatscli,
  NATSCLI_VERSION,
  type NatsEndpoint,
  type ClusterStatus,
} from './cluster/index.js';
import { loadConfig, type ApplianceConfig, type FlatSettings } from './config.js';
import { listDomains, loadOrCreateSigner, renderVerification, Sealer, trustedVerifiers, Verifier, verifyDomain, type DomainVerification } from './eventstore/index.js';
import { CimError, ExitCode, toCimError } from './errors.js';
import { loadDomainPlugins, replay } from './domain/index.js';
import { referenceDomains } from './domains/index.js';
import { startAppliance, type ApplianceHandle } from './serve.js';
import {
  checkScenario,
  defaultCatalogDir,
  compareWithBaseline,
  DEFAULT_THRESHOLD,
  findScenarios,
  parseThreshold,
  performanceReport,
  registerGateCommand,
  formatIssue,
  knownNames,
  loadCatalog,
  renderBenchResults,
  renderScenario,
  renderScenarioList,
  runBench,
  type ScenarioIssue,
} from '../scenarios/index.js';
import { loadReport, registerReportCommands, renderFiles, withLedger, writeOnce, writeReport } from '../reports/index.js';
import { registerNatsConfigCommand } from './nats-config-command.js';
import { registerServersCommand } from './servers-command.js';
import { installSignalHandlers, onShutdown } from './shutdown.js';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const log = (line: string) => process.stderr.write(`cim: ${line}\n`);
const print = (text: string) => process.stdout.write(text.endsWith('\n') ? text : text + '\n');

interface GlobalOptions {
  state?: string;
  config?: string;
  nats?: string;
  creds?: string;
  natsServer?: string;
}

/** Flags that set configuration, mapped onto the schema's dotted paths. */
function configFrom(command: Command, extra: FlatSettings = {}): ApplianceConfig {
  const global = command.optsWithGlobals<GlobalOptions>();
  return loadConfig({
    file: global.config,
    flags: { stateDir: global.state, natsServer: global.natsServer, 'nats.urls': global.nats, 'nats.credsFile': global.creds, ...extra },
  });
}

function positiveInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new CimError('CIM-INVALID-INPUT', `${name}: expected integer ≥ 1, got "${value}"`);
    }
    return n;
  };
}

function printStatus(status: ClusterStatus, json: boolean | undefined): void {
  print(json ? JSON.stringify(status, null, 2) : renderClusterStatus(status));
}

/** Runs an action, turning any failure into `error CODE: message` and the code's exit status. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
      process.exitCode ??= ExitCode.ok;
    } catch (error) {
      const cim = toCimError(error);
      process.stderr.write(`cim: error ${cim.code}: ${cim.message}\n`);
      if (cim.hint) process.stderr.write(`cim: hint: ${cim.hint}\n`);
      if (cim.code === 'CIM-INTERNAL' && process.env.CIM_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
      process.exitCode = cim.exitCode;
    }
  };
}

function buildProgram(): Command {
  const program = new Command('cim')
    .description(
      'CIM Appliance: benchmarks and audits event-sourced CIM services on NATS JetStream.\n' +
        'Commands that need NATS use --nats (attach), else the cluster `cim cluster up` left running,\n' +
        'else an embedded 3-node cluster started for the command and stopped after it.',
    )
    .version(packageJson.version, '-V, --version')
    .option('--state <dir>', 'state directory: cluster data, ledger, reports (env CIM_STATE_DIR)', undefined)
    .option('--config <file>', 'configuration file, JSON or YAML (env CIM_CONFIG)')
    .option('--nats <urls>', 'attach to an existing cluster: comma-separated NATS URLs (env CIM_NATS_URLS)')
    .option('--creds <file>', 'NATS credentials file for --nats (env CIM_NATS_CREDS_FILE)')
    .option('--nats-server <version|path>', 'nats-server of the embedded cluster: a supported version, built from Go modules on demand (`cim servers list`), or a path (env CIM_NATS_SERVER)')
    .showHelpAfterError('(run `cim --help` for usage)')
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 a check or gate failed, 2 usage or configuration error, 3 infrastructure unavailable.\n' +
        'Every setting also comes from a CIM_* variable or the --config file; flags win, then variables, then the file.',
    );

  const cluster = program.command('cluster').description('the embedded NATS JetStream cluster, for development').exitOverride();

  cluster
    .command('up')
    .description('start the embedded cluster and leave it running for later commands')
    .option('--nodes <n>', 'number of nats-server nodes (default 3; env CIM_CLUSTER_NODES)')
    .option('--sync-interval <duration>', 'JetStream fsync interval, e.g. 2m or always (nats-server ≥ 2.10)')
    .option('--json', 'print the status as JSON')
    .action(
      action(async (options: { nodes?: string; syncInterval?: string; json?: boolean }, command: Command) => {
        const config = configFrom(command, { 'cluster.nodes': options.nodes, 'cluster.syncInterval': options.syncInterval });
        if (config.nats.urls.length > 0) {
          throw new CimError('CIM-INVALID-INPUT', '`cim cluster up` manages the embedded cluster; --nats attaches to one that runs elsewhere');
        }
        let running = EmbeddedCluster.findRunning(config.stateDir, log);
        if (running) {
          running.assertSize(config);
          log(`the embedded cluster in ${config.stateDir} is already running`);
        } else {
          running = await EmbeddedCluster.start(config, { persistent: true, log });
        }
        printStatus(await running.status(), options.json);
      }),
    );

  cluster
    .command('status')
    .description('show each server, its ports and version, the JetStream meta leader and the cluster size')
    .option('--json', 'print as JSON')
    .action(
      action(async (options: { json?: boolean }, command: Command) => {
        const config = configFrom(command);
        if (config.nats.urls.length > 0) {
          printStatus(await attachedClusterStatus({ servers: config.nats.urls, credsFile: config.nats.credsFile }), options.json);
          return;
        }
        const running = EmbeddedCluster.findRunning(config.stateDir, log);
        if (!running) {
          throw new CimError('CIM-CLUSTER-NOT-RUNNING', `no embedded cluster is running in ${config.stateDir}`, {
            hint: 'Start one with `cim cluster up`, or attach to another with --nats URL,...',
          });
        }
        printStatus(await running.status(), options.json);
      }),
    );

  cluster
    .command('down')
    .description('stop the embedded cluster (its data stays in the state dir)')
    .action(
      action(async (_options: object, command: Command) => {
        const config = configFrom(command);
        const running = EmbeddedCluster.findRunning(config.stateDir, log);
        if (running) {
          await running.stop();
        } else {
          log(`no embedded cluster is running in ${config.stateDir}`);
          await EmbeddedCluster.reclaimOrphans(config.stateDir, log);
        }
      }),
    );

  program
    .command('bench')
    .argument('[scenario...]', 'scenario files, catalog scenario names or suite names (default: the standard suite)')
    .description(
      'the main job: run scenarios (scenarios/catalog) against the reference services on a real cluster — each on a\n' +
        'fresh embedded cluster of its shape (or the one --nats names): the raw JetStream baseline first, then load,\n' +
        'fault and replay phases, then the checker (everything acknowledged read back: lost, unexpected, duplicates)\n' +
        'and chain/seal verification. Prints every headline figure with its ratio to the raw baseline of the same run\n' +
        'and writes the results as JSON to <state>/results/. Exit 1 when a scenario fails its checks or errors.\n' +
        'With --components: the component benchmarks instead (raw, event store, commands, replay, micro).',
    )
    .option('--quick', 'run the quick suite (well under a minute of load; what CI runs)')
    .addOption(new Option('--baseline-messages <n>', 'messages of the raw baseline per scenario (default 20000, --quick 5000)').argParser(positiveInteger('--baseline-messages')))
    .option('--baseline <ref>', 'gate the run against this report (CID, baseline:<name>, latest:performance): exit 1 on a significant regression')
    .addOption(new Option('--threshold <share>', 'with --baseline: smallest change that counts, e.g. 5% (default 10%)').argParser(parseThreshold))
    .option('--save-baseline [name]', 'record this run\'s report as baseline <name> (default "default") in the ledger')
    .option('--out <file>', 'also write the raw results JSON to this file')
    .option('--keep-data', "keep each scenario's cluster data and read models under <state>/bench/<run>/")
    .addOption(new Option('--servers <versions>', 'a version matrix: the same scenarios and seeds on each nats-server (e.g. 2.9.10,2.12.1,2.15.x, or paths), each on its own fresh cluster, compared side by side').argParser(parseServerList))
    .option('--key <file...>', 'with --nats: seal keys (PEM) of the appliances already serving that cluster, trusted by verification')
    .option('--json', 'print the results as JSON')
    .option('--components', 'run the component benchmarks instead of scenarios (the options below)')
    .addOption(new Option('--messages <n>', 'components: messages per throughput phase').default(20_000).argParser(positiveInteger('--messages')))
    .addOption(new Option('--payload-bytes <n>', 'components: payload size').default(256).argParser(positiveInteger('--payload-bytes')))
    .addOption(new Option('--subjects <n>', 'components: distinct subjects (event store: aggregates)').default(1_000).argParser(positiveInteger('--subjects')))
    .addOption(new Option('--in-flight <n>', 'components: publishes awaiting their ack').default(256).argParser(positiveInteger('--in-flight')))
    .addOption(new Option('--latency-seconds <n>', 'components: length of each fixed-rate latency phase').default(5).argParser(positiveInteger('--latency-seconds')))
    .addOption(new Option('--latency-rate <n>', 'components: msgs/s of the latency phases (default: half the raw throughput)').argParser(positiveInteger('--latency-rate')))
    .option('--no-eventstore', 'components: skip the event store measurement')
    .option('--no-commands', 'components: skip the command service and replay measurement')
    .option('--no-peer', `components: skip \`nats bench\` (natscli ${NATSCLI_VERSION}, built with Go when missing), the peer every figure is also a ratio to`)
    .option('--micro', 'components: also run the client-side micro-benchmarks (encode, decode, Merkle, verification kernel)')
    .action(
      action(async (refs: string[], options: ScenarioBenchOptions & ComponentBenchOptions, command: Command) => {
        if (options.components) return componentBench(options, command);
        return scenarioBench(refs, options, command);
      }),
    );

  const scenario = program.command('scenario').description('work with scenario files: list the catalog, show, validate, run').exitOverride();
  scenario
    .command('list')
    .description('the shipped catalog (scenarios/catalog): names, suites, cluster size, expected duration, phases')
    .option('--json', 'print the parsed scenarios as JSON')
    .action(
      action(async (options: { json?: boolean }, command: Command) => {
        const scenarios = loadCatalog(defaultCatalogDir(), { known: await servedNames(command) });
        print(options.json ? JSON.stringify(scenarios, null, 2) : renderScenarioList(scenarios));
      }),
    );
  scenario
    .command('show')
    .argument('<scenario...>', 'scenario files, catalog names or suite names')
    .description('what a scenario does: its cluster, each phase with its timing, the checks and what they measure')
    .option('--json', 'print the parsed scenarios as JSON')
    .action(
      action(async (refs: string[], options: { json?: boolean }, command: Command) => {
        const scenarios = findScenarios(refs, { known: await servedNames(command) });
        print(options.json ? JSON.stringify(scenarios, null, 2) : scenarios.map(renderScenario).join('\n\n'));
      }),
    );
  scenario
    .command('validate')
    .argument('<file...>', 'scenario files (YAML)')
    .description('check scenario files against the schema and the served domains; every problem is named by file:line:column and field; exit 2 if any')
    .option('--json', 'print the problems as JSON')
    .action(
      action(async (files: string[], options: { json?: boolean }, command: Command) => {
        const known = await servedNames(command);
        const report: { file: string; ok: boolean; scenario?: string; issues: ScenarioIssue[] }[] = [];
        for (const file of files) {
          let text: string;
          try {
            text = readFileSync(file, 'utf8');
          } catch (error) {
            throw new CimError('CIM-NOT-FOUND', `${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
          }
          const checked = checkScenario(text, { file, known });
          report.push('scenario' in checked ? { file, ok: true, scenario: checked.scenario.name, issues: [] } : { file, ok: false, issues: checked.issues });
        }
        if (options.json) print(JSON.stringify(report, null, 2));
        else for (const r of report) print(r.ok ? `ok   ${r.file} (${r.scenario})` : `FAIL ${r.file}\n${r.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`);
        if (report.some((r) => !r.ok)) process.exitCode = ExitCode.usage;
      }),
    );
  scenario
    .command('run')
    .argument('<scenario...>', 'scenario files, catalog names or suite names')
    .description('run scenarios as cim bench does (see cim bench --help), without the default suite')
    .addOption(new Option('--baseline-messages <n>', 'messages of the raw baseline per scenario').default(20_000).argParser(positiveInteger('--baseline-messages')))
    .option('--out <file>', 'write the results JSON here instead of <state>/results/<run>.json')
    .option('--keep-data', "keep each scenario's cluster data and read models")
    .option('--json', 'print the results as JSON')
    .action(action(async (refs: string[], options: ScenarioBenchOptions, command: Command) => scenarioBench(refs, options, command)));

  program
    .command('serve')
    .description(
      'run the appliance: the reference domains\' command and query services, the onboarding process manager,\n' +
        'the projections into the SQLite read models (state dir) and a sealer per domain, until Ctrl-C or SIGTERM;\n' +
        'then it stops taking commands, answers those in flight, flushes the projections and drains NATS',
    )
    .action(
      action(async (_options: object, command: Command) => {
        const config = configFrom(command);
        const target = await openCluster(config, { log });
        let appliance: ApplianceHandle;
        try {
          appliance = await startAppliance({ endpoint: target.endpoint, stateDir: config.stateDir, replicas: Math.min(3, target.nodeCount), plugins: config.domains.plugins, log });
        } catch (error) {
          await target.release();
          throw error;
        }
        // Runs until a signal: the closers run newest first, so the appliance stops before a cluster it started.
        onShutdown(() => appliance.stop());
        await new Promise<never>(() => {});
      }),
    );

  program
    .command('replay')
    .description(
      'rebuild a projection\'s read model from its streams, or travel in time: build it as of a stream sequence\n' +
        '(--to 1234) or a timestamp (--to 2026-11-25T10:00:00Z); writes a new SQLite file and prints events/s',
    )
    .argument('<projection>', 'the projection, e.g. person_directory (see the domains)')
    .option('--to <seq|time>', 'stop after this stream sequence, or at this RFC 3339 time')
    .option('--out <file>', 'the SQLite file to write (default: <state>/replays/<projection>[@<to>].sqlite)')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (name: string, options: { to?: string; out?: string; json?: boolean }, command: Command) => {
        const config = configFrom(command);
        const domains = [...referenceDomains, ...(await loadDomainPlugins(config.domains.plugins, referenceDomains.map((d) => d.name)))];
        const owner = domains.find((d) => d.definition.projections?.some((p) => p.name === name));
        const projection = owner?.definition.projections?.find((p) => p.name === name);
        if (!owner || !projection) {
          const known = domains.flatMap((d) => d.definition.projections ?? []).map((p) => p.name);
          throw new CimError('CIM-NOT-FOUND', `no projection ${name}; there are ${known.join(', ')}`);
        }
        const bound = parseReplayBound(options.to);
        const out = options.out ?? join(config.stateDir, 'replays', `${name}${options.to ? '@' + options.to.replace(/[^A-Za-z0-9.-]/g, '_') : ''}.sqlite`);
        mkdirSync(dirname(out), { recursive: true });
        const target = await openCluster(config, { log });
        try {
          const nc = await connectNats(target.endpoint, { name: 'cim-replay' });
          try {
            const bar = progressBar(`replay ${name}`);
            const result = await replay({ nc, projection, path: out, upcasters: owner.upcasters, ...bound, onProgress: bar.update });
            bar.done();
            if (options.json) print(JSON.stringify({ projection: name, path: out, ...result }, null, 2));
            else print(`${name}: ${result.events} events in ${result.seconds.toFixed(2)} s = ${Math.round(result.eventsPerSecond)} events/s, up to stream seq ${result.lastSeq}; written to ${out}`);
          } finally {
            await nc.close();
          }
        } finally {
          await target.release();
        }
      }),
    );

  program
    .command('verify')
    .description(
      'verify every event chain (CIDs recompute, prev links, seq contiguous), every seal (Merkle root,\n' +
        'signature, seal chain) and the tail past the last seal; exit 1 with findings naming stream, sequence and CIDs',
    )
    .option('--domain <name...>', 'verify only these domains (default: every domain stream found)')
    .option('--key <file...>', 'trusted Ed25519 public key (PEM) for seal signatures; the state dir\'s own key is always trusted')
    .option('--json', 'print the results as JSON')
    .action(
      action(async (options: { domain?: string[]; key?: string[]; json?: boolean }, command: Command) => {
        const config = configFrom(command);
        const trusted = trustedVerifiers(config.stateDir, options.key);
        const target = await openCluster(config, { log });
        try {
          const nc = await connectNats(target.endpoint, { name: 'cim-verify' });
          const results: DomainVerification[] = [];
          try {
            const domains = options.domain ?? (await listDomains(nc));
            for (const domain of domains) {
              results.push(
                await verifyDomain(nc, domain, {
                  trusted,
                  onProgress: (d, seq, last) => log(`verifying ${d}: seq ${seq} of ${last}`),
                }),
              );
            }
          } finally {
            await nc.close();
          }
          const findings = results.reduce((n, r) => n + r.findings.length + r.findingsOmitted, 0);
          if (options.json) {
            print(JSON.stringify({ ok: findings === 0, findings, trustedKeys: trusted.map((v) => v.keyId), domains: results }, null, 2));
          } else {
            print(renderVerification(results, trusted.map((v) => v.keyId)));
          }
          if (findings > 0) process.exitCode = ExitCode.checkFailed;
        } finally {
          await target.release();
        }
      }),
    );

  program
    .command('seal')
    .description('seal what is not yet sealed in each domain stream now (cim serve does this every N events or T seconds)')
    .option('--domain <name...>', 'seal only these domains (default: every domain stream found)')
    .option('--json', 'print the seals as JSON')
    .action(
      action(async (options: { domain?: string[]; json?: boolean }, command: Command) => {
        const config = configFrom(command);
        const signer = loadOrCreateSigner(config.stateDir);
        const target = await openCluster(config, { log });
        try {
          const nc = await connectNats(target.endpoint, { name: 'cim-seal' });
          const sealed: { domain: string; cid: string; fromSeq: number; toSeq: number; count: number }[] = [];
          try {
            for (const domain of options.domain ?? (await listDomains(nc))) {
              const named = await (await Sealer.open(nc, { domain, signer })).sealOnce();
              if (named) sealed.push({ domain, cid: named.cid.toString(), fromSeq: named.seal.fromSeq, toSeq: named.seal.toSeq, count: named.seal.count });
              else log(`${domain}: nothing to seal`);
            }
          } finally {
            await nc.close();
          }
          if (options.json) print(JSON.stringify({ signer: signer.keyId, seals: sealed }, null, 2));
          else for (const s of sealed) print(`${s.domain}: sealed seq ${s.fromSeq}..${s.toSeq} (${s.count} events) as ${s.cid}`);
        } finally {
          await target.release();
        }
      }),
    );

  registerNatsConfigCommand(program, { configFrom, action, print });
  registerServersCommand(program, { configFrom, action, print, log });
  registerReportCommands(program, { configFrom, action, print, log });
  registerGateCommand(program, { configFrom, action, print, log });

  return program;
}

/** `--to` of `cim replay`: digits are a stream sequence, anything else an RFC 3339 time. */
function parseReplayBound(to: string | undefined): { toSeq?: number; toTime?: string } {
  if (to === undefined) return {};
  if (/^\d+$/.test(to)) return { toSeq: Number(to) };
  if (Number.isNaN(Date.parse(to))) throw new CimError('CIM-INVALID-INPUT', `--to: expected a stream sequence or an RFC 3339 time, got "${to}"`);
  return { toTime: new Date(to).toISOString() };
}

/** Progress on stderr: one line redrawn in a terminal, a line every few seconds otherwise. */
function progressBar(label: string): { update: (done: number, total: number, perSecond: number) => void; done: () => void } {
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  return {
    update(done, total, perSecond) {
      const pct = total > 0 ? Math.min(100, (100 * done) / total) : 100;
      const line = `${label}: ${done}/${total} (${pct.toFixed(0)}%) ${Math.round(perSecond)} events/s`;
      if (tty) {
        const width = 24;
        const filled = Math.round((pct / 100) * width);
        process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}`);
      } else if (Date.now() - lastLine > 2_000) {
        lastLine = Date.now();
        log(line);
      }
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}

interface ComponentBenchOptions {
  messages: number;
  payloadBytes: number;
  subjects: number;
  inFlight: number;
  latencySeconds: number;
  latencyRate?: number;
  eventstore: boolean;
  commands: boolean;
  peer: boolean;
  micro?: boolean;
  json?: boolean;
  components?: boolean;
}

interface ScenarioBenchOptions {
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
}

/** `--servers 2.9.10,2.12.1,2.15.x`: supported versions (lines resolved to their pinned release) or paths. */
function parseServerList(text: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new CimError('CIM-INVALID-INPUT', '--servers: expected a comma-separated list of versions or paths');
  const servers = items.map((item) => (item.includes('/') ? item : resolveServerVersion(item).version));
  const twice = servers.find((s, i) => servers.indexOf(s) !== i);
  if (twice) throw new CimError('CIM-INVALID-INPUT', `--servers: ${twice} is named twice`);
  return servers;
}

/** The commands and projections a scenario may name: the reference domains and the configured plugins'. */
async function servedNames(command: Command) {
  const config = configFrom(command);
  return knownNames([...referenceDomains, ...(await loadDomainPlugins(config.domains.plugins, referenceDomains.map((d) => d.name)))]);
}

/** `cim bench [SCENARIO…]`: the scenarios, a live status line, the summary and the results file. */
async function scenarioBench(refs: string[], options: ScenarioBenchOptions, command: Command): Promise<void> {
  const config = configFrom(command);
  const known = await servedNames(command);
  const wanted = [...refs, ...(options.quick ? ['quick'] : [])];
  const scenarios = findScenarios(wanted.length > 0 ? wanted : ['standard'], { known });
  if (options.servers) {
    // Each version needs clusters of its own; an attached or running cluster has one version.
    if (config.nats.urls.length > 0) throw new CimError('CIM-INVALID-INPUT', '--servers runs embedded clusters of each version; it cannot be combined with --nats');
    if (EmbeddedCluster.findRunning(config.stateDir)) throw new CimError('CIM-INVALID-INPUT', '--servers starts a fresh cluster per version, but `cim cluster up` left one running in this state dir', { hint: 'Stop it with `cim cluster down`, or use another --state.' });
    if (options.baseline) throw new CimError('CIM-INVALID-INPUT', '--servers and --baseline: a version matrix is compared side by side, not gated; gate a run on one server');
  }
  // Resolved before the run, so a wrong reference costs nothing.
  const baseline = options.baseline ? withLedger(config.stateDir, (ledger) => loadReport(ledger, options.baseline!)) : undefined;
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
      onScenario: (s, index, total) => status.log(`scenario ${index + 1}/${total}: ${s.name} — ${s.description.split('\n')[0]!.slice(0, 100)}`),
      onProgress: (p) =>
        status.update(`${p.scenario} [${p.phases.join(', ') || 'between phases'}] ${(p.elapsedMs / 1_000).toFixed(0)} s  ${p.opsPerSec} ops/s  p99 ${p.p99Ms.toFixed(1)} ms  errors ${p.errors}`),
      signal: abort.signal,
      ...(options.servers ? { servers: options.servers } : {}),
    });
    status.done();
    const comparison = baseline ? compareWithBaseline(baseline, results, options.threshold ?? DEFAULT_THRESHOLD) : undefined;
    const reportConfig = {
      stateDir: config.stateDir,
      nats: { urls: config.nats.urls },
      cluster: config.cluster,
      domains: config.domains,
      bench: { refs: wanted, quick: options.quick ?? false, baselineMessages: options.baselineMessages ?? null, threshold: options.threshold ?? null, servers: options.servers ?? null },
    };
    const { named, files } = writeReport(performanceReport(results, reportConfig, comparison), { stateDir: config.stateDir, signer: loadOrCreateSigner(config.stateDir), render: renderFiles });
    const cid = named.cid.toString();
    const baselineName = options.saveBaseline === true ? 'default' : options.saveBaseline;
    if (baselineName) withLedger(config.stateDir, (ledger) => ledger.addBaseline(baselineName, cid));
    if (options.out) writeOnce(options.out, JSON.stringify(results, null, 2) + '\n');
    if (options.json) {
      print(JSON.stringify({ report: { cid, files }, results }, null, 2));
    } else {
      const lines = [renderBenchResults(results), '', `report ${cid} (signed ${named.report.signer})`, `  html: ${files.html}`, `  verify: cim report verify ${cid}`];
      if (baselineName) lines.push(`  saved as baseline "${baselineName}" (cim bench --baseline baseline:${baselineName})`);
      if (comparison) {
        const regressions = comparison.comparisons.filter((c) => c.verdict === 'regressed');
        lines.push('', `gate against ${comparison.cid.toString()}: ${regressions.length === 0 ? 'no significant regression' : `${regressions.length} significant regression(s)`}`);
        for (const c of regressions) lines.push(`  ${c.scenario} ${c.metric}: ${(c.relativeChange * 100).toFixed(1)} % (CI ${c.confidenceInterval.map((x) => (x * 100).toFixed(1)).join('…')} %, p ${c.pValue.toPrecision(2)})`);
      }
      print(lines.join('\n'));
    }
    if (results.scenarios.some((r) => r.status === 'failed' || r.status === 'error') || comparison?.regressed) process.exitCode = ExitCode.checkFailed;
  } finally {
    status.done();
    finished();
    unregister();
  }
}

/** One status line on a terminal (rewritten in place); elsewhere a line every ten seconds. Log lines go above it. */
function statusLine(): { update(text: string): void; log(line: string): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  let lastPrinted = 0;
  return {
    update(text) {
      if (tty) {
        process.stderr.write(`\r\x1b[K${text}`);
        shown = true;
      } else if (Date.now() - lastPrinted >= 10_000) {
        lastPrinted = Date.now();
        log(text);
      }
    },
    log(line) {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
      log(line);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}

/**
 * `nats bench` on the same cluster, with natscli from the cache (built with Go when missing); a
 * reason instead when it cannot run, so the output says why the peer is absent.
 */
async function peerBenchmark(
  endpoint: NatsEndpoint,
  nc: NatsConnection,
  shape: { messages: number; payloadBytes: number; subjects: number; window: number; replicas: number },
): Promise<{ result?: NatsBenchResult; skipped?: string }> {
  let natscli: string;
  try {
    natscli = (await installNatscli(process.env, log)).path;
  } catch (error) {
    return { skipped: `natscli ${NATSCLI_VERSION} is not available: ${toCimError(error).message}` };
  }
  log(`nats bench: JetStream async publish, ${shape.messages} messages of ${shape.payloadBytes} B, window ${shape.window}, R${shape.replicas}`);
  return { result: await runNatsBench({ natscli, natscliVersion: NATSCLI_VERSION, servers: endpoint.servers, credsFile: endpoint.credsFile, nc, ...shape }) };
}

/** Each throughput the appliance measured, as a share of what `nats bench` published on the same cluster. */
function peerRatios(peer: NatsBenchResult | undefined, raw: RawBaselineResult, eventStore?: AppendBenchmarkResult, commands?: CommandBenchmarkResult): Record<string, number> {
  if (!peer) return {};
  const ratios: Record<string, number> = { rawPublish: raw.publish.perSecond / peer.perSecond };
  if (eventStore) {
    ratios.rawWithContract = eventStore.throughput.rawWithContract.perSecond / peer.perSecond;
    ratios.append = eventStore.throughput.append.perSecond / peer.perSecond;
  }
  if (commands) ratios.command = commands.throughput.command.perSecond / peer.perSecond;
  return ratios;
}

function renderPeer(peer: { result?: NatsBenchResult; skipped?: string }, ratios: Record<string, number>): string {
  if (!peer.result) return `nats bench (the peer): skipped — ${peer.skipped}`;
  const r = peer.result;
  const names: Record<string, string> = { rawPublish: 'raw publish (Node)', rawWithContract: 'raw + contract headers', append: 'event store append', command: 'command' };
  return [
    `nats bench (${r.tool}, Go client) JetStream async publish: ${Math.round(r.perSecond)} msgs/s (${r.messages} in ${r.seconds.toFixed(2)} s; p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms)`,
    `  ${r.command}`,
    ...Object.entries(ratios).map(([key, value]) => `  ${(names[key] ?? key).padEnd(24)} ${value.toFixed(2)}× nats bench`),
  ].join('\n');
}

async function componentBench(options: ComponentBenchOptions, command: Command): Promise<void> {
  const config = configFrom(command);
  const signer = options.eventstore ? loadOrCreateSigner(config.stateDir) : undefined;
  const target = await openCluster(config, { log });
  const abort = new AbortController();
  const unregister = onShutdown(() => abort.abort());
  try {
    const nc = await connectNats(target.endpoint, { name: 'cim-bench' });
    const replicas = Math.min(3, target.nodeCount);
    let raw: RawBaselineResult;
    let eventStore: AppendBenchmarkResult | undefined;
    let commands: CommandBenchmarkResult | undefined;
    let micro: MicroBenchmarkResult[] | undefined;
    let peer: { result?: NatsBenchResult; skipped?: string } | undefined;
    try {
      raw = await runRawBaseline(nc, {
        stream: 'CIM_BENCH_RAW',
        subjectPrefix: 'cim.bench.raw',
        messages: options.messages,
        payloadBytes: options.payloadBytes,
        subjects: options.subjects,
        inFlight: options.inFlight,
        replicas,
        signal: abort.signal,
        onProgress: (phase, done, total) => log(`raw ${phase}: ${done}/${total}`),
      });
      if (options.peer && !abort.signal.aborted) {
        peer = await peerBenchmark(target.endpoint, nc, { messages: options.messages, payloadBytes: options.payloadBytes, subjects: options.subjects, window: options.inFlight, replicas });
      }
      if (signer && !abort.signal.aborted) {
        eventStore = await runAppendBenchmark(nc, {
          // Seals of a run stay in CIM_SEALS (it refuses deletes), so each run has its own domain.
          domain: `bench${Date.now().toString(36)}`,
          messages: options.messages,
          payloadBytes: options.payloadBytes,
          aggregates: options.subjects,
          inFlight: options.inFlight,
          replicas,
          latencySeconds: options.latencySeconds,
          ...(options.latencyRate ? { latencyRate: options.latencyRate } : {}),
          verifyWith: signer,
          signal: abort.signal,
          onProgress: (phase, done, total) => log(`event store ${phase}: ${done}/${total}`),
        });
      }
      if (options.commands && !abort.signal.aborted) {
        // The service gets a connection of its own, as a separate appliance instance would have.
        const serviceNc = await connectNats(target.endpoint, { name: 'cim-bench-service' });
        try {
          commands = await runCommandBenchmark(nc, {
            messages: options.messages,
            aggregates: options.subjects,
            inFlight: options.inFlight,
            replicas,
            serviceConnection: serviceNc,
            latencySeconds: options.latencySeconds,
            signal: abort.signal,
            onProgress: (phase, done, total) => log(`commands ${phase}: ${done}/${total}`),
          });
        } finally {
          await serviceNc.close();
        }
      }
    } finally {
      await nc.close();
    }
    if (options.micro && !abort.signal.aborted) {
      micro = await runMicroBenchmarks({ payloadBytes: options.payloadBytes, signal: abort.signal, onProgress: (name) => log(`micro-benchmark: ${name}`) });
    }
    const status = target.embedded ? await target.embedded.status() : await attachedClusterStatus(target.endpoint);
    if (options.json) {
      print(JSON.stringify({ cluster: status, rawBaseline: raw, peer: peer ? { ...peer, ratios: peerRatios(peer.result, raw, eventStore, commands) } : undefined, eventStore, commands, micro }, null, 2));
    } else {
      print(renderClusterStatus(status));
      print(
        `\nraw JetStream baseline (R${raw.replicas}, ${raw.payloadBytes}-byte payloads, ${raw.subjects} subjects, ${raw.inFlight} in flight)\n` +
          `  publish: ${raw.publish.messages} acked in ${raw.publish.seconds.toFixed(2)} s = ${Math.round(raw.publish.perSecond)} msgs/s\n` +
          `  read:    ${raw.read.messages} read back in ${raw.read.seconds.toFixed(2)} s = ${Math.round(raw.read.perSecond)} msgs/s (ordered consumer)\n` +
          `  check:   lost ${raw.lost}, corrupted ${raw.corrupted}${raw.interrupted ? ' (interrupted: partial figures)' : ''}`,
      );
      if (eventStore) print('\n' + renderAppendBenchmark(eventStore));
      if (commands) print('\n' + renderCommandBenchmark(commands));
      if (peer) print('\n' + renderPeer(peer, peerRatios(peer.result, raw, eventStore, commands)));
      if (micro) print('\n' + renderMicroBenchmarks(micro));
    }
    const storeFailed = eventStore !== undefined && (eventStore.check.rawLost > 0 || eventStore.check.contractLost > 0 || eventStore.check.appendLost > 0 || (eventStore.verify?.findings ?? 0) > 0);
    const commandsFailed = commands !== undefined && (commands.check.commandsFailed > 0 || commands.check.renamesStored !== commands.check.commandsOk);
    if (raw.lost > 0 || raw.corrupted > 0 || storeFailed || commandsFailed) process.exitCode = ExitCode.checkFailed;
  } finally {
    unregister();
    await target.release();
  }
}

async function main(argv: string[]): Promise<void> {
  installSignalHandlers(log);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed the message; help and --version are not errors.
      const benign = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code);
      process.exitCode = benign ? ExitCode.ok : ExitCode.usage;
    } else if (error instanceof CimError) {
      // Thrown by an option parser before the action ran.
      process.stderr.write(`cim: error ${error.code}: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      throw error;
    }
  }
  // Connections and timers must not keep a finished command alive.
  process.exit(process.exitCode ?? 0);
}

await main(process.argv);
