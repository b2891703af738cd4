#!/usr/bin/env node
// `cim`, the appliance's one command line, and the composition root: the program and its global
// flags here, one module per verb (or verb group) beside it wiring appliance/, bench/, scenarios/
// and reports/ together. Nothing outside cli/ imports cli/ (the lint's dependency rules).
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CimError, ExitCode, installSignalHandlers } from '../appliance/index.js';
import { registerAuditCommands } from './audit.js';
import { registerBenchCommand } from './bench.js';
import { registerClusterCommands } from './cluster.js';
import { registerComplyCommand } from './comply.js';
import { registerEraseCommand } from './erase.js';
import { registerGateCommand } from './gate.js';
import { registerHoldCommands } from './hold.js';
import { registerKeysCommands } from './keys.js';
import { registerNatsConfigCommand } from './nats-config.js';
import { registerReplayCommand } from './replay.js';
import { registerReportCommands } from './report.js';
import { registerRetentionCommands } from './retention.js';
import { registerScenarioCommands } from './scenario.js';
import { registerSealCommand } from './seal.js';
import { registerServeCommand } from './serve.js';
import { registerServersCommand } from './servers.js';
import { registerVerifyCommand } from './verify.js';
import { log } from './wiring.js';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

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
    .option(
      '--nats-server <version|path>',
      'nats-server of the embedded cluster: a supported version, built from Go modules on demand (`cim servers list`), or a path (env CIM_NATS_SERVER)',
    )
    .showHelpAfterError('cim: hint: run `cim --help` (or `cim <verb> --help`) for usage')
    .configureOutput({ outputError: (text, write) => write(commanderErrorLine(text)) })
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 a check or gate failed, 2 usage or configuration error, 3 infrastructure unavailable,\n' +
        '4 internal error (a bug: run again with CIM_DEBUG=1 for the stack), 5 a gate had too little to compare.\n' +
        'Every setting also comes from a CIM_* variable or the --config file; flags win, then variables, then the file.',
    );

  // In this order in `cim --help`.
  registerClusterCommands(program);
  registerBenchCommand(program);
  registerScenarioCommands(program);
  registerServeCommand(program);
  registerKeysCommands(program);
  registerReplayCommand(program);
  registerVerifyCommand(program);
  registerComplyCommand(program);
  registerSealCommand(program);
  registerEraseCommand(program);
  registerHoldCommands(program);
  registerRetentionCommands(program);
  registerAuditCommands(program);
  registerNatsConfigCommand(program);
  registerServersCommand(program);
  registerReportCommands(program);
  registerGateCommand(program);

  for (const command of program.commands) {
    const summary = SUMMARIES[command.name()];
    if (summary && !command.summary()) command.summary(summary);
  }
  unwrapDescriptions(program);
  return program;
}

/** What `cim --help` lists beside each verb; `cim <verb> --help` gives the whole description. */
const SUMMARIES: Record<string, string> = {
  cluster: 'start, stop and inspect the embedded 3-node cluster (development)',
  bench: 'the main job: run scenarios on a real cluster, write a signed performance report',
  scenario: 'list, show and validate scenario files',
  serve: 'run the domain services, projections, sealers and the HTTP API until Ctrl-C',
  keys: 'API keys of the HTTP gateway',
  replay: "rebuild a projection's read model, or build it as of a point in time",
  verify: 'verify event chains, seals and the audit log',
  comply: 'run the compliance checks and write the signed compliance, retention and audit reports',
  seal: 'seal what is not yet sealed in each domain',
  erase: "erase a data subject's personal data (crypto-shredding)",
  hold: 'legal holds: what retention and erasure must leave alone',
  retention: 'apply the retention policies',
  audit: 'read and verify the audit log',
  'nats-config': "print a node's nats-server config",
  servers: 'the supported nats-server releases, built on demand',
  report: 'the report ledger: list, show, verify, render, compare',
  gate: 'the CI performance gate: a candidate report against a baseline',
};

/**
 * Descriptions are written over several source lines for reading; commander wraps them to the
 * terminal itself, so a single line break is a space (a blank line still separates paragraphs).
 */
function unwrapDescriptions(command: Command): void {
  const unwrap = (text: string) => text.replace(/([^\n])\n(?!\n)/g, '$1 ');
  command.description(unwrap(command.description()));
  for (const option of command.options) option.description = unwrap(option.description);
  for (const sub of command.commands) unwrapDescriptions(sub);
}

/**
 * Commander's own errors (`error: unknown command 'x'`, a missing required option) in the one form
 * every `cim` error has: `cim: error CIM-INVALID-INPUT: …` (exit 2).
 */
function commanderErrorLine(text: string): string {
  return `cim: error CIM-INVALID-INPUT: ${text.replace(/^error:\s*/, '')}`;
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
      // Not ours and not commander's: a bug. Said in the one error form, with the stack on request.
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`cim: error CIM-INTERNAL: ${message}\n`);
      if (process.env.CIM_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
      process.exitCode = ExitCode.internal;
    }
  }
  // Connections and timers must not keep a finished command alive.
  process.exit(process.exitCode ?? 0);
}

await main(process.argv);
