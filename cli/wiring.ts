// What the verb modules share: output, the config loader with the global flags, the wrapper that
// turns a failure into `error CODE: message` and its exit code, flag parsers, the served domains.
import { accessSync, constants, statSync } from 'node:fs';
import type { Command } from 'commander';
import {
  CimError,
  ExitCode,
  loadConfig,
  printable,
  servedDomains as loadServedDomains,
  toCimError,
  type ApplianceConfig,
  type FlatSettings,
} from '../appliance/index.js';
import { knownNames } from '../scenarios/index.js';

/** Progress and notes for the user (stderr). */
export function log(line: string): void {
  process.stderr.write(`cim: ${line}\n`);
}

/** The command's output (stdout), one newline at the end. */
export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

interface GlobalOptions {
  state?: string;
  config?: string;
  nats?: string;
  creds?: string;
  natsServer?: string;
}

/** Flags that set configuration, mapped onto the schema's dotted paths. */
export function configFrom(command: Command, extra: FlatSettings = {}): ApplianceConfig {
  const global = command.optsWithGlobals<GlobalOptions>();
  const config = loadConfig({
    file: global.config,
    flags: {
      stateDir: global.state,
      natsServer: global.natsServer,
      'nats.urls': global.nats,
      'nats.credsFile': global.creds,
      ...extra,
    },
  });
  assertUsableStateDir(config.stateDir);
  return config;
}

/** A state dir that exists must be a directory this process may write; one that does not is made by whoever writes first. */
function assertUsableStateDir(dir: string): void {
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    return;
  }
  if (!stat.isDirectory())
    throw new CimError('CIM-INVALID-INPUT', `the state dir ${dir} is not a directory`, {
      hint: 'Give --state (or CIM_STATE_DIR) a directory, or a path that does not exist yet.',
    });
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new CimError('CIM-INVALID-INPUT', `the state dir ${dir} is not writable by this user`, {
      hint: 'Run as the user that owns it, or give another --state.',
    });
  }
}

export function positiveInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new CimError('CIM-INVALID-INPUT', `${name}: expected integer ≥ 1, got "${value}"`);
    }
    return n;
  };
}

/** Runs an action, turning any failure into `error CODE: message` and the code's exit status. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
      process.exitCode ??= ExitCode.ok;
    } catch (error) {
      const cim = toCimError(error);
      process.stderr.write(`cim: error ${cim.code}: ${printable(cim.message)}\n`);
      if (cim.hint) process.stderr.write(`cim: hint: ${printable(cim.hint)}\n`);
      if (cim.code === 'CIM-INTERNAL' && process.env.CIM_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
      process.exitCode = cim.exitCode;
    }
  };
}

/** The domains this configuration serves: the reference domains and the configured plugins'. */
export async function servedDomains(config: ApplianceConfig) {
  return loadServedDomains(config.domains.plugins);
}

/** The commands and projections a scenario may name: those of the served domains. */
export async function servedNames(command: Command) {
  return knownNames(await servedDomains(configFrom(command)));
}
