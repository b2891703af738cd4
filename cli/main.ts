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
    .showHelpAfterError('(run `cim --help` for usage)')
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 a check or gate failed, 2 usage or configuration error, 3 infrastructure unavailable.\n' +
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

  return program;
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
